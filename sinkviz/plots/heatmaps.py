"""Heat-maps of Gu et al. (ICLR 2025): α₁ per (block, head) (Figs 19–24) and attention maps.

Factories take metric results (arrays) and return a styled ``go.Figure``."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from sinkviz.plots.style import SEQUENTIAL, apply_style

__all__ = ["alpha_heatmap", "alpha_heatmap_grid", "attention_heatmap"]

#: Colour range of the paper's α₁ heat-maps (Figs 19–24).
PAPER_ALPHA_RANGE = (0.2, 0.8)


def _alpha_trace(alpha_lh: np.ndarray, zrange: tuple[float, float], showscale: bool, block_offset: int) -> go.Heatmap:
    L, H = alpha_lh.shape
    return go.Heatmap(
        z=alpha_lh, x=np.arange(1, H + 1), y=np.arange(block_offset, L + block_offset), colorscale=SEQUENTIAL,
        zmin=zrange[0], zmax=zrange[1], showscale=showscale, colorbar=dict(title=dict(text="α₁")),
        hovertemplate="block %{y}, head %{x}<br>α₁ = %{z:.3f}<extra></extra>")


def alpha_heatmap(alpha_lh, *, title: str | None = None, zrange: tuple[float, float] = PAPER_ALPHA_RANGE,
                  block_offset: int = 1, height: int | None = None, width: int | None = None) -> go.Figure:
    """Figures 19–24: importance score α₁^{l,h} averaged over samples, y = block, x = head
    (``(L, H)`` from :func:`sinkviz.metrics.sink.alpha_layer_head`).  The paper's colour range is 0.2–0.8:
    values outside are clipped to the end colours (hover shows the true value).  Blocks and heads are numbered
    from 1 as in the paper (``block_offset``)."""
    a = np.asarray(alpha_lh, dtype=float)
    if a.ndim != 2:
        raise ValueError(f"alpha_lh must be (layers, heads); got shape {a.shape}")
    L, H = a.shape
    fig = go.Figure(_alpha_trace(a, zrange, True, block_offset))
    fig.update_xaxes(title_text="head", dtick=max(1, H // 12), showgrid=False)
    fig.update_yaxes(title_text="block", autorange="reversed", showgrid=False)
    return apply_style(fig, title=title, height=height or max(320, 14 * L + 140),
                       width=width or max(360, 26 * H + 200))


def alpha_heatmap_grid(alphas: Mapping[str, np.ndarray], *, title: str | None = None,
                       zrange: tuple[float, float] = PAPER_ALPHA_RANGE, block_offset: int = 1,
                       height: int | None = None) -> go.Figure:
    """Several models side by side (``{label: (L, H)}``), one shared colour bar (Figs 19–24 layout)."""
    labels = list(alphas)
    if not labels:
        raise ValueError("alphas is empty")
    fig = make_subplots(rows=1, cols=len(labels), subplot_titles=labels, horizontal_spacing=0.07)
    max_L = 1
    for c, label in enumerate(labels, start=1):
        a = np.asarray(alphas[label], dtype=float)
        max_L = max(max_L, a.shape[0])
        fig.add_trace(_alpha_trace(a, zrange, c == len(labels), block_offset), row=1, col=c)
        fig.update_xaxes(title_text="head", showgrid=False, row=1, col=c)
        fig.update_yaxes(autorange="reversed", showgrid=False, row=1, col=c)
    fig.update_yaxes(title_text="block", row=1, col=1)
    return apply_style(fig, title=title, height=height or max(340, 14 * max_L + 150), width=300 * len(labels) + 120)


def attention_heatmap(attn, *, tokens: Sequence[str] | None = None, title: str | None = None,
                      zmax: float | None = None, log: bool = False, height: int = 480,
                      width: int = 540) -> go.Figure:
    """One attention map (queries down, keys across), probabilities (not logits: the colour bar never exceeds 1).
    ``log=True`` shows log10 probabilities, useful when the sink dominates; ``zmax`` caps the colour range."""
    a = np.asarray(attn, dtype=float)
    if a.ndim != 2:
        raise ValueError(f"attn must be one (queries, keys) map; got shape {a.shape}")
    z = np.log10(np.where(a > 0, a, np.nan)) if log else np.where(np.isnan(a), np.nan, a)
    labels = list(range(a.shape[1])) if tokens is None else [f"{i}:{t}" for i, t in enumerate(tokens)]
    fig = go.Figure(go.Heatmap(
        z=z, x=labels, y=labels[: a.shape[0]], colorscale=SEQUENTIAL, zmin=None if log else 0.0,
        zmax=zmax if not log else None, colorbar=dict(title=dict(text="log₁₀ A" if log else "A")),
        hovertemplate="query %{y}<br>key %{x}<br>%{z:.3f}<extra></extra>"))
    fig.update_xaxes(title_text="key j", showgrid=False, showticklabels=tokens is not None)
    fig.update_yaxes(title_text="query t", autorange="reversed", showgrid=False, showticklabels=tokens is not None)
    return apply_style(fig, title=title, height=height, width=width)
