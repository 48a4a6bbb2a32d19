"""Heat-maps of Gu et al. (ICLR 2025): α₁ per (block, head) (Figs 19–24) and attention maps.

Factories take metric results (arrays) and return a styled ``go.Figure``."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from sinkviz.plots.style import EXPLORER_BASE, GU_BASE, SEQUENTIAL, apply_style, index_label

__all__ = ["alpha_heatmap", "alpha_heatmap_grid", "attention_heatmap"]

#: Colour range of the paper's α₁ heat-maps (Figs 19–24).
PAPER_ALPHA_RANGE = (0.2, 0.8)


def _alpha_trace(alpha_lh: np.ndarray, zrange: tuple[float, float], showscale: bool, base: int,
                 blocks: Sequence[int] | None = None) -> go.Heatmap:
    L, H = alpha_lh.shape
    rows = np.arange(L) if blocks is None else np.asarray(blocks)
    return go.Heatmap(
        z=alpha_lh, x=np.arange(base, H + base), y=rows + base, colorscale=SEQUENTIAL,
        zmin=zrange[0], zmax=zrange[1], showscale=showscale, colorbar=dict(title=dict(text="α₁")),
        hovertemplate=index_label(("block", "head"), ("%{y}", "%{x}"), base=base) + "<br>α₁ = %{z:.3f}<extra></extra>")


def alpha_heatmap(alpha_lh, *, title: str | None = None, zrange: tuple[float, float] = PAPER_ALPHA_RANGE,
                  base: int = GU_BASE, height: int | None = None, width: int | None = None,
                  blocks: Sequence[int] | None = None) -> go.Figure:
    """Figures 19–24: importance score α₁^{l,h} averaged over samples, y = block, x = head
    (``(L, H)`` from :func:`sinkviz.metrics.sink.alpha_layer_head`).  The paper's colour range is 0.2–0.8:
    values outside are clipped to the end colours (hover shows the true value).  Blocks and heads are numbered
    from ``base``: 1 as in the paper by default, and the axes say so. ``blocks``: the 0-indexed block number of
    each row where the rows are not every block (a hybrid's attention blocks, Figs 25–27: Jamba); one row each."""
    a = np.asarray(alpha_lh, dtype=float)
    if a.ndim != 2:
        raise ValueError(f"alpha_lh must be (layers, heads); got shape {a.shape}")
    L, H = a.shape
    if blocks is not None and len(blocks) != L:
        raise ValueError(f"blocks has {len(blocks)} entries for {L} rows of alpha_lh")
    fig = go.Figure(_alpha_trace(a, zrange, True, base, blocks))
    fig.update_xaxes(title_text=index_label("head", base=base), dtick=max(1, H // 12), showgrid=False)
    fig.update_yaxes(title_text=index_label("block", base=base), autorange="reversed", showgrid=False,
                     type="category" if blocks is not None else None)
    return apply_style(fig, title=title, height=height or max(320, 14 * L + 140),
                       width=width or max(360, 26 * H + 200))


def alpha_heatmap_grid(alphas: Mapping[str, np.ndarray], *, title: str | None = None,
                       zrange: tuple[float, float] = PAPER_ALPHA_RANGE, base: int = GU_BASE,
                       height: int | None = None) -> go.Figure:
    """Several models side by side (``{label: (L, H)}``), one shared colour bar (Figs 19–24 layout); blocks and
    heads counted from ``base`` (1, the paper's)."""
    labels = list(alphas)
    if not labels:
        raise ValueError("alphas is empty")
    fig = make_subplots(rows=1, cols=len(labels), subplot_titles=labels, horizontal_spacing=0.07)
    max_L = 1
    for c, label in enumerate(labels, start=1):
        a = np.asarray(alphas[label], dtype=float)
        max_L = max(max_L, a.shape[0])
        fig.add_trace(_alpha_trace(a, zrange, c == len(labels), base), row=1, col=c)
        fig.update_xaxes(title_text=index_label("head", base=base), showgrid=False, row=1, col=c)
        fig.update_yaxes(autorange="reversed", showgrid=False, row=1, col=c)
    fig.update_yaxes(title_text=index_label("block", base=base), row=1, col=1)
    return apply_style(fig, title=title, height=height or max(340, 14 * max_L + 150), width=300 * len(labels) + 120)


def attention_heatmap(attn, *, tokens: Sequence[str] | None = None, title: str | None = None,
                      zmax: float | None = None, log: bool = False, height: int = 480,
                      width: int = 540, base: int = EXPLORER_BASE) -> go.Figure:
    """One attention map (queries down, keys across), probabilities (not logits: the colour bar never exceeds 1).
    ``log=True`` shows log10 probabilities, useful when the sink dominates; ``zmax`` caps the colour range.
    Positions are counted from ``base`` (0, as Python; 1 for a figure in Gu et al.'s numbering)."""
    a = np.asarray(attn, dtype=float)
    if a.ndim != 2:
        raise ValueError(f"attn must be one (queries, keys) map; got shape {a.shape}")
    z = np.log10(np.where(a > 0, a, np.nan)) if log else np.where(np.isnan(a), np.nan, a)
    labels = (list(range(base, a.shape[1] + base)) if tokens is None
              else [f"{i + base}:{t}" for i, t in enumerate(tokens)])
    fig = go.Figure(go.Heatmap(
        z=z, x=labels, y=labels[: a.shape[0]], colorscale=SEQUENTIAL, zmin=None if log else 0.0,
        zmax=zmax if not log else None, colorbar=dict(title=dict(text="log₁₀ A" if log else "A")),
        hovertemplate=index_label(("query", "key"), ("%{y}", "%{x}"), base=base) + "<br>%{z:.3f}<extra></extra>"))
    fig.update_xaxes(title_text=index_label("key j", base=base), showgrid=False, showticklabels=tokens is not None)
    fig.update_yaxes(title_text=index_label("query t", base=base), autorange="reversed", showgrid=False,
                     showticklabels=tokens is not None)
    return apply_style(fig, title=title, height=height, width=width)
