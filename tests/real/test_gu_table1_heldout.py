"""An independent computation of Table 1's repeated-token Sink_1 (Gu et al. 2025 §3.2–3.3) on a model no other test
uses for it — the embedded MiniLM-L6 encoder — agrees with ``sinkviz.gu2025.table1(...)["repeat"]["sink_1"]`` on the
paper's protocol (one random token repeated T times, no prefix); so do the repeated- and random-token rows of a
causal decoder, the embedded SmolLM2-135M.  The reference uses plain transformers eager
attention (``output_attentions=True``) and the paper's formula in numpy, not ``sinkviz.metrics``."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

import sinkviz

pytestmark = pytest.mark.real

T, N, EPS, SEED = 64, 8, 0.3, 0


def _embedded(name: str):
    try:
        return sinkviz.load(name, device="cpu", dtype="fp32", progress=False)
    except sinkviz.ModelNotFoundError as exc:  # a declared dependency: fail loudly, never skip
        pytest.fail(f"embedded model {name} not installed: {exc}")


@pytest.fixture(scope="module")
def minilm():
    return _embedded("minilm-l6")


@pytest.fixture(scope="module")
def table(minilm):
    return sinkviz.gu2025.table1(minilm, T=T, n=N, seed=SEED, eps=EPS, kinds=("repeat",), batch_size=N)


def alpha_1_by_hand(model, input_ids: np.ndarray) -> np.ndarray:
    """alpha_1 of every (sample, layer, head): eager HF attention, then the mean over the queries that see the
    first key — all T of them in a bidirectional encoder."""
    eager = copy.deepcopy(model)
    eager.set_attn_implementation("eager")
    with torch.no_grad():
        out = eager(input_ids=torch.as_tensor(input_ids), attention_mask=torch.ones(input_ids.shape, dtype=torch.long),
                    output_attentions=True)
    maps = np.stack([a.double().numpy() for a in out.attentions], axis=1)  # (N, L, H, T, T)
    assert maps.shape[-2:] == (input_ids.shape[1],) * 2
    return maps[..., :, 0].mean(axis=-1)


def test_repeat_sink_1_agrees_with_an_independent_computation(minilm, table):
    entry = table["repeat"]
    ids = entry["batch"].input_ids.numpy()
    # the paper's protocol: no [CLS]; each row one token repeated T times
    assert ids.shape == (N, T) and all(len(set(row)) == 1 for row in ids.tolist())
    assert not set(ids.ravel()) & set(minilm.tokenizer.all_special_ids)
    alpha = alpha_1_by_hand(minilm.model, ids)
    np.testing.assert_allclose(entry["alpha"][..., 0], alpha, atol=1e-5)
    ref = 100.0 * float(np.mean(alpha > EPS))
    borderline = 100.0 * float(np.mean(np.abs(alpha - EPS) < 1e-5))  # a float32 wobble may flip these
    assert abs(entry["sink_1"] - ref) <= borderline
    assert 0.0 < ref < 100.0  # a non-trivial value: learned positions keep some first-position sink


def test_the_cls_variant_is_the_extra_labelled_entry(minilm, table):
    extra = table["repeat (after [CLS])"]
    assert extra["protocol"] == "tokenizer prefix [CLS]"
    assert (extra["batch"].input_ids[:, 0] == minilm.tokenizer.cls_token_id).all()


@pytest.fixture(scope="module")
def smollm2():
    return _embedded("smollm2-135m")


@pytest.mark.parametrize("kind", ["repeat", "random"])
def test_a_decoders_table_1_agrees_with_an_independent_computation(smollm2, kind):
    """The same check on a causal decoder (SmolLM2-135M): every query sees the first key, so α₁ is the mean of the
    first column over all T queries; the paper's protocol puts no BOS in front (SmolLM2's tokenizer adds none
    either way, so there is no extra labelled row)."""
    table = sinkviz.gu2025.table1(smollm2, T=T, n=4, seed=SEED, eps=EPS, kinds=(kind,), batch_size=4)
    entry = table[kind]
    ids = entry["batch"].input_ids.numpy()
    assert ids.shape == (4, T) and not set(ids.ravel()) & set(smollm2.tokenizer.all_special_ids)
    if kind == "repeat":
        assert all(len(set(row)) == 1 for row in ids.tolist())
    alpha = alpha_1_by_hand(smollm2.model, ids)
    np.testing.assert_allclose(entry["alpha"][..., 0], alpha, atol=1e-5)
    ref = 100.0 * float(np.mean(alpha > EPS))
    borderline = 100.0 * float(np.mean(np.abs(alpha - EPS) < 1e-5))
    assert abs(entry["sink_1"] - ref) <= borderline
    assert [k for k in table if k.startswith(kind)] == [kind]
