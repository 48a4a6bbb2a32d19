"""The explorer's figures say where their counts start, once each, and their titles and notes fit (issues 12, 14).

On a tiny random LLaMA (3 layers x 4 heads, GQA): every tooltip, title and panel headline that carries a layer,
head or token index says "(0-indexed)" once; the QK headline is wrapped to the figure's width; the pooling note
sits between the title and the plot without touching either.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import sinkviz
from sinkviz.plots.style import NOTE_NAME, SCREEN_FONT_PX
from sinkviz.widgets import _figures, _panels
from sinkviz.widgets import explorer as explorer_mod
from sinkviz.widgets._canvas_widget import widget_module
from sinkviz.widgets.explorer import explore
from sinkviz.widgets.long_context import _strip_figure
from tiny_models import save_tiny, text

TAG = "(0-indexed)"


@pytest.fixture(scope="module")
def trace(tmp_path_factory):
    folder = save_tiny("llama", tmp_path_factory.mktemp("tiny") / "llama")
    tiny = sinkviz.load(str(folder), device="cpu")
    return sinkviz.trace(tiny, text(24), capture=explorer_mod.EXPLORER_CAPTURE)


def _plain_lines(title: str) -> list[tuple[str, float | None]]:
    """(text, font px or None for the title's own size) of each line of a plotly title."""
    lines, size = [], None
    for line in title.split("<br>"):
        opened = re.search(r"font-size:\s*(\d+(?:\.\d+)?)px", line)
        if opened:
            size = float(opened.group(1))
        lines.append((re.sub(r"<[^>]+>", "", line), size))
        if "</span>" in line:
            size = None
    return lines


def test_explorer_tooltips_and_titles_name_their_base_once(trace):
    ex = explore(trace, layer=1, head=2)  # the canvas renderer
    overview = ex.overview_figure()
    assert overview.data[0].hovertemplate.startswith("layer %{y}, head %{x} (0-indexed)<br>")
    ov = ex.overview_view.widget
    assert (ov.hover_y, ov.hover_x, ov.hover_tag) == ("layer", "head", TAG)
    assert "hover_tag" in widget_module()  # the canvas tooltip writes it after the column's index

    fig = ex.figure()
    assert fig.layout.title.text.count(TAG) == 1 and "layer 1, head 2, KV head 1 (0-indexed)" in fig.layout.title.text
    hover = fig.data[0].hovertemplate
    assert hover.count(TAG) == 1 and "key %{x} (0-indexed)" in hover
    assert ex.map_view.widget.hover_tag == TAG

    strip = _strip_figure(np.zeros(3), ["0 a", "1 b", "2 c"])  # the long-context explorer's row of key alphas
    assert strip.data[0].meta["hover_tag"] == TAG and strip.data[0].hovertemplate.count(TAG) == 1
    assert "key %{x} (0-indexed)" in strip.data[0].hovertemplate

    topology = _panels._topology(ex)
    assert topology.layout.title.text.startswith("layer 1, head 2 (0-indexed): persistence")
    qk = _panels._qk(ex)
    assert qk.layout.title.text.count(TAG) == 1 and qk.layout.title.text.startswith("layer 1, head 2 (0-indexed)")


def test_map_title_without_gqa_says_layer_and_head():
    view = type("View", (), {"values": "probabilities"})()
    assert _figures.map_title("m", 3, 5, view) == "m<br>layer 3, head 5 (0-indexed) \u00b7 probabilities"


@pytest.mark.parametrize("first", [None, {"cos": (-0.987654, -0.123456), "norm_product": (1.2e11, 9.8e10)}])
def test_qk_headline_lines_fit_the_figure(trace, monkeypatch, first):
    """Each line of the QK panel's title fits between the figure's margins, at a generous 0.55 em a character
    (Liberation Sans writes these lines at about 0.43 em): one line of about 105 characters ran off the right."""
    if first is not None:  # long numbers: the lines wrap further
        from sinkviz.metrics import qk as metrics

        monkeypatch.setattr(metrics, "qk_first_vs_rest", lambda decomp: first)
    ex = explore(trace, layer=2, head=3)
    fig = _panels._qk(ex)
    layout = fig.layout
    own, template = layout.margin, layout.template.layout.margin  # the screen template's, unless set
    width = layout.width - (own.l if own.l is not None else template.l) - (own.r if own.r is not None else template.r)
    title_px = layout.title.font.size or layout.template.layout.title.font.size
    lines = _plain_lines(layout.title.text)
    assert len(lines) >= (2 if first is None else 3)  # long numbers wrap onto a third line
    for line, size in lines:
        assert len(line) * _panels.CHAR_EM * (size or title_px) <= width, line
    # the title's lines and the subplot titles fit in the top margin (20 px a title line, as apply_style gives)
    assert layout.margin.t >= 80 + 20 * (len(lines) - 1)
    bottom = own.b if own.b is not None else template.b
    assert layout.height - layout.margin.t - bottom >= 200  # the maps keep their height


@pytest.mark.parametrize("display", ["pooled", "window"])
def test_map_note_sits_between_title_and_plot(trace, display):
    """The pooling (or window) note's box clears the title's last line: the title is pinned to the top edge (its
    first baseline one font size under the pad), the note stands on the plot's top edge. It once touched the
    second title line by about 6 px, in the screen figure and its HTML export."""
    ex = explore(trace, layer=1, head=1, max_display_tokens=16, display=display)
    layout = ex.figure().layout
    (note,) = [a for a in layout.annotations if a.name == NOTE_NAME]
    assert (note.yref, note.y, note.yanchor) == ("paper", 1, "bottom") and note.yshift > 0
    title = layout.title
    assert (title.yref, title.y, title.yanchor) == ("container", 1, "top")
    font = title.font.size or SCREEN_FONT_PX
    title_lines = title.text.count("<br>") + 1
    title_bottom = title.pad.t - font + title_lines * _figures.LINE_SPACING * font  # px under the top edge
    note_top = layout.margin.t - note.yshift - (note.text.count("<br>") + 1) * _figures.LINE_SPACING * note.font.size
    assert title_lines == 2 and note.text.count("<br>") == 1
    assert note_top - title_bottom >= 8
    assert title.pad.t - font >= 4  # the first line is not cut at the top edge


def test_map_without_note_keeps_its_title_off_the_plot(trace):
    layout = explore(trace, layer=0, head=0).figure().layout
    assert not [a for a in layout.annotations if a.name == NOTE_NAME]
    font = layout.title.font.size
    title_bottom = layout.title.pad.t - font + 2 * _figures.LINE_SPACING * font
    assert layout.margin.t - title_bottom >= 8
