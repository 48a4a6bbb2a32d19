"""The lab's throughput option ``eager_rotary``: the same numbers, and the rotary cos/sin kept out of the compiled
graph (so the compiled layers read them instead of recomputing sin and cos per element)."""

from __future__ import annotations

import torch

from sinkviz.lab.model import model_from_size


def _model(**switches):
    torch.manual_seed(0)
    return model_from_size(64, hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64, **switches)


def test_eager_rotary_gives_the_same_loss_and_gradients():
    model = _model()
    ids = torch.randint(0, 64, (2, 16))
    results = []
    for eager in (False, True):
        model.model.eager_rotary = eager
        model.zero_grad()
        loss = model(ids, labels=ids).loss
        loss.backward()
        results.append((loss.detach(), [p.grad.clone() for p in model.parameters()]))
    assert torch.equal(results[0][0], results[1][0])
    assert all(torch.equal(a, b) for a, b in zip(results[0][1], results[1][1]))


def test_eager_rotary_is_a_graph_break_and_the_default_is_one_graph():
    """What the option is for, read from dynamo's trace (no compilation): with it the rotary call is outside the
    graph; without it the forward is one graph in which inductor may fuse cos and sin into the layers."""
    ids = torch.randint(0, 64, (2, 16))
    explained = {}
    for eager in (False, True):
        model = _model()
        model.model.eager_rotary = eager
        torch._dynamo.reset()
        explained[eager] = torch._dynamo.explain(model)(ids, labels=ids)
    assert explained[False].graph_break_count == 0 and explained[False].graph_count == 1
    reasons = explained[True].break_reasons
    assert explained[True].graph_break_count >= 1 and reasons
    assert all("_rotary_outside_compile" in reason.reason for reason in reasons)


def test_models_without_rotary_ignore_the_option():
    model = _model(pos_encoding="nope")
    ids = torch.randint(0, 64, (2, 8))
    plain = model(ids, labels=ids).loss
    model.model.eager_rotary = True
    assert model.model.rotary_emb is None and torch.equal(model(ids, labels=ids).loss, plain)


def test_training_steps_with_both_options_follow_the_plain_steps(tmp_path):
    """_Training's switches, as the throughput benchmark sets them (a corpus without documents): three optimiser
    steps on a learnable sequence give the same losses as the plain path, to float32 rounding."""
    from pathlib import Path

    import numpy as np

    from sinkviz.lab.data import Corpus
    from sinkviz.lab.train import RunConfig, _Training

    counting = np.tile(np.arange(64), 300)  # token t+1 follows token t: learnable in a few steps
    corpus = Corpus(folder=Path(tmp_path), train=counting, valid=counting[:2_000].copy(),
                    meta={"vocab_size": 64, "eos_id": None})
    config = RunConfig.from_dict({
        "name": "options", "model": {"hidden_size": 32, "num_layers": 2, "num_heads": 2, "intermediate_size": 64},
        "data": {"source": "pydoc"}, "train": {"steps": 3, "batch_size": 4, "seq_len": 32, "lr": 1e-2, "warmup": 1},
        "eval": {"steps": [10**9]}, "checkpoint": {"every": 10**9}})
    losses = {}
    for options in ({}, {"fused_loss": True, "eager_rotary": True}):
        torch.manual_seed(0)
        training = _Training(config, tmp_path / "run", torch.device("cpu"), corpus, "none", **options)
        assert training.fused_loss == bool(options) and training.model.model.eager_rotary == bool(options)
        losses[bool(options)] = torch.stack([training.train_step(step) for step in range(3)])
    assert losses[False][0] > losses[False][2]  # it trains
    torch.testing.assert_close(losses[True], losses[False], rtol=1e-5, atol=1e-6)
