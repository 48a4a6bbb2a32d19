"""Vector-geometry metrics — Ruscio, Nanni, Silvestri (NeurIPS 2025), "Vector Geometry:
Directional Influence and Geometric-Semantic Alignment" (slides; "Finding 6: frames dictate
value-space transformations"); official ``Notebooks/reference_point.ipynb`` (DI) and
``Notebooks/attention_value.ipynb`` (GSA).

Inputs per layer l of one sample: Ā (n, n) head-averaged attention and h = hidden_states[l]
(n, D), the residual stream ENTERING block l (index 0 = embeddings). The notebooks call these
"value vectors"; they are not W_V projections.

Directional influence (``directional_influence_published``):
* reference tokens R = {j : mean_i Ā_ij > 0.1}; if none, the top max(1, ⌊0.1 n⌋) by column
  mean; at most max(1, ⌊0.3 n⌋) (largest kept).
* Ā row-renormalised; for each token i ∉ R: post_i = Σ_j Ā_ij h_j, ref_i = Σ_{j∈R} Ā_ij h_j,
  nonref_i = Σ_{j∉R} Ā_ij h_j.
* relative magnitude = clip(‖ref_i‖/‖post_i‖, 0, 1); directional influence
  DI = (cos(ref_i, post_i) + 1)/2 ∈ [0, 1] (0.5 when a norm is < 1e−10);
  information content change = ‖post_i − nonref_i‖ = ‖ref_i‖ (capped at 1e6).
* ⚠ reference tokens get placeholder values 0.5 / 0.5 / 0.0 that ARE included in the
  per-sample means (``safe_mean``). h is rescaled to max |h| = 1e5 when larger.
Corrected (``directional_influence_corrected``): means over non-reference tokens only, no
placeholders; tokens whose ref or post norm vanishes are excluded instead of set to 0.5.

Geometric–semantic alignment (``gsa_published``): S_ij = cos(h_i, h_j);
GSA = Pearson corr(Ā_ij, S_ij) over all i ≠ j — for decoders this includes the upper-triangle
zeros the mask forces, so the correlation partly measures "is j < i" against similarity.
0.0 when either side has zero variance (the notebook's fallback). Corrected
(``gsa_corrected``): only the pairs the model can attend (j < i for causal maps).

Also from attention_value.ipynb: attention entropy (natural log, per row, renormalised over
entries > 100·eps_f32) and value-transformation magnitude ‖h^{l+1}_i − h^l_i‖ (published: both
rescaled so max |h| ≤ 1e3 and the difference clipped to ±1e3 — which shrinks models with
massive activations; corrected: raw norms).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ._validate import as_array, as_square

__all__ = [
    "reference_tokens_published",
    "directional_influence_published",
    "directional_influence_corrected",
    "cosine_similarity_matrix",
    "gsa_published",
    "gsa_corrected",
    "attention_entropy_published",
    "transformation_magnitude_published",
    "transformation_magnitude_corrected",
]

REFERENCE_THRESHOLD = 0.1


def _hidden(h: Any, n: int) -> np.ndarray:
    arr = as_array(h, name="hidden states")
    if arr.ndim != 2 or arr.shape[0] != n:
        raise ValueError(f"hidden states must be (n, D) with n = {n} tokens (one sample, one layer); got {arr.shape}")
    return arr


def reference_tokens_published(avg_attention: Any, threshold: float = REFERENCE_THRESHOLD) -> list[int]:
    """Reference tokens as ``identify_reference_tokens`` (module docstring; ``Notebooks/reference_point.ipynb``,
    ``ReferencePointAnalysis.identify_reference_tokens``)::

        c_j = (1/n) Σ_i Ā_ij;  R = {j : c_j > 0.1}, or the top max(1, ⌊0.1 n⌋) keys by c_j if empty;
        if |R| > max(1, ⌊0.3 n⌋), keep the max(1, ⌊0.3 n⌋) of R with the largest c_j
    """
    a = as_square(avg_attention, name="avg_attention")
    col = a.mean(axis=0)
    ref = np.where(col > threshold)[0]
    n = a.shape[0]
    if ref.size == 0:
        top = max(1, int(0.1 * n))
        ref = np.argsort(col)[-top:]
    cap = max(1, int(0.3 * n))
    if ref.size > cap:
        order = np.argsort(col[ref])
        ref = ref[order[-cap:]]
    return [int(r) for r in ref]


def _decompose(h: np.ndarray, a: np.ndarray, refs: Sequence[int]) -> dict[str, np.ndarray]:
    """Per-token (rel_mag, di, info) for non-reference tokens; NaN where a norm vanishes."""
    n = a.shape[0]
    outside = [r for r in refs if not 0 <= int(r) < n]
    if outside:  # a negative index would silently wrap to the last tokens
        raise ValueError(f"reference_tokens must be 0-indexed positions in [0, {n - 1}]; got {outside}")
    sums = a.sum(axis=1, keepdims=True)
    a = np.where(sums > 1e-10, a / np.maximum(sums, 1e-10), 0.0)
    is_ref = np.zeros(n, dtype=bool)
    is_ref[list(refs)] = True
    post = a @ h
    ref = (a * is_ref[None, :]) @ h
    nonref = (a * ~is_ref[None, :]) @ h
    ref_norm = np.linalg.norm(ref, axis=1)
    tot_norm = np.linalg.norm(post, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.clip(ref_norm / tot_norm, 0.0, 1.0)
        cos = np.clip(np.sum(ref * post, axis=1) / (ref_norm * tot_norm), -1.0, 1.0)
    info = np.minimum(np.linalg.norm(post - nonref, axis=1), 1e6)
    return {"is_ref": is_ref, "rel": rel, "cos": cos, "ref_norm": ref_norm, "tot_norm": tot_norm, "info": info}


def directional_influence_published(avg_attention: Any, hidden: Any, reference_tokens: Sequence[int] | None = None) -> dict[str, Any]:
    """DI, relative magnitude and information change exactly as ``decompose_value_transformations``
    + ``safe_mean`` (placeholders 0.5/0.5/0.0 for reference tokens included in the means).
    Returns per-token lists and their means."""
    a = as_square(avg_attention, name="avg_attention")
    h = _hidden(hidden, a.shape[0])
    mx = np.max(np.abs(h))
    if mx > 1e5:
        h = h * (1e5 / mx)
    refs = reference_tokens_published(a) if reference_tokens is None else list(reference_tokens)
    d = _decompose(h, a, refs)
    tiny_tot = d["tot_norm"] < 1e-10
    tiny_ref = d["ref_norm"] < 1e-10
    rel = np.where(tiny_tot, np.where(tiny_ref, 0.0, 1.0), d["rel"])
    di = np.where(tiny_ref | tiny_tot, 0.5, (d["cos"] + 1.0) / 2.0)
    info = d["info"]
    rel = np.where(d["is_ref"], 0.5, rel)
    di = np.where(d["is_ref"], 0.5, di)
    info = np.where(d["is_ref"], 0.0, info)
    rel = np.where(np.isfinite(rel), rel, 0.5)
    di = np.where(np.isfinite(di), di, 0.5)
    info = np.where(np.isfinite(info), info, 0.0)
    return {
        "variant": "published", "reference_tokens": refs,
        "relative_magnitude": rel, "directional_influence": di, "information_content_change": info,
        "mean_relative_magnitude": float(np.mean(rel)), "mean_directional_influence": float(np.mean(di)),
        "mean_information_content_change": float(np.mean(info)),
    }


def directional_influence_corrected(avg_attention: Any, hidden: Any, reference_tokens: Sequence[int] | None = None) -> dict[str, Any]:
    """DI etc. over non-reference tokens only, no placeholders, no rescaling; tokens with a
    vanishing ref/post norm are excluded (NaN in the per-token arrays). Means are NaN when no
    token qualifies."""
    a = as_square(avg_attention, name="avg_attention")
    h = _hidden(hidden, a.shape[0])
    refs = reference_tokens_published(a) if reference_tokens is None else list(reference_tokens)
    d = _decompose(h, a, refs)
    valid = ~d["is_ref"] & (d["ref_norm"] >= 1e-10) & (d["tot_norm"] >= 1e-10)
    rel = np.where(valid, d["rel"], np.nan)
    di = np.where(valid, (d["cos"] + 1.0) / 2.0, np.nan)
    info = np.where(~d["is_ref"], d["info"], np.nan)

    def _m(x: np.ndarray) -> float:
        return float(np.nanmean(x)) if np.any(np.isfinite(x)) else float("nan")

    return {
        "variant": "corrected", "reference_tokens": refs, "n_tokens_used": int(valid.sum()),
        "relative_magnitude": rel, "directional_influence": di, "information_content_change": info,
        "mean_relative_magnitude": _m(rel), "mean_directional_influence": _m(di),
        "mean_information_content_change": _m(info),
    }


def cosine_similarity_matrix(hidden: Any) -> np.ndarray:
    """S_ij = cos(h_i, h_j) with S_ii = 1 and S_ij = 0 when a norm is < 1e−8 (as
    ``calculate_semantic_similarity_matrix``; float64)."""
    h = as_array(hidden, name="hidden states")
    if h.ndim != 2:
        raise ValueError(f"hidden states must be (n, D); got {h.shape}")
    norms = np.sqrt(np.maximum(1e-10, np.sum(h * h, axis=1)))
    s = (h @ h.T) / np.outer(norms, norms)
    s = np.clip(s, -1.0, 1.0)
    small = norms < 1e-8
    s[small, :] = 0.0
    s[:, small] = 0.0
    np.fill_diagonal(s, 1.0)
    return s


def _pearson_or_zero(x: np.ndarray, y: np.ndarray) -> float:
    if x.size > 1 and np.std(x) > 0 and np.std(y) > 0:
        return float(np.corrcoef(x, y)[0, 1])
    return 0.0


def gsa_published(avg_attention: Any, hidden: Any) -> float:
    """GSA = Pearson corr(Ā_ij, cos(h_i, h_j)) over all i ≠ j (module docstring)."""
    a = as_square(avg_attention, name="avg_attention")
    s = cosine_similarity_matrix(_hidden(hidden, a.shape[0]))
    off = ~np.eye(a.shape[0], dtype=bool)
    return _pearson_or_zero(a[off], s[off])


def gsa_corrected(avg_attention: Any, hidden: Any, *, causal: bool) -> float:
    """GSA over attendable pairs only: j < i for causal maps, i ≠ j otherwise. NaN when a side
    has zero variance (instead of the published 0.0 fallback)."""
    a = as_square(avg_attention, name="avg_attention")
    n = a.shape[0]
    s = cosine_similarity_matrix(_hidden(hidden, n))
    pairs = np.tril(np.ones((n, n), dtype=bool), -1) if causal else ~np.eye(n, dtype=bool)
    x, y = a[pairs], s[pairs]
    if x.size > 1 and np.std(x) > 0 and np.std(y) > 0:
        return float(np.corrcoef(x, y)[0, 1])
    return float("nan")


def attention_entropy_published(avg_attention: Any) -> np.ndarray:
    """Per-row entropy in nats after dropping entries ≤ 100·eps_f32 and renormalising
    (``calculate_attention_entropy``)."""
    a = as_square(avg_attention, name="avg_attention")
    eps = np.finfo(np.float32).eps * 100
    out = np.zeros(a.shape[0])
    for i, row in enumerate(a):
        v = row[row > eps]
        if v.size == 0 or v.sum() < eps:
            continue
        p = v / v.sum()
        p = p[p > eps]
        out[i] = float(-np.sum(p * np.log(p)))
    return out


def transformation_magnitude_published(h_in: Any, h_out: Any) -> np.ndarray:
    """‖h_out_i − h_in_i‖ after the notebook's rescaling (both scaled by 1e3/max|h| if that max
    exceeds 1e3) and clipping of each difference component to ±1e3."""
    pre = as_array(h_in, name="h_in")
    post = as_array(h_out, name="h_out")
    if pre.shape != post.shape or pre.ndim != 2:
        raise ValueError(f"h_in and h_out must both be (n, D); got {pre.shape} and {post.shape}")
    mx = max(np.max(np.abs(pre)), np.max(np.abs(post)))
    if mx > 1e3:
        pre, post = pre * (1e3 / mx), post * (1e3 / mx)
    diff = np.clip(post - pre, -1e3, 1e3)
    return np.clip(np.linalg.norm(diff, axis=1), 0.0, 1e6)


def transformation_magnitude_corrected(h_in: Any, h_out: Any) -> np.ndarray:
    """‖h_out_i − h_in_i‖ without rescaling or clipping."""
    pre = as_array(h_in, name="h_in")
    post = as_array(h_out, name="h_out")
    if pre.shape != post.shape or pre.ndim != 2:
        raise ValueError(f"h_in and h_out must both be (n, D); got {pre.shape} and {post.shape}")
    return np.linalg.norm(post - pre, axis=1)
