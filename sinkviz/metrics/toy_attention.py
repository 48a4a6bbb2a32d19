"""Hand-built, row-stochastic attention matrices with known answers.

Used by the unit tests of the paper-B metrics and by the Ruscio notebook to show each
artefact on a matrix whose answer is known in closed form:

* ``star_attention``: every query attends only key 0 (a perfect BOS sink; lower-triangular).
* ``path_attention``: query i splits its mass between itself and key i−1 (a path graph).
* ``two_cliques_attention``: two blocks of uniform bidirectional attention (two components).
* ``identity_attention``: every token attends only itself.
* ``uniform_causal_attention``: A_ij = 1/(i+1) for j ≤ i (no sink; the causal baseline).
* ``uniform_attention``: A_ij = 1/n (bidirectional baseline).
* ``masked_uniform_attention``: every query spreads its attention evenly over the keys its mask lets it see
  (causal, bidirectional, optionally a sliding window): the uniform null of :mod:`sinkviz.metrics.nulls`.
* ``random_causal_attention``: softmax of Gaussian logits under a causal mask, optional sink.
* ``random_logit_attention``: the same under any mask, one map or a stack of heads: the random-logit null.
"""
from __future__ import annotations

import numpy as np

from ._validate import visibility_mask

__all__ = [
    "star_attention",
    "path_attention",
    "two_cliques_attention",
    "identity_attention",
    "uniform_causal_attention",
    "uniform_attention",
    "masked_uniform_attention",
    "random_causal_attention",
    "random_logit_attention",
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
    return masked_uniform_attention(n, causal=True)


def uniform_attention(n: int) -> np.ndarray:
    """A_ij = 1/n."""
    return masked_uniform_attention(n, causal=False)


def masked_uniform_attention(n: int, *, causal: bool, sliding_window: int | None = None) -> np.ndarray:
    """A_ij = 1/v_i on the keys query i may see (v_i of them: i + 1 causal, n bidirectional, at most w with a
    sliding window w), 0 elsewhere: attention that singles out no key, under the mask of the model."""
    _check_n(n)
    visible = visibility_mask(n, causal, sliding_window).astype(np.float64)
    return visible / visible.sum(axis=1, keepdims=True)


def random_causal_attention(n: int, seed: int = 0, sink_logit: float = 0.0, scale: float = 1.0) -> np.ndarray:
    """softmax(scale·G + sink_logit·𝟙[j = 0]) under a causal mask, G ~ N(0, 1) (seeded)."""
    return random_logit_attention(n, causal=True, seed=seed, sink_logit=sink_logit, scale=scale)


def random_logit_attention(n: int, *, causal: bool, sliding_window: int | None = None, seed: int = 0,
                           scale: float = 1.0, sink_logit: float = 0.0, heads: int | None = None) -> np.ndarray:
    """softmax(scale·G + sink_logit·𝟙[j = 0]) over the keys each query may see, G ~ N(0, 1) i.i.d. from
    ``numpy.random.default_rng(seed)``: (n, n), or (heads, n, n) with independent logits per head."""
    _check_n(n)
    if heads is not None:
        _check_n(heads)
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, n) if heads is None else (heads, n, n)) * scale
    logits[..., :, 0] += sink_logit
    logits = np.where(visibility_mask(n, causal, sliding_window), logits, -np.inf)
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)
