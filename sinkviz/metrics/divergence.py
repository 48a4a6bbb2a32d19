"""Head diversity and sink removal — Ruscio, Nanni, Silvestri (NeurIPS 2025), KL analysis
(official ``Notebooks/KL.ipynb``, ``UltraFastAttentionSinkKLAnalysis``).

Published (``kl_to_mean_head_published``, ``sinks_by_percentile_published``), per layer of one
sample, A = (H, n, n):

* rows of each head renormalised (an all-zero row becomes uniform over ALL n keys); Ā = mean_h.
* KL_h = mean_i KL(A_h[i,:] ‖ Ā[i,:]) (natural log, ``scipy.stats.entropy``), over the 20
  query rows ``np.linspace(0, n−1, 20, dtype=int)`` when n > 20 (``optimize_calcs=True``,
  the default), all rows otherwise.
* sinks at percentile p ∈ {80, 90, 95}: keys whose total incoming attention (summed over heads
  and queries) is ≥ the p-th percentile. For causal maps raw column sums favour early
  positions (key j is visible to n − j queries).
* masked: zero the sink columns and renormalise; a row whose mass was all on sinks becomes
  uniform over the non-sink keys — for a causal map this spreads row 0 (and any row that only
  sees sinks) over FUTURE tokens it cannot attend.
* KL reduction = KL_h − KL_h(masked); the notebook averages it over heads. p-values are
  fixed to 1.0 with ``optimize_calcs=True``.

Corrected (``kl_to_mean_head_corrected``): every query row is used; after masking, rows with
no visible non-sink key are DROPPED instead of being filled with future tokens; sinks are
chosen on the mean received attention α_j = Σ_{h,i} A_h[i, j] / (H · #queries that can see j)
(Gu et al. 2025, §3.2) relative to what uniform attention under the same mask gives key j.
The ratio matters: for uniform causal attention α_j = (H_n − H_j) / (n − j) (H the harmonic
numbers) still falls with j, so a percentile of α alone picks the first keys of any causal map
(n = 20, p = 80: keys 0–3); the ratio is 1 for every key of a uniform map, which has no sink.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ._validate import as_head_stack, visibility_mask
from .toy_attention import masked_uniform_attention

__all__ = [
    "PUBLISHED_PERCENTILES",
    "row_kl",
    "sinks_by_percentile_published",
    "sinks_by_percentile_corrected",
    "kl_to_mean_head_published",
    "kl_to_mean_head_corrected",
    "sink_removal_published",
    "sink_removal_corrected",
]

PUBLISHED_PERCENTILES = (80, 90, 95)


def row_kl(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """KL(p_i ‖ q_i) per row in nats, each row renormalised to sum 1 first (as
    ``scipy.stats.entropy``); 0·log 0 = 0; inf where p > 0 = q."""
    p = p / p.sum(axis=-1, keepdims=True)
    q = q / q.sum(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(p / q), 0.0)
    return terms.sum(axis=-1)


def _renorm_published(stack: np.ndarray) -> np.ndarray:
    out = stack.copy()
    sums = out.sum(axis=-1, keepdims=True)
    n = out.shape[-1]
    return np.where(sums > 0, out / np.where(sums > 0, sums, 1.0), 1.0 / n)


def _rows_published(n: int, optimize: bool) -> np.ndarray:
    if optimize and n > 20:
        return np.linspace(0, n - 1, 20, dtype=int)
    return np.arange(n)


def sinks_by_percentile_published(attn: Any, percentile: float) -> dict[str, Any]:
    """Sink keys at a percentile as ``identify_attention_sinks`` (threshold = p/100): total
    incoming attention over heads and queries ≥ its p-th percentile. Also returns the share of
    all attention they receive (``sink_attention_percentage``, in %)."""
    stack = as_head_stack(attn)
    total = stack.sum(axis=(0, 1))
    thr = np.percentile(total, percentile)
    idx = np.where(total >= thr)[0]
    tot = total.sum()
    return {
        "sink_indices": idx,
        "sink_count": int(idx.size),
        "sink_attention_percentage": float(total[idx].sum() / tot * 100) if tot > 0 else 0.0,
    }


def sinks_by_percentile_corrected(attn: Any, percentile: float, *, causal: bool) -> dict[str, Any]:
    """Sink keys by received attention relative to the uniform share under the same mask::

        α_j = Σ_{h,i} A_h[i, j] / (H · #queries that see j)      (Gu et al. 2025, §3.2)
        α⁰_j = the same for uniform attention under the mask      ((H_n − H_j) / (n − j) when causal)
        sinks = { j : α_j / α⁰_j ≥ its p-th percentile over keys, and α_j / α⁰_j > 1 }

    Uniform attention (causal or not) has ratio 1 at every key and so no sink; the published rule
    (:func:`sinks_by_percentile_published`, raw column sums) picks the first keys of any causal map.
    Returns ``sink_indices``, ``sink_count``, ``alpha``, ``alpha_uniform``, ``ratio`` and
    ``sink_attention_percentage`` (the share of all attention the sinks receive)."""
    stack = as_head_stack(attn)
    h, n, _ = stack.shape
    vis = visibility_mask(n, causal)
    seen_by = vis.sum(axis=0)
    alpha = stack.sum(axis=(0, 1)) / (h * seen_by)
    alpha_uniform = masked_uniform_attention(n, causal=causal).sum(axis=0) / seen_by
    ratio = alpha / alpha_uniform
    # rounding leaves a uniform map's ratios within a few ulps of 1: only a clear excess is a sink
    above_uniform = ratio > 1 + 1e-9
    idx = np.where((ratio >= np.percentile(ratio, percentile)) & above_uniform)[0]
    total = stack.sum(axis=(0, 1))
    return {
        "sink_indices": idx,
        "sink_count": int(idx.size),
        "alpha": alpha,
        "alpha_uniform": alpha_uniform,
        "ratio": ratio,
        "sink_attention_percentage": float(total[idx].sum() / total.sum() * 100) if total.sum() > 0 else 0.0,
    }


def kl_to_mean_head_published(attn: Any, sink_indices: Sequence[int] | None = None, *, optimize: bool = True) -> dict[str, Any]:
    """Per-head KL to the mean head, before and (if ``sink_indices``) after masking the sinks,
    exactly as ``fast_kl_divergence`` (module docstring). Returns ``kl`` (H,), ``avg_kl`` and,
    with sinks, ``kl_masked`` (H,), ``kl_reduction`` (H,), ``avg_kl_reduction``."""
    stack = _renorm_published(as_head_stack(attn))
    n = stack.shape[-1]
    rows = _rows_published(n, optimize)
    avg = stack.mean(axis=0)
    kl = row_kl(stack[:, rows], avg[None, rows]).mean(axis=1)
    out: dict[str, Any] = {"variant": "published", "kl": kl, "avg_kl": float(kl.mean()), "rows": rows}
    if sink_indices is not None and len(sink_indices) > 0:
        sinks = np.asarray([s for s in sink_indices if s < n], dtype=int)
        masked = stack.copy()
        masked[:, :, sinks] = 0.0
        sums = masked.sum(axis=-1, keepdims=True)
        non_sink = np.ones(n, dtype=bool)
        non_sink[sinks] = False
        fill = non_sink / max(1, non_sink.sum())
        masked = np.where(sums > 0, masked / np.where(sums > 0, sums, 1.0), fill if non_sink.any() else masked)
        avg_m = masked.mean(axis=0)
        kl_m = row_kl(masked[:, rows], avg_m[None, rows]).mean(axis=1)
        out.update({
            "kl_masked": kl_m,
            "kl_reduction": kl - kl_m,
            "avg_kl_reduction": float(np.mean(kl - kl_m)),
            "sink_indices": sinks,
        })
    return out


def kl_to_mean_head_corrected(attn: Any, sink_indices: Sequence[int] | None = None, *, causal: bool) -> dict[str, Any]:
    """Per-head KL to the mean head over ALL query rows; after masking, rows with no visible
    non-sink key are dropped (module docstring). ``kl_masked`` is NaN if every row is dropped."""
    raw = as_head_stack(attn)
    h, n, _ = raw.shape
    vis = visibility_mask(n, causal)
    sums = raw.sum(axis=-1, keepdims=True)
    live = sums[0, :, 0] > 0  # padded rows (all zero) are dropped, not made uniform
    stack = raw / np.where(sums > 0, sums, 1.0)
    avg = stack.mean(axis=0)
    kl = row_kl(stack[:, live], avg[None, live]).mean(axis=1)
    out: dict[str, Any] = {"variant": "corrected", "kl": kl, "avg_kl": float(kl.mean())}
    if sink_indices is not None:  # no sink at all (a uniform map) masks nothing: reduction 0 on every live row
        sinks = np.asarray([s for s in sink_indices if s < n], dtype=int)
        masked = stack.copy()
        masked[:, :, sinks] = 0.0
        msum = masked.sum(axis=-1, keepdims=True)
        non_sink_visible = vis.copy()
        non_sink_visible[:, sinks] = False
        keep = live & non_sink_visible.any(axis=1) & np.all(msum[:, :, 0] > 0, axis=0)
        if keep.any():
            masked = masked / np.where(msum > 0, msum, 1.0)
            avg_m = masked.mean(axis=0)
            kl_m = row_kl(masked[:, keep], avg_m[None, keep]).mean(axis=1)
            kl_ref = row_kl(stack[:, keep], avg[None, keep]).mean(axis=1)
        else:
            kl_m = np.full(h, np.nan)
            kl_ref = np.full(h, np.nan)
        out.update({
            "kl_masked": kl_m,
            "kl_same_rows": kl_ref,
            "kl_reduction": kl_ref - kl_m,
            "avg_kl_reduction": float(np.mean(kl_ref - kl_m)),
            "rows_kept": int(keep.sum()),
            "sink_indices": sinks,
        })
    return out


def sink_removal_published(attn: Any, percentiles: Sequence[float] = PUBLISHED_PERCENTILES, *, optimize: bool = True) -> dict[str, Any]:
    """Baseline KL plus, for each percentile, the sinks and the KL after removing them, as
    ``analyze_text_and_aggregate`` does for one layer of one sample (``Notebooks/KL.ipynb``,
    ``UltraFastAttentionSinkKLAnalysis.analyze_text_and_aggregate``)::

        KL_h = mean_{i∈rows} KL(A_h[i,:] ‖ Ā[i,:])   (20 linspace rows when n > 20 and ``optimize``)
        S_p = {j : Σ_{h,i} A_h[i,j] ≥ P_p}            (P_p: p-th percentile over keys)
        avg_kl_reduction(p) = mean_h (KL_h − KL_h^{masked S_p})

    ``by_percentile[p]["avg_kl"]`` is the UNMASKED mean KL, as the notebook's per-threshold
    ``avg_kl_divergence`` (equal to ``baseline_avg_kl``)."""
    base = kl_to_mean_head_published(attn, optimize=optimize)
    out: dict[str, Any] = {"baseline_avg_kl": base["avg_kl"], "by_percentile": {}}
    for p in percentiles:
        sinks = sinks_by_percentile_published(attn, p)
        res = kl_to_mean_head_published(attn, sinks["sink_indices"], optimize=optimize)
        out["by_percentile"][float(p)] = {**sinks, "avg_kl": res["avg_kl"], "avg_kl_reduction": res["avg_kl_reduction"]}
    return out


def sink_removal_corrected(attn: Any, percentiles: Sequence[float] = PUBLISHED_PERCENTILES, *, causal: bool) -> dict[str, Any]:
    """Corrected counterpart of ``sink_removal_published``: all rows, visibility-normalised sink
    choice, rows that only see sinks dropped. The reduction is measured on the same rows::

        S_p = {j : α_j/α⁰_j ≥ P_p(α/α⁰) and α_j/α⁰_j > 1}  (:func:`sinks_by_percentile_corrected`)
        avg_kl_reduction(p) = mean_h (KL_h − KL_h^{masked S_p}), both over the kept rows

    a row is kept if it sees a non-sink key and keeps mass in every head after masking. Here
    ``by_percentile[p]["avg_kl"]`` is the mean MASKED KL (not the published unmasked value).
    Source: sinkviz's correction of ``Notebooks/KL.ipynb``, ``analyze_text_and_aggregate``."""
    base = kl_to_mean_head_corrected(attn, causal=causal)
    out: dict[str, Any] = {"baseline_avg_kl": base["avg_kl"], "by_percentile": {}}
    for p in percentiles:
        sinks = sinks_by_percentile_corrected(attn, p, causal=causal)
        res = kl_to_mean_head_corrected(attn, sinks["sink_indices"], causal=causal)
        out["by_percentile"][float(p)] = {
            "sink_indices": sinks["sink_indices"], "sink_count": sinks["sink_count"],
            "sink_attention_percentage": sinks["sink_attention_percentage"],
            "avg_kl": float(np.nanmean(res["kl_masked"])) if np.any(np.isfinite(res["kl_masked"])) else float("nan"),
            "avg_kl_reduction": res["avg_kl_reduction"], "rows_kept": res["rows_kept"],
        }
    return out
