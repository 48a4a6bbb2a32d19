"""QK decomposition: q·kᵀ = ‖q‖ ‖k‖ cos(q, k), after rotary embeddings.

Gu et al., "When Attention Sink Emerges in Language Models" (ICLR 2025), section 3.1, Figure 2 (bottom) and
Figures 15–18: heat-maps over (query t, key j) of q_t·k_j, cos(q_t, k_j) and ‖q_t‖‖k_j‖, using queries and keys
AFTER position encoding.  The claim: toward the first key the cosine is large while the norm product is small,
so the sink comes from the angle, not from a large key.  No official code was released for this figure.

Inputs are post-rotary ``q`` of one query head and ``k`` of the KV head it uses (under GQA query head ``h``
uses KV head ``h // (n_heads // n_kv_heads)``; ``Trace.info.kv_head_of[h]``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validate import as_array

__all__ = ["QKDecomposition", "qk_decomposition", "qk_first_vs_rest"]


@dataclass(frozen=True)
class QKDecomposition:
    """``dot``, ``cos``, ``norm_product``: ``(..., Tq, Tk)``; entries a causal model never computes are NaN.
    ``logits`` = ``dot * scaling`` when a scaling was given (else None)."""

    dot: np.ndarray
    cos: np.ndarray
    norm_product: np.ndarray
    logits: np.ndarray | None = None
    causal: bool = True


def qk_decomposition(q, k, *, causal: bool = True, scaling: float | None = None) -> QKDecomposition:
    r"""Decompose every query–key dot product (Gu et al. 2025 §3.1)::

        q_t · k_j = ||q_t|| ||k_j|| cos(q_t, k_j)

    Parameters
    ----------
    q : ``(..., Tq, d)`` queries after rotary embedding (one query head, or a stack of heads).
    k : ``(..., Tk, d)`` keys after rotary embedding, matching ``q``'s leading axes.
    causal : mask entries with ``j > t`` (set to NaN) as a decoder never computes them.
    scaling : the model's logit scale (``1/sqrt(d)`` for most models; ``Trace.info.scaling[l]``); if given,
        ``logits = dot * scaling`` is returned as well.

    ``cos`` is 0 where either vector is exactly zero.
    """
    qa = as_array(q, name="q", finite=False)
    ka = as_array(k, name="k", finite=False)
    if qa.ndim < 2 or ka.ndim < 2 or qa.shape[-1] != ka.shape[-1]:
        raise ValueError(f"q and k must be (..., T, d) with the same d; got {qa.shape} and {ka.shape}")
    dot = qa @ np.swapaxes(ka, -1, -2)
    qn = np.sqrt((qa * qa).sum(-1))
    kn = np.sqrt((ka * ka).sum(-1))
    norm_product = qn[..., :, None] * kn[..., None, :]
    cos = np.divide(dot, norm_product, out=np.zeros_like(dot), where=norm_product > 0)
    logits = None if scaling is None else dot * float(scaling)
    if causal:
        Tq, Tk = dot.shape[-2], dot.shape[-1]
        future = np.arange(Tq)[:, None] < np.arange(Tk)[None, :]
        dot, cos, norm_product = (np.where(future, np.nan, x) for x in (dot, cos, norm_product))
        if logits is not None:
            logits = np.where(future, np.nan, logits)
    return QKDecomposition(dot=dot, cos=cos, norm_product=norm_product, logits=logits, causal=causal)


def qk_first_vs_rest(decomp: QKDecomposition, first: int = 0) -> dict[str, tuple[float, float]]:
    """Numbers beside the heat-maps: for ``dot``, ``cos`` and ``norm_product``, the mean toward the first key
    vs the mean toward the other keys, over the queries that can see both (``t > first``; causal pairs only).
    Returns ``{"dot": (first, rest), "cos": (...), "norm_product": (...)}``.
    """
    out: dict[str, tuple[float, float]] = {}
    for name in ("dot", "cos", "norm_product"):
        m = getattr(decomp, name)
        Tq = m.shape[-2]
        rows = m[..., first + 1:Tq, :]
        to_first = rows[..., first]
        others = np.delete(rows, first, axis=-1)
        out[name] = (float(np.nanmean(to_first)), float(np.nanmean(others)))
    return out
