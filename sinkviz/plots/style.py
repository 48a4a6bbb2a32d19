"""One paper style for every sinkviz figure (plotly template ``"sinkviz_paper"``) and small shared helpers.

Use it from any figure factory::

    from sinkviz.plots.style import apply_style, titled, SEQUENTIAL
    fig = go.Figure(...)
    apply_style(fig, title=titled("Sink vs T", model="smollm2-135m", setting="ε = 0.3, 20 texts"))

* white background, black mirrored axis lines with outside ticks, a light grid, sans-serif text sized for a
  two-column paper figure at 100 % zoom;
* Okabe–Ito colour cycle (colour-blind safe); :data:`SEQUENTIAL` for probabilities and scores,
  :data:`DIVERGING` (centred at 0) for signed quantities such as q·k;
* :func:`titled` puts the model and settings under the title, with a "scaled down" flag and the paper's value
  where the figure does not reproduce the paper's exact setting (COMMON.md rule for notebooks);
* :func:`save_figure` writes HTML (always) and PNG when the env var ``SINKVIZ_FIGURES_DIR`` (or a directory
  argument) says where, atomically.
"""
from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import plotly.graph_objects as go
import plotly.io as pio

__all__ = [
    "TEMPLATE_NAME",
    "COLORS",
    "SEQUENTIAL",
    "DIVERGING",
    "FONT_FAMILY",
    "apply_style",
    "titled",
    "add_caption",
    "legend_in_title_band",
    "save_figure",
    "paper_template",
]

TEMPLATE_NAME = "sinkviz_paper"
FONT_FAMILY = "Liberation Sans, Arial, DejaVu Sans, Helvetica, sans-serif"
#: Okabe–Ito palette (colour-blind safe), black last.
COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]
SEQUENTIAL = "Viridis"
DIVERGING = "RdBu_r"
_BASE_FONT = 13


def paper_template() -> go.layout.Template:
    """The plotly template behind every sinkviz figure."""
    axis = dict(
        showline=True, linecolor="black", linewidth=1, mirror=True, ticks="outside", ticklen=4,
        tickcolor="black", showgrid=True, gridcolor="#E5E5E5", zeroline=False, title=dict(standoff=6),
        automargin=True,
    )
    layout = go.Layout(
        font=dict(family=FONT_FAMILY, size=_BASE_FONT, color="black"),
        title=dict(font=dict(size=_BASE_FONT + 3), x=0.0, xanchor="left", xref="paper"),
        paper_bgcolor="white",
        plot_bgcolor="white",
        colorway=COLORS,
        xaxis=axis,
        yaxis=axis,
        legend=dict(bgcolor="rgba(255,255,255,0.8)", borderwidth=0, font=dict(size=_BASE_FONT - 1)),
        margin=dict(l=60, r=20, t=80, b=55),
        coloraxis=dict(colorbar=dict(outlinewidth=1, outlinecolor="black", ticks="outside", thickness=14)),
        hoverlabel=dict(font=dict(family=FONT_FAMILY)),
    )
    template = go.layout.Template(layout=layout)
    template.data.heatmap = [go.Heatmap(colorbar=dict(outlinewidth=1, outlinecolor="black", ticks="outside",
                                                      thickness=14))]
    template.data.scatter = [go.Scatter(line=dict(width=2), marker=dict(size=7))]
    return template


pio.templates[TEMPLATE_NAME] = paper_template()


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
    lines_: list[str] = []
    for part in parts:  # wrap the subtitle so it never runs past a narrow figure
        if lines_ and len(lines_[-1]) + 3 + len(part) <= wrap:
            lines_[-1] += " · " + part
        else:
            lines_.append(part)
    span = f"<span style='font-size:{_BASE_FONT - 1}px;color:#444'>"
    return "<br>".join([title] + [f"{span}{line}</span>" for line in lines_])


def apply_style(fig: go.Figure, *, title: str | None = None, width: int | None = None,
                height: int | None = None) -> go.Figure:
    """Apply the paper template (in place) and optionally set title and size; returns ``fig``."""
    fig.update_layout(template=TEMPLATE_NAME)
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


def add_caption(fig: go.Figure, text: str) -> go.Figure:
    """A caption line under the plot (paper-figure style), growing the bottom margin to fit."""
    lines = text.count("<br>") + 1
    bottom = 55 + 18 * lines
    fig.add_annotation(text=text, xref="paper", yref="paper", x=0.0, y=0.0, xanchor="left", yanchor="top",
                       yshift=-42, showarrow=False, align="left", font=dict(size=_BASE_FONT - 2, color="#333"))
    fig.update_layout(margin=dict(b=bottom))
    return fig


def _safe_name(name: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_.")
    if not stem:
        raise ValueError(f"figure name {name!r} has no usable characters")
    return stem


def _atomic_write(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_figure(fig: go.Figure, name: str, directory: str | os.PathLike | None = None, *,
                formats: tuple[str, ...] = ("html", "png"), scale: float = 2.0) -> list[Path]:
    """Write ``fig`` as ``<directory>/<name>.<fmt>`` for each format, atomically.

    ``directory`` defaults to the env var ``SINKVIZ_FIGURES_DIR``; with neither, nothing is written and ``[]`` is
    returned (so notebooks can call it unconditionally).  Static formats go through ``sinkviz.export`` when the
    package provides it, else plotly/kaleido (which needs Chromium: ``apt-get install chromium``).
    """
    target = directory if directory is not None else os.environ.get("SINKVIZ_FIGURES_DIR")
    if not target:
        return []
    folder = Path(target)
    folder.mkdir(parents=True, exist_ok=True)
    stem = _safe_name(name)
    written = []
    for fmt in formats:
        path = folder / f"{stem}.{fmt}"
        if fmt == "html":
            _atomic_write(path, lambda tmp: fig.write_html(tmp, include_plotlyjs=True, full_html=True))
        else:
            _atomic_write(path, lambda tmp, fmt=fmt: _write_static(fig, tmp, fmt, scale))
        written.append(path)
    return written


def _write_static(fig: go.Figure, tmp: str, fmt: str, scale: float) -> None:
    try:
        import sinkviz

        export = getattr(sinkviz, "export", None)
    except ImportError:  # pragma: no cover - sinkviz is always importable from here
        export = None
    if export is not None:  # the package's exporter picks the format from the file suffix; keep our size/style
        export(fig, tmp, width=None, style=None, overwrite=True)
        return
    fig.write_image(tmp, format=fmt, scale=scale)
