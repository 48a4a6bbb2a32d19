"""Significance tests and correlation aggregates of Ruscio, Nanni, Silvestri (NeurIPS 2025), published and corrected.

Ruscio et al.'s official notebooks test per-sample statistics between layers and aggregate correlations over
layers (paper §5 "Analysis Results"; ``topology.ipynb`` ``run_statistical_tests``, ``attention_value.ipynb``
``compute_statistics``, ``fiedler.ipynb`` ``compute_correlations``).  Published, as the notebooks compute them:

* **layer pairs** (topology.ipynb): Welch's t-test ``scipy.stats.ttest_ind(x_i, x_j, equal_var=False)`` for every
  pair of analysed layers, each "significant" at p < 0.05 with no correction for the number of tests;
* **first vs last layer** (attention_value.ipynb): the same Welch test between the lowest and the highest layer;
* **layer trend** (attention_value.ipynb): Spearman ρ and Pearson r between the layer index and the per-layer
  mean, over the L layer means (so n = L);
* **overall one-sample t-test** (attention_value.ipynb): ``ttest_1samp(values, 0)`` over every (sample, layer)
  value pooled, n = samples × layers;
* **overall correlation** (fiedler.ipynb): the *mean* of the per-layer Pearson r and the *mean* of the per-layer
  p-values.

Artefacts and the corrected versions:

* the layers of one sentence are not independent samples: every layer sees the same sentences, so the
  corrected layer comparison is the **paired** t-test ``ttest_rel`` over sentences, and the corrected overall
  test is a one-sample t-test over the per-sentence means across layers (n = samples, not samples × layers);
* many tests at α = 0.05 produce "significant" differences by chance: corrected p-values are Holm–Bonferroni
  adjusted (:func:`holm`);
* a mean of p-values is not a p-value: the corrected aggregate correlation is the Fisher-z mean
  r̄ = tanh(Σ_l (n_l − 3) atanh r_l / Σ_l (n_l − 3)), reported with the number of layers whose Holm-adjusted
  p < 0.05 (layers share sentences, so no pooled p-value is claimed).

A null for every test here is the same test on statistics computed from uniform or random-logit attention at the
same lengths; the recipes in ``sinkviz.papers.ruscio2025`` put it beside the observed value.
"""
from __future__ import annotations

import warnings
from itertools import combinations
from typing import Any, Mapping, Sequence

import numpy as np
from scipy import stats as _stats

__all__ = [
    "SIGNIFICANCE_LEVEL",
    "holm",
    "welch_t_published",
    "paired_t_corrected",
    "layer_pair_tests_published",
    "layer_pair_tests_corrected",
    "first_vs_last_published",
    "first_vs_last_corrected",
    "layer_trend_published",
    "one_sample_t_published",
    "one_sample_t_corrected",
    "pearson_published",
    "correlation_aggregate_published",
    "correlation_aggregate_corrected",
]

SIGNIFICANCE_LEVEL = 0.05


def _vector(values: Any, name: str) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0:
        raise ValueError(f"{name} is empty: a test needs at least one value per group")
    return v


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm–Bonferroni adjusted p-values: sort p ascending, p̃_(k) = max_{j ≤ k} min(1, (m − j + 1) p_(j)),
    m = number of finite p-values; NaN stays NaN (an undefined test is not counted in m)."""
    p = np.asarray(pvalues, dtype=np.float64).ravel()
    out = np.full(p.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    m = finite.size
    if m == 0:
        return out
    order = finite[np.argsort(p[finite], kind="stable")]
    running = 0.0
    for rank, idx in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[idx]))
        out[idx] = running
    return out


def welch_t_published(a: Any, b: Any) -> dict[str, float]:
    """Welch's t-test ``scipy.stats.ttest_ind(a, b, equal_var=False)``, as the notebooks call it: t, p (NaN when
    both groups are constant, as scipy returns), the group means and sizes."""
    x, y = _vector(a, "a"), _vector(b, "b")
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # constant groups: scipy warns and returns NaN, kept
        res = _stats.ttest_ind(x, y, equal_var=False)
    return {"t": float(res.statistic), "p": float(res.pvalue), "mean_a": float(x.mean()), "mean_b": float(y.mean()),
            "n_a": int(x.size), "n_b": int(y.size)}


def paired_t_corrected(a: Any, b: Any) -> dict[str, float]:
    """Paired t-test ``scipy.stats.ttest_rel(a, b)`` over the same samples measured twice (e.g. one sentence at
    two layers): t = mean(d) / (sd(d)/√n), d = a − b. NaN when d is constant."""
    x, y = _vector(a, "a"), _vector(b, "b")
    if x.size != y.size:
        raise ValueError(f"a paired test needs the same samples in both groups; got {x.size} and {y.size} values")
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = _stats.ttest_rel(x, y)
    return {"t": float(res.statistic), "p": float(res.pvalue), "mean_a": float(x.mean()), "mean_b": float(y.mean()),
            "n_a": int(x.size), "n_b": int(y.size)}


def _check_layers(values_by_layer: Mapping[int, Any]) -> list[int]:
    layers = sorted(values_by_layer)
    if len(layers) < 2:
        raise ValueError(f"layer tests need at least 2 layers; got {layers}")
    return layers


def layer_pair_tests_published(values_by_layer: Mapping[int, Any]) -> list[dict[str, Any]]:
    """Welch's t-test for every pair of layers i < j (topology.ipynb ``run_statistical_tests``); each row has
    layer_a, layer_b, t, p, the means and ``significant`` = p < 0.05 (uncorrected)."""
    layers = _check_layers(values_by_layer)
    rows = []
    for la, lb in combinations(layers, 2):
        res = welch_t_published(values_by_layer[la], values_by_layer[lb])
        rows.append({"layer_a": la, "layer_b": lb, **res, "significant": bool(res["p"] < SIGNIFICANCE_LEVEL)})
    return rows


def layer_pair_tests_corrected(values_by_layer: Mapping[int, Any]) -> list[dict[str, Any]]:
    """Paired t-test (same sentences at both layers) for every pair of layers, Holm-adjusted over the pairs:
    rows as :func:`layer_pair_tests_published` plus ``p_holm``; ``significant`` = p_holm < 0.05."""
    layers = _check_layers(values_by_layer)
    rows = [{"layer_a": la, "layer_b": lb, **paired_t_corrected(values_by_layer[la], values_by_layer[lb])}
            for la, lb in combinations(layers, 2)]
    adjusted = holm([r["p"] for r in rows])
    for row, p_adj in zip(rows, adjusted):
        row["p_holm"] = float(p_adj)
        row["significant"] = bool(p_adj < SIGNIFICANCE_LEVEL)
    return rows


def first_vs_last_published(values_by_layer: Mapping[int, Any]) -> dict[str, Any]:
    """Welch's t-test between the lowest and the highest layer (attention_value.ipynb "cross-layer tests"),
    with the difference mean(last) − mean(first)."""
    layers = _check_layers(values_by_layer)
    res = welch_t_published(values_by_layer[layers[0]], values_by_layer[layers[-1]])
    return {"first_layer": layers[0], "last_layer": layers[-1], **res, "difference": res["mean_b"] - res["mean_a"],
            "significant": bool(res["p"] < SIGNIFICANCE_LEVEL)}


def first_vs_last_corrected(values_by_layer: Mapping[int, Any]) -> dict[str, Any]:
    """Paired t-test between the lowest and the highest layer over the same sentences::

        d_s = x_s^{first} − x_s^{last};  t = mean(d) / (sd(d)/√n), n = sentences
        difference = mean(last) − mean(first)

    ``significant`` = p < 0.05 (a single test). Source: sinkviz's correction of the Welch test in
    ``Notebooks/attention_value.ipynb``, ``compute_statistics``."""
    layers = _check_layers(values_by_layer)
    res = paired_t_corrected(values_by_layer[layers[0]], values_by_layer[layers[-1]])
    return {"first_layer": layers[0], "last_layer": layers[-1], **res, "difference": res["mean_b"] - res["mean_a"],
            "significant": bool(res["p"] < SIGNIFICANCE_LEVEL)}


def layer_trend_published(values_by_layer: Mapping[int, Any]) -> dict[str, Any]:
    """Spearman ρ and Pearson r between the layer index and the per-layer mean, n = number of layers
    (attention_value.ipynb "layer evolution"); ``pattern`` = increasing if ρ > 0.5, decreasing if ρ < −0.5,
    else mixed (the notebook's words)."""
    layers = _check_layers(values_by_layer)
    means = np.array([np.mean(_vector(values_by_layer[layer], f"layer {layer}")) for layer in layers])
    with np.errstate(all="ignore"):
        rho, p_rho = _stats.spearmanr(layers, means)
        r, p_r = _stats.pearsonr(layers, means)
    pattern = "increasing" if rho > 0.5 else ("decreasing" if rho < -0.5 else "mixed")
    return {"spearman_rho": float(rho), "spearman_p": float(p_rho), "pearson_r": float(r), "pearson_p": float(p_r),
            "n_layers": len(layers), "layers": layers, "layer_means": means, "pattern": pattern}


def one_sample_t_published(values: Any) -> dict[str, float]:
    """``ttest_1samp(values, 0)`` over every value pooled (attention_value.ipynb: n = samples × layers)."""
    v = _vector(values, "values")
    with np.errstate(all="ignore"):
        res = _stats.ttest_1samp(v, 0.0)
    return {"t": float(res.statistic), "p": float(res.pvalue), "mean": float(v.mean()), "n": int(v.size)}


def one_sample_t_corrected(per_sample_by_layer: Any) -> dict[str, float]:
    """One-sample t-test against 0 of the per-sample means over layers: ``per_sample_by_layer`` is
    (samples, layers); n = samples, since the layers of one sentence are not independent draws."""
    m = np.asarray(per_sample_by_layer, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] < 2:
        raise ValueError(f"per_sample_by_layer must be (samples ≥ 2, layers); got shape {m.shape}")
    per_sample = np.nanmean(m, axis=1)
    per_sample = per_sample[np.isfinite(per_sample)]
    with np.errstate(all="ignore"):
        res = _stats.ttest_1samp(per_sample, 0.0)
    return {"t": float(res.statistic), "p": float(res.pvalue), "mean": float(per_sample.mean()),
            "n": int(per_sample.size)}


def pearson_published(x: Any, y: Any) -> dict[str, float] | None:
    """``scipy.stats.pearsonr(x, y)`` when both sides vary, else None (fiedler.ipynb skips such a layer);
    x and y are cut to the shorter length, as the notebook does::

        r = Σ(x − x̄)(y − ȳ) / √(Σ(x − x̄)² Σ(y − ȳ)²)   over the first n = min(|x|, |y|) ≥ 3 values

    Source: ``Notebooks/fiedler.ipynb``, ``FiedlerCorrelationAnalysis.compute_correlations``."""
    a, b = _vector(x, "x"), _vector(y, "y")
    n = min(a.size, b.size)
    a, b = a[:n], b[:n]
    if n < 3 or np.std(a) == 0 or np.std(b) == 0:
        return None
    r, p = _stats.pearsonr(a, b)
    return {"r": float(r), "p": float(p), "n": int(n)}


def correlation_aggregate_published(per_layer: Sequence[Mapping[str, float] | None]) -> dict[str, float]:
    """fiedler.ipynb's "overall" correlation: the mean of the per-layer r and the mean of the per-layer p
    (layers without a correlation are left out). NaN when no layer has one."""
    rows = [c for c in per_layer if c is not None]
    if not rows:
        return {"r": float("nan"), "p": float("nan"), "n_layers": 0}
    return {"r": float(np.mean([c["r"] for c in rows])), "p": float(np.mean([c["p"] for c in rows])),
            "n_layers": len(rows)}


def correlation_aggregate_corrected(per_layer: Sequence[Mapping[str, float] | None]) -> dict[str, float]:
    """Fisher-z mean of the per-layer r, weighted by n − 3: r̄ = tanh(Σ (n_l − 3) atanh r_l / Σ (n_l − 3))
    (|r| clipped below 1), and how many layers stay significant after Holm adjustment of their p-values."""
    rows = [c for c in per_layer if c is not None and c["n"] > 3]
    if not rows:
        return {"r": float("nan"), "n_layers": 0, "n_significant_holm": 0}
    weights = np.array([c["n"] - 3 for c in rows], dtype=np.float64)
    z = np.arctanh(np.clip([c["r"] for c in rows], -1 + 1e-12, 1 - 1e-12))
    adjusted = holm([c["p"] for c in rows])
    return {"r": float(np.tanh(np.sum(weights * z) / np.sum(weights))), "n_layers": len(rows),
            "n_significant_holm": int(np.sum(adjusted < SIGNIFICANCE_LEVEL))}
