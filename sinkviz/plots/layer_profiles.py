"""Per-layer profile figures of Ruscio et al. (NeurIPS 2025): metric means per layer and Fisher traces.

Any metric's mean ± sd per layer, published and corrected side by side, with the authors' Results_sample
values overlaid on a relative-depth axis; and the Fisher-trace bars. Factories take the rows of
``sinkviz.papers.ruscio2025.summarize`` (or equivalent dicts).
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from sinkviz.plots.style import COLORS, RUSCIO_BASE, apply_style, index_label
from sinkviz.plots._ruscio_layout import room_for_title as _room_for_title

__all__ = ["layer_profile_figure", "fisher_figure"]

_LAYER_HOVER = index_label("layer", "%{customdata}", base=RUSCIO_BASE)  # the authors count layers from 0
_VARIANT_STYLE = {"published": dict(dash="solid", symbol="circle"), "corrected": dict(dash="dash", symbol="square")}


def _select(rows: Sequence[Mapping[str, Any]], variant: str, metric: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    sel = sorted((r for r in rows if r["variant"] == variant and r["metric"] == metric), key=lambda r: r["layer"])
    if not sel:
        raise ValueError(f"no rows for variant {variant!r}, metric {metric!r}")
    return (np.array([r["layer"] for r in sel]), np.array([r["mean"] for r in sel], dtype=float),
            np.array([r["sd"] for r in sel], dtype=float))


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    return f"rgba({int(h[0:2], 16)}, {int(h[2:4], 16)}, {int(h[4:6], 16)}, {alpha})"


def _has(rows: Sequence[Mapping[str, Any]], variant: str, metric: str) -> bool:
    return any(r["variant"] == variant and r["metric"] == metric for r in rows)


_NULL_BAND = "random-logit null (mean ± sd)"
_NULL_UNIFORM = "uniform-attention null"


def _null_traces(fig: go.Figure, rows: Sequence[Mapping[str, Any]], metric: str, depth: int, color: str, col: int,
                 seen: set[str]) -> None:
    """Behind a corrected series: the random-logit band (per layer, the sample mean of the random-logit mean ± the
    sample mean of its sd) and the uniform-attention value (dotted), from the ``null_*`` rows of ``summarize``."""
    layers, rand, _ = _select(rows, "null_random", metric)
    _, rand_sd, _ = _select(rows, "null_random_sd", metric)
    x = layers / depth
    fig.add_trace(go.Scatter(x=np.concatenate([x, x[::-1]]), y=np.concatenate([rand + rand_sd, (rand - rand_sd)[::-1]]),
                             mode="lines", fill="toself", fillcolor=_rgba(color, 0.15), line=dict(width=0), hoverinfo="skip",
                             name=_NULL_BAND, legendgroup=_NULL_BAND, showlegend=_NULL_BAND not in seen),
                  row=1, col=col)
    seen.add(_NULL_BAND)
    if _has(rows, "null_uniform", metric):
        layers_u, uni, _ = _select(rows, "null_uniform", metric)
        fig.add_trace(go.Scatter(x=layers_u / depth, y=uni, mode="lines", line=dict(color=color, dash="dot", width=1.5),
                                 name=_NULL_UNIFORM, legendgroup=_NULL_UNIFORM, showlegend=_NULL_UNIFORM not in seen,
                                 customdata=layers_u,
                                 hovertemplate=f"{_NULL_UNIFORM}<br>{_LAYER_HOVER}<br>%{{y:.4g}}<extra></extra>"),
                      row=1, col=col)
        seen.add(_NULL_UNIFORM)


def layer_profile_figure(
    rows: Sequence[Mapping[str, Any]],
    panels: Sequence[tuple[str, Sequence[tuple[str, str, str]]]],
    *,
    n_layers: int,
    paper: Mapping[str, Mapping[str, Any]] | None = None,
    title: str | None = None,
    height: int = 380,
    width: int | None = None,
    log_y: Sequence[bool] | None = None,
    nulls: bool = True,
) -> go.Figure:
    """One panel per ``(panel_title, [(variant, metric, legend_label), ...])``: mean ± sd over samples vs
    RELATIVE depth l/(L − 1) (hover shows the layer, 0-indexed as the authors count), so the authors' values for a model of different
    depth can sit on the same axis. ``paper`` maps a panel title to
    ``{"label": str, "layers": [...], "n_layers": int, "values": [...], "sd": [...] (optional)}``,
    drawn as open black markers.  With ``nulls``, a corrected series whose rows carry null baselines
    (``sinkviz.papers.ruscio2025.NULL_VARIANTS``) is drawn over its random-logit band (mean ± sd, shaded in the
    series' colour) and its uniform-attention value (dotted)."""
    if not panels:
        raise ValueError("panels is empty")
    depth = max(1, n_layers - 1)
    fig = make_subplots(rows=1, cols=len(panels), horizontal_spacing=0.09, subplot_titles=[p[0] for p in panels])
    seen: set[str] = set()
    for c, (ptitle, series) in enumerate(panels, start=1):
        for i, (variant, metric, label) in enumerate(series):
            layers, mean, sd = _select(rows, variant, metric)
            st = _VARIANT_STYLE.get(variant, dict(dash="dot", symbol="diamond"))
            color = COLORS[i % len(COLORS)]
            if nulls and variant == "corrected" and _has(rows, "null_random", metric):
                _null_traces(fig, rows, metric, depth, color, c, seen)
            fig.add_trace(go.Scatter(
                x=layers / depth, y=mean, error_y=dict(type="data", array=sd, visible=True, thickness=1, width=3),
                mode="lines+markers", name=label, legendgroup=label, showlegend=label not in seen,
                line=dict(color=color, dash=st["dash"]), marker=dict(symbol=st["symbol"], size=7, color=color),
                customdata=layers, hovertemplate=f"{label}<br>{_LAYER_HOVER}<br>%{{y:.4g}}<extra></extra>"),
                row=1, col=c)
            seen.add(label)
        ref = (paper or {}).get(ptitle)
        if ref:
            px = np.asarray(ref["layers"], dtype=float) / max(1, ref["n_layers"] - 1)
            sd = ref.get("sd")
            fig.add_trace(go.Scatter(
                x=px, y=ref["values"], mode="markers", name=ref["label"], legendgroup=ref["label"],
                showlegend=ref["label"] not in seen,
                error_y=dict(type="data", array=sd, visible=True, color="black", thickness=1) if sd is not None else None,
                marker=dict(symbol="circle-open", size=11, color="black", line=dict(width=2)),
                hovertemplate=f"{ref['label']}<br>%{{y:.4g}}<extra></extra>"), row=1, col=c)
            seen.add(ref["label"])
        fig.update_xaxes(title_text="depth l / (L − 1), l 0-indexed", range=[-0.05, 1.05], row=1, col=c)
        if log_y and log_y[c - 1]:
            fig.update_yaxes(type="log", row=1, col=c)
    fig.update_layout(legend=dict(orientation="h", y=-0.25, x=0.0))
    apply_style(fig, title=title, height=height, width=width or 360 * len(panels) + 80)
    return _room_for_title(fig, title)


def fisher_figure(published: Mapping[str, Any], corrected: Mapping[str, Any], *, title: str | None = None,
                  height: int = 380, width: int = 900) -> go.Figure:
    """Left: Fisher trace per layer (``layer_indices``/``layer_values`` of ``sinkviz.metrics.fisher``), both
    variants, log scale. Right: totals per parameter group."""
    fig = make_subplots(rows=1, cols=2, column_widths=[0.68, 0.32], horizontal_spacing=0.1,
                        subplot_titles=["Fisher trace per layer", "per parameter group"])
    for i, (name, res) in enumerate((("published", published), ("corrected", corrected))):
        st = _VARIANT_STYLE[name]
        fig.add_trace(go.Scatter(x=res["layer_indices"], y=res["layer_values"], mode="lines+markers", name=name,
                                 legendgroup=name, line=dict(color=COLORS[i], dash=st["dash"]),
                                 marker=dict(symbol=st["symbol"], color=COLORS[i])), row=1, col=1)
        groups = res["param_groups"]
        fig.add_trace(go.Bar(x=list(groups), y=list(groups.values()), name=name, legendgroup=name, showlegend=False,
                             marker_color=COLORS[i]), row=1, col=2)
    fig.update_yaxes(type="log", title_text="Σ ‖∇θ‖² (mean over samples)", row=1, col=1)
    fig.update_yaxes(type="log", row=1, col=2)
    fig.update_xaxes(title_text=index_label("layer", base=RUSCIO_BASE), row=1, col=1)
    fig.update_layout(barmode="group", legend=dict(orientation="h", y=-0.22, x=0.0))
    apply_style(fig, title=title, height=height, width=width)
    return _room_for_title(fig, title)
