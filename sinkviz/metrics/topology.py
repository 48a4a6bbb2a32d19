"""Persistent homology of attention maps — Ruscio, Nanni, Silvestri, "What are you sinking?
A geometric approach on attention sink" (NeurIPS 2025), topology analysis (paper §4
"Methodology", official ``topology.ipynb``, ``AggregateTopologyAnalyzer._extract_layer_metrics``).

Two variants, both named:

* ``persistence_published``: exactly what the official notebook computes. D = 1 − Ā
  (head-averaged attention, float32, NOT symmetrised, diagonal NOT zeroed), downsampled to
  ≤ 30 tokens with ``np.linspace(0, n−1, 30, dtype=int)``, then
  ``ripser(D, maxdim=1, distance_matrix=True)``; the "Betti numbers" are
  ``[len(dgm) for dgm in dgms]`` — counts of persistence pairs (the infinite H0 bar included),
  not Betti numbers at a scale.

  Artefact (ripser.py's dense path; Ruscio et al.'s topology.ipynb): ripser reads a dense distance matrix only
  through its strict upper triangle (i < j), and a nonzero diagonal switches it to the sparse
  path where diagonal entries become vertex birth times. For causal attention the upper
  triangle of 1 − Ā is all ones, so every vertex is born at 1 − Ā_ii, every finite H0 bar
  dies at exactly 1.0, H1 is empty, and "Betti₀" equals the number of (downsampled) tokens.
  Average dim-0 persistence then equals the mean self-attention Ā_ii of the non-oldest
  vertices. This is why the authors report Betti₀ 26.41 ± 5.14 and Betti₁ 0.00 at every
  layer of LLaMA-3.2-3B (Results_sample).

* ``persistence_corrected``: a symmetric dissimilarity with a zero diagonal,
  D_ij = 1 − S_ij with S = max(Ā, Āᵀ) (default; for causal maps this is exactly the weight of
  the one visible direction) or S = (Ā + Āᵀ)/2, so the Vietoris–Rips filtration is well
  defined; all tokens are kept by default. Report Betti numbers at a scale
  (``betti_at_scale``), Betti curves (``betti_curve``) and total persistence
  (``total_persistence``) instead of pair counts.

  What null matrices give (n = 30, random-logit = mean ± sd over 20 seeded draws of
  :mod:`sinkviz.metrics.nulls`): uniform causal attention has β₀(0.5) = 29 (only tokens 0 and 1
  are within distance 0.5) and total H0 persistence 26.0; random-logit causal softmax
  β₀(0.5) = 27.2 ± 1.4, total persistence 20.8 ± 0.6, β₁(0.9) = 15.7 ± 4.7; a perfect BOS
  star β₀ = 1 at every scale and total persistence 0. So a low β₀ and a low total persistence
  are the sink's signature, not the mask's. β₁ is 0 for both the star and uniform attention
  (loops need random-like attention): it says nothing about a sink.

Backends: ``ripser`` (reference) and ``giotto`` (giotto-ph ``ripser_parallel``, same
Vietoris–Rips diagrams, multi-threaded; optional dependency).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal, Sequence

import numpy as np

from ._validate import as_head_stack, as_square

__all__ = [
    "PersistenceResult",
    "persistence_published",
    "persistence_corrected",
    "corrected_distance",
    "persistence_per_head",
    "downsample_indices_published",
    "betti_at_scale",
    "betti_curve",
    "total_persistence",
    "persistence_stats_published",
    "connection_density_published",
    "head_top_tokens_published",
    "head_specialization_published",
    "head_specialization_corrected",
    "attention_stats_published",
    "giotto_available",
]

PUBLISHED_MAX_POINTS = 30
PUBLISHED_DENSITY_THRESHOLDS = (0.2, 0.4)


@dataclass
class PersistenceResult:
    """Persistence diagrams of one attention map.

    ``dgms[d]`` is a (k, 2) array of (birth, death) pairs in homology dimension d (death may be
    inf). ``pair_counts`` is what the official notebook calls "Betti numbers". ``indices`` are
    the token positions kept after downsampling; ``distance`` the matrix given to ripser.
    """

    variant: str
    dgms: list[np.ndarray]
    pair_counts: list[int]
    stats: dict[str, float]
    indices: np.ndarray
    distance: np.ndarray
    backend: str = "ripser"
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def betti_published(self) -> list[int]:
        """The notebook's "Betti numbers": number of diagram points per dimension."""
        return list(self.pair_counts)


def giotto_available() -> bool:
    """True when the optional giotto-ph backend (``gph``) is importable."""
    try:
        import gph  # noqa: F401
    except ImportError:
        return False
    return True


def _run_backend(dist: np.ndarray, maxdim: int, backend: str, n_threads: int) -> list[np.ndarray]:
    if backend == "ripser":
        from ripser import ripser

        return [np.asarray(d, dtype=np.float64).reshape(-1, 2) for d in ripser(dist, maxdim=maxdim, distance_matrix=True)["dgms"]]
    if backend == "giotto":
        if not giotto_available():
            raise ImportError("backend='giotto' needs giotto-ph: pip install giotto-ph (or use backend='ripser')")
        from gph import ripser_parallel

        out = ripser_parallel(dist, maxdim=maxdim, metric="precomputed", n_threads=n_threads)
        return [np.asarray(d, dtype=np.float64).reshape(-1, 2) for d in out["dgms"]]
    raise ValueError(f"unknown backend {backend!r}; use 'ripser' or 'giotto'")


def downsample_indices_published(n: int, max_points: int = PUBLISHED_MAX_POINTS) -> np.ndarray:
    """Token indices the notebook keeps: all if n ≤ max_points, else
    ``np.linspace(0, n−1, max_points, dtype=int)`` (first and last token always kept)."""
    if n <= max_points:
        return np.arange(n)
    return np.linspace(0, n - 1, max_points, dtype=int)


def persistence_stats_published(dgms: Sequence[np.ndarray]) -> dict[str, float]:
    """Mean and max persistence (death − birth) over FINITE pairs, per dimension 0 and 1, as
    ``_extract_persistence_stats`` in topology.ipynb. Missing entries (no finite pair) are NaN
    (the notebook leaves them out and prints "N/A")."""
    out: dict[str, float] = {}
    for d, key in ((0, "dim0"), (1, "dim1")):
        vals = np.array([], dtype=np.float64)
        if len(dgms) > d and len(dgms[d]):
            dg = np.asarray(dgms[d])
            fin = dg[np.isfinite(dg[:, 1])]
            vals = fin[:, 1] - fin[:, 0]
        out[f"{key}_avg_persistence"] = float(np.mean(vals)) if vals.size else float("nan")
        out[f"{key}_max_persistence"] = float(np.max(vals)) if vals.size else float("nan")
    return out


def persistence_published(avg_attention: Any, *, max_points: int = PUBLISHED_MAX_POINTS, maxdim: int = 1) -> PersistenceResult:
    """Persistence exactly as the official notebook (see module docstring):
    D = 1 − Ā (float32), downsample to ≤ ``max_points`` tokens, ``ripser(D, maxdim=1,
    distance_matrix=True)``, pair counts as "Betti numbers".

    ``avg_attention``: (n, n) head-averaged attention Ā of one sample and layer.
    Paper B, topology analysis; code ``topology.ipynb`` ``_extract_layer_metrics``.
    """
    a = as_square(avg_attention, name="avg_attention", dtype=np.float32)
    dist = (1 - a).astype(np.float32)
    idx = downsample_indices_published(dist.shape[0], max_points)
    dist = dist[idx][:, idx]
    return _persist("published", dist, idx, maxdim, "ripser", 1, {"symmetrize": None, "zero_diagonal": False, "max_points": max_points})


def _persist(variant: str, dist: np.ndarray, idx: np.ndarray, maxdim: int, backend: str, n_threads: int, meta: dict[str, Any]) -> PersistenceResult:
    dgms = _run_backend(dist, maxdim, backend, n_threads)
    return PersistenceResult(
        variant=variant, dgms=dgms, pair_counts=[len(d) for d in dgms], stats=persistence_stats_published(dgms),
        indices=idx, distance=dist, backend=backend, meta=meta,
    )


def corrected_distance(avg_attention: Any, symmetrize: Literal["max", "mean"] = "max") -> np.ndarray:
    """D = 1 − S with S = max(Ā, Āᵀ) or (Ā + Āᵀ)/2, clipped to [0, 1], zero diagonal: a
    symmetric dissimilarity that ripser reads completely (both triangles are equal)."""
    a = as_square(avg_attention, name="avg_attention")
    if symmetrize == "max":
        s = np.maximum(a, a.T)
    elif symmetrize == "mean":
        s = (a + a.T) / 2.0
    else:
        raise ValueError(f"symmetrize must be 'max' or 'mean', got {symmetrize!r}")
    d = np.clip(1.0 - s, 0.0, None)
    np.fill_diagonal(d, 0.0)
    return d


def persistence_corrected(
    avg_attention: Any,
    *,
    symmetrize: Literal["max", "mean"] = "max",
    max_points: int | None = None,
    maxdim: int = 1,
    backend: Literal["ripser", "giotto"] = "ripser",
    n_threads: int = 1,
) -> PersistenceResult:
    """Vietoris–Rips persistence of the symmetric dissimilarity D = 1 − S (zero diagonal), see
    ``corrected_distance``. ``max_points=None`` keeps every token (set 30 to compare with the
    published downsampling). ``pair_counts`` is still reported for comparison; prefer
    ``betti_at_scale`` / ``betti_curve`` / ``total_persistence``.
    """
    dist = corrected_distance(avg_attention, symmetrize)
    idx = np.arange(dist.shape[0]) if max_points is None else downsample_indices_published(dist.shape[0], max_points)
    dist = dist[idx][:, idx]
    return _persist("corrected", dist, idx, maxdim, backend, n_threads, {"symmetrize": symmetrize, "zero_diagonal": True, "max_points": max_points})


def persistence_per_head(attn: Any, variant: Literal["published", "corrected"] = "corrected", **kwargs: Any) -> list[PersistenceResult]:
    """Persistence of each head's map of a (H, n, n) stack (one sample, one layer)::

        published: D^h = 1 − A^h, ≤ 30 tokens kept                   (:func:`persistence_published`)
        corrected: D^h = 1 − S^h, S^h = max(A^h, A^hᵀ) or (A^h + A^hᵀ)/2, D_ii = 0  (:func:`persistence_corrected`)

    Source: ``Notebooks/topology.ipynb``, ``AggregateTopologyAnalyzer._extract_layer_metrics``, which
    applies this only to the head average Ā; per head is sinkviz's extension."""
    stack = as_head_stack(attn)
    fn = persistence_published if variant == "published" else persistence_corrected
    return [fn(stack[h], **kwargs) for h in range(stack.shape[0])]


def betti_at_scale(dgm: Any, scale: float) -> int:
    """β(ε) = #{(b, d) : b ≤ ε < d}: the Betti number of the Rips complex at scale ε
    (standard persistent-homology definition; the corrected replacement of pair counts)."""
    dg = np.asarray(dgm, dtype=np.float64).reshape(-1, 2)
    return int(np.sum((dg[:, 0] <= scale) & (scale < dg[:, 1])))


def betti_curve(dgm: Any, scales: Any) -> np.ndarray:
    """β(ε) for every ε in ``scales`` (Betti curve)."""
    dg = np.asarray(dgm, dtype=np.float64).reshape(-1, 2)
    s = np.asarray(scales, dtype=np.float64).reshape(-1, 1)
    return np.sum((dg[:, 0][None, :] <= s) & (s < dg[:, 1][None, :]), axis=1).astype(int)


def total_persistence(dgm: Any, p: float = 1.0) -> float:
    """Σ (d − b)^p over finite pairs (total p-persistence)."""
    dg = np.asarray(dgm, dtype=np.float64).reshape(-1, 2)
    fin = dg[np.isfinite(dg[:, 1])]
    return float(np.sum((fin[:, 1] - fin[:, 0]) ** p))


def connection_density_published(avg_attention: Any, thresholds: Sequence[float] = PUBLISHED_DENSITY_THRESHOLDS) -> dict[float, float]:
    """Share of entries Ā_ij > τ over all n² entries (``_compute_topology_metrics``; the causal
    zeros count in the denominator)."""
    a = as_square(avg_attention, name="avg_attention", dtype=np.float32)
    return {float(t): float(np.sum(a > t) / a.size) for t in thresholds}


def head_top_tokens_published(attn: Any, tokens: Sequence[str]) -> list[dict[str, Any]]:
    """Per head: the key with the largest column mean of A^h (mean over ALL rows, causal zeros
    included), its token string and strength (``_analyze_heads`` in topology.ipynb)."""
    stack = as_head_stack(attn, dtype=np.float32)
    if len(tokens) != stack.shape[1]:
        raise ValueError(f"got {len(tokens)} tokens for an attention map of {stack.shape[1]} positions")
    out = []
    for h in range(stack.shape[0]):
        col = stack[h].mean(axis=0)
        j = int(np.argmax(col))
        out.append({"head": h, "position": j, "token": tokens[j], "strength": float(col[j])})
    return out


def head_specialization_published(
    top_tokens: Sequence[Sequence[str]], *, min_consistency: float = 0.3, min_samples: int = 5
) -> list[dict[str, Any]]:
    """Head specialisation from per-sample top tokens (topology.ipynb): ``top_tokens[s][h]`` is
    head h's top token string in sample s. Consistency = count of the modal token / number of
    samples. A head is "specialised" if consistency ≥ 30% over ≥ 5 samples. Returns one dict
    per head, sorted by consistency descending (the report's order)."""
    if not top_tokens:
        return []
    n_heads = len(top_tokens[0])
    out = []
    for h in range(n_heads):
        counts = Counter(sample[h] for sample in top_tokens)
        tok, cnt = counts.most_common(1)[0]
        total = sum(counts.values())
        cons = cnt / total
        out.append({
            "head": h, "token": tok, "consistency": cons, "samples": total,
            "specialized": bool(cons >= min_consistency and total >= min_samples),
        })
    return sorted(out, key=lambda d: -d["consistency"])


def head_specialization_corrected(
    top_positions: Any, excess: Any, *, min_excess: float = 2.0, min_consistency: float = 0.3, min_samples: int = 5
) -> list[dict[str, Any]]:
    """Head specialisation by POSITION, counting only samples where the head really sinks.

    ``top_positions[s][h]`` is head h's top key in sample s (largest column mean) and ``excess[s][h]`` that key's
    column mean over the share uniform attention under the same mask would give it (``sinkviz.metrics.frames``).
    The published rule (:func:`head_specialization_published`) counts the modal top *string*; under a causal mask
    uniform attention already puts the largest column mean on key 0, so with a BOS-adding tokenizer every head of
    uniform attention is "specialised" at consistency 1.0, and without a BOS (Qwen2.5, SmolLM2) a head that always
    sinks on position 0 looks unspecialised because position 0 holds a different word in every sentence.
    Corrected: consistency = #(samples whose top key is the modal position AND excess ≥ ``min_excess``) /
    #samples; a head is specialised if consistency ≥ 30 % over ≥ 5 samples (the published thresholds). Uniform
    attention has excess 1 everywhere and so consistency 0. Sorted by consistency, descending."""
    pos = np.asarray(top_positions)
    exc = np.asarray(excess, dtype=np.float64)
    if pos.ndim != 2 or pos.shape != exc.shape:
        raise ValueError(f"top_positions and excess must both be (samples, heads); got {pos.shape} and {exc.shape}")
    out = []
    for h in range(pos.shape[1]):
        sinks = pos[exc[:, h] >= min_excess, h]
        if sinks.size:
            values, counts = np.unique(sinks, return_counts=True)
            position, count = int(values[np.argmax(counts)]), int(counts.max())
        else:
            position, count = None, 0
        total = int(pos.shape[0])
        cons = count / total
        out.append({"head": h, "position": position, "consistency": cons, "samples": total,
                    "specialized": bool(cons >= min_consistency and total >= min_samples)})
    return sorted(out, key=lambda d: -d["consistency"])


def attention_stats_published(avg_attention: Any) -> dict[str, float]:
    """Mean, max, min and standard deviation of the head-averaged map Ā in float32 (``_extract_layer_metrics`` of
    topology.ipynb). Every row of Ā sums to 1, so the mean is exactly 1/n — a function of the sentence length
    only — and a causal map's max is Ā_00 = 1: tests between layers on these two compare nothing but lengths."""
    a = as_square(avg_attention, name="avg_attention", dtype=np.float32)
    return {"mean": float(np.mean(a)), "max": float(np.max(a)), "min": float(np.min(a)), "std": float(np.std(a))}
