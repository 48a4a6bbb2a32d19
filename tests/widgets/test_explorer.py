"""The explorer widget on a tiny random LLaMA (3 layers x 4 heads, GQA): state, errors, renderers, export."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

import sinkviz
from sinkviz.widgets import explorer as explorer_mod
from sinkviz.widgets._render import CanvasView, FigureWidgetView, OutputView, PlotlyWidgetView, anywidget_available
from sinkviz.widgets.explorer import Explorer, explore
from tiny_models import save_tiny, text


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = save_tiny("llama", tmp_path_factory.mktemp("tiny") / "llama")
    return sinkviz.load(str(folder), device="cpu")


@pytest.fixture(scope="module")
def trace(tiny):
    return sinkviz.trace(tiny, text(24), capture=explorer_mod.EXPLORER_CAPTURE)


def map_state(ex: Explorer) -> tuple[str, np.ndarray]:
    fig = ex.map_view.current()
    return fig.layout.title.text, np.asarray(fig.data[0].z, dtype=float) if not isinstance(fig.data[0].z, dict) \
        else _decode(fig.data[0].z)


def _decode(spec: dict) -> np.ndarray:
    import base64

    shape = tuple(int(s) for s in str(spec["shape"]).split(","))
    return np.frombuffer(base64.b64decode(spec["bdata"]), dtype=spec["dtype"]).reshape(shape).astype(float)


def test_one_call_builds_a_widget_with_overview_and_map(tiny):
    ex = explore(tiny, text(24))
    assert ex.error is None, ex.status.value
    assert ex.trace.n_tokens() == len(ex.trace.tokens[0])
    assert ex.alpha.shape == (3, 4)
    title, z = map_state(ex)
    assert f"layer {ex.layer}, head {ex.head}" in title
    n = ex.trace.n_tokens()
    assert z.shape == (n, n)
    expected = ex.trace.attention(ex.layer, ex.head)
    lower = np.tril_indices(n)
    np.testing.assert_allclose(z[lower], expected[lower], rtol=1e-6)
    assert np.isnan(z[np.triu_indices(n, 1)]).all()
    # the default selection is the head with the largest alpha_1
    assert ex.alpha[ex.layer, ex.head] == pytest.approx(np.nanmax(ex.alpha))


def test_overview_is_alpha1_of_the_trace(trace):
    from sinkviz.metrics.sink import importance_scores

    ex = explore(trace)
    for layer in trace.layers:
        np.testing.assert_allclose(ex.alpha[layer], importance_scores(trace.attention_stack(0)[layer], causal=True)[:, 0],
                                   rtol=1e-5)


def test_sliders_and_clicks_reslice_without_a_forward_pass(trace, monkeypatch):
    ex = explore(trace, layer=0, head=0)
    monkeypatch.setattr(sinkviz, "trace", lambda *a, **k: pytest.fail("a forward pass ran on a selection change"))
    before = map_state(ex)
    ex.layer_slider.value = 2
    title, z = map_state(ex)
    assert "layer 2, head 0" in title and (ex.layer, ex.head) == (2, 0)
    assert not np.allclose(np.nan_to_num(z), np.nan_to_num(before[1]))
    ex._on_overview_click(3, 1)  # click on head 3 of layer 1 (x = head, y = layer)
    assert (ex.layer, ex.head) == (1, 3)
    assert (ex.layer_slider.value, ex.head_slider.value) == (1, 3)
    overview = ex.overview_figure()
    assert list(overview.data[1].x) == [3] and list(overview.data[1].y) == [1]
    assert "layer 1, head 3, KV head 1 (0-indexed)" in map_state(ex)[0]


def test_logits_toggle_uses_trace_logits(trace):
    ex = explore(trace, layer=1, head=2)
    ex.values_toggle.value = "logits"
    title, z = map_state(ex)
    assert "logits" in title
    expected = trace.logits(1, 2)
    lower = np.tril_indices(trace.n_tokens())
    np.testing.assert_allclose(z[lower], expected[lower], rtol=1e-5)


def test_errors_are_shown_and_the_explorer_stays_usable(tiny, tmp_path):
    ex = explore(tiny, text(12), layer=0, head=0)
    assert ex.select(layer=7) is False
    assert "Layer 7 is out of range" in ex.error and "0..2" in ex.error
    assert ex.select(head=-1) is False and "Head -1 is out of range" in ex.error
    assert ex.set_input("   ") is False and "empty" in ex.error
    assert ex.set_input("some text", str(tmp_path / "missing-model")) is False
    assert "ModelNotFoundError" in ex.error
    assert ex.loaded is tiny and ex.trace is not None  # still the old model and trace
    assert ex.select(layer=2, head=1) is True and ex.error is None
    assert "layer 2, head 1" in map_state(ex)[0]
    assert ex.set_input(text(30)) is True
    assert ex.trace.n_tokens() > 12


def test_too_long_text_error_is_shown(tiny, monkeypatch):
    ex = explore(tiny, text(6))
    monkeypatch.setattr("sinkviz.capture.available_memory_bytes", lambda device: 1024)  # nothing fits
    assert ex.set_input(text(40)) is False
    assert "AttentionTooLargeError" in ex.error
    assert ex.trace.n_tokens() < 40  # the old trace is kept


def test_explorer_without_model_says_what_to_do():
    ex = Explorer()
    assert ex.trace is None and "press Trace" in ex.status.value
    assert ex.select(0, 0) is False and "Nothing traced" in ex.error


def test_long_input_is_pooled_and_says_so(trace):
    ex = explore(trace, max_display_tokens=16)
    n = trace.n_tokens()
    assert n > 16
    fig = ex.figure()
    notes = [a.text for a in fig.layout.annotations]
    assert notes and "max-pooled" in notes[0] and str(n) in notes[0]
    assert np.asarray(fig.data[0].z).shape == (int(np.ceil(n / int(np.ceil(n / 16)))),) * 2
    ex_window = explore(trace, max_display_tokens=16, display="window")
    assert ex_window.window_slider.layout.display is None  # the window slider is shown
    ex_window.window_slider.value = 3
    fig = ex_window.figure()
    assert np.asarray(fig.data[0].z).shape == (16, 16)
    assert fig.data[0].x[0].startswith("3 ") and "window" in fig.layout.annotations[0].text


VIEWS = {"output": OutputView, "figurewidget": FigureWidgetView, "anywidget": PlotlyWidgetView, "canvas": CanvasView}


@pytest.mark.parametrize("render", sorted(VIEWS))
def test_every_renderer(trace, render):
    assert render == "output" or anywidget_available(), "anywidget is a declared dependency"
    ex = explore(trace, render=render, layer=0, head=0)
    assert isinstance(ex.map_view, VIEWS[render])
    ex.select(2, 3)
    assert "layer 2, head 3" in map_state(ex)[0]
    assert len(ex.update_seconds) >= 2


def test_export_of_the_explorer_writes_its_current_map(trace, tmp_path):
    from sinkviz.export import export

    ex = explore(trace, layer=1, head=1)
    out = export(ex, tmp_path / "map.html")
    assert "layer 1, head 1" in out.read_text()
    ex.export_path.value = str(tmp_path / "button.html")
    ex._export_clicked()
    assert (tmp_path / "button.html").exists() and "Wrote" in ex.status.value
    ex._export_clicked()  # exists now, overwrite unchecked -> error shown, file kept
    assert "already exists" in ex.error
    assert isinstance(ex.figure(), go.Figure)


def test_panels_open_lazily_and_never_break_the_explorer(trace):
    ex = explore(trace, layer=0, head=0)
    assert ex.panels.widget.selected_index is None
    for index in range(len(ex.panels.panels)):
        ex.panels.widget.selected_index = index  # each panel: a figure, or a message saying what is missing
        assert ex.panels._shown[index][1:] in ((0, 0), (0, None))
    ex.select(1, 2)
    assert ex.panels._shown[ex.panels.widget.selected_index][1] == 1


def test_plotly_widget_sends_values_as_bytes_and_reports_clicks(trace):
    ex = explore(trace, layer=1, head=2, render="anywidget")
    w = ex.map_view.widget
    n = trace.n_tokens()
    assert w.z_shape == [n, n] and len(w.z) == 4 * n * n
    z = np.frombuffer(w.z, dtype="<f4").reshape(n, n)
    lower = np.tril_indices(n)
    np.testing.assert_allclose(z[lower], trace.attention(1, 2)[lower], rtol=1e-6)
    assert "z" not in w.spec["data"][0] and "layer 1, head 2" in w.spec["layout"]["title"]["text"]
    revision = w.revision
    ex.select(2, 0)
    assert w.revision == revision + 1
    overview = ex.overview_view.widget
    overview._on_custom_msg(overview, {"event": "click", "x": 3, "y": 0}, [])  # as the front end sends it
    assert (ex.layer, ex.head) == (0, 3)


def test_canvas_view_state(trace):
    ex = explore(trace, layer=1, head=2)  # the default renderer
    assert isinstance(ex.map_view, CanvasView) and isinstance(ex.overview_view, CanvasView)
    w = ex.map_view.widget
    n = trace.n_tokens()
    assert w.shape == [n, n] and len(w.z) == 4 * n * n
    z = np.frombuffer(w.z, dtype="<f4").reshape(n, n)
    lower = np.tril_indices(n)
    np.testing.assert_allclose(z[lower], trace.attention(1, 2)[lower], rtol=1e-6)
    assert np.isnan(z[np.triu_indices(n, 1)]).all()
    assert w.x_labels[0].startswith("0 ") and len(w.y_labels) == n
    assert "layer 1, head 2" in w.title and (w.zmin, w.zmax) == (0.0, 1.0)
    assert (w.hover_x, w.hover_y, w.hover_tag, w.value_name) == ("key", "query", "(0-indexed)", "weight")
    ov = ex.overview_view.widget
    assert ov.shape == [3, 4] and ov.selected == [1, 2] and ov.x_values == [0, 1, 2, 3]
    ov._on_custom_msg(ov, {"event": "click", "x": 3, "y": 2}, [])  # as the front end reports a click
    assert (ex.layer, ex.head) == (2, 3) and ov.selected == [2, 3]
    ex.values_toggle.value = "logits"
    assert w.value_name == "logit" and w.zmin < 0 < w.zmax


# ---------------------------------------------------------------------------- issue 14: daily use


def test_selection_is_kept_across_new_texts_and_models(tiny, tmp_path_factory):
    ex = explore(tiny, text(12), layer=2, head=1)
    assert ex.set_input(text(30)) is True
    assert (ex.layer, ex.head) == (2, 1) and "layer 2, head 1" in map_state(ex)[0]
    assert "Kept layer 2, head 1" in ex.status.value
    ex.select(1, 3)
    bert = sinkviz.load(str(save_tiny("bert", tmp_path_factory.mktemp("bert") / "bert")), device="cpu")
    assert ex.set_input(text(20), bert) is True  # 3 layers x 4 heads as well: still valid
    assert (ex.layer, ex.head) == (1, 3)
    # a trace of fewer layers: the kept layer is not there, so the head with the largest alpha_1 is shown
    assert ex.set_input(text(20), tiny, layers="0") is True
    assert ex.trace.layers == [0] and ex.layer == 0
    assert ex.alpha[ex.trace.layers.index(ex.layer), ex.head] == pytest.approx(np.nanmax(ex.alpha))
    # an explicit layer/head still wins over the kept one
    assert ex.set_input(text(22), tiny, layers="all", layer=0, head=2) is True
    assert (ex.layer, ex.head) == (0, 2)


def test_out_of_range_layer_or_head_is_a_clear_error(trace, tiny):
    from sinkviz.errors import InputError

    with pytest.raises(InputError, match=r"layer=40 is out of range: this trace has layers 0\.\.2"):
        explore(trace, layer=40)
    with pytest.raises(InputError, match=r"head=9 is out of range: this trace has heads 0\.\.3"):
        explore(tiny, text(8), head=9)
    ex = explore(trace, layer=1, head=1)
    assert ex.set_input(text(9), layer=40) is True  # the Trace worked; the bad layer is reported, not shown
    assert "layer=40 is out of range" in ex.error and ex.layer in trace.layers


def test_trace_accessors_say_what_is_out_of_range(trace):
    with pytest.raises(IndexError, match=r"Hidden state 31 is out of range: this trace has hidden states 0\.\.3"):
        trace.hidden(31)
    with pytest.raises(IndexError, match="Hidden state -1 is out of range"):
        trace.hidden(-1)
    assert trace.hidden(3).shape == (trace.n_tokens(), 32)
    with pytest.raises(IndexError, match=r"KV head 5 is out of range: the model has KV heads 0\.\.1"):
        trace.key(0, 5)
    with pytest.raises(IndexError, match="Layer 40 is out of range"):
        trace.attention(40, 0)


def test_a_failed_trace_greys_out_the_map_and_disables_export(tiny, tmp_path):
    ex = explore(tiny, text(12), layer=1, head=1)
    assert not ex.stale and not ex.export_button.disabled
    assert "sinkviz-stale" not in ex.maps_box._dom_classes
    assert ex.set_input("some text", str(tmp_path / "missing-model")) is False
    assert ex.stale and ex.export_button.disabled
    assert "sinkviz-stale" in ex.maps_box._dom_classes
    assert "the last Trace failed" in ex.stale_note.value and ex.stale_note.layout.display is None
    with pytest.raises(sinkviz.SinkvizError, match="previous input"):
        ex.figure()
    ex.export_path.value = str(tmp_path / "stale.html")
    ex._export_clicked()
    assert not (tmp_path / "stale.html").exists() and "previous input" in ex.error
    assert ex.select(2, 0) is True and ex.stale  # the old trace can still be browsed, still greyed out
    assert ex.set_input(text(14)) is True
    assert not ex.stale and not ex.export_button.disabled
    assert "sinkviz-stale" not in ex.maps_box._dom_classes and ex.stale_note.layout.display == "none"
    ex.export_path.value = str(tmp_path / "fresh.html")
    ex._export_clicked()
    assert (tmp_path / "fresh.html").exists()


def test_export_is_off_until_something_is_traced():
    ex = Explorer()
    assert ex.export_button.disabled and not ex.stale


def test_log10_is_disabled_in_logits_mode(trace):
    ex = explore(trace, layer=1, head=1)
    assert not ex.scale_toggle.disabled
    ex.values_toggle.value = "logits"
    assert ex.scale_toggle.disabled
    ex.values_toggle.value = "probabilities"
    assert not ex.scale_toggle.disabled
    ex.scale_toggle.value = "log10"
    assert "log10" in ex.map_view.widget.colorbar_title


def test_model_menu_lists_registry_and_cache_and_takes_a_folder(tiny, monkeypatch):
    from sinkviz.widgets import _model_menu

    monkeypatch.setattr("sinkviz.models.cached_hub_models", lambda: ["org/cached-model"])
    ex = Explorer()
    menu = ex.model_menu
    values = [value for _, value in menu.dropdown.options]
    assert values[:2] == ["smollm2-135m", "minilm-l6"] and "org/cached-model" in values
    assert values[-1] == _model_menu.OTHER and menu.other.layout.display == "none"
    assert menu.value == "smollm2-135m"
    menu.dropdown.value = _model_menu.OTHER  # "folder or hub id..." shows the text box
    assert menu.other.layout.display is None
    folder = tiny.name
    menu.other.value = folder
    assert menu.value == folder
    ex.text_box.value = text(10)
    ex.run_button.click()
    assert ex.error is None and ex.trace is not None
    assert menu.dropdown.value == folder and folder in [v for _, v in menu.dropdown.options]
    assert menu.other.layout.display == "none"


def test_long_inputs_say_how_much_memory_before_and_show_progress(tiny, monkeypatch):
    from sinkviz.widgets import explorer as module

    seen = []
    real_trace = sinkviz.capture.trace

    def watching_trace(*args, **kwargs):
        seen.append((ex.status.value, ex.progress.layout.display, ex.progress.max))
        return real_trace(*args, **kwargs)

    monkeypatch.setattr(sinkviz.capture, "trace", watching_trace)
    ex = Explorer(tiny)
    ex.layers_box.value = "1-2"
    assert ex.set_input(text(40)) is True
    status, bar_display, bar_max = seen[0]
    assert "Tracing about" in status and "dense attention needs about" in status and "free on cpu" in status
    assert "2 of 3 layers" in status
    assert bar_display is None and bar_max == 3  # the bar is shown during the pass, one step per block
    assert ex.progress.value == 3 and ex.progress.layout.display == "none"
    assert ex.trace.layers == [1, 2] and ex.alpha.shape == (2, 4)
    assert module.parse_layers("0-1, -1", 3) == [0, 1, 2]
    for bad in ("0-9", "x", "5-2"):
        with pytest.raises(sinkviz.InputError, match="Write e.g. 'all'"):
            module.parse_layers(bad, 3)
    ex.layers_box.value = "7"
    assert ex.set_input(text(12)) is False and "layers 0..2" in ex.error


def test_export_button_says_the_absolute_path_it_wrote(trace, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ex = explore(trace, layer=0, head=0)
    ex.export_path.value = "figures/map.html"  # relative, as the default is
    ex._export_clicked()
    assert f"Wrote {tmp_path / 'figures' / 'map.html'} (" in ex.status.value


def test_export_row_controls(trace, tmp_path):
    ex = explore(trace, layer=1, head=1, max_display_tokens=16)  # pooled: the map carries a note
    assert ex.export_aspect.label == "figure's own"  # a label is shown for the default (not a blank box)
    ex.export_path.value = str(tmp_path / "map.html")
    ex.export_notes.value = False
    ex.export_labels.value = "none"
    ex._export_clicked()
    page = (tmp_path / "map.html").read_text()
    assert "max-pooled" not in page and '"showticklabels":false' in page
    ex.export_what.value = "overview"
    ex.export_selection.value = False
    ex.export_path.value = str(tmp_path / "overview.pdf")
    ex.export_width.value = "double"
    ex.export_aspect.value = 2.0
    ex._export_clicked()
    assert ex.error is None, ex.error
    import re

    box = re.findall(rb"/MediaBox\s*\[\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)", (tmp_path / "overview.pdf").read_bytes())[0]
    assert float(box[2]) == pytest.approx(6.75 * 72, abs=1) and float(box[3]) == pytest.approx(6.75 * 72 / 2, abs=1)
    assert trace.model_name in ex.overview_figure().layout.title.text


def test_first_trace_shows_its_estimate_and_progress_before_the_explorer_is_displayed(tiny, monkeypatch):
    """explore(model, text) traces inside the call, before the widget can be displayed: in a notebook kernel the
    status line (with the memory estimate) and the progress bar are displayed at once, live, and that display is
    closed when the explorer is built."""
    import IPython
    import IPython.display
    from types import SimpleNamespace

    shown, seen_during = [], []
    monkeypatch.setattr(IPython, "get_ipython", lambda: SimpleNamespace(kernel=object()))
    monkeypatch.setattr(IPython.display, "display", lambda box: shown.append(box))
    real_trace = sinkviz.capture.trace

    def watched_trace(*args, **kwargs):
        box = shown[-1]
        seen_during.append((box.children[0].value, box.children[1].layout.display, box.comm is not None))
        return real_trace(*args, **kwargs)

    monkeypatch.setattr(sinkviz.capture, "trace", watched_trace)
    ex = explore(tiny, text(24))
    assert ex.error is None, ex.status.value
    assert len(shown) == 1 and shown[0].children == (ex.status, ex.progress)  # the explorer's own widgets
    status_then, bar_display, open_then = seen_during[0]
    assert "dense attention needs about" in status_then and bar_display is None and open_then
    assert shown[0].comm is None  # closed once the explorer exists; its status and bar live on in it
    assert ex.status.comm is not None and ex.progress.comm is not None


def test_persistence_panel_shows_the_uniform_null_of_the_same_length_and_mask(trace):
    """The explorer's persistence panel draws the corrected diagram beside uniform attention's under the model's
    mask and the text's length (grey crosses), as the Ruscio notebook does: a diagram alone is not a finding."""
    from sinkviz.metrics import topology
    from sinkviz.metrics.toy_attention import masked_uniform_attention
    from sinkviz.widgets import _panels

    ex = Explorer(trace=trace)
    fig = _panels._topology(ex)
    null = [t for t in fig.data if t.name == "uniform-attention null"]
    assert len(null) == 1 and null[0].xaxis == "x2"  # in the corrected panel
    n = trace.n_tokens()
    expected = topology.persistence_corrected(masked_uniform_attention(n, causal=True),
                                              max_points=min(n, _panels.TOPOLOGY_MAX_POINTS))
    points = np.concatenate([np.asarray(d, dtype=float).reshape(-1, 2) for d in expected.dgms])
    finite = np.isfinite(points[:, 1])
    np.testing.assert_allclose(np.asarray(null[0].x, dtype=float), points[:, 0])
    np.testing.assert_allclose(np.asarray(null[0].y, dtype=float)[finite], points[finite, 1])
