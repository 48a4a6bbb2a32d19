"""The lab model: every switch runs, masks and attention ops give the hand-computed answers, and
checkpoints round-trip through transformers' Auto classes."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch
from transformers import AutoConfig, AutoModelForCausalLM

from sinkviz.lab.model import (
    SinkLabConfig,
    alibi_slopes,
    build_attention_mask,
    eager_attention_forward,
    model_from_size,
)

SWITCHES = [
    {},
    {"attn_op": "sigmoid", "attn_norm": False},
    {"attn_op": "sigmoid", "attn_norm": True},
    {"attn_op": "elu1", "attn_norm": False},
    {"attn_op": "elu_kernel", "attn_norm": True},
    {"attn_op": "identity", "attn_norm": False},
    {"attn_op": "identity", "attn_norm": True},
    {"bias_mode": "k"},
    {"bias_mode": "kv"},
    {"bias_mode": "kv", "bias_per_head": False},
    {"bias_mode": "v"},
    {"bias_mode": "sink_token"},
    {"pos_encoding": "nope"},
    {"pos_encoding": "learned"},
    {"pos_encoding": "alibi"},
    {"norm_position": "post"},
    {"sliding_window": 3},
    {"prefix_length": 4},
]
VOCAB, T = 50, 9


def tiny(**switches):
    torch.manual_seed(0)
    return model_from_size(VOCAB, hidden_size=32, num_layers=2, num_heads=2, max_positions=32, **switches)


@pytest.mark.parametrize("switches", SWITCHES, ids=lambda s: "-".join(f"{k}={v}" for k, v in s.items()) or "default")
def test_every_switch_trains_and_reports_attention(switches):
    model = tiny(**switches)
    model.set_attn_implementation("eager")
    ids = torch.randint(0, VOCAB, (3, T))
    out = model(ids, labels=ids, output_attentions=True, output_hidden_states=True)
    assert torch.isfinite(out.loss)
    assert out.logits.shape == (3, T, VOCAB)  # the sink token never shows in the logits
    slot = model.config.attention_slot
    assert len(out.attentions) == 2 and out.attentions[0].shape == (3, 2, T + slot, T + slot)
    assert len(out.hidden_states) == 3 and out.hidden_states[0].shape[1] == T + (switches.get("bias_mode") == "sink_token")
    out.loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, f"parameters without gradient: {missing}"


@pytest.mark.parametrize("switches", [s for s in SWITCHES if s.get("attn_op", "softmax") == "softmax"],
                         ids=lambda s: "-".join(f"{k}={v}" for k, v in s.items()) or "default")
def test_sdpa_and_eager_agree_for_softmax(switches):
    model = tiny(**switches)
    ids = torch.randint(0, VOCAB, (2, T))
    model.set_attn_implementation("eager")
    eager = model(ids).logits
    model.set_attn_implementation("sdpa")
    sdpa = model(ids).logits
    torch.testing.assert_close(sdpa, eager, atol=2e-5, rtol=1e-4)


def test_non_softmax_ops_never_use_sdpa_softmax():
    model = tiny(attn_op="sigmoid", attn_norm=False)
    ids = torch.randint(0, VOCAB, (2, T))
    model.set_attn_implementation("eager")
    eager = model(ids, output_attentions=True)
    model.set_attn_implementation("sdpa")
    sdpa = model(ids)
    torch.testing.assert_close(sdpa.logits, eager.logits)
    rows = eager.attentions[0].sum(-1)
    assert (rows > 1.05).any(), "sigmoid without normalisation should not give rows summing to 1"


def _module(**switches):
    config = SinkLabConfig(hidden_size=8, num_attention_heads=2, num_key_value_heads=2, num_hidden_layers=1,
                           intermediate_size=8, vocab_size=10, **switches)
    return SimpleNamespace(config=config, scaling=0.5, training=False)


def _qkv(seed=0, n=4, d=4):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(1, 2, n, d, generator=g) for _ in range(3)]


def test_sigmoid_without_normalisation_is_masked_sigmoid():
    q, k, v = _qkv()
    _, w = eager_attention_forward(_module(attn_op="sigmoid", attn_norm=False), q, k, v, None, scaling=0.5)
    expected = torch.sigmoid(q @ k.transpose(-1, -2) * 0.5).tril()
    torch.testing.assert_close(w, expected)


def test_sigmoid_and_elu_with_normalisation_sum_to_one():
    q, k, v = _qkv(1)
    for op in ("sigmoid", "elu1", "elu_kernel"):
        _, w = eager_attention_forward(_module(attn_op=op, attn_norm=True), q, k, v, None, scaling=0.5)
        torch.testing.assert_close(w.sum(-1), torch.ones(1, 2, 4))
        assert torch.all(w.triu(1) == 0)


def test_elu1_and_elu_kernel_similarities():
    q, k, v = _qkv(2)
    _, w = eager_attention_forward(_module(attn_op="elu1", attn_norm=False), q, k, v, None, scaling=0.5)
    torch.testing.assert_close(w, (torch.nn.functional.elu(q @ k.transpose(-1, -2) * 0.5) + 1).tril())
    _, w = eager_attention_forward(_module(attn_op="elu_kernel", attn_norm=False), q, k, v, None, scaling=0.5)
    phi = lambda x: torch.nn.functional.elu(x) + 1  # noqa: E731
    torch.testing.assert_close(w, (phi(q) @ phi(k).transpose(-1, -2) * 0.5).tril())


def test_identity_normaliser_is_max_abs_sum_and_one():
    q = torch.tensor([[[[1.0, 0.0], [2.0, 0.0]]]])  # (1, 1, 2, 2)
    k = torch.tensor([[[[3.0, 0.0], [-1.0, 0.0]]]])
    v = torch.ones(1, 1, 2, 2)
    module = _module(attn_op="identity", attn_norm=True)
    module.config.num_attention_heads = 1
    _, w = eager_attention_forward(module, q, k, v, None, scaling=1.0)
    # row 0: sim = [3] -> Z = 3; row 1: sim = [6, -2] -> Z = max(|4|, 1) = 4
    torch.testing.assert_close(w[0, 0], torch.tensor([[1.0, 0.0], [1.5, -0.5]]))
    q_small = q / 100
    _, w = eager_attention_forward(module, q_small, k, v, None, scaling=1.0)
    torch.testing.assert_close(w[0, 0], torch.tensor([[0.03, 0.0], [0.06, -0.02]]))  # |sum| < 1 -> Z = 1


def test_sliding_window_and_prefix_masks():
    window = build_attention_mask(SinkLabConfig(num_hidden_layers=1, sliding_window=2), 4) == 0
    assert window[0, 0].int().tolist() == [[1, 0, 0, 0], [1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1]]
    prefix = build_attention_mask(SinkLabConfig(num_hidden_layers=1, prefix_length=3), 4) == 0
    assert prefix[0, 0].int().tolist() == [[1, 1, 1, 0], [1, 1, 1, 0], [1, 1, 1, 0], [1, 1, 1, 1]]
    slot = build_attention_mask(SinkLabConfig(num_hidden_layers=1, bias_mode="k", sliding_window=1), 3) == 0
    # the slot (column 0) stays visible to every query, the window applies to real tokens
    assert slot[0, 0].int().tolist() == [[1, 0, 0, 0], [1, 1, 0, 0], [1, 0, 1, 0], [1, 0, 0, 1]]


def test_padding_hides_keys():
    pad = torch.tensor([[1, 1, 0]])
    mask = build_attention_mask(SinkLabConfig(num_hidden_layers=1), 3, padding=pad) == 0
    assert mask[0, 0, :, 2].tolist() == [False, False, False]


def test_alibi_bias_is_minus_slope_times_distance():
    config = SinkLabConfig(num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2, hidden_size=8,
                           pos_encoding="alibi")
    mask = build_attention_mask(config, 3)
    slopes = alibi_slopes(2)
    assert slopes.tolist() == [2.0**-4, 2.0**-8]
    for h in range(2):
        for i in range(3):
            for j in range(i + 1):
                assert mask[0, h, i, j].item() == pytest.approx(-slopes[h].item() * (i - j))


def test_key_bias_slot_gets_uniform_share_when_logits_vanish():
    model = tiny(bias_mode="k")
    for layer in model.model.layers:
        torch.nn.init.zeros_(layer.self_attn.q_proj.weight)  # all logits 0 (the slot's query row is 0 too)
    model.set_attn_implementation("eager")
    ids = torch.randint(0, VOCAB, (1, T))
    attn = model(ids, output_attentions=True).attentions[0][0, 0]  # (T+1, T+1)
    expected_slot = torch.tensor([1.0 / (i + 1) for i in range(T + 1)])
    torch.testing.assert_close(attn[:, 0], expected_slot)


def test_key_bias_slot_adds_nothing_to_values():
    torch.manual_seed(1)
    model = tiny(bias_mode="k")
    model.set_attn_implementation("eager")
    attn = model.model.layers[0].self_attn
    attn.k_bias.data.fill_(50.0)
    attn.q_proj.weight.data.zero_()
    attn.q_proj.weight.data[:, 0] = 1.0  # q . k* = 50 * sum(x) * ... -> the slot dominates for x_0 > 0
    x = torch.zeros(1, 2, 32)
    x[..., 0] = 1.0
    out, weights = attn(x, None, None)
    assert weights[0, :, 1:, 0].min() > 0.999  # real queries all look at the slot
    assert out.abs().max() < 1e-3  # ... whose value is zero


def test_value_bias_is_added_to_attention_output():
    model = tiny(bias_mode="v")
    attn = model.model.layers[0].self_attn
    x = torch.randn(1, 5, 32)
    base, _ = attn(x, None, None)
    attn.v_bias.data += 0.5
    shifted, _ = attn(x, None, None)
    torch.testing.assert_close(shifted - base, attn.o_proj.weight.sum(dim=1).mul(0.5).expand_as(base), atol=1e-5, rtol=1e-5)


def test_sink_token_is_used():
    model = tiny(bias_mode="sink_token")
    ids = torch.randint(0, VOCAB, (1, T))
    before = model(ids).logits
    model.model.sink_embedding.data += 1.0
    assert not torch.allclose(before, model(ids).logits)


def test_post_norm_blocks_end_normalised():
    model = tiny(norm_position="post")
    out = model(torch.randint(0, VOCAB, (2, T)), output_hidden_states=True)
    rms = out.hidden_states[-1].pow(2).mean(-1).sqrt()
    torch.testing.assert_close(rms, torch.ones_like(rms), atol=1e-3, rtol=1e-3)


def test_bad_switches_are_explained():
    with pytest.raises(ValueError, match="attn_op='tanh'"):
        SinkLabConfig(num_hidden_layers=1, attn_op="tanh")
    with pytest.raises(ValueError, match="ALiBi"):
        SinkLabConfig(num_hidden_layers=1, attn_op="identity", pos_encoding="alibi")
    with pytest.raises(ValueError, match="sliding_window"):
        SinkLabConfig(num_hidden_layers=1, sliding_window=0)


@pytest.mark.parametrize("switches", [{}, {"bias_mode": "kv", "attn_op": "sigmoid", "attn_norm": False},
                                      {"bias_mode": "sink_token", "pos_encoding": "learned"}])
def test_save_pretrained_round_trip_through_auto_classes(tmp_path, switches):
    model = tiny(**switches)
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").is_file()
    assert AutoConfig.from_pretrained(tmp_path).model_type == "sinkviz_lab"
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path)
    assert type(loaded).__name__ == "SinkLabForCausalLM"
    ids = torch.randint(0, VOCAB, (2, T))
    torch.testing.assert_close(loaded(ids).logits, model(ids).logits)
    assert loaded.config.to_dict()["attn_op"] == model.config.attn_op


def test_prefix_loss_skips_leaking_predictions():
    model = tiny(prefix_length=4)
    ids = torch.randint(0, VOCAB, (2, T))
    logits = model(ids).logits
    full = torch.nn.functional.cross_entropy(logits[:, 3:-1].reshape(-1, VOCAB), ids[:, 4:].reshape(-1))
    torch.testing.assert_close(model(ids, labels=ids, loss_start=3).loss, full)
    assert not math.isclose(float(model(ids, labels=ids).loss.detach()), float(full.detach()), rel_tol=1e-6)
