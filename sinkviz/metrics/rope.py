"""RoPE plane decomposition of q·k: which rotation frequencies carry the logit toward the first token.

Beyond Gu et al. (ICLR 2025); suggested by Ruscio et al. ("What are you sinking?", arXiv 2508.02546), whose
argument is that the first token is the one key that rotary embeddings leave un-rotated (R_0 = I), a natural
anchor.  Gu et al. 2025 §3.1 (Fig. 2 bottom, Figs 15–18) split the post-RoPE logit only as
q_t·k_j = ‖q_t‖‖k_j‖cos(q_t, k_j); the per-plane split below is sinkviz's.  Under rotary embeddings the head
dimension splits into 2-D rotation planes and

    q_t · k_j = Σ_planes (q_t[a] k_j[a] + q_t[b] k_j[b])

exactly, plane ``(a, b)`` being rotated by angle ``pos · θ_i``.  Layouts:

* ``"half"`` — HF ``rotate_half`` (LLaMA, Mistral, Qwen, SmolLM2, GPT-NeoX...): dims ``i`` and ``i + r/2``
  form plane ``i``, with frequency ``θ_i = base^(-2i/r)`` (``r`` = rotary dims).
* ``"interleaved"`` — GPT-J / original RoFormer: dims ``2i`` and ``2i + 1``.

With partial rotary (``rotary_dim < head_dim``, e.g. Pythia) the un-rotated dims are summed into one extra
"pass-through" row after the planes, so the decomposition still sums to q·k.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validate import as_array

__all__ = [
    "RopePlanes",
    "rope_plane_pairs",
    "rope_frequencies",
    "rope_plane_contributions",
    "rope_first_vs_rest",
]


def rope_plane_pairs(head_dim: int, pairing: str = "half", rotary_dim: int | None = None) -> list[tuple[int, int]]:
    """Index pairs ``(a, b)`` of the 2-D rotation planes, plane ``i`` first.

    ``pairing="half"``: ``(i, i + r/2)`` (HF ``rotate_half``); ``"interleaved"``: ``(2i, 2i + 1)``.
    """
    r = head_dim if rotary_dim is None else int(rotary_dim)
    if r <= 0 or r > head_dim or r % 2:
        raise ValueError(f"rotary_dim must be an even number in (0, head_dim={head_dim}]; got {r}")
    if pairing == "half":
        return [(i, i + r // 2) for i in range(r // 2)]
    if pairing == "interleaved":
        return [(2 * i, 2 * i + 1) for i in range(r // 2)]
    raise ValueError(f"pairing must be 'half' (HF rotate_half) or 'interleaved' (GPT-J); got {pairing!r}")


def rope_frequencies(rotary_dim: int, base: float = 10000.0) -> np.ndarray:
    """Angular frequency per plane, ``θ_i = base^(-2i/r)`` for ``i = 0..r/2-1`` (radians per position), the
    default (unscaled) RoPE.  Plane 0 rotates fastest."""
    if rotary_dim <= 0 or rotary_dim % 2:
        raise ValueError(f"rotary_dim must be a positive even number; got {rotary_dim}")
    return float(base) ** (-np.arange(0, rotary_dim, 2, dtype=np.float64) / rotary_dim)


@dataclass(frozen=True)
class RopePlanes:
    """``contrib``: ``(..., P, Tq, Tk)``; ``contrib.sum(axis=-3) == q @ k.T``.  ``P`` = number of planes, plus one
    last row for the un-rotated dims when ``has_passthrough``.  ``pairs``: the dims of each plane."""

    contrib: np.ndarray
    pairs: list[tuple[int, int]]
    has_passthrough: bool

    @property
    def n_planes(self) -> int:
        return len(self.pairs)


def rope_plane_contributions(q, k, *, pairing: str = "half", rotary_dim: int | None = None) -> RopePlanes:
    """Split every q_t·k_j into per-plane contributions (post-rotary ``q``: ``(..., Tq, d)``, ``k``:
    ``(..., Tk, d)``).  The planes sum exactly (up to float rounding) to ``q @ k.T``; no masking is applied."""
    qa = as_array(q, name="q", finite=False)
    ka = as_array(k, name="k", finite=False)
    if qa.ndim < 2 or ka.ndim < 2 or qa.shape[-1] != ka.shape[-1]:
        raise ValueError(f"q and k must be (..., T, d) with the same d; got {qa.shape} and {ka.shape}")
    d = qa.shape[-1]
    pairs = rope_plane_pairs(d, pairing, rotary_dim)
    a_idx = np.array([a for a, _ in pairs])
    b_idx = np.array([b for _, b in pairs])
    # (..., T, P) per-plane products summed over the two dims of the plane
    qa_a, qa_b = qa[..., a_idx], qa[..., b_idx]
    ka_a, ka_b = ka[..., a_idx], ka[..., b_idx]
    contrib = (np.einsum("...tp,...sp->...pts", qa_a, ka_a) + np.einsum("...tp,...sp->...pts", qa_b, ka_b))
    used = set(a_idx.tolist()) | set(b_idx.tolist())
    rest = np.array([i for i in range(d) if i not in used], dtype=np.int64)
    has_pt = rest.size > 0
    if has_pt:
        pt = qa[..., rest] @ np.swapaxes(ka[..., rest], -1, -2)
        contrib = np.concatenate([contrib, pt[..., None, :, :]], axis=-3)
    return RopePlanes(contrib=contrib, pairs=pairs, has_passthrough=has_pt)


def rope_first_vs_rest(planes: RopePlanes | np.ndarray, *, first: int = 0, scaling: float = 1.0
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Per plane: mean contribution to the logit toward the first key vs toward the other keys.

    Over causal pairs with query ``t > first``: ``to_first[p] = mean_t c[p, t, first]`` and
    ``to_rest[p] = mean_{t, j<=t, j != first} c[p, t, j]``; multiplied by ``scaling`` to be in logit units.
    Leading axes (heads, samples) are averaged too.  Returns ``(to_first, to_rest)``, each ``(P,)``.
    """
    c = planes.contrib if isinstance(planes, RopePlanes) else as_array(planes, name="planes", finite=False)
    Tq, Tk = c.shape[-2], c.shape[-1]
    if Tq <= first + 1:
        raise ValueError(f"need at least {first + 2} query positions; got {Tq}")
    c = np.moveaxis(c, -3, 0).reshape(c.shape[-3], -1, Tq, Tk)  # (P, N, Tq, Tk)
    rows = c[:, :, first + 1:, :]
    t = np.arange(first + 1, Tq)[:, None]
    j = np.arange(Tk)[None, :]
    other = (j <= t) & (j != first)
    to_first = rows[..., first].mean(axis=(1, 2))
    to_rest = (rows * other).sum(axis=(1, 2, 3)) / (other.sum() * rows.shape[1])
    return to_first * scaling, to_rest * scaling
