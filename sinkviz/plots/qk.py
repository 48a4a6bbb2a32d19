"""Q·K figures: q·kᵀ, cos(q, k) and ‖q‖‖k‖ heat-maps, and the RoPE plane decomposition toward the first key.

The heat-maps are Gu et al. 2025, Fig. 2 bottom and Figs 15–18; the RoPE decomposition is sinkviz's
addition. Factories take :class:`sinkviz.metrics.qk.QKDecomposition` /
:func:`sinkviz.metrics.rope.rope_first_vs_rest` results.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from sinkviz.plots.style import COLORS, DIVERGING, GU_BASE, SEQUENTIAL, apply_style, index_label, legend_in_title_band

__all__ = ["qk_heatmaps", "qk_grid", "rope_planes_figure"]

_PANELS = {
    "dot": ("q·kᵀ", DIVERGING),
    "cos": ("cos(q, k)", DIVERGING),
    "norm_product": ("‖q‖‖k‖", SEQUENTIAL),
}


def _range(name: str, m: np.ndarray) -> tuple[float | None, float | None]:
    if name == "cos":
        return -1.0, 1.0
    finite = m[np.isfinite(m)]
    if finite.size == 0:
        return None, None
    if name == "dot":
        r = float(np.abs(finite).max()) or 1.0
        return -r, r
    return 0.0, float(finite.max())


def _colorbar_x(fig: go.Figure, row: int, col: int) -> float:
    sub = fig.get_subplot(row, col)
    return float(sub.xaxis.domain[1]) + 0.005


def _panel(fig: go.Figure, decomp, name: str, row: int, col: int, axis_id: int, n_rows: int, base: int) -> None:
    m = np.asarray(getattr(decomp, name), dtype=float)
    zmin, zmax = _range(name, m)
    label, scale = _PANELS[name]
    ca = "coloraxis" if axis_id == 1 else f"coloraxis{axis_id}"
    where = index_label(("query t", "key j"), ("%{y}", "%{x}"), base=base)
    fig.add_trace(go.Heatmap(z=m, x=np.arange(base, m.shape[1] + base), y=np.arange(base, m.shape[0] + base),
                             coloraxis=ca, hovertemplate=f"{where}<br>{label} = %{{z:.3f}}<extra></extra>"),
                  row=row, col=col)
    sub = fig.get_subplot(row, col)
    y0, y1 = sub.yaxis.domain
    fig.update_layout({ca: dict(colorscale=scale, cmin=zmin, cmax=zmax,
                                colorbar=dict(x=_colorbar_x(fig, row, col), y=(y0 + y1) / 2, len=(y1 - y0),
                                              thickness=10, xanchor="left", outlinewidth=1, outlinecolor="black",
                                              ticks="outside"))})
    fig.update_xaxes(showgrid=False, row=row, col=col, title_text=index_label("key j", base=base) if row == n_rows else None)
    fig.update_yaxes(showgrid=False, autorange="reversed", row=row, col=col)


def qk_heatmaps(decomp, *, panels: Sequence[str] = ("dot", "cos", "norm_product"), title: str | None = None,
                height: int = 360, width: int | None = None, base: int = GU_BASE) -> go.Figure:
    """Figure 2 (bottom): lower-triangular (t, j) heat-maps of q_t·k_j, cos(q_t, k_j) and ‖q_t‖‖k_j‖ for one
    (layer, head).  The paper's reading: toward the first key (column j = 1, 1-indexed) the cosine is high
    ("Sink") while the norm product is small ("No sink").  Positions are counted from ``base`` (1, the paper's;
    0 in the explorer) and the axes say so."""
    for p in panels:
        if p not in _PANELS:
            raise ValueError(f"unknown panel {p!r}; choose from {list(_PANELS)}")
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[_PANELS[p][0] for p in panels],
                        horizontal_spacing=0.11)
    for c, name in enumerate(panels, start=1):
        _panel(fig, decomp, name, 1, c, c, 1, base)
    fig.update_yaxes(title_text=index_label("query t", base=base), row=1, col=1)
    # Every panel has the same query axis: tick labels on the first only, so no colour bar overprints them.
    for c in range(2, len(panels) + 1):
        fig.update_yaxes(showticklabels=False, row=1, col=c)
    return apply_style(fig, title=title, height=height, width=width or 320 * len(panels) + 60)


def qk_grid(settings: Sequence[tuple[str, object]], *, panels: Sequence[str] = ("cos", "norm_product"),
            title: str | None = None, row_height: int = 260, base: int = GU_BASE) -> go.Figure:
    """Figures 15–18: rows = (layer, head) settings ``[(label, QKDecomposition), ...]``, columns = panels
    (cos and norm product by default), one colour bar per panel; positions counted from ``base`` (1, the
    paper's).  Name the settings with :func:`sinkviz.plots.style.index_label` at the same base."""
    if not settings:
        raise ValueError("settings is empty: pass [(label, QKDecomposition), ...]")
    rows = len(settings)
    titles = [f"{label}: {_PANELS[p][0]}" for label, _ in settings for p in panels]
    fig = make_subplots(rows=rows, cols=len(panels), subplot_titles=titles, horizontal_spacing=0.14,
                        vertical_spacing=min(0.12, 0.35 / rows))
    axis_id = 1
    for r, (_, decomp) in enumerate(settings, start=1):
        for c, name in enumerate(panels, start=1):
            _panel(fig, decomp, name, r, c, axis_id, rows, base)
            axis_id += 1
        fig.update_yaxes(title_text=index_label("query t", base=base), row=r, col=1)
        for c in range(2, len(panels) + 1):  # the same query axis: no tick labels for a colour bar to overprint
            fig.update_yaxes(showticklabels=False, row=r, col=c)
    return apply_style(fig, title=title, height=row_height * rows + 120, width=330 * len(panels) + 80)


def rope_planes_figure(series: Mapping[str, tuple[np.ndarray, np.ndarray]], *,
                       frequencies: np.ndarray | None = None, title: str | None = None,
                       height: int | None = None, width: int = 720, base: int = GU_BASE) -> go.Figure:
    """Per rotation plane: mean logit contribution toward the first key vs toward the other keys, one panel per
    label (e.g. per head): ``{label: (to_first (P,), to_rest (P,))}`` from
    :func:`sinkviz.metrics.rope.rope_first_vs_rest`.  Planes and keys are counted from ``base`` (1 by default,
    Gu et al.'s numbering: key 1 is the first token, plane 1 rotates fastest); name the panels with
    :func:`sinkviz.plots.style.index_label` at the same base.  ``frequencies`` (radians per position) go into
    the hover text.  A trailing "pass-through" entry (partial rotary) is labelled so."""
    labels = list(series)
    if not labels:
        raise ValueError("series is empty")
    fig = make_subplots(rows=len(labels), cols=1, subplot_titles=labels, shared_xaxes=True,
                        vertical_spacing=min(0.08, 0.3 / len(labels)))
    first_key = index_label("key", 0, base=base, tag=False)
    for r, label in enumerate(labels, start=1):
        first, rest = (np.asarray(v, dtype=float) for v in series[label])
        P = len(first)
        names = [str(i + base) for i in range(P)]
        if frequencies is not None and len(frequencies) == P - 1:
            names[-1] = "pass"
        hover = None
        if frequencies is not None:
            f = list(np.asarray(frequencies, dtype=float)) + [np.nan] * (P - len(frequencies))
            hover = [f"θ = {x:.3g} rad/pos" if np.isfinite(x) else "un-rotated dims" for x in f]
        fig.add_trace(go.Bar(x=names, y=first, name=f"toward {first_key} (the first)", marker_color=COLORS[1],
                             hovertext=hover, legendgroup="f", showlegend=r == 1), row=r, col=1)
        fig.add_trace(go.Bar(x=names, y=rest, name="toward the other keys (mean)",
                             marker_color=COLORS[0], hovertext=hover, legendgroup="r", showlegend=r == 1), row=r, col=1)
        fig.update_yaxes(title_text="logit part", row=r, col=1)
    exponent = "−2(i−1)/d" if base == 1 else "−2i/d"
    fig.update_xaxes(title_text=index_label("rotation plane i", base=base)
                     + f"; plane {base} rotates fastest, θᵢ = rope_theta^({exponent})", row=len(labels), col=1)
    fig.update_xaxes(type="category")  # plane numbers are labels: a numeric axis would drop "pass"
    fig.update_layout(barmode="group", bargap=0.15)
    legend_in_title_band(fig)
    return apply_style(fig, title=title, height=height or 200 * len(labels) + 140, width=width)
