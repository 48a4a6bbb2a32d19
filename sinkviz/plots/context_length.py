"""Sink against context length: mean alpha_1 of every layer against T, beside Sink_1 (Gu et al. 2025, Fig. 3, extended).

Sink_1 against T is :func:`sinkviz.plots.lines.sink_vs_length_figure`; this module adds the per-layer view the
census makes cheap at any length: the mean over samples and heads of alpha_1 (the mean attention the first key
receives from the queries that see it, Gu et al. 2025 §3.2) for every layer and length, with the uniform-attention
null alpha_1 = H_T / T (the mean of 1/(i + 1) over queries i = 0..T-1) beside it.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from sinkviz.plots.style import COLORS, GU_BASE, SEQUENTIAL, apply_style, index_label

__all__ = ["alpha1_by_length_figure", "uniform_alpha1"]


def uniform_alpha1(T: int) -> float:
    """alpha_1 under uniform causal attention over T tokens: (1/T) sum_{i=1..T} 1/i (the null of the heat-map)."""
    return float(np.sum(1.0 / np.arange(1, T + 1)) / T)


def alpha1_by_length_figure(lengths: Sequence[int], alpha1_by_layer, *, layers: Sequence[int] | None = None,
                            title: str | None = None, base: int = GU_BASE, height: int | None = None,
                            width: int = 620) -> go.Figure:
    """Mean alpha_1 per layer (rows) and context length T (columns), ``alpha1_by_layer`` (n_lengths, L) from
    :func:`sinkviz.census.lengths.length_summary`; a line panel under it gives the mean over layers and the
    uniform-attention null for each T. Layers are numbered from ``base`` (1 as in the paper)."""
    a = np.asarray(alpha1_by_layer, dtype=float)
    if a.ndim != 2 or a.shape[0] != len(lengths):
        raise ValueError(f"alpha1_by_layer must be (len(lengths), layers) = ({len(lengths)}, L); got {a.shape}")
    L = a.shape[1]
    layer_ids = list(layers) if layers is not None else list(range(L))
    x = [str(t) for t in lengths]
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=2, cols=1, row_heights=[0.72, 0.28], vertical_spacing=0.08, shared_xaxes=True)
    fig.add_trace(go.Heatmap(
        z=a.T, x=x, y=[i + base for i in layer_ids], colorscale=SEQUENTIAL, zmin=0.0, zmax=1.0,
        colorbar=dict(title=dict(text="mean α₁"), len=0.7, y=0.64),
        hovertemplate="T=%{x}<br>" + index_label("block", "%{y}", base=base) + "<br>mean α₁ = %{z:.3f}"
        "<extra></extra>"), row=1, col=1)
    fig.add_trace(go.Scatter(x=x, y=np.nanmean(a, axis=1), mode="lines+markers", name="mean over layers",
                             line=dict(color=COLORS[0])), row=2, col=1)
    fig.add_trace(go.Scatter(x=x, y=[uniform_alpha1(int(t)) for t in lengths], mode="lines+markers",
                             name="uniform attention (null)", line=dict(color="gray", dash="dot")), row=2, col=1)
    fig.update_yaxes(title_text=index_label("block", base=base), autorange="reversed", showgrid=False, row=1, col=1)
    fig.update_yaxes(title_text="α₁", range=[0, 1.02], row=2, col=1)
    fig.update_xaxes(title_text="context length T", type="category", row=2, col=1)
    fig.update_layout(legend=dict(orientation="h", y=-0.18, x=0.0))
    return apply_style(fig, title=title, height=height or max(420, 12 * L + 260), width=width)
