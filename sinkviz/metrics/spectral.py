"""Spectral graph analysis of thresholded attention — Ruscio, Nanni, Silvestri (NeurIPS 2025),
spectral analysis ("Laplacian matrix of the attention graph, Fiedler value, star-like
patterns"); official ``Notebooks/laplacian.ipynb`` (``compute_laplacian_eigenvalues``) and
``fiedler.ipynb``.

Graph: B = 𝟙(Ā > τ) on the head-averaged map (directed, edge i→j = query i attends key j,
self-loops included). Published definitions (both notebooks):

* B_s = (B + Bᵀ)/2, L = diag(B_s 𝟙) − B_s (self-loops cancel), eigenvalues ascending:
  λ₀, Fiedler value λ₁, "spectral gap" λ₂ − λ₁. (For n > 50 the notebook calls
  ``eigsh(k=3, which='SM')``; we use the dense solver, whose three smallest eigenvalues are
  the same numbers.) One-directional edges weigh 0.5, so for a causal map every edge is
  halved and the Fiedler value is half that of the unweighted graph.
* in-degrees from a networkx DiGraph of B: a self-loop counts 1. ``laplacian.ipynb`` keeps
  isolated nodes when n ≤ 50 (``from_numpy_array``) and drops them when n > 50 (edge list);
  ``fiedler.ipynb`` always drops them.
* basic star-likeness (``fiedler.ipynb``) = max in-degree / (n − 1) — exceeds 1 for a sink
  that also attends to itself (self-loop counted): n/(n − 1) for a perfect star.
* weighted star-likeness (``laplacian.ipynb``) = 0.3·basic + 0.7·Gini(in-degrees).
  The two notebooks therefore report different "star-likeness" numbers for the same map.
* Gini = 2 Σ_i i·d_(i) / (n Σ d) − (n + 1)/n (d sorted ascending, i = 1..n).
* degree centralisation = Σ_i (max d − d_i) / (n − 1)²; degree variance = var(d).
* "effective" threshold: density ∈ [0.05, 0.95], density = #edges / n².
* fewer than 2 edges → all metrics 0 (the notebook's fallback).

Corrected (``graph_metrics_corrected``): self-loops removed from degrees, all n nodes kept,
B_s = max(B, Bᵀ) (an undirected edge wherever either direction is present, weight 1), and
density over the entries the model can attend (n(n+1)/2 for a causal map). Star-likeness
= max in-degree / (n − 1) ∈ [0, 1] (1 exactly for a star), Freeman degree centralisation
∈ [0, 1]. The threshold is RELATIVE to the uniform share by default: an edge i→j where
Ā_ij > c / v_i, v_i the number of keys query i sees (``uniform_ratio`` R_ij = Ā_ij·v_i > c,
c = ``tau_rel`` = 1.5: "half again as much as uniform attention would give"; τ = c/n for a
bidirectional map). An absolute τ (``tau=``) remains an option.

Why (null matrices): under a causal mask key 0 is seen by every query, so any absolute τ below
the smallest visible entry makes every query "attend" key 0. Uniform causal attention
(Ā_ij = 1/(i+1)) at the notebooks' τ = 0.01 has star-likeness 1.000 for every n ≤ 99 — the
score of a perfect BOS star — and degree centralisation near 1. At the relative threshold the
uniform map has no edge at all (every statistic 0), a planted star keeps its star, and
random-logit softmax attention (``sinkviz.metrics.toy_attention.random_logit_attention``)
gives a sparse random graph; compare an observed value with both through
:mod:`sinkviz.metrics.nulls`.
"""
from __future__ import annotations

from typing import Any, Literal

import numpy as np

from ._validate import as_square, visibility_mask
from .toy_attention import masked_uniform_attention

__all__ = [
    "PUBLISHED_THRESHOLDS",
    "DEFAULT_TAU_REL",
    "adjacency",
    "uniform_ratio",
    "laplacian_spectrum",
    "gini",
    "star_likeness_basic_published",
    "star_likeness_weighted_published",
    "star_likeness_corrected",
    "graph_metrics_published",
    "graph_metrics_corrected",
    "effective_thresholds_published",
    "threshold_effectiveness_published",
    "best_threshold_published",
    "computed_published",
]

PUBLISHED_THRESHOLDS = (0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2)
EFFECTIVE_DENSITY_RANGE = (0.05, 0.95)
#: The corrected graph's default threshold: an edge where a query gives a key more than 1.5 times the uniform
#: share of its row (c > 1 so that uniform attention has no edge; 1.5 rather than 2 so that the second query
#: of a causal map, which sees two keys, can still attend the first: with c = 2 it never could).
DEFAULT_TAU_REL = 1.5


def adjacency(avg_attention: Any, tau: float) -> np.ndarray:
    """B = 𝟙(Ā > τ) as float (strict >, as the notebooks)."""
    a = as_square(avg_attention, name="avg_attention")
    return (a > tau).astype(float)


def uniform_ratio(avg_attention: Any, *, causal: bool, sliding_window: int | None = None) -> np.ndarray:
    """R_ij = Ā_ij / U_ij = Ā_ij · v_i on the entries the mask lets query i see (0 elsewhere), U the uniform
    attention under the same mask (``masked_uniform_attention``) and v_i the number of keys row i sees: how many
    times the uniform share a key gets.  R = 1 on every visible entry of uniform attention (rounded to 12
    decimals, so that 1/v·v is exactly 1); a perfect BOS star has R_i0 = i + 1 (causal)."""
    a = as_square(avg_attention, name="avg_attention")
    u = masked_uniform_attention(a.shape[0], causal=causal, sliding_window=sliding_window)
    ratio = np.divide(a, u, out=np.zeros_like(a), where=u > 0)
    return np.round(ratio, 12)


def laplacian_spectrum(b: Any, symmetrize: Literal["mean", "max"] = "mean") -> np.ndarray:
    """Ascending eigenvalues of L = diag(B_s 𝟙) − B_s, B_s = (B + Bᵀ)/2 ("mean", published) or
    max(B, Bᵀ) ("max", corrected). Self-loops cancel in L either way."""
    bb = as_square(b, name="adjacency")
    if symmetrize == "mean":
        s = (bb + bb.T) / 2.0
    elif symmetrize == "max":
        s = np.maximum(bb, bb.T)
    else:
        raise ValueError(f"symmetrize must be 'mean' or 'max', got {symmetrize!r}")
    lap = np.diag(s.sum(axis=1)) - s
    return np.sort(np.linalg.eigvalsh(lap))


def gini(values: Any) -> float:
    """Gini = 2 Σ_i i·v_(i) / (n Σ v) − (n + 1)/n with v sorted ascending (0 if Σ v = 0)."""
    v = np.sort(np.asarray(values, dtype=np.float64).ravel())
    n = v.size
    if n == 0 or v.sum() <= 0:
        return 0.0
    i = np.arange(1, n + 1)
    return float(2 * np.sum(i * v) / (n * v.sum()) - (n + 1) / n)


def _in_degrees_published(b: np.ndarray, drop_isolated: bool) -> np.ndarray:
    indeg = b.sum(axis=0)  # a self-loop adds 1, as networkx DiGraph.in_degree
    if drop_isolated:
        present = (b.sum(axis=0) + b.sum(axis=1)) > 0
        indeg = indeg[present]
    return indeg


def star_likeness_basic_published(in_degrees: Any) -> float:
    """max in-degree / max(1, n − 1) over the given nodes (``fiedler.ipynb``)."""
    d = np.asarray(in_degrees, dtype=np.float64)
    if d.size == 0:
        return 0.0
    return float(d.max() / max(1, d.size - 1))


def star_likeness_weighted_published(in_degrees: Any) -> float:
    """0.3·basic + 0.7·Gini(in-degrees) (``laplacian.ipynb``)."""
    return 0.3 * star_likeness_basic_published(in_degrees) + 0.7 * gini(in_degrees)


def star_likeness_corrected(b: Any) -> float:
    """max in-degree WITHOUT self-loops / (n − 1) over all n nodes of an adjacency B: 1 exactly for a star.
    The adjacency decides what it measures: at an absolute τ below 1/n a uniform causal map is a star (key 0 is
    seen by all); build B with the relative threshold (``graph_metrics_corrected``) and uniform attention scores 0."""
    bb = as_square(b, name="adjacency").copy()
    np.fill_diagonal(bb, 0.0)
    n = bb.shape[0]
    return float(bb.sum(axis=0).max() / max(1, n - 1))


def _eig_summary(eig: np.ndarray) -> dict[str, Any]:
    """λ₀, Fiedler value λ₁ and "spectral gap" λ₂ − λ₁ of an ascending Laplacian spectrum."""
    return {
        "eigenvalues": eig,
        "first_eigenvalue": float(eig[0]),
        "fiedler_value": float(eig[1]) if eig.size > 1 else 0.0,
        "spectral_gap": float(eig[2] - eig[1]) if eig.size > 2 else 0.0,
    }


def _zero_metrics(variant: str, reason: str) -> dict[str, Any]:
    return {
        "variant": variant, "first_eigenvalue": 0.0, "fiedler_value": 0.0, "spectral_gap": 0.0,
        "max_in_degree": 0, "star_likeness_basic": 0.0, "star_likeness_weighted": 0.0, "gini": 0.0,
        "degree_centralization": 0.0, "degree_variance": 0.0, "density": 0.0, "error": reason,
    }


def graph_metrics_published(
    avg_attention: Any, tau: float = 0.01, *, notebook: Literal["laplacian", "fiedler"] = "laplacian"
) -> dict[str, Any]:
    """All graph metrics as the official notebooks compute them at threshold τ (see module
    docstring). ``notebook`` selects whose node set is used for degrees: ``"laplacian"`` (isolated
    nodes kept iff n ≤ 50) or ``"fiedler"`` (isolated nodes dropped). Both star-likeness
    definitions are returned: ``star_likeness_basic`` (fiedler.ipynb) and
    ``star_likeness_weighted`` (laplacian.ipynb)."""
    a = as_square(avg_attention, name="avg_attention")
    n = a.shape[0]
    if n < 2:
        return _zero_metrics("published", "Matrix too small for analysis")
    b = (a > tau).astype(float)
    count = float(b.sum())
    if count < 2:
        return _zero_metrics("published", "Too few connections after thresholding")
    drop = True if notebook == "fiedler" else n > 50
    indeg = _in_degrees_published(b, drop_isolated=drop)
    total = indeg.size
    max_in = float(indeg.max()) if total else 0.0
    max_diff = (total - 1) * (total - 1)
    centralization = float(np.sum(max_in - indeg) / max_diff) if (max_diff > 0 and max_in > 0) else 0.0
    eig = laplacian_spectrum(b, "mean")
    return {
        "variant": "published",
        "notebook": notebook,
        **_eig_summary(eig),
        "max_in_degree": max_in,
        "star_likeness_basic": star_likeness_basic_published(indeg),
        "star_likeness_weighted": star_likeness_weighted_published(indeg),
        "gini": gini(indeg),
        "degree_centralization": centralization,
        "degree_variance": float(np.var(indeg)) if total > 1 else 0.0,
        "density": count / b.size,
        "n_nodes_degrees": int(total),
    }


def graph_metrics_corrected(avg_attention: Any, tau: float | None = None, *, tau_rel: float = DEFAULT_TAU_REL,
                            causal: bool | None = None, sliding_window: int | None = None) -> dict[str, Any]:
    """Graph metrics with the corrections listed in the module docstring (no self-loops in
    degrees, all nodes, OR-symmetrisation, density over attendable entries) at the relative threshold
    B_ij = 𝟙(Ā_ij·v_i > ``tau_rel``) (default), or at an absolute ``tau`` when one is given.
    ``causal=None`` infers causality from an all-zero upper triangle.

    Null matrices (module docstring): uniform attention under the same mask gives no edge (every
    statistic 0) at any ``tau_rel`` ≥ 1; at an absolute τ < 1/n a uniform causal map scores star-likeness 1."""
    a = as_square(avg_attention, name="avg_attention")
    if tau is None and not tau_rel >= 1:
        raise ValueError(f"tau_rel must be at least 1 (an edge is attention above tau_rel × the uniform share); got "
                         f"{tau_rel}: below 1 every entry of uniform attention is an edge and it scores as a star")
    n = a.shape[0]
    if causal is None:
        causal = bool(np.all(np.triu(a, 1) == 0)) and n > 1
    if tau is None:
        b = (uniform_ratio(a, causal=causal, sliding_window=sliding_window) > tau_rel).astype(float)
        threshold = f"relative: Ā_ij > {tau_rel:g} × uniform share 1/v_i"
    else:
        b = (a > tau).astype(float)
        threshold = f"absolute: Ā_ij > {tau:g}"
    vis = visibility_mask(n, causal, sliding_window)
    b_off = b.copy()
    np.fill_diagonal(b_off, 0.0)
    indeg = b_off.sum(axis=0)
    max_in = float(indeg.max()) if n else 0.0
    eig = laplacian_spectrum(b, "max")
    denom = (n - 1) ** 2
    return {
        "variant": "corrected",
        **_eig_summary(eig),
        "max_in_degree": max_in,
        "star_likeness": star_likeness_corrected(b),
        "gini": gini(indeg),
        "degree_centralization": float(np.sum(max_in - indeg) / denom) if denom > 0 else 0.0,
        "degree_variance": float(np.var(indeg)),
        "density": float(b[vis].sum() / vis.sum()),
        "causal": causal,
        "threshold": threshold,
    }


def effective_thresholds_published(avg_attention: Any, taus: Any = PUBLISHED_THRESHOLDS) -> dict[float, bool]:
    """τ is "effective" for a map if its density #(Ā > τ)/n² lies in [0.05, 0.95] (laplacian.ipynb)."""
    a = as_square(avg_attention, name="avg_attention")
    lo, hi = EFFECTIVE_DENSITY_RANGE
    return {float(t): bool(lo <= float((a > t).sum() / a.size) <= hi) for t in taus}


# ---- the threshold sweep of laplacian.ipynb (``_compute_aggregated_stats``, ``_visualize_fiedler_heatmap``)
def threshold_effectiveness_published(mean_density: dict[float, Any]) -> dict[float, float]:
    """Effectiveness score of each τ: the share of layers whose density #(Ā > τ)/n², averaged over samples,
    lies in [0.05, 0.95] (laplacian.ipynb). ``mean_density[τ]`` lists one mean density per layer."""
    lo, hi = EFFECTIVE_DENSITY_RANGE
    out = {}
    for tau, per_layer in mean_density.items():
        d = np.asarray(per_layer, dtype=np.float64)
        out[float(tau)] = float(np.mean((d >= lo) & (d <= hi))) if d.size else 0.0
    return out


def best_threshold_published(effectiveness: dict[float, float]) -> float:
    """The τ the Fiedler heat-map is drawn at: the first τ (in the given order) whose score is strictly larger
    than every earlier one and > 0; the first τ when every score is 0 (laplacian.ipynb's fallback)."""
    if not effectiveness:
        raise ValueError("no thresholds given")
    best, best_score = None, 0.0
    for tau, score in effectiveness.items():
        if score > best_score:
            best, best_score = tau, score
    return float(next(iter(effectiveness)) if best is None else best)


def computed_published(effective: bool, layer: int) -> bool:
    """Whether laplacian.ipynb computes the graph metrics of a (sample, layer, τ): only when τ is effective for
    that sample (density in [0.05, 0.95]) or the layer index is a multiple of 4 — so the per-layer means of the
    other layers average a density-selected subset of the samples (a selection the corrected sweep drops)."""
    return bool(effective or layer % 4 == 0)
