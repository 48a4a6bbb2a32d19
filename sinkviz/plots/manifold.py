"""Key-manifold figures: PCA of one KV head's keys, and how far the first key lies outside the others.

sinkviz's addition to Gu et al. 2025 §3.1, which has no PCA figure: a PCA scatter of one KV head's keys with
the first token marked, and the share of ‖k₁‖ outside the other keys' principal subspace per layer.
Factories take :mod:`sinkviz.metrics.manifold` results.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from sinkviz.plots.style import COLORS, GU_BASE, apply_style, index_label, legend_in_title_band

__all__ = ["key_pca_figure", "offsubspace_figure"]


def _pca_traces(fig: go.Figure, pca, row: int, col: int, show_legend: bool, tokens=None, base: int = GU_BASE) -> None:
    c = np.asarray(pca.coords)
    others = ~np.asarray(pca.is_first)
    pos = np.asarray(pca.position)
    text = None
    if tokens is not None:
        text = [tokens[s][p] if s < len(tokens) and p < len(tokens[s]) else "" for s, p in zip(pca.sample, pos)]
    fig.add_trace(go.Scatter(
        x=c[others, 0], y=c[others, 1], mode="markers", name="keys t≠1",
        marker=dict(size=5, color=pos[others] + base, colorscale="Blues", cmin=base, cmax=max(1, int(pos.max())) + base,
                    opacity=0.75, line=dict(width=0), showscale=False),
        text=None if text is None else [t for t, o in zip(text, others) if o],
        hovertemplate=index_label("position", "%{marker.color}", base=base) + "<br>%{text}<extra></extra>",
        legendgroup="o",
        showlegend=False), row=row, col=col)
    if show_legend:  # legend entry in a mid shade (the scatter itself is shaded by position)
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name="keys t≠1 (darker = later)",
                                 marker=dict(size=7, color="#4A90C8"), legendgroup="o"), row=row, col=col)
    fig.add_trace(go.Scatter(
        x=c[~others, 0], y=c[~others, 1], mode="markers", name="k₁ (first token)",
        marker=dict(size=12, symbol="star", color=COLORS[1], line=dict(width=1, color="black")),
        text=None if text is None else [t for t, o in zip(text, others) if not o],
        hovertemplate="first token %{text}<extra></extra>", legendgroup="f", showlegend=show_legend),
        row=row, col=col)
    evr = np.asarray(pca.explained_variance_ratio)
    fig.update_xaxes(title_text=f"PC1 ({100 * evr[0]:.0f} %)", row=row, col=col)
    if len(evr) > 1:
        fig.update_yaxes(title_text=f"PC2 ({100 * evr[1]:.0f} %)", row=row, col=col)


def key_pca_figure(panels: Sequence[tuple[str, object]] | Mapping[str, object], *, cols: int = 3,
                   tokens: Sequence[Sequence[str]] | None = None, title: str | None = None,
                   panel_size: int = 300, base: int = GU_BASE) -> go.Figure:
    """PCA scatter per (layer, KV head): ``[(label, KeyPCA), ...]``; other keys shaded by position, k₁ as stars.
    Add the off-subspace numbers to each label (e.g. ``"block 5, KV head 1 (1-indexed) · off 0.82 vs 0.21"``);
    hover positions are counted from ``base`` (1, Gu et al.'s numbering; 0 in the explorer)."""
    items = list(panels.items()) if isinstance(panels, Mapping) else list(panels)
    if not items:
        raise ValueError("panels is empty: pass [(label, KeyPCA), ...]")
    cols = max(1, min(cols, len(items)))
    rows = (len(items) + cols - 1) // cols
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[lab for lab, _ in items],
                        horizontal_spacing=0.09, vertical_spacing=min(0.16, 0.5 / rows))
    for i, (_, pca) in enumerate(items):
        _pca_traces(fig, pca, i // cols + 1, i % cols + 1, i == 0, tokens, base)
    legend_in_title_band(fig)
    return apply_style(fig, title=title, height=panel_size * rows + 130, width=panel_size * cols + 100)


def offsubspace_figure(layers: Sequence[int], first: Mapping[str, Sequence[float]],
                       baseline: Mapping[str, Sequence[float]], *, r_used: Sequence[int] | None = None,
                       title: str | None = None, height: int = 360, width: int = 600,
                       base: int = GU_BASE) -> go.Figure:
    """Per layer: share of ‖k₁‖ outside the other keys' top-r principal subspace (solid) vs the same share for
    held-out ordinary keys (dotted), one colour per KV head label (``{label: (n_layers,)}``).  ``layers`` are
    0-based Python indices, drawn as blocks counted from ``base`` (1, Gu et al.'s numbering)."""
    fig = go.Figure()
    custom = None if r_used is None else np.asarray(r_used)
    xs = [int(l) + base for l in layers]
    for i, label in enumerate(first):
        color = COLORS[i % len(COLORS)]
        fig.add_trace(go.Scatter(x=xs, y=first[label], mode="lines+markers", name=f"k₁, {label}",
                                 line=dict(color=color), customdata=custom,
                                 hovertemplate=index_label("block", "%{x}", base=base) + ": %{y:.2f}"
                                 + ("<br>r=%{customdata}" if custom is not None else "") + "<extra></extra>"))
        if label in baseline:
            fig.add_trace(go.Scatter(x=xs, y=baseline[label], mode="lines", name=f"other keys, {label}",
                                     line=dict(color=color, dash="dot")))
    fig.update_xaxes(title_text=index_label("block", base=base))
    fig.update_yaxes(title_text="share of ‖k‖ off the subspace", range=[0, 1.02])
    return apply_style(fig, title=title, height=height, width=width)
