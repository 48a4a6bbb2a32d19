"""Layer × head heat-maps of Ruscio et al. (NeurIPS 2025): head specialisation and per-head random-matrix statistics.

Factories take the dicts of ``sinkviz.papers.ruscio2025.head_specialisation`` / ``rmt_heads`` (or equivalent
arrays) and return a styled ``go.Figure``. Layers and heads are counted from 0, as the authors' reports count them
("Layer 0", "L0H3"), and every axis says so.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from sinkviz.plots._ruscio_layout import room_for_title
from sinkviz.plots.style import COLORS, DIVERGING, RUSCIO_BASE, SEQUENTIAL, apply_style, index_label

__all__ = ["layer_head_heatmaps", "head_specialisation_figure", "rmt_heads_figure"]

_HOVER = index_label(("layer", "head"), ("%{y}", "%{x}"), base=RUSCIO_BASE)


def _domain_end(fig: go.Figure, row: int, col: int) -> float:
    axis = fig.get_subplot(row, col).xaxis
    return float(axis.domain[1])


def _add_heatmap(fig: go.Figure, panel: Mapping[str, Any], layer_labels: list[str], row: int, col: int,
                 layer_title: bool) -> None:
    z = np.asarray(panel["z"], dtype=float)
    if z.shape[0] != len(layer_labels):
        raise ValueError(f"panel {panel['title']!r} has {z.shape[0]} rows for {len(layer_labels)} layers")
    text = panel.get("text")
    extra = "<br>%{text}" if text is not None else ""
    y0, y1 = fig.get_subplot(row, col).yaxis.domain
    fig.add_trace(go.Heatmap(
        z=z, x=np.arange(z.shape[1]), y=layer_labels, text=text, zmin=panel.get("zmin"), zmax=panel.get("zmax"),
        colorscale=panel.get("colorscale", SEQUENTIAL),
        colorbar=dict(title=dict(text=panel.get("colorbar", ""), side="right"), thickness=12, xanchor="left",
                      x=_domain_end(fig, row, col) + 0.006, len=0.95 * (y1 - y0), y=(y0 + y1) / 2, yanchor="middle"),
        hovertemplate=_HOVER + "<br>%{z:.3f}" + extra + "<extra></extra>"), row=row, col=col)
    fig.update_xaxes(title_text=index_label("head", base=RUSCIO_BASE), showgrid=False, row=row, col=col)
    fig.update_yaxes(type="category", autorange="reversed", showgrid=False, row=row, col=col,
                     title_text=index_label("layer", base=RUSCIO_BASE) if layer_title else None)


def _finish(fig: go.Figure, title: str | None, height: int, width: int) -> go.Figure:
    apply_style(fig, title=title, height=height, width=width)
    room_for_title(fig, title)
    return fig


def layer_head_heatmaps(panels: Sequence[Mapping[str, Any]], layers: Sequence[int], *, title: str | None = None,
                        height: int | None = None) -> go.Figure:
    """One heat-map per panel side by side, y = layer, x = head: a panel is ``{"title", "z" (layers, heads),
    "colorbar", "zmin", "zmax", "colorscale" (optional), "text" (layers × heads hover strings, optional)}``."""
    if not panels:
        raise ValueError("panels is empty")
    fig = make_subplots(rows=1, cols=len(panels), horizontal_spacing=0.17, subplot_titles=[p["title"] for p in panels])
    labels = [str(int(l)) for l in layers]
    for c, panel in enumerate(panels, start=1):
        _add_heatmap(fig, panel, labels, 1, c, c == 1)
    return _finish(fig, title, height or max(380, 22 * len(labels) + 240), 380 * len(panels) + 80)


def head_specialisation_figure(result: Mapping[str, Any], *, authors: Mapping[str, Mapping[str, Any]] | None = None,
                               title: str | None = None) -> go.Figure:
    """The authors' head-specialisation heat-map (consistency of each head's top token across samples), published
    (modal token STRING) beside corrected (modal POSITION, real sinks only); below, the share of heads
    specialised per layer against relative depth: ours (published, corrected, and the published rule on uniform
    attention, the null) and the authors' models (``authors``: ``{label: {"layers", "n_layers", "shares"}}``,
    counted from their Results_sample files)."""
    layers = list(result["layers"])
    pub, cor = result["published"], result["corrected"]
    tokens = [[f"top token {t!r}" for t in row] for row in pub["token"]]
    positions = [[("no sink" if p is None else f"top position {p}") for p in row] for row in cor["position"]]
    fig = make_subplots(rows=2, cols=2, horizontal_spacing=0.2, vertical_spacing=0.2,
                        specs=[[{}, {}], [{"colspan": 2}, None]], subplot_titles=[
                            f"published: by token string ({pub['total']} specialised)",
                            f"corrected: by position, sinks only ({cor['total']})",
                            "share of heads specialised per layer"])
    labels = [str(int(l)) for l in layers]
    _add_heatmap(fig, {"title": "", "z": pub["consistency"], "zmin": 0, "zmax": 1, "colorbar": "consistency",
                       "text": tokens}, labels, 1, 1, True)
    _add_heatmap(fig, {"title": "", "z": cor["consistency"], "zmin": 0, "zmax": 1, "colorbar": "consistency",
                       "text": positions}, labels, 1, 2, False)
    n_heads = result["n_heads"]
    # l / (L − 1) over the model's blocks, as for the authors' points, not over the layers selected
    depth = max(1, result.get("n_layers", max(layers) + 1) - 1)
    rel = [l / depth for l in layers]
    null_share = result["null"]["published_total"] / (n_heads * len(layers))
    series = [("sinkviz published", [pub["count"][l] / n_heads for l in layers], COLORS[0], "circle", "solid"),
              ("sinkviz corrected", [cor["count"][l] / n_heads for l in layers], COLORS[1], "square", "solid"),
              ("null: published rule, uniform attention", [null_share] * len(layers), "#777777", "x", "dot")]
    for name, ys, color, symbol, dash in series:
        fig.add_trace(go.Scatter(x=rel, y=ys, mode="lines+markers", name=name, line=dict(color=color, dash=dash),
                                 marker=dict(symbol=symbol), customdata=layers,
                                 hovertemplate=index_label("layer", "%{customdata}", base=RUSCIO_BASE)
                                 + "<br>share %{y:.2f}<extra>" + name + "</extra>"), row=2, col=1)
    for i, (label, a) in enumerate((authors or {}).items()):
        d = max(1, a["n_layers"] - 1)
        fig.add_trace(go.Scatter(x=[l / d for l in a["layers"]], y=a["shares"], mode="markers", name=label,
                                 marker=dict(symbol="diamond-open", size=10, color=COLORS[(i + 2) % len(COLORS)]),
                                 hovertemplate="%{y:.2f}<extra>" + label + "</extra>"), row=2, col=1)
    fig.update_xaxes(title_text="relative depth l / (L − 1)", range=[-0.03, 1.03], row=2, col=1)
    fig.update_yaxes(title_text="share of heads", range=[-0.04, 1.06], row=2, col=1)
    fig.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.1, x=0.0, xanchor="left"))
    return _finish(fig, title, 820, 900)


def rmt_heads_figure(result: Mapping[str, Any], *, title: str | None = None) -> go.Figure:
    """Per-head random-matrix statistics (rmt.ipynb computes them per head and reports only the head average):
    the published spectral gap |λ₁|/|λ₂| (a causal map's eigenvalues are its diagonal), the share of samples with a
    finite published MP-KL, and the corrected full-spectrum MP-KS minus the random-logit null at the same
    lengths (red: further from Marchenko–Pastur than random attention)."""
    pub, cor = result["published"], result["corrected"]
    null = result["null"].get("random", result["null"]["uniform"])["corrected_marchenko_pastur_ks"]
    ks = np.asarray(cor["ks_minus_null"], dtype=float)
    lim = float(np.nanmax(np.abs(ks))) if np.isfinite(ks).any() else 1.0
    gap = np.asarray(pub["spectral_gap"], dtype=float)
    return layer_head_heatmaps([
        {"title": "published spectral gap |λ₁|/|λ₂| (log₁₀)", "z": np.log10(gap), "colorbar": "log₁₀ gap"},
        {"title": "published: share of finite MP-KL", "z": pub["finite_kl"], "zmin": 0, "zmax": 1,
         "colorbar": "share"},
        {"title": f"corrected MP-KS − null ({null:.2f})", "z": ks, "zmin": -lim, "zmax": lim,
         "colorscale": DIVERGING, "colorbar": "ΔKS"},
    ], result["layers"], title=title)
