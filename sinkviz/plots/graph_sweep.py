"""The threshold sweep and the Fiedler heat-map of Ruscio et al. (NeurIPS 2025), laplacian.ipynb, published and corrected.

Factories take the dict of ``sinkviz.papers.ruscio2025.threshold_sweep_summary`` and return a styled ``go.Figure``.
Layers are counted from 0, as the authors count them.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from sinkviz.plots._ruscio_layout import room_for_title
from sinkviz.plots.style import COLORS, RUSCIO_BASE, SEQUENTIAL, apply_style, index_label

__all__ = ["threshold_sweep_figure", "fiedler_heatmap_figure"]

_EFFECTIVE = (0.05, 0.95)


def _density_panel(fig: go.Figure, col: int, x: list[float], per_layer: Mapping[float, list[float]],
                   effectiveness: Mapping[float, float], nulls: Mapping[str, Mapping[float, float]], showlegend: bool) -> None:
    dens = np.array([per_layer[v] for v in x], dtype=float)  # (thresholds, layers)
    lo, hi, mean = np.nanmin(dens, axis=1), np.nanmax(dens, axis=1), np.nanmean(dens, axis=1)
    fig.add_trace(go.Scatter(x=x + x[::-1], y=list(hi) + list(lo[::-1]), fill="toself", mode="lines", line=dict(width=0),
                             fillcolor="rgba(0,114,178,0.18)", name="model: range over layers", legendgroup="range",
                             showlegend=showlegend, hoverinfo="skip"), row=1, col=col)
    fig.add_trace(go.Scatter(x=x, y=mean, mode="lines+markers", line=dict(color=COLORS[0]), name="model: mean over layers",
                             legendgroup="mean", showlegend=showlegend,
                             hovertemplate="%{x}: density %{y:.3f}<extra></extra>"), row=1, col=col)
    for i, (name, values) in enumerate(nulls.items()):
        fig.add_trace(go.Scatter(x=x, y=[values[v] for v in x], mode="lines+markers", name=f"null: {name} attention",
                                 legendgroup=name, showlegend=showlegend,
                                 line=dict(color=["#777777", "#BBBBBB"][i % 2], dash="dot"), marker=dict(symbol="x")),
                      row=1, col=col)
    fig.add_hrect(y0=_EFFECTIVE[0], y1=_EFFECTIVE[1], fillcolor="rgba(0,158,115,0.07)", line_width=0, row=1, col=col)
    fig.add_trace(go.Bar(x=[f"{v:g}" for v in x], y=[effectiveness[v] for v in x], marker_color=COLORS[2],
                         name="effectiveness", showlegend=False,
                         hovertemplate="%{x}: effective in %{y:.0%} of layers<extra></extra>"), row=2, col=col)


def threshold_sweep_figure(summary: Mapping[str, Any], *, title: str | None = None) -> go.Figure:
    """Top: edge density of the thresholded head-averaged map against the threshold (mean and range over layers),
    with the band [0.05, 0.95] where laplacian.ipynb calls a threshold "effective"; bottom: each threshold's
    effectiveness, the share of layers whose mean density falls in the band (the authors'
    threshold_effectiveness.png). Left: published (Ā > τ, density over all n² entries, so a causal map never
    exceeds (n + 1)/(2n)); right: corrected (Ā_ij > c/v_i, density over the visible entries). Grey: uniform and
    random-logit attention at the same lengths."""
    pub, cor = summary["published"], summary["corrected"]
    taus, ratios = list(summary["thresholds"]), list(summary["ratios"])
    fig = make_subplots(rows=2, cols=2, horizontal_spacing=0.1, vertical_spacing=0.24, row_heights=[0.6, 0.4],
                        subplot_titles=[f"published: Ā > τ, density over n² (best τ = {pub['best_threshold']:g})",
                                        "corrected: Ā_ij > c/v_i, density over visible entries",
                                        "published: threshold effectiveness", "corrected: threshold effectiveness"])
    nulls = summary["null"]
    _density_panel(fig, 1, taus, pub["mean_density"], pub["effectiveness"],
                   {k: v["published_density"] for k, v in nulls.items()}, True)
    _density_panel(fig, 2, ratios, cor["mean_density"], cor["effectiveness"],
                   {k: v["corrected_density"] for k, v in nulls.items()}, False)
    fig.update_xaxes(type="log", title_text="threshold τ", tickvals=taus, ticktext=[f"{t:g}" for t in taus], row=1, col=1)
    fig.update_xaxes(type="log", title_text="relative threshold c", tickvals=ratios, ticktext=[f"{c:g}" for c in ratios], row=1, col=2)
    fig.update_xaxes(type="category", title_text="τ", row=2, col=1)
    fig.update_xaxes(type="category", title_text="c", row=2, col=2)
    fig.update_yaxes(title_text="edge density", range=[0, 1.0], row=1, col=1)
    fig.update_yaxes(range=[0, 1.0], row=1, col=2)
    fig.update_yaxes(title_text="share of layers", range=[0, 1.05], tickformat=".0%", row=2, col=1)
    fig.update_yaxes(range=[0, 1.05], tickformat=".0%", row=2, col=2)
    fig.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.14, x=0.0), bargap=0.35)
    apply_style(fig, title=title, height=720, width=980)
    return room_for_title(fig, title)


def fiedler_heatmap_figure(summary: Mapping[str, Any], *, title: str | None = None) -> go.Figure:
    """The Fiedler value λ₁ per layer and threshold. laplacian.ipynb draws one row, at its best threshold, of the
    per-layer mean over the samples it computed (an effective threshold or a layer index divisible by 4); here
    every threshold is a row and the best one is marked. Right: the corrected graph at every relative threshold,
    mean over every sample."""
    pub, cor = summary["published"], summary["corrected"]
    layers = [str(l) for l in summary["layers"]]
    taus, ratios = list(summary["thresholds"]), list(summary["ratios"])
    best = pub["best_threshold"]
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.2, subplot_titles=[
        "published: mean λ₁ over computed samples", "corrected: mean λ₁, all samples"])
    hover = index_label("layer", "%{x}", base=RUSCIO_BASE)
    n_comp = np.asarray(pub["n_computed"])
    fig.add_trace(go.Heatmap(z=pub["fiedler"], x=layers, y=[("▶ " if t == best else "") + f"τ={t:g}" for t in taus],
                             colorscale=SEQUENTIAL, colorbar=dict(title=dict(text="λ₁", side="right"), len=0.85, thickness=12,
                                           x=float(fig.layout.xaxis.domain[1]) + 0.006, xanchor="left"),
                             text=[[f"{k} samples computed" for k in row] for row in n_comp],
                             hovertemplate=hover + "<br>%{y}<br>λ₁ %{z:.3f}<br>%{text}<extra></extra>"), row=1, col=1)
    fig.add_trace(go.Heatmap(z=cor["fiedler"], x=layers, y=[f"c={c:g}" for c in ratios], colorscale=SEQUENTIAL,
                             colorbar=dict(title=dict(text="λ₁", side="right"), len=0.85, thickness=12),
                             hovertemplate=hover + "<br>%{y}<br>λ₁ %{z:.3f}<extra></extra>"), row=1, col=2)
    for col in (1, 2):
        fig.update_xaxes(title_text=index_label("layer", base=RUSCIO_BASE), type="category", showgrid=False,
                         row=1, col=col)
        fig.update_yaxes(type="category", tickmode="linear", dtick=1, showgrid=False, row=1, col=col)
    fig.update_xaxes(tickangle=0)
    apply_style(fig, title=title, height=520, width=max(900, 22 * len(layers) * 2 + 300))
    room_for_title(fig, title)
    return fig
