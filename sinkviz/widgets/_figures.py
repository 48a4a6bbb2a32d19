"""Plotly figures of the explorer: the layer x head overview and one head's attention map.

Each figure is built once as a `go.Figure`; later changes are small property patches (`map_patch`,
`selection_patch`) that a view (`_render`) applies: in place in the browser, or by re-rendering. Heat-map
values stay numpy float32 arrays here; each view chooses how they travel (raw bytes, typed-array spec).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go

from sinkviz.plots.style import EXPLORER_BASE, NOTE_NAME, SCREEN_FONT_PX, SEQUENTIAL, index_label
from sinkviz.widgets._slices import TICK_LABEL_CHARS, LabelDensity, MapSlice, short_label, tick_step

MAP_PX = 560
MAP_CANVAS_PX = 460
OVERVIEW_WIDTH_PX = 330
MAP_PLOT_PX = MAP_PX - 90 - 10  # the map's plot area (its width less the left and right margins)
#: What the canvas tooltip writes after its last index (``"layer: 3\nhead: 5 (0-indexed)"``), in index_label's
#: words, so that a tooltip says once where the explorer's counts start, as ``"layer 3, head 5 (0-indexed)"`` does.
HOVER_TAG = index_label("", base=EXPLORER_BASE).strip()

# The map's top margin, from the top edge down: the title (pinned to the top), a gap, the note (pooling, window;
# anchored to the plot's top edge), the plot. plotly sets a text's lines LINE_SPACING font sizes apart.
LINE_SPACING = 1.3
TITLE_PAD_PX = 6  # above the title's first line
NOTE_FONT_PX = 11
NOTE_YSHIFT_PX = 4  # between the note's last line and the plot
GAP_PX = 10  # between the title's last line and the note (or the plot)


def overview_figure(alpha: np.ndarray, layers: list[int], heads: list[int], selected: tuple[int, int],
                    title: str = "first-token importance \u03b1\u2081") -> go.Figure:
    """Heat-map of alpha_1 over (layer, head); the selected head is outlined. Click a cell to select it."""
    n_layers = len(layers)
    fig = go.Figure()
    fig.add_trace(go.Heatmap(
        z=np.asarray(alpha, dtype=np.float32), x=list(heads), y=list(layers), zmin=0.0, zmax=1.0,
        colorscale=SEQUENTIAL, colorbar=dict(title=dict(text="\u03b1\u2081"), thickness=10, len=0.9),
        hovertemplate=index_label(("layer", "head"), ("%{y}", "%{x}"), base=EXPLORER_BASE)
        + "<br>\u03b1\u2081 = %{z:.3f}<extra>click to select</extra>",
        xgap=1, ygap=1, name="alpha1",
        meta=dict(canvas=[max(120, 26 * len(heads)), max(160, min(520, 14 * n_layers))], hover_x="head",
                  hover_y="layer", hover_tag=HOVER_TAG, value_name="α₁", y_axis_width=28, x_axis_height=22,
                  tick_chars=6),
    ))
    fig.add_trace(go.Scatter(
        x=[selected[1]], y=[selected[0]], mode="markers", hoverinfo="skip", showlegend=False, name="selected",
        marker=dict(symbol="square-open", size=max(8, min(22, 380 // max(n_layers, 1))), color="#ff3b30",
                    line=dict(width=2.5, color="#ff3b30")),
    ))
    fig.update_layout(
        title=dict(text=title, font=dict(size=SCREEN_FONT_PX), x=0.02),
        width=OVERVIEW_WIDTH_PX, height=max(320, min(640, 130 + 16 * n_layers)),
        margin=dict(l=50, r=10, t=60, b=40),
        xaxis=dict(title=index_label("head", base=EXPLORER_BASE), tickmode="array", tickvals=list(heads),
                   constrain="domain", range=[min(heads) - 0.5, max(heads) + 0.5]),
        yaxis=dict(title=index_label("layer", base=EXPLORER_BASE), range=[max(layers) + 0.5, min(layers) - 0.5],
                   **(dict(tickmode="array", tickvals=list(layers)) if n_layers <= 12 else dict(tickmode="linear", tick0=0, dtick=5 if n_layers > 20 else 2))),
        clickmode="event", dragmode=False, plot_bgcolor="white",
    )
    return fig


def overview_title(model: str, n_tokens: int) -> str:
    """The overview's title: what it shows, then the model and the length of the text (two lines)."""
    return f"\u03b1\u2081 (first-token importance)<br>{model} \u00b7 {n_tokens} tokens"


def selection_patch(layer: int, head: int) -> dict[str, Any]:
    """Move the outline of the overview to (layer, head): a patch of trace 1."""
    return {"x": [head], "y": [layer]}


def map_title(model: str, layer: int, head: int, view: MapSlice, kv_head: int | None = None) -> str:
    """``"model<br>layer 3, head 5, KV head 1 (0-indexed) · probabilities"`` (the KV head only under GQA)."""
    names, indices = ("layer", "head"), (layer, head)
    if kv_head is not None:
        names, indices = names + ("KV head",), indices + (kv_head,)
    return f"{model}<br>{index_label(names, indices, base=EXPLORER_BASE)} \u00b7 {view.values}"


def _lines_px(text: str, font_px: float) -> float:
    """Height of a plotly text of `text`'s lines at `font_px`."""
    return (text.count("<br>") + 1) * LINE_SPACING * font_px


def map_top_margin(title: str, note: str) -> int:
    """Top margin of the map: the title's lines from TITLE_PAD_PX down, then the note's lines right above the plot,
    GAP_PX apart (the note once sat at the top of a fixed margin, and touched a two-line title's second line)."""
    note_px = _lines_px(note, NOTE_FONT_PX) + NOTE_YSHIFT_PX if note else 0.0
    return int(np.ceil(TITLE_PAD_PX + _lines_px(title, SCREEN_FONT_PX) + GAP_PX + note_px))


def _note_text(note: str) -> str:
    """One clause a line: the parenthesis on a line of its own."""
    return note.replace(" (", "<br>(")


def _axis_ticks(labels: list[str], density: LabelDensity) -> dict[str, Any]:
    """Tick values/texts of a category axis: every `tick_step`-th label, cut to TICK_LABEL_CHARS."""
    step = tick_step(len(labels), MAP_PLOT_PX, density)
    shown = labels[::step] if step else []
    return dict(tickmode="array", tickvals=shown, ticktext=[short_label(v) for v in shown], showticklabels=bool(step))


def map_patch(view: MapSlice, title: str, labels: LabelDensity = "auto") -> tuple[dict[str, Any], dict[str, Any]]:
    """(trace properties, layout properties) that turn the map figure into `view`; `labels` is the token-label
    density of the axes ("auto": as many as fit without overlapping; "all"; "none"; or every k-th)."""
    trace = dict(
        z=view.z, x=view.x_labels, y=view.y_labels, zmin=view.zmin, zmax=view.zmax,
        colorbar=dict(title=dict(text=view.colorbar_title)),
        hovertemplate=f"query %{{y}}<br>{index_label('key', '%{x}', base=EXPLORER_BASE)}<br>"
                      f"{view.hover_value} = %{{z:.4g}}<extra></extra>",
        meta=dict(canvas=[MAP_CANVAS_PX, MAP_CANVAS_PX], hover_x="key", hover_y="query", hover_tag=HOVER_TAG,
                  value_name=view.hover_value, y_axis_width=90, x_axis_height=80, tick_chars=TICK_LABEL_CHARS),
    )
    note = _note_text(view.note) if view.note else ""
    layout = dict(
        # The title is pinned to the top edge, so the margin below it is the note's (plotly anchors a multi-line
        # title's first baseline: the pad holds the first line).
        title=dict(text=title, yref="container", y=1, yanchor="top", pad=dict(t=TITLE_PAD_PX + SCREEN_FONT_PX)),
        # The note sits between the title and the plot, where no tick label can run into it.
        # (right-aligned, it may run left over the empty corner above the query labels; one clause a line).
        annotations=[dict(text=note, showarrow=False, xref="paper", yref="paper", x=1, y=1, yshift=NOTE_YSHIFT_PX,
                          xanchor="right", yanchor="bottom", align="right",
                          font=dict(size=NOTE_FONT_PX, color="#a0522d"), name=NOTE_NAME)] if note else [],
        margin=dict(t=map_top_margin(title, note)),
        xaxis=_axis_ticks(view.x_labels, labels),
        yaxis=_axis_ticks(view.y_labels, labels),
    )
    return trace, layout


def map_figure(view: MapSlice, title: str, labels: LabelDensity = "auto") -> go.Figure:
    """The attention map of one head: queries down, keys across, only visible entries drawn."""
    trace, layout = map_patch(view, title, labels)
    fig = go.Figure(go.Heatmap(colorscale=SEQUENTIAL, hoverongaps=False, name="attention", **trace))
    fig.update_layout(width=MAP_PX, height=MAP_PX, margin=dict(l=90, r=10, b=90), plot_bgcolor="white",
                      xaxis=dict(type="category", title=index_label("key", base=EXPLORER_BASE), tickangle=-60, tickfont=dict(size=9), constrain="domain"),
                      yaxis=dict(type="category", title=index_label("query", base=EXPLORER_BASE), autorange="reversed", tickfont=dict(size=9),
                                 scaleanchor="x", constrain="domain"))
    fig.update_layout(**layout)
    fig.update_layout(title=dict(font=dict(size=SCREEN_FONT_PX), x=0.02))
    return fig
