"""The explorer for texts too long for dense capture: one census forward, then maps computed window by window.

    ex = sinkviz.explore("smollm2-135m", long_text)      # opens this mode past LONG_CONTEXT_TOKENS tokens

What it holds (:class:`sinkviz.census.window.LongContextTrace`): alpha_1 of every (layer, head) and alpha of every
key, from one census forward (progress shown per layer); each layer's row log-sum-exp; and the post-rotary q/k of as
many layers as a memory budget allows (memory proportional to T, never T x T). The map of the selected head is
computed on demand for the visible window only: the whole context max-pooled to at most 512 cells a side, or a
zoomed window (its size and start chosen below the map; keys along the diagonal or the first keys, where a sink
sits); token labels appear once a window is 512 tokens or fewer, so each cell is one token. A strip under the map
shows alpha of the keys in view (pooled the same way).
"""
from __future__ import annotations

import html
import math
import time
from typing import Any

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go

from sinkviz.capture import index_span
from sinkviz.plots.style import EXPLORER_BASE, SEQUENTIAL, index_label
from sinkviz.widgets import _figures
from sinkviz.widgets._controls import sync_sliders
from sinkviz.widgets._lifetime import close_tree
from sinkviz.widgets._progress import shown_while_building
from sinkviz.widgets._render import make_view
from sinkviz.widgets._slices import POOLED_SIDE, head_map, token_labels

#: Texts longer than this (in tokens) open in the long-context mode (dense capture of 1,024 tokens on the
#: embedded model already holds 30 x 9 maps of 1M entries; the dense map is pooled past that length anyway).
LONG_CONTEXT_TOKENS = 1024
#: Window sizes offered, largest first (the whole text is always offered too).
WINDOW_SIZES = (65536, 32768, 16384, 8192, 4096, 2048, 1024, 512, 256, 128, 64, 32)
_STATUS = "color:#333;background:#f6f6f6;padding:4px 8px;border-radius:3px"
_ERROR = "color:#8b0000;background:#fff0f0;border:1px solid #e0a0a0;padding:4px 8px;border-radius:3px"


def count_tokens(loaded: Any, text: str) -> int:
    """Tokens of ``text`` with the tokenizer's default special tokens (as the census and dense capture count)."""
    from sinkviz.models import unwrap

    return len(unwrap(loaded)[1](text)["input_ids"])


def open_if_long(model_or_name: Any, text: str | None, options: dict) -> tuple[Any, Any]:
    """For :func:`sinkviz.explore`: (a :class:`LongContextExplorer`, or None when the text fits dense capture; the
    model, loaded when a name was given so that the dense explorer does not load it again). ``options`` loses the
    long-context keywords: ``long_context`` (None: by length; True / False force the mode) and
    ``long_context_tokens`` (the length past which it opens, default :data:`LONG_CONTEXT_TOKENS`)."""
    force = options.pop("long_context", None)
    threshold = int(options.pop("long_context_tokens", LONG_CONTEXT_TOKENS))
    if text is None or force is False or not isinstance(text, str) or not text.strip():
        return None, model_or_name
    from sinkviz import models
    from sinkviz.errors import SinkvizError

    try:
        loaded = model_or_name if hasattr(model_or_name, "tokenizer") else models.load(
            model_or_name or models.DEFAULT_MODEL, device=options.get("device", "auto"),
            dtype=options.get("dtype", "auto"))
    except (SinkvizError, OSError, ValueError, RuntimeError):  # the dense explorer loads again and shows the error
        return None, model_or_name
    if force is None and count_tokens(loaded, text) <= threshold:
        return None, loaded
    keep = ("layer", "head", "values", "scale", "render", "qk_budget_bytes")
    return LongContextExplorer(loaded, text, **{k: v for k, v in options.items() if k in keep}), loaded


def _window_labels(labels: list[str], start: int, stop: int, factor: int) -> list[str]:
    """Axis labels of positions [start, stop): the token labels when not pooled, else "a–b" per block."""
    if factor == 1:
        return labels[start:stop]
    return [f"{a}\u2013{min(a + factor, stop) - 1}" for a in range(start, stop, factor)]


def _strip_figure(z: np.ndarray, labels: list[str]) -> go.Figure:
    """alpha of the keys in view: a one-row heat-map under the map."""
    return go.Figure(go.Heatmap(
        z=np.asarray(z, dtype=np.float32).reshape(1, -1), x=labels, y=["\u03b1"], zmin=0.0, zmax=1.0,
        colorscale=SEQUENTIAL, showscale=False, name="alpha_keys",
        hovertemplate=index_label("key", "%{x}", base=EXPLORER_BASE) + "<br>\u03b1 = %{z:.3f}<extra></extra>",
        meta=dict(canvas=[_figures.MAP_CANVAS_PX, 26], hover_x="key", hover_y="", hover_tag=_figures.HOVER_TAG,
                  value_name="α", y_axis_width=90, x_axis_height=4),
    ), layout=dict(width=_figures.MAP_PX, height=60, margin=dict(l=90, r=10, t=4, b=4),
                   xaxis=dict(showticklabels=False, type="category"), yaxis=dict(type="category")))


class LongContextExplorer(widgets.VBox):
    """Explorer of one long text. Build it with ``sinkviz.explore(model, text)`` (past :data:`LONG_CONTEXT_TOKENS`
    tokens) or directly; it is an ``ipywidgets.VBox``. ``select(layer, head)`` and ``show_window(size, start,
    keys)`` drive it from code; ``update_seconds`` holds the Python-side time of each map update."""

    def __init__(self, model: Any, text: str, *, layer: int | None = None, head: int | None = None,
                 values: str = "probabilities", scale: str = "0-1", render: str = "auto",
                 qk_budget_bytes: int | None = None) -> None:
        super().__init__()
        from sinkviz.census.window import QK_BUDGET_BYTES, LongContextTrace
        from sinkviz.models import attention_blocks, text_config, unwrap

        config = text_config(unwrap(model)[0])
        self.update_seconds: list[float] = []
        self.n_tokens = count_tokens(model, text)
        self.heads = list(range(int(config.num_attention_heads)))
        attending = attention_blocks(config)  # a hybrid's blocks without attention are not shown
        self.layer, self.head = 0, 0
        self._syncing = True  # until the forward pass is done, controls change nothing
        # Every widget is made and placed now, before the forward pass (the front end draws a box whose children
        # change later without its anywidget views), and filled in once the census is done.
        self._build(values, scale, render, attending)
        self._say(f"Census forward over the text ({self.n_tokens} tokens) ...")
        started = time.perf_counter()
        with shown_while_building(self.status, self.progress):  # the explorer shows only once built
            self.trace = LongContextTrace(model, text, progress=self._on_progress,
                                          qk_budget_bytes=qk_budget_bytes or QK_BUDGET_BYTES)
        self.open_seconds = time.perf_counter() - started
        self.progress.layout.display = "none"
        self.labels = token_labels(self.trace.tokens())
        best = self.trace.best_head
        self.layer = best[0] if layer is None else int(layer)
        self.head = best[1] if head is None else int(head)
        self.overview_view.update(_figures.overview_figure(
            self.trace.alpha_first, self.trace.layers, self.heads, (self.layer, self.head),
            title=_figures.overview_title(self.trace.model_name, self.n_tokens)))
        self.layer_slider.min, self.layer_slider.max = min(self.trace.layers), max(self.trace.layers)
        self._syncing = False
        self._say(f"{self.trace.model_name}: {self.n_tokens} tokens, long-context mode (one census forward in "
                  f"{self.open_seconds:.1f} s; q/k kept for {len(self.trace.qk)} of {len(self.trace.layers)} "
                  "layers, the others captured again when selected). Maps are computed for the window in view.")
        self.select(self.layer, self.head, _force=True)

    # ------------------------------------------------------------------ construction
    def close(self) -> None:
        """Close the explorer's widgets and drop its trace (q/k kept for the layers that fit its budget, about
        1 GiB at 32k tokens), freeing that memory: ipywidgets keep every widget, and what it reaches, alive until
        closed, so an explorer that is only replaced in a notebook cell keeps its trace."""
        close_tree(self)
        self.trace = None
        super().close()

    def _build(self, values: str, scale: str, render: str, layers: list[int]) -> None:
        self.status = widgets.HTML(layout=widgets.Layout(width="100%"))
        self.progress = widgets.IntProgress(value=0, min=0, max=len(layers), description="forward",
                                            layout=widgets.Layout(width="420px"))
        self.layer_slider = widgets.IntSlider(value=layers[0], min=layers[0], max=layers[-1], description="layer",
                                              continuous_update=False)
        self.head_slider = widgets.IntSlider(value=0, min=0, max=self.heads[-1], description="head",
                                             continuous_update=False)
        self.layer_slider.add_class("sinkviz-layer-slider")
        self.head_slider.add_class("sinkviz-head-slider")
        sizes = [("whole text", self.n_tokens)] + [(str(w), w) for w in WINDOW_SIZES if w < self.n_tokens]
        self.size_box = widgets.Dropdown(options=sizes, value=self.n_tokens, description="window",
                                         layout=widgets.Layout(width="220px"))
        self.start_slider = widgets.IntSlider(value=0, min=0, max=0, description="start", continuous_update=False,
                                              layout=widgets.Layout(width="420px", display="none"))
        self.start_slider.add_class("sinkviz-window-start")
        self.size_box.add_class("sinkviz-window-size")
        self.keys_toggle = widgets.ToggleButtons(options=["diagonal", "first keys"], value="diagonal",
                                                 tooltips=["keys = the window's own tokens",
                                                           "keys = the first tokens of the text (where a sink sits)"],
                                                 style={"button_width": "96px"})
        self.values_toggle = widgets.ToggleButtons(options=["probabilities", "logits"], value=values,
                                                   style={"button_width": "112px"})
        self.scale_toggle = widgets.ToggleButtons(options=["0-1", "0-max", "log10"], value=scale,
                                                  style={"button_width": "72px"})
        empty = head_map(np.full((1, 1), np.nan), [""], causal=True)
        self.map_view = make_view(_figures.map_figure(empty, "computing ..."), render)
        self.strip_view = make_view(_strip_figure(np.zeros(1), ["0"]), render)
        self.overview_view = make_view(_figures.overview_figure(
            np.zeros((len(layers), len(self.heads))), layers, self.heads, (layers[0], 0),
            title="census forward ..."), config={"displayModeBar": False})
        self.map_view.widget.add_class("sinkviz-map")
        self.overview_view.widget.add_class("sinkviz-overview")
        for w in (self.layer_slider, self.head_slider):
            w.observe(self._on_slider, names="value")
        for w in (self.size_box, self.start_slider, self.keys_toggle, self.values_toggle, self.scale_toggle):
            w.observe(self._on_window, names="value")
        self.overview_view.on_click(lambda x, y: self.select(int(round(float(y))), int(round(float(x)))))
        self.children = [
            self.status, self.progress,
            widgets.HBox([
                self.overview_view.widget,
                widgets.VBox([self.map_view.widget,
                              # the strip's key labels would repeat the map's: clipped off below the colour row
                              widgets.Box([self.strip_view.widget],
                                          layout=widgets.Layout(height="46px", overflow="hidden")),
                              widgets.HBox([self.layer_slider, self.head_slider]),
                              widgets.HBox([self.size_box, self.keys_toggle]), self.start_slider,
                              widgets.HBox([self.values_toggle, self.scale_toggle])]),
            ], layout=widgets.Layout(flex_flow="row wrap")),
        ]
        self.add_class("sinkviz-explorer")
        self.add_class("sinkviz-long-context")

    # ------------------------------------------------------------------ messages and progress
    def _say(self, message: str, error: bool = False) -> None:
        style = _ERROR if error else _STATUS
        kind = "sinkviz-error" if error else "sinkviz-info"
        self.status.value = f'<div class="{kind}" style="{style}">{html.escape(message)}</div>'

    def _on_progress(self, done: int, total: int) -> None:
        self.progress.max = total
        self.progress.value = done
        self.progress.description = f"layer {done}/{total}"

    @property
    def error(self) -> str | None:
        """The error shown now, or None."""
        value = self.status.value
        return html.unescape(value.split(">", 1)[1].rsplit("<", 1)[0]) if "sinkviz-error" in value else None

    # ------------------------------------------------------------------ selection and window
    def select(self, layer: int | None = None, head: int | None = None, *, _force: bool = False) -> bool:
        """Show head ``head`` of layer ``layer`` (None keeps the current one); False (and an error shown) when out of
        range."""
        layer = self.layer if layer is None else int(layer)
        head = self.head if head is None else int(head)
        if layer not in self.trace.layers or head not in self.heads:
            self._say(f"Layer {layer}, head {head} is out of range: layers {index_span(self.trace.layers)}, heads "
                      f"0..{self.heads[-1]}.", error=True)
            return False
        if (layer, head) == (self.layer, self.head) and not _force:
            return True
        sync_sliders(self, layer, head)
        self.overview_view.patch(_figures.selection_patch(layer, head), trace_index=1)
        self._refresh()
        return True

    def show_window(self, size: int | None = None, start: int | None = None, keys: str | None = None) -> None:
        """Zoom to ``size`` tokens from query ``start`` (keys along the diagonal, or the first ``size`` keys)."""
        self._syncing = True
        try:
            if size is not None:
                options = [v for _, v in self.size_box.options]
                self.size_box.value = min(options, key=lambda v: abs(v - int(size)))
            self._sync_start_range()
            if start is not None:
                self.start_slider.value = int(min(max(0, start), self.start_slider.max))
            if keys is not None:
                self.keys_toggle.value = keys
        finally:
            self._syncing = False
        self._refresh()

    def _sync_start_range(self) -> None:
        size = int(self.size_box.value)
        self.start_slider.max = max(0, self.n_tokens - size)
        self.start_slider.step = max(1, size // 8)
        self.start_slider.layout.display = "none" if size >= self.n_tokens else None

    def _on_slider(self, change) -> None:
        if not self._syncing:
            self.select(self.layer_slider.value, self.head_slider.value)

    def _on_window(self, change) -> None:
        if self._syncing:
            return
        if change["owner"] is self.size_box:
            self._syncing = True
            try:
                self._sync_start_range()
            finally:
                self._syncing = False
        self._refresh()

    # ------------------------------------------------------------------ the map
    def current_view(self):
        """(MapSlice shown now, alpha of its keys pooled like its columns, its key labels)."""
        size = int(self.size_box.value)
        start = int(min(self.start_slider.value, self.n_tokens - size))
        rows = (start, start + size)
        cols = rows if self.keys_toggle.value == "diagonal" else (0, size)
        factor = math.ceil(size / POOLED_SIDE)
        values = self.values_toggle.value
        z = self.trace.map(self.layer, self.head, rows, cols, factor=factor, values=values)
        x_labels = _window_labels(self.labels, cols[0], cols[1], factor)
        y_labels = _window_labels(self.labels, rows[0], rows[1], factor)
        view = head_map(z, [""] * z.shape[0], causal=True, values=values, scale=self.scale_toggle.value,
                        visible=np.isfinite(z), display="full")
        view.x_labels, view.y_labels, view.n_tokens = x_labels, y_labels, self.n_tokens
        what = "whole text" if size >= self.n_tokens else f"queries {rows[0]}\u2013{rows[1] - 1}, keys " \
                                                           f"{cols[0]}\u2013{cols[1] - 1}"
        view.note = f"{what} of {self.n_tokens} tokens" + (
            f" (max-pooled over {factor}\u00d7{factor} blocks)" if factor > 1 else "")
        alpha = self.trace.alpha_keys[self.trace.layers.index(self.layer), self.head, cols[0]:cols[1]]
        pad = (-len(alpha)) % factor
        alpha = np.concatenate([alpha, np.full(pad, np.nan, dtype=np.float32)]).reshape(-1, factor)
        alpha = np.where(np.isfinite(alpha).any(1), np.nanmax(np.where(np.isfinite(alpha), alpha, -np.inf), 1),
                         np.nan)
        return view, alpha, x_labels

    def _refresh(self) -> None:
        started = time.perf_counter()
        if self.layer not in self.trace.qk:
            self._say(f"Capturing the queries and keys of layer {self.layer} again (a forward pass up to it) ...")
        try:
            view, alpha, x_labels = self.current_view()
        except (KeyError, IndexError, ValueError, RuntimeError) as exc:
            self._say(f"{type(exc).__name__}: {exc}", error=True)
            return
        qk = self.trace.qk.get(self.layer)
        kv = qk.kv_head(self.head) if qk is not None and qk.key.shape[0] != qk.query.shape[0] else None
        trace_props, layout_props = _figures.map_patch(view, _figures.map_title(
            self.trace.model_name, self.layer, self.head, view, kv))
        self.map_view.patch(trace_props, layout_props)
        self.strip_view.patch({"z": alpha.reshape(1, -1).astype(np.float32), "x": x_labels})
        if self.error:
            self._say(f"{self.trace.model_name}: layer {self.layer}, head {self.head}.")
        self.update_seconds.append(time.perf_counter() - started)

    def figure(self) -> go.Figure:
        """The map in view as a ``go.Figure`` (what ``sinkviz.export(explorer, ...)`` writes)."""
        view, _, _ = self.current_view()
        return _figures.map_figure(view, _figures.map_title(self.trace.model_name, self.layer, self.head, view))

    def overview_figure(self) -> go.Figure:
        """The layer x head alpha_1 overview as a ``go.Figure``."""
        return self.overview_view.current()

    def _repr_mimebundle_(self, **kwargs):
        for view in (self.map_view, self.strip_view, self.overview_view):
            view.resync()
        return super()._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        return (f"<sinkviz LongContextExplorer: {self.trace.model_name}, {self.n_tokens} tokens, layer {self.layer}, "
                f"head {self.head}>")
