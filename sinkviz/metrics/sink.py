"""Attention-sink metrics of Gu et al., "When Attention Sink Emerges in Language Models: An Empirical View"
(ICLR 2025, arXiv 2410.10781), section 3.2 and section 7.4.

Conventions (all functions):

* Attention maps are ``(..., T, T)`` arrays, rows = queries ``t``, columns = keys ``j``, as returned by HF
  ``output_attentions`` and ``sinkviz.Trace.attention_stack()`` (``(B, L, H, T, T)``).
* Positions are **0-indexed** in arrays: index 0 is the paper's token ``k = 1``.  ``sink_k(..., k=1)`` takes
  the paper's 1-indexed ``k``.
* ``lengths`` gives the number of real tokens of each sample (right padding).  When given, the **first axis**
  of the input is the sample axis.  Keys at or beyond a sample's length get ``NaN`` importance and are left out
  of every average.

Nothing here imports another sinkviz module or loads a model.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ._validate import (as_array as _as_array, check_lengths as _check_lengths,
                        check_probabilities as _check_probabilities, check_square as _check_square)

__all__ = [
    "PAPER_EPS",
    "PAPER_T",
    "PAPER_N_SAMPLES",
    "importance_scores",
    "importance_scores_published",
    "importance_scores_prefix_published",
    "importance_scores_prefix_corrected",
    "sink_rate",
    "sink_metric",
    "sink_k",
    "sink_vs_eps",
    "alpha_vs_length",
    "sink_vs_length",
    "alpha_layer_head",
    "proxy_scores_rownorm",
    "proxy_scores_abs",
]

#: The paper's constants (section 3.2 and section 4; official code ``epsilon = 0.3``, ``token_length = 64``,
#: ``size = 100``).
PAPER_EPS: float = 0.3
PAPER_T: int = 64
PAPER_N_SAMPLES: int = 100


def importance_scores(attn, *, causal: bool = True, lengths: Sequence[int] | None = None,
                      prefix_length: int = 0) -> np.ndarray:
    r"""Importance score :math:`\alpha_k` of every key (Gu et al. 2025, section 3.2).

    Causal (decoder) models, paper formula with 1-indexed tokens::

        alpha_k^{l,h} = 1/(n - k + 1) * sum_{t=k..n} A^{l,h}_{t,k}

    i.e. the mean attention that key ``k`` receives from the ``n - k + 1`` queries allowed to see it
    (``n`` = the sample's number of real tokens).  Only queries ``t >= k`` are summed, so a non-zero upper
    triangle (which a causal model never has) cannot leak in.  For ``k = 1``: ``1/n <= alpha_1 <= 1``.

    Bidirectional (encoder) models (``causal=False``): every query sees every key, so
    ``alpha_k = 1/n * sum_{t=1..n} A_{t,k}``.

    Prefix-LM models (``prefix_length=p``, Gu et al. 2025 §5, Fig. 5): every query sees the first p keys
    (the prefix is bidirectional), so for ``k <= p`` (1-indexed) ``alpha_k = 1/n * sum_{t=1..n} A_{t,k}`` and
    the causal formula holds for ``k > p``.  In general the denominator is the number of real queries the mask
    lets see key k.  This is the corrected prefix-LM score (:func:`importance_scores_prefix_corrected`); the
    official code's is :func:`importance_scores_prefix_published`.

    Parameters
    ----------
    attn : array ``(..., T, T)``
        Attention probabilities, queries on axis -2, keys on axis -1.
    causal : bool
        True for decoders (denominator ``n - k + 1``), False for encoders (denominator ``n``).
    lengths : sequence of int, optional
        Real length of each sample; the first axis of ``attn`` is then the sample axis.  Query rows and key
        columns at or past the length are ignored; their scores are ``NaN``.
    prefix_length : int
        Causal models only: the first ``prefix_length`` keys are visible to every query (prefix-LM mask).

    Returns
    -------
    ``(..., T)`` array of importance scores, one per key.

    Raises a ValueError for a map that is not attention probabilities (a negative entry, a row summing to more
    than 1) and, with ``causal=True``, for one that attends to keys the causal mask hides: a bidirectional map read
    as causal would silently lose its upper triangle.
    """
    a = _as_array(attn, name="attn", finite=False)
    T = _check_square(a)
    if lengths is not None and a.ndim < 3:
        raise ValueError(f"with lengths, attn needs a leading sample axis: (B, ..., T, T); got {a.shape}")
    lens = None if lengths is None else _check_lengths(lengths, a.shape[0], T)
    p = _check_prefix(prefix_length, T)
    if p and not causal:
        raise ValueError("prefix_length applies to causal (prefix-LM) maps; a bidirectional map has no prefix")
    t = np.arange(T)
    keep = np.ones((T, T), dtype=bool)
    if causal:
        keep &= t[:, None] >= t[None, :]  # query t sees key j iff t >= j
        keep[:, :p] = True  # ... or j is in the bidirectional prefix
    _check_attention_map(a, keep, lens)
    a = np.where(keep, a, 0.0)
    if lens is None:
        n = np.full((1,) * (a.ndim - 1), float(T))
        seen_by = np.broadcast_to(keep.sum(axis=0).astype(np.float64), (1,) * (a.ndim - 2) + (T,))
    else:
        n = lens.reshape((a.shape[0],) + (1,) * (a.ndim - 2)).astype(np.float64)  # (B, 1, ..., 1)
        row_ok = np.arange(T)[None, :] < lens[:, None]  # (B, T) real queries
        a = np.where(row_ok.reshape((a.shape[0],) + (1,) * (a.ndim - 3) + (T, 1)), a, 0.0)
        seen_by = (row_ok.astype(np.float64) @ keep).reshape((a.shape[0],) + (1,) * (a.ndim - 3) + (T,))
    col_sum = a.sum(axis=-2)  # (..., T): one entry per key
    key_ok = np.broadcast_to(t < n, col_sum.shape)  # keys past the sample's length have no score
    denom = np.broadcast_to(seen_by, col_sum.shape)  # real queries the mask lets see each key
    alpha = np.full(col_sum.shape, np.nan)
    np.divide(col_sum, denom, out=alpha, where=key_ok)
    return alpha


def _check_attention_map(a: np.ndarray, keep: np.ndarray, lens: np.ndarray | None) -> None:
    """Refuse what is not attention probabilities under the mask ``keep`` (T, T), read over each sample's real
    queries and keys only (padding may hold anything): a causal reading must not drop attention to later keys."""
    if lens is not None:
        T = a.shape[-1]
        real = np.arange(T)[None, :] < lens[:, None]  # (B, T)
        both = (real[:, :, None] & real[:, None, :]).reshape((a.shape[0],) + (1,) * (a.ndim - 3) + (T, T))
        a = np.where(both, a, 0.0)
    _check_probabilities(a)
    hidden = np.nan_to_num(a[..., ~keep])  # only the entries the mask hides: half a causal map, none of an encoder's
    if hidden.size and hidden.max() > 0:
        raise ValueError(f"attn puts up to {hidden.max():.3g} on keys after the query, which a causal mask hides: is "
                         "it an encoder's (bidirectional) map? Pass causal=False (trace.info.causal says which), or "
                         "prefix_length=p for a prefix-LM map")


def _check_prefix(prefix_length: int, T: int) -> int:
    if int(prefix_length) != prefix_length or not 0 <= prefix_length <= T:
        raise ValueError(f"prefix_length must be an integer in [0, {T}] (the map's length); got {prefix_length!r}")
    return int(prefix_length)


def importance_scores_published(attn) -> np.ndarray:
    """The official code's formula, verbatim in numpy (``compute_attention_sink`` in
    ``eval_sink_open_source.py`` of sail-sg/Attention-Sink)::

        ratios = arange(T, 0, -1)          # placed along the KEY axis
        alpha  = (A / ratios).sum(axis=-2) # sum over queries

    For a causal map without padding this equals :func:`importance_scores` (the causal zeros drop out).  It
    has no notion of padding or of bidirectional models: kept as the published reference.
    """
    a = _as_array(attn, name="attn", finite=False)
    T = _check_square(a)
    ratios = np.arange(T, 0, -1, dtype=np.float64)
    return (a / ratios).sum(axis=-2)


def importance_scores_prefix_published(attn, prefix_length: int) -> np.ndarray:
    """Importance scores of a prefix-LM map as the official ``pretrain/eval_sink_pretrain.py`` computes them
    (Gu et al. 2025 §5, Fig. 5 middle; sail-sg/Attention-Sink): the causal formula, unchanged, on a map whose
    first p keys are also seen by EARLIER queries (the prefix is bidirectional)::

        alpha_k = 1/(T - k + 1) * sum_{t=1..T} A_{t,k}          (1-indexed; the sum runs over ALL queries)

    For a prefix key k (1 < k <= p) the sum counts the forward attention of the k − 1 queries before it, but the
    denominator still counts only the T − k + 1 queries at or after it, so alpha_k can exceed 1 (at most
    T/(T − k + 1)) and Sink_k of prefix keys is inflated.  For k = 1 and for k > p it equals
    :func:`importance_scores_prefix_corrected`.  ``prefix_length`` is checked, not used: the official code
    has no notion of it.
    """
    a = _as_array(attn, name="attn", finite=False)
    _check_prefix(prefix_length, _check_square(a))
    return importance_scores_published(a)


def importance_scores_prefix_corrected(attn, prefix_length: int, *,
                                       lengths: Sequence[int] | None = None) -> np.ndarray:
    """Importance scores of a prefix-LM map, each key's attention averaged over the queries that can see it:
    ``1/T * sum_{t=1..T} A_{t,k}`` for a prefix key (k <= p, seen by all T queries), the causal
    ``1/(T - k + 1) * sum_{t>=k} A_{t,k}`` after it (Gu et al. 2025 §3.2's definition, "the mean attention key k
    receives", applied to the prefix-LM mask of §5).  Bounded by 1 like every alpha.
    :func:`importance_scores` with ``prefix_length``."""
    return importance_scores(attn, causal=True, lengths=lengths, prefix_length=prefix_length)


def sink_rate(alpha, eps: float = PAPER_EPS) -> np.ndarray:
    r"""Sink rate in % from importance scores (Gu et al. 2025, section 3.2)::

        Sink_k^eps = 100 * mean_{samples, layers, heads} 1(alpha_k^{l,h} > eps)

    The comparison is **strictly greater** (official code ``importance_scores > epsilon``; the prose says
    "≥").  The mean runs over every leading axis of ``alpha`` (the code averages over samples x layers x
    query heads); ``NaN`` entries (padding) are left out.

    Parameters
    ----------
    alpha : array ``(..., T)``, e.g. ``(B, L, H, T)`` from :func:`importance_scores`.
    eps : threshold, the paper uses 0.3.

    Returns
    -------
    ``(T,)`` array: Sink_k in % for every key position (index 0 = paper's k = 1); ``NaN`` where no sample
    has that position.
    """
    a = _as_array(alpha, name="alpha", finite=False)
    if a.ndim < 1:
        raise ValueError("alpha must have at least one axis (the key position)")
    flat = a.reshape(-1, a.shape[-1])
    valid = ~np.isnan(flat)
    hits = (np.where(valid, flat, -np.inf) > eps).sum(axis=0)
    count = valid.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, 100.0 * hits / np.maximum(count, 1), np.nan)


def sink_metric(attn, eps: float = PAPER_EPS, *, causal: bool = True,
                lengths: Sequence[int] | None = None) -> np.ndarray:
    """Sink_k^eps in % for every key position, straight from attention maps ``(B, L, H, T, T)`` (or any
    ``(..., T, T)``): :func:`sink_rate` of :func:`importance_scores` (Gu et al. 2025, §3.2)::

        Sink_k^eps = 100 * mean_{samples, l, h} 1(alpha_k^{l,h} > eps),
        alpha_k^{l,h} = 1/(n - k + 1) * sum_{t=k..n} A^{l,h}_{t,k}     (1-indexed; 1/n * sum_{t=1..n} if not causal)
    """
    return sink_rate(importance_scores(attn, causal=causal, lengths=lengths), eps)


def sink_k(attn, k: int = 1, eps: float = PAPER_EPS, *, causal: bool = True,
           lengths: Sequence[int] | None = None) -> float:
    """Sink_k^eps in % for the paper's **1-indexed** token ``k`` (``k=1`` is the first token)."""
    a = _as_array(attn, name="attn", finite=False)
    T = _check_square(a)
    if not 1 <= k <= T:
        raise ValueError(f"k is 1-indexed as in the paper and must be in [1, {T}]; got {k}")
    return float(sink_metric(a, eps, causal=causal, lengths=lengths)[k - 1])


def sink_vs_eps(alpha, eps_grid: Sequence[float] = (0.2, 0.3, 0.4, 0.5)) -> np.ndarray:
    """Sink rate (%) for several thresholds: ``(len(eps_grid), T)``; row ``i`` is :func:`sink_rate` at
    ``eps_grid[i]`` (Figure 3 lines, Figure 9)::

        out[i, k] = Sink_k^{eps_i} = 100 * mean_{samples, l, h} 1(alpha_k^{l,h} > eps_i)

    Gu et al. 2025, §3.2 (choice of eps, Fig. 3) and App. C.2 (Pile domains, Fig. 9).
    """
    return np.stack([sink_rate(alpha, e) for e in eps_grid])


def alpha_vs_length(column, lengths_grid: Sequence[int], *, k: int = 0,
                    lengths: Sequence[int] | None = None) -> np.ndarray:
    r"""Importance score of key ``k`` (0-indexed) for several token lengths ``T`` from ONE capture.

    For a causal model the first ``T`` rows/columns of the map of a longer sequence are exactly the map of the
    sequence truncated to ``T`` (no query sees the future), so::

        alpha_k(T) = 1/(T - k) * sum_{t=k..T-1} A_{t,k}            (0-indexed)

    which needs only attention **column** ``k``.  This is what Figure 3 (Sink vs token length) needs, at a
    fraction of the memory of full maps.  Only valid for causal models without sliding windows shorter than
    ``max(lengths_grid)``.

    Parameters
    ----------
    column : array ``(..., Tmax)``: ``A[..., :, k]``, the attention every query pays to key ``k``.
    lengths_grid : token lengths ``T`` to evaluate (each ``k < T <= Tmax``).
    k : the key position (0-indexed) the column belongs to.
    lengths : real length of each sample (first axis = samples).  A sample shorter than ``T`` gives ``NaN``
        at that ``T`` (the official code would skip such a text).

    Returns
    -------
    ``(len(lengths_grid), ...)`` array.
    """
    c = _as_array(column, name="column", finite=False)
    Tmax = c.shape[-1]
    grid = [int(T) for T in lengths_grid]
    for T in grid:
        if not k < T <= Tmax:
            raise ValueError(f"each token length must satisfy k < T <= {Tmax} (k={k}); got {T}")
    c = np.where(np.arange(Tmax) >= k, c, 0.0)  # queries before k cannot see key k
    csum = np.cumsum(c, axis=-1)
    out = np.stack([csum[..., T - 1] / (T - k) for T in grid])
    if lengths is not None:
        lens = _check_lengths(lengths, c.shape[0], Tmax)
        too_short = np.array(grid)[:, None] > lens[None, :]  # (nT, B)
        too_short = too_short.reshape(too_short.shape + (1,) * (c.ndim - 2))
        out = np.where(too_short, np.nan, out)
    return out


def sink_vs_length(column, lengths_grid: Sequence[int],
                   eps_grid: Sequence[float] = (0.2, 0.3, 0.4, 0.5), *, k: int = 0,
                   lengths: Sequence[int] | None = None) -> np.ndarray:
    """Figure 3: Sink_k^eps (%) vs token length, ``(len(eps_grid), len(lengths_grid))`` (Gu et al. 2025, §3.2)::

        out[i, j] = 100 * mean_{samples, l, h} 1(alpha_k(T_j) > eps_i),
        alpha_k(T) = 1/(T - k) * sum_{t=k..T-1} A_{t,k}                (0-indexed)

    ``column`` is ``A[..., :, k]`` with shape ``(B, L, H, Tmax)``; see :func:`alpha_vs_length`.  Each
    entry averages over samples x layers x heads that are at least ``T`` tokens long.
    """
    alphas = alpha_vs_length(column, lengths_grid, k=k, lengths=lengths)  # (nT, B, L, H)
    out = np.empty((len(eps_grid), len(alphas)))
    for j, a in enumerate(alphas):
        flat = a.reshape(-1, 1)
        for i, e in enumerate(eps_grid):
            out[i, j] = sink_rate(flat, e)[0]
    return out


def alpha_layer_head(alpha, k: int = 0) -> np.ndarray:
    """Figures 19–24: ``alpha_k^{l,h}`` averaged over samples, from ``alpha`` of shape ``(B, L, H, T)``;
    returns ``(L, H)`` (``k`` 0-indexed; NaNs from padding are ignored)::

        out[l, h] = mean_{samples b with a score} alpha_k^{l,h}(b)

    Gu et al. 2025, §3.2 (definition of alpha) and the appendix heat-maps, Figs 19–24.
    """
    a = _as_array(alpha, name="alpha", finite=False)
    if a.ndim != 4:
        raise ValueError(f"alpha must have shape (samples, layers, heads, T); got {a.shape}")
    col = a[..., k]
    valid = ~np.isnan(col)
    total = np.where(valid, col, 0.0).sum(axis=0)
    count = valid.sum(axis=0)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _causal_keep(T_q: int, T_k: int) -> np.ndarray:
    return np.arange(T_q)[:, None] >= np.arange(T_k)[None, :]


def proxy_scores_rownorm(sim, *, causal: bool = True, eps: float = 1e-8) -> np.ndarray:
    r"""Proxy attention scores for **non-negative** non-softmax similarities (sigmoid, elu+1), Gu et al. 2025
    section 7.4 ("*" entries of Tables 6, 14, 15)::

        Â_{ij} = sim_{ij} / (sum_{j' <= i} sim_{ij'} + 1e-8)

    The row normalisation is applied even when the model trains without it.  As in the official
    ``lit_gpt/inference/model_attn_sim_infer.py``, masked entries are zeroed **after** the similarity (so
    ``sigmoid(-inf)`` issues never arise) and ``1e-8`` is added to the row sum.  For the elu+1 *kernel* with
    normalisation the paper uses the model's own normalised scores, which equal this.

    ``sim``: ``(..., T, T)`` similarities (e.g. ``sigmoid(q k^T / sqrt(d))``) before masking.
    """
    s = _as_array(sim, name="sim", finite=False)
    T = _check_square(s, "sim")
    if causal:
        s = np.where(_causal_keep(T, T), s, 0.0)
    return s / (s.sum(axis=-1, keepdims=True) + eps)


def proxy_scores_abs(sim, *, causal: bool = True, eps: float = 1e-8) -> np.ndarray:
    r"""Proxy scores for **signed** kernels (identity/linear and MLP kernels), Gu et al. 2025 section 7.4::

        Â_{ij} = |sim_{ij}| / (sum_{j' <= i} |sim_{ij'}| + 1e-8)

    The paper prints the formula without the ``1e-8``; the official
    ``lit_gpt/inference/model_attn_kernel_infer.py`` adds it (``eps=0`` gives the paper's text).  Because
    ``|x / Z| / sum |x / Z| = |x| / sum |x|`` for any positive per-row ``Z``, it does not matter whether
    ``sim`` is taken before or after the model's ``max(|sum|, 1)`` normaliser.
    """
    s = np.abs(_as_array(sim, name="sim", finite=False))
    T = _check_square(s, "sim")
    if causal:
        s = np.where(_causal_keep(T, T), s, 0.0)
    return s / (s.sum(axis=-1, keepdims=True) + eps)
