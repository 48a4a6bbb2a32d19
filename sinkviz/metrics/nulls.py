"""Null baselines: any attention statistic on uniform and on random-logit attention of the same length and mask.

A statistic of an attention map means little alone: under a causal mask key 0 is seen by every query, so a
"corrected" graph, spectral, random-matrix or topological statistic can score high on attention that singles out
nothing.  Every such statistic is therefore read beside two null matrices with the observed map's length n and
mask (causal for decoders, bidirectional for encoders, optionally a sliding window):

* **uniform**: every query spreads its attention evenly over the keys it sees
  (``toy_attention.masked_uniform_attention``); one value, no randomness;
* **random-logit**: softmax of i.i.d. Gaussian logits N(0, scale²) over the visible keys
  (``toy_attention.random_logit_attention``), seeded; mean and standard deviation over ``draws`` maps.  For a
  statistic of the head-averaged map Ā of H heads, each draw averages H independent random heads, as Ā does
  (averaging pulls Ā toward uniform, so the single-head null would be too spread).

:func:`null_baseline` evaluates a statistic on both; :func:`compare_to_null` puts an observed value beside them:
the difference from the uniform value and from the random-logit mean, and the z-score
z = (observed − random mean) / random sd.  What the nulls give for the corrected statistics of Ruscio et al.
(NeurIPS 2025) is stated in :mod:`sinkviz.metrics.spectral`, :mod:`sinkviz.metrics.rmt` and
:mod:`sinkviz.metrics.topology` and checked in the unit tests.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from .toy_attention import masked_uniform_attention, random_logit_attention

__all__ = [
    "NullBaseline",
    "null_matrices",
    "null_results",
    "null_baseline",
    "compare_to_null",
    "DEFAULT_DRAWS",
]

#: Random-logit draws per baseline: enough for a stable mean and sd of the statistics here (their sd over draws
#: changes by a few per cent between 20 and 200 draws) at a cost the notebooks can pay per sentence length.
DEFAULT_DRAWS = 20


@dataclass(frozen=True)
class NullBaseline:
    """One statistic on the nulls of length ``n``: its value on uniform attention and the mean and sd
    (population, ddof = 0) of its finite values over ``draws`` random-logit maps (``n_finite`` of them)."""

    uniform: float
    random_mean: float
    random_sd: float
    draws: int
    n_finite: int
    n: int
    causal: bool
    sliding_window: int | None = None
    heads: int = 1

    def z(self, observed: float) -> float:
        """(observed − random mean) / random sd; NaN when the sd is not finite or is rounding noise (at most
        1e-9 of the values' magnitude: e.g. Fiedler values that are 0 up to ±1e-17): no scale to measure by."""
        scale = max(1.0, abs(self.random_mean), abs(float(observed)) if np.isfinite(observed) else 1.0)
        if not (np.isfinite(self.random_sd) and self.random_sd > 1e-9 * scale):
            return float("nan")
        return float((observed - self.random_mean) / self.random_sd)


def null_matrices(n: int, *, causal: bool, sliding_window: int | None = None, heads: int = 1,
                  average_heads: bool = True, draws: int = DEFAULT_DRAWS, seed: int = 0,
                  scale: float = 1.0) -> tuple[np.ndarray, list[np.ndarray]]:
    """(uniform map, [random-logit maps]) for length ``n`` under the mask.  With ``heads`` = H > 1 each random
    map is the mean of H independent random heads (``average_heads``, for statistics of Ā) or the (H, n, n)
    stack itself (for per-head statistics; the uniform map is then stacked H times too).  Draw d uses seed
    ``seed + d``."""
    if int(draws) != draws or draws < 2:
        raise ValueError(f"draws must be an integer ≥ 2 (a standard deviation needs two); got {draws!r}")
    if int(heads) != heads or heads < 1:
        raise ValueError(f"heads must be a positive integer; got {heads!r}")
    uniform = masked_uniform_attention(n, causal=causal, sliding_window=sliding_window)
    stacked = heads > 1 and not average_heads
    randoms = []
    for d in range(draws):
        m = random_logit_attention(n, causal=causal, sliding_window=sliding_window, seed=seed + d, scale=scale,
                                   heads=None if heads == 1 else heads)
        randoms.append(m.mean(axis=0) if heads > 1 and average_heads else m)
    if stacked:
        uniform = np.broadcast_to(uniform, (heads, n, n)).copy()
    return uniform, randoms


def _numeric(value: Any) -> dict[str, float]:
    if isinstance(value, Mapping):
        return {k: float(v) for k, v in value.items()
                if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)}
    return {"": float(value)}


def null_results(stat: Callable[[np.ndarray], Any], n: int, **null_options: Any) -> tuple[Any, list[Any]]:
    """(``stat`` of the uniform map, [``stat`` of each random-logit map]) as ``stat`` returns them, for
    figures that draw a whole null spectrum or curve; ``null_options`` as :func:`null_matrices`."""
    uniform, randoms = null_matrices(n, **null_options)
    return stat(uniform), [stat(m) for m in randoms]


def null_baseline(stat: Callable[[np.ndarray], Any], n: int, *, causal: bool, sliding_window: int | None = None,
                  heads: int = 1, average_heads: bool = True, draws: int = DEFAULT_DRAWS, seed: int = 0,
                  scale: float = 1.0) -> NullBaseline | dict[str, NullBaseline]:
    """``stat`` on the null matrices of :func:`null_matrices`.  ``stat`` takes one map (or an (H, n, n) stack
    with ``average_heads=False``) and returns a number, or a dict whose numeric entries each get a baseline
    (``{key: NullBaseline}``; other entries are ignored).  Non-finite random values are left out of the mean and
    sd and counted (``n_finite``)."""
    u_raw, rs_raw = null_results(stat, n, causal=causal, sliding_window=sliding_window, heads=heads,
                                 average_heads=average_heads, draws=draws, seed=seed, scale=scale)
    u = _numeric(u_raw)
    rs = [_numeric(r) for r in rs_raw]
    out: dict[str, NullBaseline] = {}
    for key in u:
        vals = np.array([r.get(key, np.nan) for r in rs], dtype=np.float64)
        fin = vals[np.isfinite(vals)]
        out[key] = NullBaseline(uniform=u[key], random_mean=float(fin.mean()) if fin.size else float("nan"),
                                random_sd=float(fin.std()) if fin.size else float("nan"), draws=int(draws),
                                n_finite=int(fin.size), n=int(n), causal=bool(causal),
                                sliding_window=sliding_window, heads=int(heads))
    return out[""] if list(out) == [""] else out


def compare_to_null(observed: float, baseline: NullBaseline) -> dict[str, float]:
    """The observed value beside its nulls: ``observed``, ``uniform``, ``random_mean``, ``random_sd``,
    ``minus_uniform`` (observed − uniform), ``minus_random`` (observed − random mean) and ``z``
    ((observed − random mean) / random sd; NaN when that sd is 0)."""
    obs = float(observed)
    return {"observed": obs, "uniform": baseline.uniform, "random_mean": baseline.random_mean,
            "random_sd": baseline.random_sd, "minus_uniform": obs - baseline.uniform,
            "minus_random": obs - baseline.random_mean, "z": baseline.z(obs)}
