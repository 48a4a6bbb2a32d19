"""Hand-built, row-stochastic attention matrices with known answers.

Used by the unit tests of the paper-B metrics and by the Ruscio notebook to show each
artefact on a matrix whose answer is known in closed form:

* ``star_attention``: every query attends only key 0 (a perfect BOS sink; lower-triangular).
* ``path_attention``: query i splits its mass between itself and key i−1 (a path graph).
* ``two_cliques_attention``: two blocks of uniform bidirectional attention (two components).
* ``identity_attention``: every token attends only itself.
* ``uniform_causal_attention``: A_ij = 1/(i+1) for j ≤ i (no sink; the causal baseline).
* ``uniform_attention``: A_ij = 1/n (bidirectional baseline).
* ``random_causal_attention``: softmax of Gaussian logits under a causal mask, optional sink.
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "star_attention",
    "path_attention",
    "two_cliques_attention",
    "identity_attention",
    "uniform_causal_attention",
    "uniform_attention",
    "random_causal_attention",
]


def _check_n(n: int, minimum: int = 1) -> None:
    if int(n) != n or n < minimum:
        raise ValueError(f"n must be an integer ≥ {minimum}, got {n!r}")


def star_attention(n: int) -> np.ndarray:
    """A[:, 0] = 1, all other entries 0."""
    _check_n(n)
    a = np.zeros((n, n))
    a[:, 0] = 1.0
    return a


def path_attention(n: int, self_weight: float = 0.5) -> np.ndarray:
    """A[i, i] = self_weight, A[i, i−1] = 1 − self_weight (i ≥ 1); A[0, 0] = 1."""
    _check_n(n)
    if not 0.0 <= self_weight <= 1.0:
        raise ValueError(f"self_weight must be in [0, 1], got {self_weight}")
    a = np.zeros((n, n))
    a[0, 0] = 1.0
    for i in range(1, n):
        a[i, i] = self_weight
        a[i, i - 1] = 1.0 - self_weight
    return a


def two_cliques_attention(k1: int, k2: int | None = None) -> np.ndarray:
    """Block-diagonal: tokens 0..k1−1 attend uniformly within their block, the rest likewise."""
    k2 = k1 if k2 is None else k2
    _check_n(k1)
    _check_n(k2)
    n = k1 + k2
    a = np.zeros((n, n))
    a[:k1, :k1] = 1.0 / k1
    a[k1:, k1:] = 1.0 / k2
    return a


def identity_attention(n: int) -> np.ndarray:
    """A = I."""
    _check_n(n)
    return np.eye(n)


def uniform_causal_attention(n: int) -> np.ndarray:
    """A_ij = 1/(i+1) for j ≤ i, 0 above the diagonal."""
    _check_n(n)
    return np.tril(np.ones((n, n))) / np.arange(1, n + 1)[:, None]


def uniform_attention(n: int) -> np.ndarray:
    """A_ij = 1/n."""
    _check_n(n)
    return np.full((n, n), 1.0 / n)


def random_causal_attention(n: int, seed: int = 0, sink_logit: float = 0.0, scale: float = 1.0) -> np.ndarray:
    """softmax(scale·G + sink_logit·𝟙[j = 0]) under a causal mask, G ~ N(0, 1) (seeded)."""
    _check_n(n)
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, n)) * scale
    logits[:, 0] += sink_logit
    logits[np.triu_indices(n, 1)] = -np.inf
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)
