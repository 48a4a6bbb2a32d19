"""The long-context explorer (sinkviz.widgets.long_context) on a tiny random LLaMA with a character tokenizer.

`explore` opens it past `long_context_tokens`; its maps equal dense attention in any window, pooled views are the
max over blocks, token labels appear once the window is one token a cell, a head switch or a window move changes
the map, and bad selections are reported inside the widget."""
from __future__ import annotations

import numpy as np
import pytest

import sinkviz
from sinkviz.widgets.explorer import Explorer, explore
from sinkviz.widgets.long_context import LongContextExplorer, open_if_long
from tiny_models import char_tokenizer, text, tiny_long_llama


@pytest.fixture(scope="module")
def loaded():
    return sinkviz.wrap(tiny_long_llama(), char_tokenizer(False), name="tiny-llama")


@pytest.fixture(scope="module")
def long_text():
    return text(80)  # 80 two-letter words: 239 characters, one token each


@pytest.fixture(scope="module")
def ex(loaded, long_text):
    return explore(loaded, long_text, long_context_tokens=100, render="canvas")


def dense_attention(loaded, text_):
    tr = sinkviz.trace(loaded, text_, capture=("attn",))
    return np.stack([tr.attentions[layer][0].numpy() for layer in tr.layers])  # (L, H, T, T)


def test_explore_opens_long_mode_past_the_threshold(loaded, long_text, ex):
    assert isinstance(ex, LongContextExplorer) and ex.n_tokens == 239
    short = explore(loaded, text(10), long_context_tokens=100, render="canvas")
    assert isinstance(short, Explorer)
    forced = explore(loaded, text(10), long_context=True, render="canvas")
    assert isinstance(forced, LongContextExplorer)
    options = {"long_context": False, "layer": 1}
    assert open_if_long(loaded, long_text, options) == (None, loaded) and options == {"layer": 1}


def test_whole_text_view_is_the_pooled_dense_map(loaded, long_text, ex):
    attn = dense_attention(loaded, long_text)
    ex.select(2, 1)
    ex.show_window(size=ex.n_tokens)
    view, alpha, labels = ex.current_view()
    a = attn[2, 1]  # 239 tokens: one cell a token (no pooling below 512)
    np.testing.assert_allclose(view.z, np.where(a > 0, a, np.nan), atol=2e-6, rtol=1e-5, equal_nan=True)
    assert labels[0].startswith("0 ") and len(labels) == 239
    np.testing.assert_allclose(alpha, a.sum(0) / np.arange(239, 0, -1), atol=2e-6, rtol=1e-5)


def test_windows_and_first_keys_equal_dense_attention(loaded, long_text, ex):
    attn = dense_attention(loaded, long_text)
    ex.select(1, 3)
    ex.show_window(size=64, start=100, keys="diagonal")
    view, _, labels = ex.current_view()
    a = attn[1, 3, 100:164, 100:164]
    np.testing.assert_allclose(view.z, np.where(a > 0, a, np.nan), atol=2e-6, rtol=1e-5, equal_nan=True)
    assert labels[0].startswith("100 ") and view.y_labels[-1].startswith("163 ")
    assert "queries 100\u2013163, keys 100\u2013163 of 239 tokens" in view.note
    ex.show_window(keys="first keys")
    view, _, labels = ex.current_view()
    np.testing.assert_allclose(view.z, attn[1, 3, 100:164, 0:64], atol=2e-6, rtol=1e-5)
    assert labels[0].startswith("0 ")
    ex.show_window(keys="diagonal")


def test_a_head_switch_and_a_window_move_change_the_map(ex):
    ex.show_window(size=ex.n_tokens)
    ex.select(0, 0)
    before = ex.map_view.current().data[0].z.copy()
    n_updates = len(ex.update_seconds)
    ex.select(0, 2)
    after_head = ex.map_view.current().data[0].z.copy()
    assert not np.allclose(np.nan_to_num(before), np.nan_to_num(after_head))
    ex.show_window(size=64, start=0)
    moved = ex.map_view.current().data[0].z.copy()
    ex.start_slider.value = 64  # as a user moves the slider
    assert not np.allclose(np.nan_to_num(moved), np.nan_to_num(ex.map_view.current().data[0].z))
    assert len(ex.update_seconds) >= n_updates + 3
    assert "layer 0, head 2" in ex.map_view.current().layout.title.text


def test_logits_and_log_scale(loaded, long_text, ex):
    ex.select(1, 0)
    ex.show_window(size=32, start=0)
    ex.values_toggle.value = "logits"
    view, _, _ = ex.current_view()
    assert view.values == "logits" and np.isnan(view.z[0, 1]) and np.isfinite(view.z[1, 0])
    ex.values_toggle.value = "probabilities"
    ex.scale_toggle.value = "log10"
    view, _, _ = ex.current_view()
    assert view.zmin == -6.0 and np.nanmax(view.z) <= 0.0
    ex.scale_toggle.value = "0-1"


def test_bad_selection_is_reported_inside(ex):
    assert ex.select(7, 0) is False
    assert "out of range" in ex.error
    assert ex.select(0, 1) is True and ex.error is None


def test_export_figure_is_the_map_in_view(ex):
    ex.select(2, 3)
    ex.show_window(size=32, start=10)
    fig = ex.figure()
    np.testing.assert_allclose(np.asarray(fig.data[0].z, dtype=float), ex.current_view()[0].z, equal_nan=True)
    assert "layer 2, head 3" in fig.layout.title.text


def test_a_model_that_cannot_load_is_left_to_the_explorer_to_report():
    options = {}
    assert open_if_long("no-such-model-xyz", "some text", options) == (None, "no-such-model-xyz")


def test_close_frees_the_trace_and_closes_every_widget(loaded, long_text):
    """ipywidgets keep every widget alive until it is closed, and an explorer's controls call its methods, so an
    explorer that is only dropped keeps its trace (q/k of its layers: about 1 GiB at 32k tokens on a GPU; a
    notebook that re-opens texts piles them up). ``close()`` closes its widgets and lets the trace go."""
    import gc
    import weakref

    opened = explore(loaded, long_text, long_context_tokens=100, render="canvas")
    trace_ref, explorer_ref = weakref.ref(opened.trace), weakref.ref(opened)
    parts = [w for w in opened.children]
    assert parts and all(w.comm is not None for w in parts)
    opened.close()
    assert all(w.comm is None for w in parts) and opened.comm is None and opened.trace is None
    del opened, parts
    gc.collect()
    assert trace_ref() is None and explorer_ref() is None  # so no longer among ipywidgets' open widgets


def test_the_short_text_explorer_closes_the_same_way(loaded):
    import gc
    import weakref

    opened = explore(loaded, text(10), long_context_tokens=100, render="canvas")
    assert isinstance(opened, Explorer)
    trace_ref = weakref.ref(opened.trace)
    opened.close()
    assert opened.trace is None and opened.loaded is None
    del opened
    gc.collect()
    assert trace_ref() is None
