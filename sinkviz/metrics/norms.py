"""ℓ2 norms of hidden states, keys and values: first token vs the others, per layer; massive-activation ratio.

Gu et al., "When Attention Sink Emerges in Language Models" (ICLR 2025): Figure 2 (top), Figures 11–14
(norms of h, k, v per block, first token vs the rest) and Figures 7, 8, 29 (massive-activation ratio).
Official code: ``compute_norm`` / ``compute_kv_norm`` in ``eval_activations_open_source.py``.

Layout of every input: ``(L, B, ..., T, D)``: layer first, sample second, any number of head axes, then the
token axis, then the feature axis.  E.g. hidden states ``(L+1, B, T, D)``; keys or values ``(L, B, H_kv, T, d)``
(norms are then averaged over heads too, as ``compute_kv_norm`` does).  For the last block the paper takes the
hidden state **before** the final norm (App. C.3); ``sinkviz.Trace.hidden_states`` already is.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ._validate import as_array

__all__ = ["NormProfile", "l2_norms", "first_vs_rest_norms", "massive_activation_ratio"]


@dataclass(frozen=True)
class NormProfile:
    """Per-layer ℓ2 norms.

    ``first``: ``(L,)`` mean over samples (and heads) of ``||x_first||``.
    ``rest``: ``(L,)`` mean over samples (and heads) and all real tokens except ``first`` of ``||x_t||``.
    ``per_token``: ``(L, T)`` mean over samples (and heads) per token position (``NaN`` where no sample is that
    long).
    """

    first: np.ndarray
    rest: np.ndarray
    per_token: np.ndarray
    first_position: int = 0

    @property
    def ratio(self) -> np.ndarray:
        """``first / rest`` per layer (the massive-activation ratio when the input is hidden states)."""
        return self.first / self.rest


def l2_norms(x) -> np.ndarray:
    """``||x||_2`` over the last (feature) axis, in float64."""
    a = as_array(x, name="x", finite=False)
    if a.ndim < 1:
        raise ValueError("x must have a feature axis")
    return np.sqrt((a * a).sum(axis=-1))


def first_vs_rest_norms(x, *, lengths: Sequence[int] | None = None, first: int = 0) -> NormProfile:
    r"""ℓ2 norm of the first token vs the mean of the other tokens, per layer (Figure 2 top, Figures 11–14).

    With ``n_b`` real tokens in sample ``b``, ``N`` samples and heads ``h`` (if any)::

        first^l = mean_{b,h} ||x^l_{b,h,first}||
        rest^l  = mean over all (b, h, t) with t != first, t < n_b of ||x^l_{b,h,t}||

    The official code prints per-token arrays averaged over samples (and heads for k, v); the "t ≠ 1" curve of
    the figures is their mean over tokens 2..T [a reconstruction: the official code prints per-token arrays].  Without padding both orders of
    averaging agree; with padding this pools all real tokens.

    Parameters
    ----------
    x : array ``(L, B, ..., T, D)``.
    lengths : real length of each of the ``B`` samples (right padding), optional.
    first : index of the token treated as "first" (0 = the paper's token 1).
    """
    a = as_array(x, name="x", finite=False)
    if a.ndim < 4:
        raise ValueError(
            f"x must have shape (layers, samples, [heads...,] tokens, features); got {a.shape}. "
            "Add a layer axis with x[None] for a single layer."
        )
    norms = l2_norms(a)  # (L, B, ..., T)
    B, T = norms.shape[1], norms.shape[-1]
    if not 0 <= first < T:
        raise ValueError(f"first must be a token index in [0, {T}); got {first}")
    if lengths is None:
        lens = np.full(B, T)
    else:
        lens = np.asarray(lengths, dtype=np.int64).reshape(-1)
        if lens.shape[0] != B or (lens < 1).any() or (lens > T).any():
            raise ValueError(f"lengths must give one length in [1, {T}] per sample ({B}); got {lens.tolist()}")
    if (lens <= first).any():
        raise ValueError(f"every sample needs more than first={first} tokens; lengths={lens.tolist()}")
    valid = np.arange(T)[None, :] < lens[:, None]  # (B, T)
    valid = valid.reshape((1, B) + (1,) * (norms.ndim - 3) + (T,))
    valid = np.broadcast_to(valid, norms.shape)
    reduce_axes = tuple(range(1, norms.ndim - 1))  # samples and heads
    w = valid.astype(np.float64)
    tok_count = w.sum(axis=reduce_axes)  # (L, T)
    per_token = np.where(tok_count > 0, (norms * w).sum(axis=reduce_axes) / np.maximum(tok_count, 1), np.nan)
    first_v = norms[..., first].mean(axis=reduce_axes)
    rest_w = w.copy()
    rest_w[..., first] = 0.0
    rest_v = (norms * rest_w).sum(axis=tuple(range(1, norms.ndim))) / rest_w.sum(axis=tuple(range(1, norms.ndim)))
    return NormProfile(first=first_v, rest=rest_v, per_token=per_token, first_position=first)


def massive_activation_ratio(hidden, *, lengths: Sequence[int] | None = None, first: int = 0) -> np.ndarray:
    r"""Massive-activation ratio per block (Figures 7, 8, 29: "ℓ2-norm ratio of h_1^l and mean of
    h_{t≠1}^l")::

        r^l = mean_b ||h^l_{b,1}|| / mean_{b, t>=2} ||h^l_{b,t}||

    (our reading of the caption of Gu et al. Figs 7-8).  ``hidden``: ``(L+1, B, T, D)`` with index 0
    the embeddings and the last entry before the final norm.  Returns ``(L+1,)``.
    """
    return first_vs_rest_norms(hidden, lengths=lengths, first=first).ratio
