"""The one home of sinkviz's figure style: colours, fonts, sizes and column widths, for screen and for paper.

Two named variants share the colours:

* **screen** (plotly template ``"sinkviz_screen"``, applied by every figure factory through
  :func:`apply_style`): white background, black mirrored axis lines with outside ticks, a light grid,
  13 px sans-serif text, readable in a notebook at 100 % zoom;
* **paper** (:func:`paper_style`, what ``sinkviz.export`` applies to PNG/PDF/SVG files): the figure sized in
  inches, a single column (3.25 in) or a double column (6.75 in), with 8 pt serif text in ONE font, DejaVu Serif:
  it has every glyph sinkviz's figures use (α₁, Sinkₖ, ‖q‖, ↵, ␣), so a PDF embeds a single family (Liberation
  Serif, metric-compatible with Times, lacks the subscripts, and Chromium embedded a second font for them).
  Plotly lays figures out in CSS pixels, 96 per inch. Notebook figures written by :func:`save_figure` use it
  too, so they match ``sinkviz.export``.

Colours: the Okabe–Ito cycle (colour-blind safe); :data:`SEQUENTIAL` for probabilities and scores,
:data:`DIVERGING` (centred at 0) for signed quantities such as q·k. :func:`titled` puts the model and settings
under a title, with a "scaled down" flag and the paper's value where a figure does not reproduce the paper's
exact setting; :func:`save_figure` writes a notebook's figures into ``$SINKVIZ_FIGURES_DIR``.

Plotly is imported inside the functions: ``sinkviz.export`` reads the constants here on ``import sinkviz``.
"""
from __future__ import annotations

import math
import os
import re
import textwrap
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from sinkviz.errors import InputError

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = [
    "COLORS", "COLORS_EXTENDED", "SYMBOLS", "SEQUENTIAL", "DIVERGING", "TEMPLATE_NAME", "SCREEN_FONT", "SCREEN_FONT_PX", "PAPER_FONT",
    "PAPER_FONT_FILE_FAMILY", "PAPER_FONT_PT", "COLUMN_WIDTHS_IN", "CSS_DPI", "MAX_AUTO_HEIGHT_IN",
    "apply_style", "titled", "add_caption", "legend_in_title_band", "save_figure", "screen_template",
    "paper_style", "width_inches", "index_label", "GU_BASE", "RUSCIO_BASE", "EXPLORER_BASE", "NOTE_NAME",
    "figure_formats", "DEFAULT_FIGURE_FORMATS", "wrapped",
]

#: Okabe–Ito palette (colour-blind safe), black last.
COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]
#: COLORS and eight more (mostly from Paul Tol's muted scheme; no grey: the lab draws its controls in greys), for
#: figures with more than eight series (a repeated colour reads as the same run).
COLORS_EXTENDED = COLORS + ["#8C564B", "#6A3D9A", "#999933", "#882255", "#66A61E", "#117733", "#AA4499", "#661100"]
#: Marker shapes, one per series, so that series lying on the same values (several runs at 0 %) stay apart.
SYMBOLS = ("circle", "square", "diamond", "triangle-up", "cross", "x", "star", "triangle-down", "pentagon", "hexagon")
SEQUENTIAL = "Viridis"
DIVERGING = "RdBu_r"

# ---- the screen variant
TEMPLATE_NAME = "sinkviz_screen"
SCREEN_FONT = "Liberation Sans, Arial, DejaVu Sans, Helvetica, sans-serif"
SCREEN_FONT_PX = 13

# ---- the paper variant
PAPER_FONT = "DejaVu Serif, serif"
PAPER_FONT_FILE_FAMILY = "DejaVu Serif"  # the family whose font file an SVG export embeds
PAPER_FONT_PT = 8.0
COLUMN_WIDTHS_IN = {"single": 3.25, "double": 6.75}
CSS_DPI = 96.0  # plotly's pixels are CSS pixels
POINTS_PER_INCH = 72.0
MAX_AUTO_HEIGHT_IN = 9.0  # a tall on-screen figure is cut to a page


@lru_cache(maxsize=1)
def screen_template() -> go.layout.Template:
    """The plotly template of the screen variant, registered as :data:`TEMPLATE_NAME` on first use."""
    import plotly.graph_objects as go
    import plotly.io as pio

    axis = dict(
        showline=True, linecolor="black", linewidth=1, mirror=True, ticks="outside", ticklen=4,
        tickcolor="black", showgrid=True, gridcolor="#E5E5E5", zeroline=False, title=dict(standoff=6),
        automargin=True,
    )
    colorbar = dict(outlinewidth=1, outlinecolor="black", ticks="outside", thickness=14)
    layout = go.Layout(
        font=dict(family=SCREEN_FONT, size=SCREEN_FONT_PX, color="black"),
        title=dict(font=dict(size=SCREEN_FONT_PX + 3), x=0.0, xanchor="left", xref="paper"),
        paper_bgcolor="white",
        plot_bgcolor="white",
        colorway=COLORS,
        xaxis=axis,
        yaxis=axis,
        legend=dict(bgcolor="rgba(255,255,255,0.8)", borderwidth=0, font=dict(size=SCREEN_FONT_PX - 1)),
        margin=dict(l=60, r=20, t=80, b=55),
        coloraxis=dict(colorbar=colorbar),
        hoverlabel=dict(font=dict(family=SCREEN_FONT)),
    )
    template = go.layout.Template(layout=layout)
    template.data.heatmap = [go.Heatmap(colorbar=colorbar)]
    template.data.scatter = [go.Scatter(line=dict(width=2), marker=dict(size=7))]
    pio.templates[TEMPLATE_NAME] = template
    return template


def titled(title: str, *, model: str | None = None, setting: str | None = None, paper: str | None = None,
           scaled_down: bool | str = False, wrap: int = 80) -> str:
    """Title with a smaller second line naming the model and settings, e.g.
    ``titled("Fig. 3: Sink vs T", model="smollm2-135m", setting="20 texts", paper="GPT2-XL: 77 % at T=64",
    scaled_down=True)``.  ``scaled_down`` may be a string saying how; the second line wraps at ``wrap``
    characters."""
    parts = []
    if model:
        parts.append(model)
    if setting:
        parts.append(setting)
    if scaled_down:
        parts.append("scaled down" if scaled_down is True else f"scaled down: {scaled_down}")
    if paper:
        parts.append(f"paper: {paper}")
    lines: list[str] = []
    for part in parts:  # wrap the subtitle so it never runs past a narrow figure
        if lines and len(lines[-1]) + 3 + len(part) <= wrap:
            lines[-1] += " · " + part
        else:
            lines.append(part)
    span = f"<span style='font-size:{SCREEN_FONT_PX - 1}px;color:#444'>"
    return "<br>".join([title] + [f"{span}{line}</span>" for line in lines])


#: Annotations with this name are notes and captions (not subplot titles): ``sinkviz.export(...,
#: annotations=False)`` leaves them out.
NOTE_NAME = "sinkviz-note"

#: Where each kind of figure starts counting blocks/layers, heads, tokens: Gu et al. 2025 number blocks, heads and
#: tokens from 1 (Figs 15–24, "l = 5, h = 1", k = 1 the first token); Ruscio et al. 2025's results number layers
#: and heads from 0 ("Layer 0", "L0H3"); the explorer counts as Python does.
GU_BASE, RUSCIO_BASE, EXPLORER_BASE = 1, 0, 0


def index_label(name: str | Sequence[str], index: int | str | Sequence[int | str] | None = None, *, base: int,
                tag: bool = True) -> str:
    """How every sinkviz figure names an index, saying where the count starts.

    * ``index_label("block", base=1)`` → ``"block (1-indexed)"``, an axis title;
    * ``index_label("block", 17, base=1)`` → ``"block 18 (1-indexed)"``: an int is a 0-based Python index, shown
      counted from ``base``;
    * ``index_label(("block", "head"), (17, 7), base=1)`` → ``"block 18, head 8 (1-indexed)"``;
    * ``index_label("block", "%{y}", base=1)`` → ``"block %{y} (1-indexed)"``: a string (e.g. a plotly hover
      placeholder whose values the figure already counts from ``base``) is shown as it is;
    * ``tag=False`` leaves out the ``"(1-indexed)"`` (where the figure says it once elsewhere).
    """
    if base not in (0, 1):
        raise ValueError(f"base must be 0 (Python, Ruscio et al.) or 1 (Gu et al.); got {base!r}")
    names = [name] if isinstance(name, str) else list(name)
    if index is None:
        text = ", ".join(names)
    else:
        values = [index] if isinstance(index, (int, str)) or not isinstance(index, Sequence) else list(index)
        if len(values) != len(names):
            raise ValueError(f"{len(names)} names for {len(values)} indices")
        text = ", ".join(f"{n} {v if isinstance(v, str) else int(v) + base}" for n, v in zip(names, values))
    return f"{text} ({base}-indexed)" if tag else text


def apply_style(fig: go.Figure, *, title: str | None = None, width: int | None = None,
                height: int | None = None) -> go.Figure:
    """Apply the screen template (in place) and optionally set title and size; returns ``fig``."""
    fig.update_layout(template=screen_template())
    if title is not None:
        fig.update_layout(title_text=title)
    text = fig.layout.title.text or ""
    has_subplot_titles = any(a.text and a.yref == "paper" and (a.y or 0) >= 1.0 for a in fig.layout.annotations)
    top = 80 + 20 * text.count("<br>") + (18 if has_subplot_titles else 0)
    fig.update_layout(margin=dict(t=top))
    if width is not None or height is not None:
        fig.update_layout(width=width, height=height)
    return fig


def legend_in_title_band(fig: go.Figure) -> go.Figure:
    """Horizontal legend at the top right, in the band beside the (left-aligned) title, clear of the panels and
    their subplot titles."""
    fig.update_layout(legend=dict(orientation="h", xref="container", yref="container", x=0.99, xanchor="right",
                                  y=0.995, yanchor="top"))
    return fig


def add_caption(fig: go.Figure, text: str, *, y: float = 0.0) -> go.Figure:
    """A caption line under the plot (paper-figure style), growing the bottom margin to fit. ``y`` (plot heights,
    below 0 is under the plot) moves it lower, e.g. under a legend placed beneath the plot; the caller then sets the
    margin that holds both."""
    lines = text.count("<br>") + 1
    bottom = 55 + 18 * lines
    fig.add_annotation(text=text, xref="paper", yref="paper", x=0.0, y=y, xanchor="left", yanchor="top",
                       yshift=-42, showarrow=False, align="left", font=dict(size=SCREEN_FONT_PX - 2, color="#333"),
                       name=NOTE_NAME)
    fig.update_layout(margin=dict(b=bottom))
    return fig


# ---------------------------------------------------------------------------------------------------------
# the paper variant


def width_inches(width: str | float | None) -> float | None:
    """``"single"`` (3.25 in), ``"double"`` (6.75 in) or a number of inches; None keeps the figure's width."""
    if width is None:
        return None
    if isinstance(width, str):
        if width not in COLUMN_WIDTHS_IN:
            raise InputError(f"width={width!r}: use 'single' (3.25 in), 'double' (6.75 in) or a number of inches.")
        return COLUMN_WIDTHS_IN[width]
    value = float(width)
    if not 0.5 <= value <= 40:
        raise InputError(f"width={width!r} inches is implausible: give a width between 0.5 and 40 inches.")
    return value


def paper_style(fig: Any, width: str | float | None = "single", height: float | None = None,
                style: str | dict | None = "paper", *, aspect: float | None = None) -> go.Figure:
    """A copy of ``fig`` sized in inches (at 96 CSS px per inch) and, for ``style="paper"``, with 8 pt serif text.

    Height: ``height`` inches if given, else width / ``aspect`` (width:height, e.g. 4/3) if given, else the
    figure's own aspect ratio (layout width/height) when it has one, else 0.75 x width, at most
    :data:`MAX_AUTO_HEIGHT_IN`. ``style=None`` keeps the figure's fonts and colours; a dict is applied to the
    layout after the paper style.
    """
    import plotly.graph_objects as go

    if style is not None and not isinstance(style, dict) and style != "paper":
        raise InputError(f"style={style!r}: use 'paper', None (the figure as it is) or a dict of layout settings.")
    if aspect is not None and not 0.1 <= float(aspect) <= 10:
        raise InputError(f"aspect={aspect!r}: give width / height between 0.1 and 10 (e.g. 4/3, 1, 0.75).")
    fig = go.Figure(fig)
    own_w, own_h = fig.layout.width, fig.layout.height
    if aspect is not None and not height:
        w_in = width_inches(width) or (own_w or 700) / CSS_DPI
        height = w_in / float(aspect)
    w_px, h_px = _size_px(width_inches(width), height, own_w, own_h)
    fig.update_layout(width=round(w_px), height=round(h_px))
    if style is None:
        return fig
    auto_height = not height and aspect is None  # the height follows the content (legend rows, table rows)
    _paper_fonts(fig, shrink=(w_px / own_w) if own_w else 1.0, grow=auto_height)
    if auto_height:
        _fit_tables(fig, PAPER_FONT_PT * CSS_DPI / POINTS_PER_INCH)
    if isinstance(style, dict):
        fig.update_layout(**style)
    return fig


def _fit_tables(fig: go.Figure, px: float) -> None:
    """A table figure as tall as its rows once the cells wrap at the paper width (in place).

    Table rows keep their pixel height when a figure shrinks to a column, so the figure's own aspect ratio cut
    rows off at the bottom. Each cell's line count is estimated from its column's share of the width
    (``columnwidth`` weights) at about 0.55 em per character; the figure height is the sum of the rows.
    """
    tables = [t for t in fig.data if t.type == "table"]
    if len(tables) != 1:
        return
    table, layout = tables[0], fig.layout
    columns = [list(c) for c in (table.cells.values or ())]
    headers = list(table.header.values or ())
    if not columns:
        return
    weights = list(table.columnwidth) if table.columnwidth is not None else [1.0] * len(columns)
    inner = layout.width - (layout.margin.l or 0) - (layout.margin.r or 0)
    char_px = 0.55 * px
    capacity = [max(1, int(inner * w / sum(weights) / char_px) - 1) for w in weights]

    def lines(text: object, chars: int) -> int:
        parts = re.sub(r"<[^>b]*>|</?b>", "", str(text)).split("<br>")
        return sum(max(1, math.ceil(len(part) / chars)) for part in parts)

    line_px = 1.35 * px
    header_lines = max((lines(h, c) for h, c in zip(headers, capacity)), default=1)
    row_lines = [max(lines(col[r], c) for col, c in zip(columns, capacity)) for r in range(len(columns[0]))]
    table.header.height = line_px + px
    table.cells.height = line_px + px
    body = header_lines * line_px + px + sum(n * line_px + px for n in row_lines)
    fig.update_layout(height=round((layout.margin.t or 0) + (layout.margin.b or 0) + body + 2 * px))


def _size_px(w_in: float | None, height_in: float | None, own_w: float | None,
             own_h: float | None) -> tuple[float, float]:
    if w_in is None:
        return own_w or 700, (height_in * CSS_DPI) if height_in else (own_h or 500)
    w_px = w_in * CSS_DPI
    if height_in:
        return w_px, float(height_in) * CSS_DPI
    h_px = w_px * own_h / own_w if own_w and own_h else 0.75 * w_px
    return w_px, min(h_px, MAX_AUTO_HEIGHT_IN * CSS_DPI)


def _paper_fonts(fig: go.Figure, shrink: float, grow: bool = True) -> None:
    """Serif text at :data:`PAPER_FONT_PT`, white background, margins shrunk with the figure (in place); ``grow``
    lets a legend or captions beneath the plot make the figure taller instead of squeezing the plot (no height was
    asked)."""
    px = PAPER_FONT_PT * CSS_DPI / POINTS_PER_INCH
    margin = fig.layout.margin
    fig.update_layout(
        font=dict(family=PAPER_FONT, size=px, color="black"),
        title=dict(font=dict(family=PAPER_FONT, size=px * 1.1)),
        paper_bgcolor="white", plot_bgcolor="white",
        margin=dict(l=_scaled(margin.l, shrink, 40), r=_scaled(margin.r, shrink, 10),
                    t=_scaled(margin.t, shrink, 28), b=_scaled(margin.b, shrink, 36)),
    )
    # Axis titles and the legend carry the screen template's own sizes: set them, or they stay 13 px at 8 pt.
    fig.update_xaxes(automargin=True, tickfont=dict(size=px * 0.9), title_font=dict(size=px))
    fig.update_yaxes(automargin=True, tickfont=dict(size=px * 0.9), title_font=dict(size=px))
    fig.update_layout(legend=dict(font=dict(size=px * 0.95)))
    for annotation in fig.layout.annotations or ():
        annotation.font.size = px * 0.9
        annotation.font.family = PAPER_FONT
    fig.update_traces(colorbar=dict(thickness=8, tickfont=dict(size=px * 0.9)),
                      selector=lambda t: hasattr(t, "colorbar"))
    _title_band_legend_beneath(fig)
    _wrap_titles(fig, px)
    _room_for_titles(fig, px)
    _bottom_band_below_axis_titles(fig, px, grow)
    if grow and _room_between_panels(fig, px):
        _bottom_band_below_axis_titles(fig, px, grow)  # the legend and captions are placed by the figure's height
    _thin_listed_ticks(fig, px * 0.9)


def _legend_rows_px(fig: go.Figure, font_px: float) -> float:
    """The height of ``fig``'s horizontal legend once plotly wraps it at the figure's width, in px.

    As plotly.js lays it out within the plot area's width (the figure's for a legend placed on the container):
    each entry is max(1.3 lines, 16 px) + 3 px high; ungrouped entries that do not fit in one row each take the
    widest entry's width, so one long name puts fewer entries in each row; a legend group (e.g. a run's Sink_1
    and Sink_* entries) stacks its entries and is as wide as its widest; a row of groups is as high as its tallest
    group plus ``tracegroupgap``. Widths are estimated at 0.55 em a character plus the 40 px symbol."""
    groups: dict[str, list[str]] = {}
    for i, trace in enumerate(fig.data):
        if trace.showlegend is not False and trace.name:
            groups.setdefault(trace.legendgroup or f"#{i}", []).append(trace.name)
    if not groups:
        return 0.0
    grouped = any(t.legendgroup for t in fig.data)
    gap = (fig.layout.legend.tracegroupgap if fig.layout.legend.tracegroupgap is not None else 10) if grouped else 0
    item_px = max(1.3 * font_px, 16.0) + 3.0
    margin = fig.layout.margin
    available = fig.layout.width - (0 if fig.layout.legend.xref == "container" else (margin.l or 0) + (margin.r or 0))
    widths = [max(len(name) for name in names) * 0.55 * font_px + 40.0 + 0.5 * font_px for names in groups.values()]
    if not grouped:
        per_row = len(widths) if sum(widths) < available else max(1, int(available // max(widths)))
        return math.ceil(len(widths) / per_row) * item_px
    row_items, used, total = 0, 0.0, 0.0
    for names, width in zip(groups.values(), widths):
        if used and used + width > available:
            total += row_items * item_px + gap
            row_items, used = 0, 0.0
        used += width
        row_items = max(row_items, len(names))
    return total + row_items * item_px + gap


def _bottom_band_below_axis_titles(fig: go.Figure, px: float, grow: bool = True) -> None:
    """The band under the plot, at the figure's bottom edge below the x tick labels and axis title: a horizontal
    legend placed under the plot and the captions beneath it (either may be absent), with the bottom margin grown
    to hold them (in place). Placed as a fraction of the plot height, as on screen, the legend ran into the axis
    titles once the figure shrank to a column, and a caption's last line fell off the figure's bottom edge. With
    ``grow``, the figure grows taller where the legend would leave the plot less than half the height it was
    given."""
    legend = fig.layout.legend
    below = legend.orientation == "h" and legend.y is not None and legend.y < 0 and legend.yref != "container"
    legend_px = _legend_rows_px(fig, (legend.font.size or px) if legend.font else px) if below else 0.0
    # Captions under the plot (add_caption) were placed for the screen layout; at the paper size the legend takes
    # other rows and the fonts other heights, so they go beneath the axis title and any legend, stacked at the
    # figure's bottom edge.
    captions = [a for a in fig.layout.annotations or () if a.name == NOTE_NAME and (a.y or 0) <= 0]
    if not legend_px and not captions:
        return
    title_lines = max(((fig.layout[k].title.text or "").count("<br>") + 1 for k in fig.layout
                       if k.startswith("xaxis")), default=1)
    axis_px = (3.0 + title_lines) * px  # tick labels and the axis title's lines
    for annotation in captions:  # a screen caption's lines run past a column's width: wrap them
        chars = int((fig.layout.width - (fig.layout.margin.l or 0)) / (0.55 * (annotation.font.size or px)))
        annotation.text = wrapped(annotation.text or "", max(chars, 20))
    caption_px = [((a.text or "").count("<br>") + 1) * 1.35 * (a.font.size or px) + 0.3 * px for a in captions]
    below_legend_px = sum(caption_px)
    bottom = max(fig.layout.margin.b or 0, axis_px + legend_px + below_legend_px + px)
    height = fig.layout.height or 450
    top = fig.layout.margin.t or 0
    if grow and height - top - bottom < 0.5 * height:
        height = top + bottom + 0.5 * height
    height = round(height)
    fig.update_layout(height=height, margin=dict(b=bottom))
    if legend_px:
        legend_y = (below_legend_px + 0.3 * px) / height if captions else 0
        # plotly clips a horizontal legend at half the figure's height unless told its size
        fig.update_layout(legend=dict(yref="container", y=legend_y, yanchor="bottom", maxheight=legend_px + 2 * px))
    plot_px = height - top - bottom
    top_px = below_legend_px  # each caption's top, in px above the figure's bottom edge
    for annotation, own_px in zip(captions, caption_px):
        annotation.update(yref="paper", y=-(bottom - top_px) / plot_px, yanchor="top", yshift=0)
        top_px -= own_px


def _title_band_legend_beneath(fig: go.Figure) -> None:
    """A legend placed beside the title (:func:`legend_in_title_band`) goes under the plot (in place): at a column's
    width the title's lines fill the band and the legend printed over them."""
    legend = fig.layout.legend
    if legend.orientation == "h" and legend.yref == "container" and (legend.y or 0) > 0.9:
        fig.update_layout(legend=dict(xref="paper", x=0.0, xanchor="left", yref="paper", y=-0.1, yanchor="top"))


def wrapped(text: str, chars: int, font_px: float | None = None) -> str:
    """``text``'s lines wrapped at ``chars`` characters; a line that is one ``<span>`` (a :func:`titled` subtitle)
    keeps its span on every piece, at ``font_px`` where given. A line with other markup inside is left whole, so
    that no tag is cut in two. An equation ``T = 64`` stays on one line (a break before "= 64" read as a stray
    symbol)."""
    lines = []
    for line in text.split("<br>"):
        match = re.fullmatch(r"(<span[^>]*>)([^<]*)(</span>)", line)
        opening, inner, closing = match.groups() if match else ("", line, "")
        if font_px is not None:
            opening = re.sub(r"font-size:\s*[\d.]+px", f"font-size:{font_px:.1f}px", opening)
        if "<" in inner or len(inner) <= chars:
            lines.append(opening + inner + closing)
        else:
            glued = re.sub(r"(\S+) = (\S+)", "\\1\u00a0=\u00a0\\2", inner)  # textwrap breaks only at ASCII spaces
            lines += [opening + piece.replace("\u00a0", " ") + closing for piece in textwrap.wrap(glued, chars)]
    return "<br>".join(lines)


def _wrap_titles(fig: go.Figure, px: float) -> None:
    """The figure title and the x-axis titles wrapped at the paper width, the subtitle at the paper size (in place):
    at a column's width a screen title ran past the figure's right edge and an axis title past both. The title
    starts at the left margin of the figure, not of the plot, which long y tick labels push right once plotly
    fits its margins to them (the title then ran past the edge however it was wrapped)."""
    width = fig.layout.width or 700
    margin = fig.layout.margin
    plot_px = width - (margin.l or 0) - (margin.r or 0)
    if fig.layout.title.text:
        size = fig.layout.title.font.size or px
        left = margin.l or 0
        fig.update_layout(title=dict(xref="container", x=left / width, xanchor="left"))
        chars = max(int((width - left - px) / (0.58 * size)), 20)
        fig.update_layout(title_text=wrapped(fig.layout.title.text, chars, px))
    domains = []
    for name in [key for key in fig.layout if key.startswith("xaxis")]:
        axis = fig.layout[name]
        low, high = axis.domain or (0, 1)
        domains.append((low, high))
        if axis.title.text:
            chars = max(int((high - low) * plot_px / (0.58 * (axis.title.font.size or px))), 12)
            axis.title.text = wrapped(axis.title.text, chars)
    for annotation in _subplot_titles(fig):  # each over its own panel: wrapped at that panel's width
        x = annotation.x if annotation.x is not None else 0.5
        low, high = min((d for d in domains if d[0] - 1e-6 <= x <= d[1] + 1e-6), key=lambda d: d[1] - d[0],
                        default=(0, 1))
        chars = max(int((high - low) * plot_px / (0.58 * (annotation.font.size or px))), 12)
        annotation.text = wrapped(annotation.text, chars)


def _subplot_titles(fig: go.Figure) -> list:
    """The annotations make_subplots puts above each panel (not notes, captions or in-plot labels)."""
    return [a for a in fig.layout.annotations or () if a.text and a.name != NOTE_NAME and a.xref == "paper"
            and a.yref == "paper" and a.yanchor == "bottom" and not a.showarrow]


def _room_between_panels(fig: go.Figure, px: float) -> bool:
    """A figure tall enough that the gap between panels stacked one above the other holds the upper panel's x tick
    marks and the lower one's subplot title (in place): the gaps are fractions of the plot height, and at a column's
    width they shrank below a line of text, so the subplot titles ran into the panel above. Returns whether the
    figure grew."""
    domains = sorted({tuple(fig.layout[k].domain) for k in fig.layout
                      if k.startswith("yaxis") and fig.layout[k].domain and fig.layout[k].overlaying is None})
    gaps = [upper[0] - lower[1] for lower, upper in zip(domains, domains[1:]) if upper[0] - lower[1] > 0]
    lines = max(((a.text or "").count("<br>") + 1 for a in _subplot_titles(fig)), default=0)
    if not gaps or not lines:
        return False
    margin = fig.layout.margin
    needed_plot_px = (1.3 + 1.3 * lines) * px / min(gaps)  # tick marks, the subplot title's lines, a little air
    plot_px = (fig.layout.height or 450) - (margin.t or 0) - (margin.b or 0)
    if plot_px >= needed_plot_px:
        return False
    fig.update_layout(height=round((margin.t or 0) + (margin.b or 0) + needed_plot_px))
    return True


def _room_for_titles(fig: go.Figure, px: float) -> None:
    """A top margin that holds every title line above the subplot titles (shrinking the margins with the
    figure made paper titles touch their subplot titles)."""
    text = fig.layout.title.text or ""
    if not text:
        return
    above = [a.text for a in fig.layout.annotations or () if a.text and a.yref == "paper" and (a.y or 0) >= 1.0]
    band = max((t.count("<br>") + 1 for t in above), default=0)  # subplot titles or notes above the plot
    needed = (text.count("<br>") + 1) * px * 1.1 * 1.3 + band * px * 1.3 + (6 if band else 0) + 10
    if (fig.layout.margin.t or 0) < needed:
        fig.update_layout(margin=dict(t=needed))
    # The title at the top of the figure, not in the middle of its margin where it met what is above the plot.
    # (plotly anchors a multi-line title's first line, so the pad is one line high.)
    fig.update_layout(title=dict(yref="container", y=1.0, yanchor="top", pad=dict(t=px * 1.1 * 1.25)))


def _thin_listed_ticks(fig: go.Figure, font_px: float) -> None:
    """Category axes with listed ticks (e.g. an attention map's token labels) keep only every k-th tick, so that
    labels at least 1.3 lines apart fit the axis at the paper size."""
    layout = fig.layout
    margin = layout.margin

    def label_px(axis) -> float:  # how far the longest tick label reaches into the margin (automargin grows it)
        texts = axis.ticktext if axis.ticktext is not None else axis.tickvals or ()
        return max((len(str(t)) for t in texts), default=0) * 0.6 * font_px + font_px

    left = max(margin.l or 0, label_px(layout.yaxis) + 2 * font_px)
    bottom = max(margin.b or 0, label_px(layout.xaxis) * (0.87 if layout.xaxis.tickangle else 0.3) + 3 * font_px)
    plot = min(layout.width - left - (margin.r or 0) - 4 * font_px, layout.height - (margin.t or 0) - bottom)
    for axis, coord in ((layout.xaxis, "x"), (layout.yaxis, "y")):
        values = list(axis.tickvals) if axis.tickvals is not None else []
        categories = next((list(getattr(t, coord)) for t in fig.data if getattr(t, coord, None) is not None), [])
        if axis.tickmode != "array" or len(values) < 2 or not categories or values[1] not in categories:
            continue
        gap = categories.index(values[1]) - categories.index(values[0])
        spacing = max(plot, 1) * gap / len(categories)
        keep = math.ceil(1.3 * font_px / spacing) if spacing > 0 else 1
        if keep > 1:
            texts = list(axis.ticktext) if axis.ticktext is not None else values
            axis.update(tickvals=values[::keep], ticktext=texts[::keep])


def _scaled(value: float | None, factor: float, default: float) -> float:
    return max(4.0, (value if value is not None else default) * min(1.0, max(factor, 0.4)))


# ---------------------------------------------------------------------------------------------------------
# notebooks' figure files


def _safe_name(name: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_.")
    if not stem:
        raise ValueError(f"figure name {name!r} has no usable characters")
    return stem


#: Formats :func:`save_figure` writes when neither its caller nor ``$SINKVIZ_FIGURE_FORMATS`` says otherwise.
DEFAULT_FIGURE_FORMATS = ("png", "pdf")
#: Above this on-screen width (CSS px) a figure is written double-column wide, else single-column.
SINGLE_COLUMN_MAX_PX = 520


def figure_formats(formats: str | tuple[str, ...] | None = None) -> tuple[str, ...]:
    """The formats to write: ``formats`` (a tuple or "png,pdf,svg"), else ``$SINKVIZ_FIGURE_FORMATS``, else
    :data:`DEFAULT_FIGURE_FORMATS`. Raises InputError for a format sinkviz cannot write."""
    chosen = formats if formats is not None else os.environ.get("SINKVIZ_FIGURE_FORMATS") or DEFAULT_FIGURE_FORMATS
    if isinstance(chosen, str):
        chosen = tuple(part.strip().lower().lstrip(".") for part in chosen.split(",") if part.strip())
    unknown = [f for f in chosen if f not in ("png", "pdf", "svg", "html")]
    if unknown or not chosen:
        raise InputError(f"figure formats {list(chosen)!r}: choose from png, pdf, svg, html (e.g. 'png,pdf,svg').")
    return tuple(dict.fromkeys(chosen))


def save_figure(fig: go.Figure, name: str, directory: str | os.PathLike | None = None, *,
                formats: str | tuple[str, ...] | None = None, width: str | float | None = "auto",
                dpi: int = 300) -> list[Path]:
    """Write ``fig`` as ``<directory>/<name>.<fmt>`` for each format through ``sinkviz.export`` (atomically,
    replacing older files), in the paper variant, so notebook figures and ``sinkviz.export`` files match.

    ``formats`` defaults to ``$SINKVIZ_FIGURE_FORMATS`` (e.g. "png,pdf,svg,html"), else PNG and vector PDF.
    HTML files share one ``plotly.min.js`` in the folder instead of inlining 4.8 MB each. ``width``: "auto"
    (single column up to :data:`SINGLE_COLUMN_MAX_PX` on screen, else double), "single", "double" or inches.
    ``directory`` defaults to ``$SINKVIZ_FIGURES_DIR``; with neither, nothing is written and ``[]`` is returned
    (so notebooks can call it unconditionally). PNG/PDF/SVG need Chromium (``apt-get install chromium``).
    """
    from sinkviz.export import export  # export applies this module's paper variant; imported when used

    target = directory if directory is not None else os.environ.get("SINKVIZ_FIGURES_DIR")
    if not target:
        return []
    stem = _safe_name(name)
    if width == "auto":
        own = fig.layout.width
        width = "single" if own is not None and own <= SINGLE_COLUMN_MAX_PX else "double"
    return [export(fig, Path(target) / f"{stem}.{fmt}", width=width, dpi=dpi, overwrite=True, plotlyjs="directory")
            for fmt in figure_formats(formats)]
