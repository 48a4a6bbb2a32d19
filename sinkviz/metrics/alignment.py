"""Attention–residual-stream correlations of Ruscio, Nanni, Silvestri (NeurIPS 2025): entropy–magnitude and PCA-component.

Paper §5 ("Vector Geometry", Finding 6: frames dictate value-space transformations); official
``Notebooks/attention_value.ipynb`` (``analyze_text``, ``perform_pca_analysis``). Inputs per layer l of one sample:
Ā (n, n) head-averaged attention, h_in = hidden_states[l] (the residual stream entering block l) and
h_out = hidden_states[l + 1].

**Entropy–magnitude correlation** (published, :func:`entropy_magnitude_published`): Pearson r over the n tokens
between the row entropy H_i of Ā (nats, entries ≤ 100·eps_f32 dropped and the rest renormalised) and the
transformation magnitude ‖h_out_i − h_in_i‖ (rescaled so max |h| ≤ 1e3, differences clipped to ±1e3); 0.0 when
either side is constant (the notebook's fallback). Artefact: under a causal mask row i sees i + 1 keys, so
H_i ≤ ln(i + 1) grows with position whatever the heads do; uniform causal attention has H_i = ln(i + 1) exactly,
and the published r then measures how the magnitude depends on log-position (the null :func:`entropy_magnitude_published`
of the uniform map gives that number). A BOS token with H_0 = 0 and a massive activation dominates a Pearson r.
Corrected (:func:`entropy_magnitude_corrected`): the *normalised* entropy H_i / ln(v_i) (v_i = keys row i can
see: i + 1 causal, n bidirectional) over rows with v_i ≥ 2, against the raw magnitude, Spearman ρ (ranks, so one
massive token cannot carry it); NaN when either side is constant.

**PCA-component correlation** (published, :func:`pca_component_correlation_published`): k = min(3, n − 1,
D − 1) principal components of the rows of Ā (tokens as samples) and of h_in, each fitted by scikit-learn's
``PCA(svd_solver="randomized")``; the mean over i < k of Pearson corr(score_i(Ā), score_i(h)) (components with
std ≤ 1e−8 skipped; 0.0 if none). Artefacts: the official code sets no ``random_state``, so the number changes
from run to run (here the seed is a parameter, default 0); the sign of a principal component is arbitrary
(fixed only by scikit-learn's sign convention), so the signed mean of matched-component correlations can flip
sign without any change in the data. Corrected (:func:`pca_component_correlation_corrected`): exact SVD
(deterministic) and the mean of |corr| over the matched components.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats as _stats

from ._validate import as_array, as_square
from .influence import attention_entropy_published, transformation_magnitude_corrected, transformation_magnitude_published

__all__ = [
    "PCA_COMPONENTS",
    "entropy_magnitude_published",
    "entropy_magnitude_corrected",
    "normalised_entropy",
    "pca_component_correlation_published",
    "pca_component_correlation_corrected",
]

PCA_COMPONENTS = 3


def _states(h_in: Any, h_out: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    pre, post = as_array(h_in, name="h_in"), as_array(h_out, name="h_out")
    if pre.shape != post.shape or pre.ndim != 2 or pre.shape[0] != n:
        raise ValueError(f"h_in and h_out must both be (n, D) with n = {n} tokens; got {pre.shape} and {post.shape}")
    return pre, post


def entropy_magnitude_published(avg_attention: Any, h_in: Any, h_out: Any) -> float:
    """Pearson r(H_i, ‖Δh_i‖) over tokens exactly as attention_value.ipynb (module docstring); 0.0 when a side
    is constant."""
    a = as_square(avg_attention, name="avg_attention")
    pre, post = _states(h_in, h_out, a.shape[0])
    entropy = attention_entropy_published(a)
    magnitude = transformation_magnitude_published(pre, post)
    if entropy.size > 1 and np.std(entropy) > 0 and np.std(magnitude) > 0:
        return float(np.corrcoef(entropy, magnitude)[0, 1])
    return 0.0


def normalised_entropy(avg_attention: Any, *, causal: bool) -> np.ndarray:
    """H_i / ln(v_i) ∈ [0, 1] with H_i the natural-log row entropy (0·log 0 = 0) and v_i the number of keys row i
    can see (i + 1 causal, n bidirectional); NaN for rows with v_i < 2. Uniform attention gives 1 on every row."""
    a = as_square(avg_attention, name="avg_attention")
    n = a.shape[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(a > 0, a * np.log(a), 0.0)
    entropy = -plogp.sum(axis=1)
    visible = np.arange(1, n + 1, dtype=np.float64) if causal else np.full(n, float(n))
    out = np.full(n, np.nan)
    ok = visible >= 2
    out[ok] = entropy[ok] / np.log(visible[ok])
    return out


def entropy_magnitude_corrected(avg_attention: Any, h_in: Any, h_out: Any, *, causal: bool) -> float:
    """Spearman ρ(H_i / ln v_i, ‖h_out_i − h_in_i‖) over rows that see ≥ 2 keys (module docstring); NaN when a
    side is constant or fewer than 3 rows qualify."""
    a = as_square(avg_attention, name="avg_attention")
    pre, post = _states(h_in, h_out, a.shape[0])
    h_norm = normalised_entropy(a, causal=causal)
    magnitude = transformation_magnitude_corrected(pre, post)
    ok = np.isfinite(h_norm)
    x, y = h_norm[ok], magnitude[ok]
    if x.size < 3 or np.ptp(x) < 1e-9 or np.ptp(y) < 1e-9:  # constant up to rounding
        return float("nan")
    return float(_stats.spearmanr(x, y).statistic)


def _pca_inputs(avg_attention: Any, hidden: Any) -> tuple[np.ndarray, np.ndarray, int]:
    a = np.nan_to_num(as_square(avg_attention, name="avg_attention"), nan=0.0, posinf=0.0, neginf=0.0)
    h = np.nan_to_num(as_array(hidden, name="hidden states"), nan=0.0, posinf=0.0, neginf=0.0)
    if h.ndim != 2 or h.shape[0] != a.shape[0]:
        raise ValueError(f"hidden states must be (n, D) with n = {a.shape[0]} tokens; got {h.shape}")
    k = min(PCA_COMPONENTS, min(a.shape) - 1, min(h.shape) - 1)
    return a, h, k


def _matched_correlations(scores_a: np.ndarray, scores_h: np.ndarray) -> list[float]:
    out = []
    for i in range(min(scores_a.shape[1], scores_h.shape[1])):
        x, y = scores_a[:, i], scores_h[:, i]
        if np.std(x) > 1e-8 and np.std(y) > 1e-8:
            c = float(np.corrcoef(x, y)[0, 1])
            if np.isfinite(c):
                out.append(c)
    return out


def pca_component_correlation_published(avg_attention: Any, hidden: Any, *, seed: int = 0) -> dict[str, Any]:
    """Mean signed correlation of matched principal components, as ``perform_pca_analysis`` (module docstring),
    with scikit-learn's randomized solver seeded by ``seed`` (the official code leaves it unseeded). Returns
    ``{"correlations": [...], "mean": float}``; mean 0.0 when no component qualifies (the notebook's fallback)."""
    from sklearn.decomposition import PCA

    a, h, k = _pca_inputs(avg_attention, hidden)
    if k <= 0:
        return {"correlations": [], "mean": 0.0}
    if np.max(np.abs(a)) > 1e3:
        a = a * (1e3 / np.max(np.abs(a)))
    if np.max(np.abs(h)) > 1e3:
        h = h * (1e3 / np.max(np.abs(h)))
    scores_a = PCA(n_components=k, svd_solver="randomized", random_state=seed).fit_transform(a)
    scores_h = PCA(n_components=k, svd_solver="randomized", random_state=seed).fit_transform(h)
    corr = _matched_correlations(scores_a, scores_h)
    return {"correlations": corr, "mean": float(np.mean(corr)) if corr else 0.0}


def _exact_scores(x: np.ndarray, k: int) -> np.ndarray:
    centred = x - x.mean(axis=0, keepdims=True)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    return u[:, :k] * s[:k]


def pca_component_correlation_corrected(avg_attention: Any, hidden: Any) -> dict[str, Any]:
    """Mean |corr| of matched principal-component scores from an exact SVD (deterministic; the sign of a
    component is arbitrary, so only |corr| is meaningful). NaN mean when no component qualifies."""
    a, h, k = _pca_inputs(avg_attention, hidden)
    if k <= 0:
        return {"correlations": [], "mean": float("nan")}
    corr = [abs(c) for c in _matched_correlations(_exact_scores(a, k), _exact_scores(h, k))]
    return {"correlations": corr, "mean": float(np.mean(corr)) if corr else float("nan")}
