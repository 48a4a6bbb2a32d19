"""On-demand attention windows of the long-context explorer equal dense eager attention on tiny models.

`LongContextTrace` runs one census forward and keeps post-rotary q/k and row lse; `pooled_map` recomputes any window
of one head's map from them. Checked against the eager forward's `output_attentions` (the probabilities as the model
computes them) for causal + GQA (llama), sliding windows (mistral, gemma3), learned sink logits (gpt-oss) and a
bidirectional encoder (bert): single windows exactly, max-pooled views against pooling the dense map, logits against
the dense logits, layers recaptured after being dropped from the budget, and the alpha overview against the dense
first-token importance.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sinkviz.census.window import LayerQK, LongContextTrace, pooled_map
from sinkviz.metrics import visibility_mask
from sinkviz.metrics.sink import importance_scores
from test_census_families import build

T = 29
FAMILIES = ["llama", "mistral", "gemma3", "gpt_oss", "bert"]


def dense(model, ids):
    before = model.config._attn_implementation
    model.set_attn_implementation("eager")
    try:
        with torch.no_grad():
            out = model(input_ids=ids, output_attentions=True)
    finally:
        model.set_attn_implementation(before)
    return [a[0].double().numpy() for a in out.attentions]  # per layer (H, T, T)


def pool_dense(a: np.ndarray, rows, cols, f: int) -> np.ndarray:
    """Max over f x f blocks counted from the window's corner, hidden (zero) entries left out; NaN if all hidden."""
    w = a[rows[0]:rows[1], cols[0]:cols[1]]
    nr, nc = math.ceil(w.shape[0] / f), math.ceil(w.shape[1] / f)
    out = np.full((nr, nc), np.nan)
    for i in range(nr):
        for j in range(nc):
            block = w[i * f:(i + 1) * f, j * f:(j + 1) * f]
            vis = block[block > 0]
            if vis.size:
                out[i, j] = vis.max()
    return out


@pytest.fixture(scope="module", params=FAMILIES)
def family_trace(request):
    model = build(request.param)
    torch.manual_seed(3)
    ids = torch.randint(4, 96, (1, T))
    lt = LongContextTrace(model, ids, backend="torch")
    return request.param, model, ids, lt, dense(model, ids)


def test_windows_equal_dense_attention(family_trace):
    family, model, ids, lt, attn = family_trace
    for layer in lt.layers:
        for head in range(attn[layer].shape[0]):
            full = lt.map(layer, head, (0, T), (0, T))
            ref = np.where(attn[layer][head] > 0, attn[layer][head], np.nan)
            np.testing.assert_allclose(full, ref, atol=2e-6, rtol=1e-5, equal_nan=True)
            for rows, cols in (((5, 17), (2, 11)), ((20, 29), (0, 29)), ((0, 7), (3, 29))):
                win = lt.map(layer, head, rows, cols)
                np.testing.assert_allclose(win, ref[rows[0]:rows[1], cols[0]:cols[1]], atol=2e-6, rtol=1e-5,
                                           equal_nan=True)


@pytest.mark.parametrize("f", [2, 3, 8])
def test_pooled_views_equal_pooled_dense_maps(family_trace, f):
    family, model, ids, lt, attn = family_trace
    layer = lt.layers[-1]
    for head in (0, attn[layer].shape[0] - 1):
        for rows, cols in (((0, T), (0, T)), ((3, 26), (1, 22))):
            got = lt.map(layer, head, rows, cols, factor=f)
            want = pool_dense(attn[layer][head], rows, cols, f)
            np.testing.assert_allclose(got, want, atol=2e-6, rtol=1e-5, equal_nan=True)


def test_logits_are_the_scaled_dot_products(family_trace):
    family, model, ids, lt, attn = family_trace
    qk = lt.layer(0)
    head = 1
    s = (qk.query[head].double() @ qk.key[qk.kv_head(head)].double().T) * qk.scaling
    if qk.softcap is not None:
        s = torch.tanh(s / qk.softcap) * qk.softcap
    vis = attn[0][head] > 0
    got = lt.map(0, head, (0, T), (0, T), values="logits")
    np.testing.assert_allclose(got[vis], s.numpy()[vis], atol=1e-5, rtol=1e-5)
    assert np.isnan(got[~vis]).all()


def test_overview_equals_dense_first_token_importance(family_trace):
    """alpha_k = the mean attention key k receives from the queries allowed to see it (Gu et al. 2025, §3.2): the
    paper's 1/(n - k + 1) for full causal layers (`importance_scores`), the window's count under a sliding window."""
    family, model, ids, lt, attn = family_trace
    causal = family != "bert"
    for layer in lt.layers:
        window = lt.layer(layer).window
        if window is None:
            ref = importance_scores(attn[layer], causal=causal)  # (H, T) alpha of every key
        else:
            seen = visibility_mask(T, causal, window).sum(0)  # queries allowed to see each key
            ref = attn[layer].sum(-2) / seen
        np.testing.assert_allclose(lt.alpha_keys[layer], ref, atol=2e-6, rtol=1e-5)
        np.testing.assert_allclose(lt.alpha_first[layer], ref[:, 0], atol=2e-6, rtol=1e-5)


def test_layers_past_the_budget_are_captured_again():
    model = build("llama")
    torch.manual_seed(4)
    ids = torch.randint(4, 96, (1, T))
    lt = LongContextTrace(model, ids, backend="torch", qk_budget_bytes=1)
    assert len(lt.qk) == 1  # the budget keeps one layer, the one with the largest alpha_1
    best_layer = lt.best_head[0]
    assert list(lt.qk) == [best_layer]
    attn = dense(model, ids)
    other = next(x for x in lt.layers if x != best_layer)
    got = lt.map(other, 2, (0, T), (0, T))
    np.testing.assert_allclose(got, np.where(attn[other][2] > 0, attn[other][2], np.nan), atol=2e-6, rtol=1e-5,
                               equal_nan=True)
    assert list(lt.qk) == [other]  # still one layer kept


def test_progress_is_reported_per_layer():
    model = build("llama")
    seen = []
    LongContextTrace(model, torch.randint(4, 96, (T,)), backend="torch", progress=lambda d, n: seen.append((d, n)))
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_bad_windows_and_heads_say_what_is_wrong():
    model = build("llama")
    lt = LongContextTrace(model, torch.randint(4, 96, (T,)), backend="torch")
    with pytest.raises(ValueError, match="empty window"):
        lt.map(0, 0, (10, 10), (0, T))
    with pytest.raises(IndexError, match="head 9 out of range"):
        lt.map(0, 9, (0, T), (0, T))
    with pytest.raises(ValueError, match="values must be"):
        pooled_map(lt.layer(0), 0, (0, T), (0, T), values="weights")
    with pytest.raises(ValueError, match="one text"):
        LongContextTrace(model, torch.zeros(2, 5, dtype=torch.long), backend="torch")
    assert isinstance(lt.layer(0), LayerQK)
