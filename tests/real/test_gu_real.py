"""Sink_1 and Sink_2 on the embedded SmolLM2-135M through sinkviz equal a separate, straightforward computation:
HF eager attention with output_attentions and the paper's formula written out here (Gu et al. 2025 §3.2)."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

import sinkviz
from sinkviz.metrics.sink import importance_scores, sink_metric
from sinkviz.papers.probes import probe_inputs

pytestmark = pytest.mark.real

N_TEXTS, T, EPS = 6, 64, 0.3


@pytest.fixture(scope="module")
def smollm2():
    try:
        return sinkviz.load("smollm2-135m", device="cpu", dtype="fp32", progress=False)
    except sinkviz.ModelNotFoundError as exc:  # the package is a declared dependency: fail loudly, never skip
        pytest.fail(f"embedded SmolLM2 not installed: {exc}")


def paper_sink_by_hand(attentions, eps: float) -> np.ndarray:
    """attentions: tuple over layers of (N, H, T, T). Returns Sink_k in % for every k (0-indexed).

    alpha_k^{l,h} = 1/(T-k+1) * sum_{t=k..T} A_{t,k}  (1-indexed), then 100 * mean over (samples, layers, heads)
    of 1(alpha > eps), strictly greater.
    """
    A = torch.stack([a.double() for a in attentions], dim=1)  # (N, L, H, T, T)
    n_tok = A.shape[-1]
    sinks = []
    for k in range(n_tok):
        alpha = A[..., k:, k].sum(-1) / (n_tok - k)
        sinks.append(float((alpha > eps).double().mean()) * 100)
    return np.array(sinks)


@pytest.mark.parametrize("kind", ["natural", "random"])
def test_sink_1_and_2_match_eager_reference(smollm2, kind):
    batch = probe_inputs(smollm2.tokenizer, kind, T=T, n=N_TEXTS, seed=0)
    assert batch.input_ids.shape == (N_TEXTS, T)
    tr = sinkviz.trace(smollm2, batch.input_ids, capture=("attn",))
    ours = sink_metric(tr.attention_stack(), EPS, causal=tr.info.causal, lengths=tr.lengths)

    eager = copy.deepcopy(smollm2.model)
    eager.set_attn_implementation("eager")
    with torch.no_grad():
        out = eager(input_ids=batch.input_ids, output_attentions=True, use_cache=False)
    assert len(out.attentions) == 30 and out.attentions[0].shape == (N_TEXTS, 9, T, T)
    ref = paper_sink_by_hand(out.attentions, EPS)

    np.testing.assert_allclose(ours[:2], ref[:2], atol=1e-4)
    # the importance scores themselves agree too (a stronger check than the thresholded rate)
    ref_alpha1 = torch.stack([a[..., :, 0].double().mean(-1) for a in out.attentions], dim=1).numpy()
    np.testing.assert_allclose(importance_scores(tr.attention_stack())[..., 0], ref_alpha1, atol=1e-5)
    if kind == "natural":
        assert ours[0] > 30.0  # SmolLM2 has a first-token sink on natural text (measured ~70 %)
