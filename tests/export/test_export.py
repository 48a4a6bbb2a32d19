"""sinkviz.export: valid PNG/PDF/SVG/HTML files of the right size, atomic writes, no silent overwrite."""

from __future__ import annotations

import re
import struct
import xml.etree.ElementTree as ET

import importlib

import numpy as np
import plotly.graph_objects as go
import pytest

from sinkviz._files import atomic_write
from sinkviz.errors import InputError, MissingDependencyError
from sinkviz.plots.style import PAPER_FONT_FILE_FAMILY, paper_style
from sinkviz.widgets._figures import map_figure
from sinkviz.widgets._slices import head_map

# The module, not the function: sinkviz/__init__.py exports the function `export`, so `import sinkviz.export
# as E` would bind the function of the same name.
E = importlib.import_module("sinkviz.export")

# Chromium is installed by `make test`: a missing one fails the static-export tests, never skips them.


@pytest.fixture(scope="module")
def fig() -> go.Figure:
    n = 24
    rng = np.random.default_rng(0)
    a = np.tril(rng.random((n, n)))
    a[:, 0] += 4
    a /= a.sum(1, keepdims=True)
    view = head_map(a, ["<s>"] + [f" w{i}" for i in range(n - 1)], causal=True)
    return map_figure(view, "test map \u00b7 layer 1, head 2")


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def png_dpi(data: bytes) -> float | None:
    at = data.find(b"pHYs")
    if at < 0:
        return None
    ppm_x, _, unit = struct.unpack(">IIB", data[at + 4:at + 13])
    return ppm_x * 0.0254 if unit == 1 else None


def pdf_page_points(data: bytes) -> tuple[float, float]:
    assert data[:5] == b"%PDF-"
    boxes = re.findall(rb"/MediaBox\s*\[\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*\]", data)
    assert boxes, "no MediaBox in the PDF"
    x0, y0, x1, y1 = map(float, boxes[0])
    return x1 - x0, y1 - y0


def test_png_single_column_at_300_dpi(tmp_path, fig):
    out = E.export(fig, tmp_path / "map.png")
    data = out.read_bytes()
    w, h = png_size(data)
    assert w == round(3.25 * 300)  # 975 px: 3.25 in at 300 dpi
    assert h == w  # the map is square on screen; its aspect ratio is kept
    assert png_dpi(data) == pytest.approx(300, abs=0.01)


def test_png_double_column_custom_dpi_and_height(tmp_path, fig):
    out = E.export(fig, tmp_path / "wide.png", width="double", height=2.0, dpi=150)
    assert png_size(out.read_bytes()) == (round(6.75 * 150), round(2.0 * 150))


def test_pdf_page_is_the_column_width(tmp_path, fig):
    out = E.export(fig, tmp_path / "map.pdf", width=3.25)
    w_pt, h_pt = pdf_page_points(out.read_bytes())
    assert w_pt == pytest.approx(3.25 * 72, abs=1.0)
    assert h_pt == pytest.approx(3.25 * 72, abs=1.0)


def test_svg_parses_has_size_and_embedded_font(tmp_path, fig):
    out = E.export(fig, tmp_path / "map.svg", width="double")
    root = ET.fromstring(out.read_bytes())
    assert root.tag.endswith("svg")
    assert float(root.get("width")) == pytest.approx(6.75 * 96, abs=1)
    text = out.read_text()
    assert "DejaVu Serif" in text
    if E._font_file(PAPER_FONT_FILE_FAMILY) is not None:
        assert "@font-face" in text and "base64," in text


def test_html_is_standalone_and_offline(tmp_path, fig):
    out = E.export(fig, tmp_path / "map.html")
    html = out.read_text()
    assert "<html" in html and "Plotly.newPlot" in html
    assert not re.search(r"<script[^>]*\bsrc\s*=", html, re.I), "HTML must inline every script"
    assert not re.search(r"<link[^>]*href\s*=\s*[\"'](https?:)?//", html, re.I)
    assert len(html) > 1_000_000  # plotly.js itself is inlined


def test_refuses_to_overwrite_by_default(tmp_path, fig):
    target = tmp_path / "map.html"
    target.write_text("keep me")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        E.export(fig, target)
    assert target.read_text() == "keep me"
    E.export(fig, target, overwrite=True)
    assert "Plotly.newPlot" in target.read_text()


def test_failed_write_leaves_no_partial_file(tmp_path):
    def half_then_fail(fh):
        fh.write(b"partial bytes")
        raise RuntimeError("renderer died")

    with pytest.raises(RuntimeError, match="renderer died"):
        atomic_write(tmp_path / "x.png", half_then_fail, binary=True)
    assert list(tmp_path.iterdir()) == []


def test_failed_render_leaves_no_file(tmp_path, fig, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("kaleido failed")

    monkeypatch.setattr(E, "_render_static", boom)
    monkeypatch.setattr(E, "_require_chromium", lambda: "/usr/bin/chromium")
    with pytest.raises(RuntimeError, match="kaleido failed"):
        E.export(fig, tmp_path / "sub" / "map.pdf")
    assert list(tmp_path.rglob("*")) in ([], [tmp_path / "sub"])  # no file, no temporary left


def test_missing_chromium_is_named(tmp_path, fig, monkeypatch):
    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "no-such-chromium"))
    with pytest.raises(MissingDependencyError, match=r"Chromium.*apt-get install -y chromium"):
        E.export(fig, tmp_path / "map.png")
    assert not (tmp_path / "map.png").exists()
    # HTML needs no browser
    assert E.export(fig, tmp_path / "map.html").exists()


def test_bad_suffix_width_and_input(tmp_path, fig):
    with pytest.raises(InputError, match=r"\.png, \.pdf, \.svg, \.html"):
        E.export(fig, tmp_path / "map.gif")
    with pytest.raises(InputError, match="single"):
        E.export(fig, tmp_path / "map.html", width="triple")
    with pytest.raises(InputError, match="single"):
        paper_style(fig, "triple")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(InputError, match="plotly figure"):
        E.export(object(), tmp_path / "x.html")


def test_paper_style_sizes_in_inches(fig):
    styled = paper_style(fig, "single")
    assert styled.layout.width == round(3.25 * 96)
    assert styled.layout.font.size == pytest.approx(8 * 96 / 72)
    assert "serif" in styled.layout.font.family
    tall = paper_style(go.Figure(layout=dict(width=300, height=3000)), "single")
    assert tall.layout.height <= 9 * 96  # capped at a page
    raw = paper_style(fig, None, style=None)
    assert raw.layout.width == fig.layout.width and raw.layout.font.family == fig.layout.font.family


def test_png_dpi_chunk_is_valid():
    import zlib

    ihdr = struct.pack(">IIBBBBB", 2, 3, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    png = b"\x89PNG\r\n\x1a\n" + chunk + b"rest"
    out = E.png_with_dpi(png, 300)
    assert png_dpi(out) == pytest.approx(300, abs=0.01)
    at = out.find(b"pHYs")
    body = out[at:at + 13]
    assert struct.unpack(">I", out[at + 13:at + 17])[0] == zlib.crc32(body)


def test_unwritable_target_names_the_target_not_the_temporary_file(tmp_path, fig, monkeypatch):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(InputError) as err:
        E.export(fig, blocker / "map.html")  # its folder cannot be made: a file is in the way
    assert str(blocker / "map.html") in str(err.value) and ".part" not in str(err.value)

    import tempfile

    def denied(*args, **kwargs):  # as a read-only folder answers (root may write anywhere, so simulate it)
        raise PermissionError(13, "Permission denied", str(tmp_path / ".map.html.x1y2.part"))

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    with pytest.raises(InputError) as err:
        E.export(fig, tmp_path / "map.html")
    message = str(err.value)
    assert str(tmp_path / "map.html") in message and "Permission denied" in message and ".part" not in message
    assert "folder you can write to" in message


def test_explorer_export_button_reports_an_unwritable_path(tmp_path):
    import sinkviz
    from sinkviz.widgets.explorer import explore
    from tiny_models import save_tiny, text

    tr = sinkviz.trace(sinkviz.load(str(save_tiny("llama", tmp_path / "tiny")), device="cpu"), text(8))
    ex = explore(tr, layer=0, head=0)
    (tmp_path / "a_file").write_text("x")
    ex.export_path.value = str(tmp_path / "a_file" / "map.html")
    ex._export_clicked()
    assert "Export failed: InputError: Cannot write" in ex.error and ".part" not in ex.error


def _pdf_font_families(data: bytes) -> set[str]:
    """Families of the fonts a PDF embeds (/BaseFont /ABCDEF+Family-Style -> Family)."""
    names = re.findall(rb"/BaseFont\s*/(?:[A-Z]{6}\+)?([A-Za-z0-9]+)", data)
    return {n.decode().split("-")[0] for n in names}


def test_pdf_embeds_one_font_family_even_for_subscripts(tmp_path):
    fig = go.Figure(go.Scatter(x=[1, 2], y=[1, 2], name="α₁ ‖q‖‖k‖ ↵ ␣ Sinkₖ ε ≥ 0.3"))
    fig.update_layout(title="α₁ and Sink₁ (first-token importance) · ε = 0.3", xaxis_title="key j (1-indexed)",
                      showlegend=True, width=500, height=300)
    out = E.export(fig, tmp_path / "greek.pdf")
    families = _pdf_font_families(out.read_bytes())
    assert families == {"DejaVuSerif"}, families


def test_export_controls_hide_notes_and_selection_and_set_the_aspect(tmp_path, fig):
    from sinkviz.plots.style import NOTE_NAME

    noted = go.Figure(fig)
    noted.add_annotation(text="NOTE-TEXT", name=NOTE_NAME, xref="paper", yref="paper", x=0, y=0, showarrow=False)
    noted.add_trace(go.Scatter(x=[noted.data[0].x[2]], y=[noted.data[0].y[3]], name="selected", mode="markers"))
    kept = E.export(noted, tmp_path / "kept.html", plotlyjs="directory").read_text()  # no plotly.js in the text
    assert "NOTE-TEXT" in kept and '"selected"' in kept
    bare = E.export(noted, tmp_path / "bare.html", annotations=False, selection=False, plotlyjs="directory").read_text()
    assert "NOTE-TEXT" not in bare and '"selected"' not in bare
    out = E.export(noted, tmp_path / "wide.pdf", width="double", aspect=2.0)
    w_pt, h_pt = pdf_page_points(out.read_bytes())
    assert (w_pt, h_pt) == (pytest.approx(6.75 * 72, abs=1), pytest.approx(6.75 / 2 * 72, abs=1))
    with pytest.raises(InputError, match="aspect"):
        E.export(noted, tmp_path / "x.pdf", aspect=0)


def test_html_pages_can_share_one_plotlyjs(tmp_path, fig):
    first = E.export(fig, tmp_path / "a.html", plotlyjs="directory")
    second = E.export(fig, tmp_path / "b.html", plotlyjs="directory")
    shared = tmp_path / "plotly.min.js"
    assert shared.stat().st_size > 1_000_000
    for page in (first, second):
        text = page.read_text()
        assert len(text) < 200_000 and 'src="plotly.min.js"' in text
    with pytest.raises(InputError, match="plotlyjs"):
        E.export(fig, tmp_path / "c.html", plotlyjs="cdn")


def test_save_figure_writes_paper_style_png_and_pdf_by_default(tmp_path, monkeypatch):
    from sinkviz.plots.style import save_figure

    monkeypatch.delenv("SINKVIZ_FIGURE_FORMATS", raising=False)
    fig = go.Figure(go.Scatter(x=[0, 1], y=[0, 1]), layout=dict(width=900, height=450, title="Fig. α₁"))
    written = save_figure(fig, "fig 3", tmp_path)
    assert [p.name for p in written] == ["fig_3.png", "fig_3.pdf"]
    w_pt, h_pt = pdf_page_points((tmp_path / "fig_3.pdf").read_bytes())
    assert w_pt == pytest.approx(6.75 * 72, abs=1) and h_pt == pytest.approx(6.75 / 2 * 72, abs=1)  # double column
    assert _pdf_font_families((tmp_path / "fig_3.pdf").read_bytes()) == {"DejaVuSerif"}
    small = go.Figure(go.Scatter(x=[0, 1], y=[0, 1]), layout=dict(width=400, height=300))
    save_figure(small, "small", tmp_path, formats="pdf")
    assert pdf_page_points((tmp_path / "small.pdf").read_bytes())[0] == pytest.approx(3.25 * 72, abs=1)
    monkeypatch.setenv("SINKVIZ_FIGURE_FORMATS", "svg,html")
    written = save_figure(small, "small", tmp_path)
    assert [p.suffix for p in written] == [".svg", ".html"] and (tmp_path / "plotly.min.js").is_file()
    assert "DejaVu Serif" in (tmp_path / "small.svg").read_text()
    with pytest.raises(InputError, match="png, pdf, svg, html"):
        save_figure(small, "small", tmp_path, formats="gif")


def test_cli_figures_writes_a_pdf_beside_each_png(tmp_path, capsys, monkeypatch):
    import nbformat

    from sinkviz.cli import main

    monkeypatch.delenv("SINKVIZ_FIGURE_FORMATS", raising=False)
    folder = tmp_path / "nbs"
    folder.mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import plotly.graph_objects as go\nfrom sinkviz.plots.style import save_figure\n"
        "save_figure(go.Figure(go.Bar(x=[1, 2], y=[3, 1]), layout=dict(width=600, height=400)), 'demo')")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / "demo.ipynb")
    out = tmp_path / "figs"
    assert main(["figures", "--notebooks", str(folder), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["demo.pdf", "demo.png"]
    printed = capsys.readouterr().out
    assert f"Wrote {out / 'demo.pdf'}" in printed  # absolute paths
    assert main(["figures", "--notebooks", str(folder), "--out", str(out), "--formats", "svg,html"]) == 0
    assert {"demo.svg", "demo.html", "plotly.min.js"} <= {p.name for p in out.iterdir()}
    assert main(["figures", "--notebooks", str(folder), "--out", str(out), "--formats", "gif"]) == 2


def test_paper_style_thins_token_ticks_and_makes_room_for_titles():
    n = 300
    a = np.tril(np.ones((n, n)))
    view = head_map(a / a.sum(1, keepdims=True), [f" tok{i}" for i in range(n)], causal=True)
    screen = map_figure(view, "model<br>layer 1, head 2 · probabilities")
    paper = paper_style(screen, "single")
    assert len(paper.layout.xaxis.tickvals) < len(screen.layout.xaxis.tickvals)
    assert len(paper.layout.xaxis.tickvals) == len(paper.layout.xaxis.ticktext)
    px = 8 * 96 / 72
    assert paper.layout.margin.t >= 2 * px * 1.1 * 1.3  # two title lines fit above the plot
    assert paper.layout.title.yanchor == "top"


def test_cli_figures_leaves_the_callers_environment_alone(tmp_path, monkeypatch):
    """`sinkviz figures` sets the figure folder and formats for its kernels only (a leak made later notebook
    tests in the same process write SVG/HTML instead of PNG/PDF)."""
    import os

    from sinkviz.cli import main

    monkeypatch.delenv("SINKVIZ_FIGURES_DIR", raising=False)
    monkeypatch.setenv("SINKVIZ_FIGURE_FORMATS", "png,pdf")
    import nbformat

    (tmp_path / "nb").mkdir()
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]), tmp_path / "nb" / "a.ipynb")
    assert main(["figures", "--notebooks", str(tmp_path / "nb"), "--out", str(tmp_path / "out"),
                 "--formats", "svg"]) == 0
    assert "SINKVIZ_FIGURES_DIR" not in os.environ and os.environ["SINKVIZ_FIGURE_FORMATS"] == "png,pdf"
