"""Random-matrix statistics of attention maps — Ruscio, Nanni, Silvestri (NeurIPS 2025),
"Evidence of early emergence: a Random Matrix Theory view" (slides; paper §5); official
``rmt.ipynb`` (``OptimizedAttentionMatrixRMTAnalysis.compute_eigenspectrum``,
``compute_marchenko_pastur_distance``, ``analyze_attention_matrix``).

Published (``rmt_published``), per attention matrix A (one head or the head average):

* eigenvalues of A itself, ``np.linalg.eigvals(A)``, magnitudes sorted descending |λ|₁ ≥ |λ|₂ ≥ …
* spectral gap = |λ|₁/|λ|₂; participation ratio PR = (Σ|λ|)² / Σ|λ|²;
  stable rank = Σσ² / σ₁²; spectral norm σ₁ (σ = singular values); bulk edge = midpoint of
  the largest gap between consecutive |λ|.
* Marchenko–Pastur deviation: only the TOP-10 |λ| (the stored list is truncated to 10 before
  the MP call), normalised to mean 1, 20-bin density histogram, MP density with γ = 1 → 0.99
  (a = (1 − √γ)², b = (1 + √γ)²) at the bin centres, both normalised to sum 1,
  KL = ``scipy.stats.entropy(hist, mp)`` (inf when a bin with mass has zero MP density).
* sink concentration = share of column-sum mass on keys at or above the 90th percentile of
  column sums; entropy = mean row entropy in bits (−Σ p log₂(p + 1e−10)).

Artefact: a causal (lower-triangular) A has its DIAGONAL as eigenvalues, so |λ|₁ = A₀₀ = 1
always, spectral gap = 1 / max_{i≥1} A_ii, PR = (Σ A_ii)²/Σ A_ii² — functions of the
self-attention weights only, blind to where the sink is.

Corrected (``rmt_corrected``): the singular-value spectrum σ (well defined for any matrix):
gap σ₁/σ₂, PR of the eigenvalues σ² of AAᵀ, and the MP deviation measured on the FULL
spectrum of the entry-standardised matrix X = (A − mean)/std, λ = eig(XXᵀ/n) (mean 1 in
expectation), as the Kolmogorov–Smirnov distance to the MP law with γ = 1 (a random matrix
gives a small value; a rank-one sink matrix a large one).

What null matrices give (n = 64, causal; random-logit = mean ± sd over 20 seeded draws of
:mod:`sinkviz.metrics.nulls`): the MP KS is 0.03 for a dense N(0, 1) matrix, 0.31 ± 0.02 for
random-logit causal softmax and 0.56 for uniform causal attention, against 0.98 for a perfect
BOS star. A triangular map is far from the MP law whatever it attends to, so under a causal
mask the KS mostly measures the mask: an untrained model (near-uniform attention) scores about
the uniform value, above random-logit attention, whatever it attends to; whether a trained model
scores higher or lower depends on the model. The participation ratio of σ² is 2.86 uniform, 6.2 ± 0.6
random-logit, 1 for the star. Read every corrected value beside these nulls at the same n and
mask (``null_baseline(rmt_corrected, n, causal=...)``), as the Ruscio tables and figures do.
Under a BIDIRECTIONAL mask uniform attention and a BOS star (planted or perfect) have identical
rows: both are rank one (σ-gap ∞, PR 1, stable rank 1) and the singular-value statistics cannot
tell them apart; the MP KS of the constant uniform map is undefined (NaN). There, use the graph
and topology statistics.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats as _stats

from ._validate import as_square

__all__ = [
    "eigen_magnitudes_published",
    "mp_density",
    "mp_cdf",
    "mp_kl_published",
    "mp_ks_corrected",
    "sink_concentration_published",
    "row_entropy_bits_published",
    "rmt_published",
    "rmt_corrected",
]


def eigen_magnitudes_published(a: Any) -> np.ndarray:
    """|eigvals(A)| sorted descending, exactly as ``compute_eigenspectrum``."""
    m = as_square(a, name="attention")
    ev = np.linalg.eigvals(m)
    if np.iscomplexobj(ev) and np.all(np.abs(ev.imag) < 1e-10):
        ev = ev.real
    return np.sort(np.abs(ev))[::-1]


def mp_density(x: Any, gamma: float = 1.0) -> np.ndarray:
    """Marchenko–Pastur density √((b − x)(x − a)) / (2π γ x) on [a, b], a,b = (1 ∓ √γ)²
    (the notebook replaces γ = 1 by 0.99 to avoid the singularity at 0)."""
    if gamma == 1:
        gamma = 0.99
    xx = np.asarray(x, dtype=np.float64)
    a, b = (1 - np.sqrt(gamma)) ** 2, (1 + np.sqrt(gamma)) ** 2
    out = np.zeros_like(xx)
    mask = (xx >= a) & (xx <= b)
    out[mask] = np.sqrt((b - xx[mask]) * (xx[mask] - a)) / (2 * np.pi * gamma * xx[mask])
    return out


def mp_cdf(x: Any) -> np.ndarray:
    """CDF of the Marchenko–Pastur law with γ = 1 (support [0, 4]):
    F(x) = (2/π)·asin(√x / 2) + √(x(4 − x)) / (2π)
    (substitute t = 4 sin²θ in ∫₀ˣ √(t(4 − t)) / (2πt) dt)."""
    xx = np.clip(np.asarray(x, dtype=np.float64), 0.0, 4.0)
    return (2.0 / np.pi) * np.arcsin(np.sqrt(xx) / 2.0) + np.sqrt(xx * (4.0 - xx)) / (2.0 * np.pi)


def mp_kl_published(eigenvalues: Any, aspect_ratio: float = 1.0) -> float:
    """KL(hist ‖ MP) exactly as ``compute_marchenko_pastur_distance`` (pass the top-10 list to
    reproduce the notebook). NaN for fewer than 2 eigenvalues."""
    ev = np.asarray(eigenvalues, dtype=np.float64)
    if ev.size < 2:
        return float("nan")
    norm = ev / np.mean(ev)
    hist, edges = np.histogram(norm, bins=20, density=True)
    centers = (edges[:-1] + edges[1:]) / 2
    mp = mp_density(centers, aspect_ratio)
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(_stats.entropy(hist / np.sum(hist), mp / np.sum(mp)))


def mp_ks_corrected(eigenvalues: Any) -> float:
    """Kolmogorov–Smirnov distance sup |F_emp − F_MP| between the full spectrum (normalised
    to mean 1) and the MP law with γ = 1."""
    ev = np.sort(np.asarray(eigenvalues, dtype=np.float64).ravel())
    if ev.size < 2 or ev.mean() <= 0:
        return float("nan")
    x = ev / ev.mean()
    n = x.size
    f = mp_cdf(x)
    upper = np.arange(1, n + 1) / n - f
    lower = f - np.arange(0, n) / n
    return float(max(upper.max(), lower.max()))


def sink_concentration_published(a: Any, percentile: float = 90.0) -> float:
    """Σ column sums on keys with column sum ≥ the 90th percentile / Σ all column sums."""
    m = as_square(a, name="attention")
    col = m.sum(axis=0)
    thr = np.percentile(col, percentile)
    tot = col.sum()
    return float(col[col >= thr].sum() / tot) if tot > 0 else 0.0


def row_entropy_bits_published(a: Any) -> float:
    """Mean over rows of −Σ_j A_ij log₂(A_ij + 1e−10)."""
    m = as_square(a, name="attention")
    return float(np.mean(-np.sum(m * np.log2(m + 1e-10), axis=1)))


def rmt_published(a: Any) -> dict[str, Any]:
    """All per-matrix RMT metrics exactly as ``analyze_attention_matrix`` (module docstring;
    ``Notebooks/rmt.ipynb``, ``OptimizedAttentionMatrixRMTAnalysis.analyze_attention_matrix``)::

        |λ|₁ ≥ |λ|₂ ≥ … = |eigvals(A)|;  gap = |λ|₁/|λ|₂;  PR = (Σ|λ|)² / Σ|λ|²
        stable rank = Σσ²/σ₁²;  MP KL = KL(hist(top-10 |λ| / mean) ‖ MP_{γ=0.99})
    """
    m = as_square(a, name="attention")
    ev = eigen_magnitudes_published(m)
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = float(ev[0] / ev[1]) if ev.size > 1 else float("inf")
    ss = float(np.sum(ev**2))
    pr = float(np.sum(ev) ** 2 / ss) if ss > 0 else 0.0
    sv = np.linalg.svd(m, compute_uv=False)
    stable = float(np.sum(sv**2) / sv[0] ** 2) if sv[0] > 0 else 0.0
    if ev.size > 2:
        gaps = ev[:-1] - ev[1:]
        k = int(np.argmax(gaps))
        bulk_edge = float((ev[k] + ev[k + 1]) / 2)
    else:
        bulk_edge = float(ev[-1])
    top10 = ev[:10]
    return {
        "variant": "published",
        "eigenvalues": ev,
        "eigenvalues_top10": top10,
        "spectral_gap": gap,
        "participation_ratio": pr,
        "stable_rank": stable,
        "spectral_norm": float(sv[0]),
        "bulk_edge": bulk_edge,
        "marchenko_pastur_kl": mp_kl_published(top10),
        "sink_concentration": sink_concentration_published(m),
        "entropy": row_entropy_bits_published(m),
    }


def rmt_corrected(a: Any) -> dict[str, Any]:
    """Singular-value based statistics and full-spectrum MP deviation (module docstring)::

        gap = σ₁/σ₂;  PR = (Σσ²)² / Σσ⁴;  stable rank = Σσ²/σ₁²
        MP KS = sup |F_emp − F_MP,γ=1| of eig(XXᵀ/n)/mean, X = (A − mean A)/std A

    Source: sinkviz's correction of ``Notebooks/rmt.ipynb``, ``analyze_attention_matrix``."""
    m = as_square(a, name="attention")
    n = m.shape[0]
    sv = np.linalg.svd(m, compute_uv=False)
    lam = sv**2
    gap = float(sv[0] / sv[1]) if sv.size > 1 and sv[1] > 0 else float("inf")
    pr = float(lam.sum() ** 2 / np.sum(lam**2)) if lam.sum() > 0 else 0.0
    std = m.std()
    if std > 1e-12 * max(1.0, float(np.abs(m).max())) and n > 1:  # a constant map (rounding noise) has no MP fit
        x = (m - m.mean()) / std
        mp_spec = np.linalg.eigvalsh(x @ x.T / n)
        ks = mp_ks_corrected(np.clip(mp_spec, 0.0, None))
    else:
        mp_spec = np.zeros(n)
        ks = float("nan")
    return {
        "variant": "corrected",
        "singular_values": sv,
        "spectral_gap": gap,
        "participation_ratio": pr,
        "stable_rank": float(lam.sum() / lam[0]) if lam[0] > 0 else 0.0,
        "spectral_norm": float(sv[0]),
        "mp_spectrum": np.sort(mp_spec)[::-1],
        "marchenko_pastur_ks": ks,
        "sink_concentration": sink_concentration_published(m),
        "entropy": row_entropy_bits_published(m),
    }
