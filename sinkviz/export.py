"""Paper-ready export of any sinkviz figure (or of the explorer's current view) to PNG, PDF, SVG or HTML.

    sinkviz.export(fig, "figures/sink_map.pdf")                 # single column (3.25 in), serif font
    sinkviz.export(explorer, "figures/l3h2.png", width="double")  # 6.75 in wide, 300 dpi
    sinkviz.export(fig, "figures/sink_map.html")                # standalone, opens offline

The format comes from the suffix:

* ``.png`` / ``.pdf`` / ``.svg`` are rendered by kaleido (>= 1), which drives a Chromium/Chrome browser:
  the same plotly.js that draws the figure in the notebook draws the file. kaleido's page is pointed at the
  plotly.js inside the plotly package and MathJax is off, so nothing is fetched from a CDN.
* ``.html`` is a standalone page with plotly.js inlined (no ``<script src=...>``); it opens offline. With
  ``plotlyjs="directory"`` the page loads ``plotly.min.js`` from its own folder instead, written there once,
  so a folder of figures holds one copy of plotly.js (what ``sinkviz figures`` writes).

Static files get the paper variant of :mod:`sinkviz.plots.style` (``style="paper"``, the default): the width
in inches (``"single"``, ``"double"`` or a number), 8 pt serif text (DejaVu Serif, one font for every glyph), white background. A PDF/SVG page then
measures exactly that width, and a PNG is rendered at ``dpi`` (300 -> 975 px for a single column).
Chromium embeds the font subset in PDFs; SVGs get the font inlined as an ``@font-face`` data URL when the
font file can be found (``fc-match``). ``style=None`` keeps the figure's own fonts and colours; a dict is
applied to the layout after the paper style.

Files go through :func:`sinkviz._files.atomic_write`, so a failed export leaves nothing behind, and an
existing file is kept unless ``overwrite=True``.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

from sinkviz._files import atomic_write
from sinkviz.errors import InputError, MissingDependencyError, OutputExistsError
from sinkviz.plots.style import CSS_DPI, NOTE_NAME, PAPER_FONT_FILE_FAMILY, paper_style, width_inches

__all__ = ["export", "find_chromium", "embed_svg_font", "png_with_dpi"]

STATIC_FORMATS = ("png", "pdf", "svg")
HTML_FORMATS = ("html", "htm")
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
INSTALL_HINT = (
    "Install it with `apt-get install -y chromium` (Debian/Ubuntu; `make setup` does this when run as root), "
    "or point the BROWSER_PATH environment variable at a Chrome/Chromium executable. "
    "HTML export (a path ending in .html) needs no browser."
)


# ---------------------------------------------------------------------------------------------
# finding the pieces


def find_chromium() -> str | None:
    """The browser kaleido will drive: $BROWSER_PATH if set, else chromium/chrome on PATH, else /usr/bin/chromium."""
    override = os.environ.get("BROWSER_PATH")
    if override:
        return override if os.access(override, os.X_OK) else None
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


def _require_chromium() -> str:
    path = find_chromium()
    if path is None:
        where = (f"BROWSER_PATH={os.environ['BROWSER_PATH']!r} is not an executable"
                 if os.environ.get("BROWSER_PATH") else f"none of {', '.join(CHROMIUM_NAMES)} is on PATH")
        raise MissingDependencyError(
            f"PNG/PDF/SVG export needs Chromium (or Chrome), which kaleido drives to render the figure, "
            f"and it was not found ({where}). {INSTALL_HINT}"
        )
    return path


def _require_kaleido():
    try:
        import kaleido
    except ImportError as exc:
        raise MissingDependencyError(
            "PNG/PDF/SVG export needs the package 'kaleido' (>= 1.0), which is not installed. "
            "Install it with `pip install 'kaleido>=1'`. HTML export needs no extra package."
        ) from exc
    return kaleido


def _local_plotlyjs() -> str:
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    return str(path)


# ---------------------------------------------------------------------------------------------
# figures


def _as_figure(obj: Any):
    """A go.Figure from a figure, a FigureWidget, a figure dict, or an object with `.figure()`."""
    import plotly.graph_objects as go
    from plotly.basedatatypes import BaseFigure

    if isinstance(obj, BaseFigure):
        return go.Figure(obj)
    if isinstance(obj, dict) and ("data" in obj or "layout" in obj):
        return go.Figure(obj)
    figure = getattr(obj, "figure", None)
    if callable(figure):
        return _as_figure(figure())
    raise InputError(
        f"export() takes a plotly figure, a figure dict or a sinkviz explorer; got {type(obj).__name__}."
    )


# ---------------------------------------------------------------------------------------------
# rendering


_server_lock = threading.Lock()
_server_for: str | None = None


def _kaleido_options(chromium: str) -> dict[str, Any]:
    return dict(path=chromium, mathjax=False, plotlyjs=_local_plotlyjs())


def _render_static(fig_dict: dict, fmt: str, width_px: int, height_px: int, scale: float) -> bytes:
    """Bytes of the figure as png/pdf/svg, rendered by kaleido in Chromium (one browser kept per process)."""
    global _server_for
    kaleido = _require_kaleido()
    chromium = _require_chromium()
    opts = dict(format=fmt, width=width_px, height=height_px, scale=scale)
    with _server_lock:
        try:
            if _server_for != chromium:
                if _server_for is not None:
                    kaleido.stop_sync_server(silence_warnings=True)
                kaleido.start_sync_server(silence_warnings=True, **_kaleido_options(chromium))
                _server_for = chromium
                import atexit

                atexit.register(_stop_server)
            return kaleido.calc_fig_sync(fig_dict, opts=opts)
        except Exception as first:  # a broken shared browser: one fresh browser for this export
            _stop_server()
            try:
                return kaleido.calc_fig_sync(fig_dict, opts=opts, kopts=_kaleido_options(chromium))
            except Exception as exc:
                name = type(exc).__name__
                if "ChromeNotFound" in name or "BrowserFailed" in name:
                    raise MissingDependencyError(f"kaleido could not start Chromium at {chromium}: {exc}. "
                                                 f"{INSTALL_HINT}") from exc
                raise RuntimeError(f"kaleido failed to render the figure as {fmt}: {name}: {exc}") from first


def _stop_server() -> None:
    global _server_for
    if _server_for is None:
        return
    try:
        import kaleido

        kaleido.stop_sync_server(silence_warnings=True)
    except Exception:  # pragma: no cover - shutting down anyway
        pass
    _server_for = None


def _font_file(family: str) -> Path | None:
    """The font file fontconfig resolves `family` to, when it really is that family."""
    if shutil.which("fc-match") is None:
        return None
    try:
        out = subprocess.run(["fc-match", "-f", "%{family}|%{file}", family], capture_output=True, text=True,
                             timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found_family, _, file = out.partition("|")
    if family.lower() not in found_family.lower() or not file or not Path(file).is_file():
        return None
    return Path(file)


def embed_svg_font(svg: bytes, family: str = PAPER_FONT_FILE_FAMILY) -> bytes:
    """Inline the font as an @font-face data URL so the SVG looks the same where the font is not installed."""
    file = _font_file(family)
    if file is None:
        return svg
    kind = "opentype" if file.suffix.lower() == ".otf" else "truetype"
    data = base64.b64encode(file.read_bytes()).decode("ascii")
    style = (f'<style>@font-face {{ font-family: "{family}"; '
             f'src: url(data:font/{file.suffix.lstrip(".").lower()};base64,{data}) format("{kind}"); }}</style>')
    text = svg.decode("utf-8")
    head_end = text.find(">", text.find("<svg")) + 1
    if head_end <= 0:
        return svg
    return (text[:head_end] + "<defs>" + style + "</defs>" + text[head_end:]).encode("utf-8")


def png_with_dpi(png: bytes, dpi: float) -> bytes:
    """Record the resolution in the PNG (a pHYs chunk right after IHDR), so layout programs size it right."""
    import struct
    import zlib

    if png[:8] != b"\x89PNG\r\n\x1a\n" or png[12:16] != b"IHDR" or b"pHYs" in png[:4096]:
        return png
    ihdr_end = 8 + 4 + 4 + 13 + 4
    ppm = int(round(float(dpi) / 0.0254))
    body = b"pHYs" + struct.pack(">IIB", ppm, ppm, 1)
    chunk = struct.pack(">I", 9) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
    return png[:ihdr_end] + chunk + png[ihdr_end:]


def _html(fig, plotlyjs: str = "inline") -> bytes:
    import plotly.io as pio

    config = {"displaylogo": False, "toImageButtonOptions": {"format": "svg"}}
    include = True if plotlyjs == "inline" else "directory"
    return pio.to_html(fig, include_plotlyjs=include, full_html=True, config=config, validate=False).encode("utf-8")


def _shared_plotlyjs(folder: Path) -> None:
    """plotly.min.js in `folder` (what pages written with plotlyjs="directory" load), written once per version."""
    source = Path(_local_plotlyjs())
    target = folder / "plotly.min.js"
    if not target.is_file() or target.stat().st_size != source.stat().st_size:
        atomic_write(target, source.read_bytes(), overwrite=True)


def _without_extras(fig, annotations: bool, selection: bool):
    """`fig` without sinkviz's notes/captions (annotations named NOTE_NAME) and/or the selection marker."""
    if not annotations:
        fig.layout.annotations = [a for a in fig.layout.annotations or () if a.name != NOTE_NAME]
    if not selection:
        fig.data = [t for t in fig.data if t.name != "selected"]
    return fig


# ---------------------------------------------------------------------------------------------
# writing


def export(
    figure_or_explorer: Any,
    path: str | os.PathLike,
    *,
    width: str | float | None = "single",
    height: float | None = None,
    dpi: int = 300,
    overwrite: bool = False,
    style: str | dict | None = "paper",
    aspect: float | None = None,
    annotations: bool = True,
    selection: bool = True,
    plotlyjs: str = "inline",
) -> Path:
    """Write a figure (or an explorer's current attention map) to `path`; the suffix picks the format.

    Args:
        figure_or_explorer: a plotly figure / FigureWidget / figure dict, or a sinkviz explorer (its current
            attention map is exported), or a bertviz view from `sinkviz.widgets.bertviz_view` (HTML only).
        path: ``*.png``, ``*.pdf``, ``*.svg`` or ``*.html``. Missing folders are created.
        width: "single" (3.25 in), "double" (6.75 in), a number of inches, or None for the figure's own size.
            Ignored for HTML, which keeps the figure's on-screen size.
        height: inches; default: width / ``aspect``, else the figure's aspect ratio, else 0.75 x width.
        dpi: resolution of PNG files (PDF and SVG are vector).
        overwrite: replace an existing file (default: refuse with `sinkviz.OutputExistsError`, a
            FileExistsError).
        style: "paper" (serif 8 pt, white), None (as the figure is), or a dict of layout settings applied last.
        aspect: width / height (e.g. 4/3) when no ``height`` is given.
        annotations: False leaves out sinkviz's notes and captions (e.g. "max-pooled ..."); subplot titles stay.
        selection: False leaves out the selection marker (the overview's outlined head).
        plotlyjs: for HTML, "inline" (standalone, ~4.8 MB) or "directory" (one shared plotly.min.js beside it).

    Returns the path written.
    """
    path = Path(path).expanduser()
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in STATIC_FORMATS + HTML_FORMATS:
        raise InputError(f"Cannot export to {path.name!r}: the suffix must be one of .png, .pdf, .svg, .html.")
    if path.is_dir():
        raise InputError(f"{path} is a folder; give a file name such as {path / 'figure.pdf'}.")
    if path.exists() and not overwrite:  # before rendering, which takes seconds
        raise OutputExistsError(f"{path} already exists; pass overwrite=True to replace it.")
    width_inches(width)  # validate early, whatever the format
    if not 30 <= int(dpi) <= 2400:
        raise InputError(f"dpi={dpi} is outside 30..2400.")
    if plotlyjs not in ("inline", "directory"):
        raise InputError(f"plotlyjs={plotlyjs!r}: use 'inline' (standalone page) or 'directory' (shared file).")

    to_html = getattr(figure_or_explorer, "to_html", None)
    if fmt in HTML_FORMATS and callable(to_html) and not hasattr(figure_or_explorer, "to_plotly_json"):
        return atomic_write(path, to_html(), overwrite=overwrite)  # e.g. a bertviz view
    fig = _without_extras(_as_figure(figure_or_explorer), annotations, selection)
    if fmt in HTML_FORMATS:
        if isinstance(style, dict):
            fig.update_layout(**style)
        if plotlyjs == "directory":
            _shared_plotlyjs(path.absolute().parent)
        return atomic_write(path, _html(fig, plotlyjs), overwrite=overwrite)

    _require_kaleido()
    _require_chromium()
    styled = paper_style(fig, width, height, style, aspect=aspect)
    width_px, height_px = int(styled.layout.width), int(styled.layout.height)
    scale = float(dpi) / CSS_DPI if fmt == "png" else 1.0
    data = _render_static(styled.to_plotly_json(), fmt, width_px, height_px, scale)
    if fmt == "svg" and style is not None:
        data = embed_svg_font(data)
    if fmt == "png":
        data = png_with_dpi(data, dpi)
    return atomic_write(path, data, overwrite=overwrite)
