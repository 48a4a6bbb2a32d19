"""`sinkviz.explore(model, text)`: one call, an interactive explorer of attention sinks in a notebook.

    ex = sinkviz.explore("smollm2-135m", "The quick brown fox jumps over the lazy dog.")
    ex            # last line of a cell: shows the explorer

One forward pass per text (`sinkviz.trace`); moving a slider or clicking a cell of the overview only
re-slices the cached `Trace`. Errors (bad layer/head, empty text, text too long, model that cannot be
loaded) appear inside the explorer, which keeps working with what it had; after a failed Trace the map it
still shows is greyed out and cannot be exported until a trace succeeds. A new text or model keeps the
selected layer and head where the new trace has them.
"""

from __future__ import annotations

import html
import re
import time
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import numpy as np

from sinkviz.capture import index_span
from sinkviz.errors import InputError, SinkvizError
from sinkviz.metrics import visibility_mask
from sinkviz.widgets import _figures, _panels
from sinkviz.widgets._controls import sync_sliders
from sinkviz.widgets._lifetime import close_tree
from sinkviz.widgets._model_menu import ModelMenu
from sinkviz.widgets._progress import forward_progress, progress_bar, shown_while_building
from sinkviz.widgets._render import anywidget_available, make_view
from sinkviz.widgets._slices import MAX_DISPLAY_TOKENS, POOLED_SIDE, first_token_importance, head_map

#: What the explorer captures: attention for the maps, q/k for logits and the QK panel, hidden states for
#: the frame verdict. Values are not needed.
EXPLORER_CAPTURE = ("attn", "qk", "hidden")

_ERROR_STYLE = "color:#8b0000;background:#fff0f0;border:1px solid #e0a0a0;padding:4px 8px;border-radius:3px"
_INFO_STYLE = "color:#333;background:#f6f6f6;padding:4px 8px;border-radius:3px"
_STALE_STYLE = "color:#6b4e00;background:#fff8e0;border:1px solid #e6c870;padding:3px 8px;border-radius:3px"
#: The export row's choices: aspect (width / height; 0 = the figure's own: a Dropdown shows no label for None)
#: and token-label density.
EXPORT_ASPECTS = [("figure's own", 0.0), ("1:1", 1.0), ("4:3", 4 / 3), ("3:2", 1.5), ("2:1", 2.0), ("3:4", 0.75)]
EXPORT_LABELS = [("auto (fit)", "auto"), ("all", "all"), ("every 5th", 5), ("every 10th", 10), ("none", "none")]
#: Greys out the maps of a stale explorer (the class is set on the box that holds them).
_STALE_CSS = ("<style>.sinkviz-stale .sinkviz-map, .sinkviz-stale .sinkviz-overview "
              "{opacity: 0.35; filter: grayscale(1); transition: opacity 0.2s;}</style>")


class Explorer(widgets.VBox):
    """The explorer widget. Build it with `sinkviz.explore(...)`; it is an `ipywidgets.VBox`.

    ``render`` picks the map's view (`sinkviz.widgets._render.make_view`: "auto", "canvas", "anywidget",
    "figurewidget" or "output"); the overview always uses the default view.
    """

    def __init__(
        self,
        model: Any = None,
        text: str | None = None,
        *,
        trace: Any = None,
        layer: int | None = None,
        head: int | None = None,
        values: str = "probabilities",
        scale: str = "0-1",
        display: str = "auto",
        max_display_tokens: int = MAX_DISPLAY_TOKENS,
        render: str = "auto",
        device: str = "auto",
        dtype: str = "auto",
    ):
        super().__init__()
        self.loaded = None
        self.trace = None
        self.alpha: np.ndarray | None = None
        self.layer = 0
        self.head = 0
        self.display_mode = display
        self.max_display_tokens = int(max_display_tokens)
        self.device, self.dtype = device, dtype
        self.update_seconds: list[float] = []  # Python-side time of each map update (benchmark reads it)
        self.stale = False  # the last Trace failed: the map belongs to the previous input
        self._syncing = False

        self._build_controls(_model_name(model, trace), text, values, scale)
        self._build_views(render)
        self._wire()
        self._lay_out()
        self._start(model, text, trace, layer, head)

    def close(self) -> None:
        """Close the explorer's widgets and drop its trace and the model it loaded (a model passed in stays the
        caller's), freeing that memory: ipywidgets keep every widget, and what it reaches, alive until closed."""
        close_tree(self)
        self.trace, self.loaded, self.alpha = None, None, None
        super().close()

    # ------------------------------------------------------------------ construction
    def _build_controls(self, model_name: str | None, text: str | None, values: str, scale: str) -> None:
        from sinkviz.models import DEFAULT_MODEL

        self.model_menu = ModelMenu(model_name or DEFAULT_MODEL)
        self.layers_box = widgets.Text(value="all", description="layers", placeholder="all, or e.g. 0-5, 12",
                                       tooltip="Layers to capture (fewer layers: less memory, faster)",
                                       layout=widgets.Layout(width="220px"))
        self.text_box = widgets.Textarea(
            value=text or "", placeholder="Text to trace", layout=widgets.Layout(width="100%", height="64px"))
        self.run_button = widgets.Button(description="Trace", button_style="primary", icon="play",
                                         tooltip="Run one forward pass on this text (and model)")
        self.status = widgets.HTML(layout=widgets.Layout(width="100%"))
        self.progress = progress_bar()
        self.stale_note = widgets.HTML(layout=widgets.Layout(display="none"))
        self.layer_slider = widgets.IntSlider(value=0, min=0, max=0, description="layer", continuous_update=False)
        self.head_slider = widgets.IntSlider(value=0, min=0, max=0, description="head", continuous_update=False)
        self.layer_slider.add_class("sinkviz-layer-slider")
        self.head_slider.add_class("sinkviz-head-slider")
        self.values_toggle = widgets.ToggleButtons(options=["probabilities", "logits"], value=values,
                                                   style={"button_width": "112px"})
        self.scale_toggle = widgets.ToggleButtons(options=["0-1", "0-max", "log10"], value=scale,
                                                  tooltips=["probabilities on 0..1", "0..largest visible value",
                                                            "log10 of probabilities"],
                                                  style={"button_width": "72px"})
        self.window_slider = widgets.IntSlider(value=0, min=0, max=0, description="window", continuous_update=False,
                                               layout=widgets.Layout(display="none"))
        self.export_path = widgets.Text(value="figures/sinkviz_map.pdf", description="file",
                                        layout=widgets.Layout(width="340px"))
        self.export_width = widgets.Dropdown(options=["single", "double"], value="single", description="width",
                                             layout=widgets.Layout(width="170px"))
        self.export_overwrite = widgets.Checkbox(value=False, description="overwrite", indent=False,
                                                 layout=widgets.Layout(width="100px"))
        self.export_what = widgets.Dropdown(options=[("attention map", "map"), ("\u03b1\u2081 overview", "overview")],
                                            value="map", description="figure", layout=widgets.Layout(width="220px"))
        self.export_aspect = widgets.Dropdown(options=EXPORT_ASPECTS, value=0.0, description="aspect",
                                              layout=widgets.Layout(width="200px"))
        self.export_labels = widgets.Dropdown(options=EXPORT_LABELS, value="auto", description="token labels",
                                              style={"description_width": "initial"},
                                              layout=widgets.Layout(width="220px"))
        self.export_notes = widgets.Checkbox(value=True, description="notes", indent=False,
                                             tooltip="the note under the title (e.g. max-pooled ...)",
                                             layout=widgets.Layout(width="80px"))
        self.export_selection = widgets.Checkbox(value=True, description="selection box", indent=False,
                                                 tooltip="the outline of the selected head in the overview",
                                                 layout=widgets.Layout(width="120px"))
        self.export_button = widgets.Button(description="Export", icon="download",
                                            tooltip="Write the current map (.pdf .png .svg .html)")

    def _build_views(self, render: str) -> None:
        empty_map = _figures.map_figure(head_map(np.zeros((1, 1)), [""], causal=True), "no trace yet")
        self.map_view = make_view(empty_map, render)
        empty_overview = _figures.overview_figure(np.zeros((1, 1)), [0], [0], (0, 0))
        self.overview_view = make_view(empty_overview, config={"displayModeBar": False})
        self.map_view.widget.add_class("sinkviz-map")
        self.overview_view.widget.add_class("sinkviz-overview")
        self.panels = _panels.PanelArea(self)

    def _wire(self) -> None:
        self.run_button.on_click(lambda _: self.set_input(self.text_box.value, self.model_menu.value))
        self.layer_slider.observe(self._on_slider, names="value")
        self.head_slider.observe(self._on_slider, names="value")
        self.values_toggle.observe(self._on_values, names="value")
        self.scale_toggle.observe(lambda _: self._refresh_map(), names="value")
        self.window_slider.observe(lambda _: self._refresh_map(), names="value")
        self.export_button.on_click(lambda _: self._export_clicked())
        self.overview_view.on_click(self._on_overview_click)

    def _lay_out(self) -> None:
        click_hint = "" if self.overview_view.clickable else " (install anywidget to select heads by clicking)"
        self.maps_box = widgets.HBox([
            widgets.VBox([self.overview_view.widget,
                          widgets.HTML(f"<small>click a cell to select that head{click_hint}</small>")]),
            widgets.VBox([self.map_view.widget,
                          widgets.HBox([self.layer_slider, self.head_slider]),
                          widgets.HBox([self.values_toggle, self.scale_toggle]),
                          self.window_slider]),
        ], layout=widgets.Layout(flex_flow="row wrap"))
        self.children = [
            widgets.HTML(_STALE_CSS, layout=widgets.Layout(display="none")),
            widgets.HBox([self.model_menu.widget, self.layers_box, self.run_button],
                         layout=widgets.Layout(flex_flow="row wrap")),
            self.text_box,
            self.status,
            self.progress,
            self.stale_note,
            self.maps_box,
            self.panels.widget,
            widgets.HBox([self.export_path, self.export_what, self.export_width, self.export_aspect],
                         layout=widgets.Layout(flex_flow="row wrap")),
            widgets.HBox([self.export_labels, self.export_notes, self.export_selection, self.export_overwrite,
                          self.export_button], layout=widgets.Layout(flex_flow="row wrap")),
        ]
        self.add_class("sinkviz-explorer")
        if anywidget_available():  # Notebook 7 would take the sliders' arrow keys for its shortcuts (_keys.py)
            from sinkviz.widgets._keys import key_scope

            self.children += (key_scope(".sinkviz-explorer"),)

    def _start(self, model: Any, text: str | None, trace: Any, layer: int | None, head: int | None) -> None:
        self.export_button.disabled = True  # until a trace succeeds
        if trace is not None:
            self.loaded = model if hasattr(model, "tokenizer") else None
            self._use_trace(trace, layer, head, strict=True)
        elif text is not None:
            with shown_while_building(self.status, self.progress):  # the explorer shows only once built
                self.set_input(text, model if model is not None else self.model_menu.value, layer=layer,
                               head=head, _strict=True)
        else:
            self._info("Type a text and press Trace.")

    # ------------------------------------------------------------------ messages
    def _error(self, message: str) -> None:
        self.status.value = f'<div class="sinkviz-error" style="{_ERROR_STYLE}">{html.escape(message)}</div>'

    def _info(self, message: str) -> None:
        self.status.value = f'<div class="sinkviz-info" style="{_INFO_STYLE}">{html.escape(message)}</div>'

    @property
    def error(self) -> str | None:
        """The error shown now, or None."""
        return html.unescape(self.status.value.split(">", 1)[1].rsplit("<", 1)[0]) if "sinkviz-error" in \
            self.status.value else None

    # ------------------------------------------------------------------ input (one forward pass)
    def set_input(self, text: str, model: Any = None, *, layer: int | None = None, head: int | None = None,
                  layers: str | list[int] | None = None, _strict: bool = False) -> bool:
        """Trace `text` (with `model`, a name/path or a LoadedModel; default: the current one). False on error.

        `layers`: the layers to capture ("all", "0-5, 12" or a list; default: the layers box). The selected
        layer and head are kept when the new trace has them, unless `layer` / `head` say otherwise.
        """
        from sinkviz import capture, models

        if not isinstance(text, str) or not text.strip():
            return self._failed("The text is empty: type at least one word, then press Trace.")
        self.run_button.disabled = True
        try:
            loaded = self.loaded
            wanted = model if model is not None else self.model_menu.value
            if hasattr(wanted, "tokenizer"):
                loaded = wanted
            elif loaded is None or str(wanted).strip() != loaded.name:
                name = str(wanted).strip()
                if not name:
                    return self._failed("No model given: choose one from the list, or choose "
                                        "\u201cfolder or hub id\u2026\u201d and type a folder or a hub id.")
                self._info(f"Loading {name} ...")
                loaded = models.load(name, device=self.device, dtype=self.dtype)
            chosen = parse_layers(self.layers_box.value if layers is None else layers, loaded.info.n_layers)
            self._info(_plan(loaded, text, chosen))
            started = time.perf_counter()
            with forward_progress(loaded.model, self.progress):
                tr = capture.trace(loaded, text, layers=chosen, capture=EXPLORER_CAPTURE)
            seconds = time.perf_counter() - started
        except (SinkvizError, OSError, ValueError, MemoryError, RuntimeError, IndexError, KeyError) as exc:
            return self._failed(f"{type(exc).__name__}: {exc}")
        finally:
            self.run_button.disabled = False
        self.loaded = loaded
        self.model_menu.show(loaded.name)
        self.text_box.value = text
        self._use_trace(tr, layer, head, note=f"one forward pass: {seconds:.1f} s", strict=_strict)
        return True

    def _failed(self, message: str) -> bool:
        """Show `message`; the map on screen no longer matches the inputs: grey it out, no export."""
        self._error(message)
        self._set_stale(self.trace is not None)
        return False

    def _set_stale(self, stale: bool) -> None:
        self.stale = stale
        self.export_button.disabled = stale or self.trace is None
        self.export_button.tooltip = ("Trace the new input first: the map shown is from the previous trace"
                                      if stale else "Write the current map (.pdf .png .svg .html)")
        if stale:
            tr = self.trace
            self.maps_box.add_class("sinkviz-stale")
            self.stale_note.value = (
                f'<div class="sinkviz-stale-note" style="{_STALE_STYLE}">Out of date: the last Trace failed, so '
                f"the maps below still show the previous trace ({html.escape(tr.model_name)}, {tr.n_tokens(0)} "
                "tokens). Fix the input and press Trace; Export is off until a trace succeeds.</div>")
            self.stale_note.layout.display = None
        else:
            self.maps_box.remove_class("sinkviz-stale")
            self.stale_note.value = ""
            self.stale_note.layout.display = "none"

    def _use_trace(self, tr, layer: int | None, head: int | None, note: str = "", strict: bool = False) -> None:
        """Show trace `tr`. An explicit `layer` / `head` outside it raises (`strict`) or is reported and replaced."""
        problem = _selection_problem(tr, layer, head)
        if problem and strict:
            raise InputError(problem + " Pass one in that range, or None for the head with the largest "
                             "first-token importance.")
        n = tr.n_tokens(0)
        alpha = first_token_importance(
            (tr.attentions[l][0, :, :n, :n].numpy() for l in tr.layers), causal=tr.info.causal)
        previous = (self.layer, self.head) if self.trace is not None else None
        self.trace, self.alpha = tr, alpha
        self._set_stale(False)
        self.values_toggle.disabled = not tr.queries
        if not tr.queries:
            self.values_toggle.value = "probabilities"
        self._syncing = True
        try:
            self.layer_slider.min, self.layer_slider.max = 0, max(tr.layers)
            self.layer_slider.min = min(tr.layers)
            self.head_slider.min, self.head_slider.max = 0, max(tr.heads)
            self.head_slider.min = min(tr.heads)
            long = n > self.max_display_tokens
            self.window_slider.max = max(0, n - min(POOLED_SIDE, self.max_display_tokens))
            self.window_slider.layout.display = None if self.display_mode == "window" and long else "none"
        finally:
            self._syncing = False
        if not self.text_box.value:  # a trace given directly: show its text
            self.text_box.value = "".join(tr.tokens[0])
        self.overview_view.update(_figures.overview_figure(
            self.alpha, tr.layers, tr.heads, (self.layer, self.head),
            title=_figures.overview_title(tr.model_name, n)))
        best = np.unravel_index(np.nanargmax(alpha), alpha.shape) if np.isfinite(alpha).any() else (0, 0)
        best = (tr.layers[best[0]], tr.heads[best[1]])
        if problem:
            chosen, why = best, ""
        elif layer is not None or head is not None:
            chosen, why = (layer if layer is not None else self.layer, head if head is not None else self.head), ""
            chosen = chosen if not _selection_problem(tr, *chosen) else best
        elif previous is not None and not _selection_problem(tr, *previous):
            chosen, why = previous, (f" Kept layer {previous[0]}, head {previous[1]}; the largest \u03b1\u2081 is "
                                     f"at layer {best[0]}, head {best[1]}.")
        else:
            chosen, why = best, ""
        bos = "a BOS token was added" if tr.bos_added else "no BOS token (the sink, if any, is the first real token)"
        self._info(f"{tr.model_name}: {n} tokens, {len(tr.layers)} layers x {len(tr.heads)} heads; {bos}."
                   + (f" {note}." if note else "") + why)
        self.select(*chosen, _force=True)
        if problem:
            self._error(f"{problem} Showing layer {best[0]}, head {best[1]} (the largest \u03b1\u2081) instead.")

    # ------------------------------------------------------------------ selection (re-slicing only)
    def select(self, layer: int | None = None, head: int | None = None, *, _force: bool = False) -> bool:
        """Show head `head` of layer `layer` (None keeps the current one). False (and an error shown) if out of range."""
        tr = self.trace
        if tr is None:
            self._error("Nothing traced yet: type a text and press Trace.")
            return False
        layer = self.layer if layer is None else int(layer)
        head = self.head if head is None else int(head)
        if layer not in tr.layers:
            self._error(f"Layer {layer} is out of range: this trace has layers {index_span(tr.layers)}.")
            return False
        if head not in tr.heads:
            self._error(f"Head {head} is out of range: this trace has heads {index_span(tr.heads)}.")
            return False
        if (layer, head) == (self.layer, self.head) and not _force:
            return True
        sync_sliders(self, layer, head)
        if self.error:
            self._info(f"{tr.model_name}: layer {layer}, head {head}.")
        self.overview_view.patch(_figures.selection_patch(layer, head), trace_index=1)
        self._refresh_map()
        self.panels.refresh()
        return True

    def _on_values(self, change) -> None:
        # Logits always use their own min..max: the colour-scale buttons would do nothing.
        self.scale_toggle.disabled = change["new"] == "logits"
        self._refresh_map()

    def _on_slider(self, change) -> None:
        if self._syncing:
            return
        self.select(self.layer_slider.value, self.head_slider.value)

    def _on_overview_click(self, x, y) -> None:
        self.select(int(round(float(y))), int(round(float(x))))

    def current_view(self):
        """The MapSlice now shown (probabilities or logits, masked, pooled or windowed)."""
        tr = self.trace
        layer, head = self.layer, self.head
        values = self.values_toggle.value
        matrix = tr.logits(layer, head) if values == "logits" else tr.attention(layer, head)
        n = matrix.shape[0]
        visible = visibility_mask(n, tr.info.causal, tr.info.sliding_window[layer])
        return head_map(matrix, tr.tokens[0], causal=tr.info.causal, values=values, scale=self.scale_toggle.value,
                        visible=visible, display=self.display_mode, max_tokens=self.max_display_tokens,
                        window_start=self.window_slider.value, window=min(POOLED_SIDE, self.max_display_tokens))

    def _title(self, view) -> str:
        tr = self.trace
        kv = tr.info.kv_head_of[self.head] if tr.info.n_kv_heads != tr.info.n_heads else None
        return _figures.map_title(tr.model_name, self.layer, self.head, view, kv)

    def _refresh_map(self) -> None:
        if self.trace is None:
            return
        started = time.perf_counter()
        try:
            view = self.current_view()
        except (KeyError, IndexError, ValueError) as exc:
            self._error(f"{type(exc).__name__}: {exc}")
            return
        trace_props, layout_props = _figures.map_patch(view, self._title(view))
        self.map_view.patch(trace_props, layout_props)
        self.update_seconds.append(time.perf_counter() - started)

    # ------------------------------------------------------------------ figures and export
    def figure(self, labels: Any = "auto"):
        """The current attention map as a `go.Figure` (what `sinkviz.export(explorer, ...)` writes).

        `labels`: token-label density of the axes: "auto" (as many as fit), "all", "none" or every k-th (int).
        """
        if self.trace is None:
            raise SinkvizError("Nothing traced yet: the explorer has no map to export.")
        if self.stale:
            raise SinkvizError("The last Trace failed, so the map shown belongs to the previous input; trace the "
                               "new input (or set_input(...) again) before exporting.")
        view = self.current_view()
        return _figures.map_figure(view, self._title(view), labels)

    def overview_figure(self):
        """The layer x head alpha_1 overview as a `go.Figure`."""
        return self.overview_view.current()

    def _export_clicked(self) -> None:
        """Write the figure chosen in the export row, with its settings (width, aspect, labels, notes, box)."""
        from sinkviz.export import export

        path = self.export_path.value.strip()
        try:
            if self.stale or self.trace is None:
                self.figure()  # raises, saying why there is nothing to export
            fig = self.figure(labels=self.export_labels.value) if self.export_what.value == "map" \
                else self.overview_figure()
            written = export(fig, path, width=self.export_width.value, aspect=self.export_aspect.value or None,
                             annotations=self.export_notes.value, selection=self.export_selection.value,
                             overwrite=self.export_overwrite.value)
        except (SinkvizError, OSError, ValueError, RuntimeError) as exc:
            self._error(f"Export failed: {type(exc).__name__}: {exc}")
            return
        self._info(f"Wrote {written} ({Path(written).stat().st_size / 1024:.0f} KiB).")

    def _repr_mimebundle_(self, **kwargs):
        # A new front-end view is about to be made: give the plotly widgets their full current state first.
        self.map_view.resync()
        self.overview_view.resync()
        return super()._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        state = f"{self.trace!r}, layer {self.layer}, head {self.head}" if self.trace is not None else "empty"
        return f"<sinkviz Explorer: {state}>"


_LAYER_ITEM = re.compile(r"(-?\d+)(?:\s*-\s*(-?\d+))?")


def parse_layers(spec: str | list[int] | None, n_layers: int) -> list[int] | None:
    """Layers to capture from the layers box: "all" / "" / None -> None (every layer); "0-5, 12" -> [0..5, 12].

    Negative numbers count from the end, as in `sinkviz.trace`. Raises InputError saying what is wrong.
    """
    if spec is None or (isinstance(spec, str) and spec.strip().lower() in ("", "all")):
        return None
    if not isinstance(spec, str):
        items = [int(x) for x in spec]
    else:
        items = []
        for part in filter(None, (p.strip() for p in spec.replace(";", ",").split(","))):
            match = _LAYER_ITEM.fullmatch(part)
            if match is None:
                raise InputError(f"Layers {spec!r}: {part!r} is not a layer number or a range such as 0-5. "
                                 "Write e.g. 'all', '0-5' or '0, 10-12'.")
            first, last = int(match[1]), int(match[2] if match[2] is not None else match[1])
            items.extend(range(first, last + 1))
    chosen = sorted({i + n_layers if i < 0 else i for i in items})
    outside = [i for i in chosen if not 0 <= i < n_layers]
    if not chosen or outside:
        raise InputError(f"Layers {spec!r}: the model has layers 0..{n_layers - 1}"
                         + (f"; {outside} are outside." if outside else "; none was given.")
                         + " Write e.g. 'all', '0-5' or '0, 10-12'.")
    return chosen


def _plan(loaded: Any, text: str, layers: list[int] | None) -> str:
    """What the forward pass is about to do and about how much memory its dense attention takes."""
    from sinkviz.capture import available_memory_bytes, estimate_attention_bytes

    info = loaded.info
    n = len(loaded.tokenizer(text, add_special_tokens=True)["input_ids"])
    n_layers = len(layers) if layers is not None else len(info.attention_layers)
    dtype_bytes = loaded.dtype.itemsize if hasattr(loaded.dtype, "itemsize") else 4
    needed = estimate_attention_bytes(1, n, n_layers, info.n_heads, info.n_heads, dtype_bytes)
    free = available_memory_bytes(loaded.device)
    return (f"Tracing about {n} tokens with {loaded.name} ({n_layers} of {info.n_layers} layers): dense "
            f"attention needs about {_size(needed)} ({_size(free)} free on {loaded.device}) ...")


def _size(n_bytes: float) -> str:
    return f"{n_bytes / 2**30:.2f} GiB" if n_bytes >= 2**30 else f"{n_bytes / 2**20:.0f} MiB"


def _selection_problem(tr: Any, layer: int | None, head: int | None) -> str | None:
    """Why (layer, head) cannot be shown from `tr`, or None when it can (None keeps that coordinate)."""
    if layer is not None and layer not in tr.layers:
        return f"layer={layer} is out of range: this trace has layers {index_span(tr.layers)}."
    if head is not None and head not in tr.heads:
        return f"head={head} is out of range: this trace has heads {index_span(tr.heads)}."
    return None


def _model_name(model: Any, trace: Any) -> str | None:
    """What the model box shows first: the model's name, else the traced model's name, else nothing."""
    if model is not None:
        return getattr(model, "name", None) or str(model)
    return trace.model_name if trace is not None else None


def explore(model_or_name: Any = None, text: str | None = None, *, view: str = "explorer", **kwargs: Any):
    """Open the explorer on a model (registry name, folder, hub id or `sinkviz.load(...)` result) and a text.

    `model_or_name` may also be a `Trace` (then no forward pass is run). Keyword arguments go to `Explorer`:
    `layer`, `head`, `values` ("probabilities"/"logits"), `scale` ("0-1"/"0-max"/"log10"),
    `display` ("auto"/"full"/"pooled"/"window"), `max_display_tokens`,
    `render` ("auto"/"canvas"/"anywidget"/"figurewidget"/"output"), `device`, `dtype`.

    A text longer than `long_context_tokens` (default 1024) opens the long-context explorer
    (`sinkviz.widgets.long_context`: one census forward, maps computed per window); `long_context=True/False`
    forces it on or off.

    An explorer keeps its trace (and a model it loaded from a name) until ``.close()``: ipywidgets keep every
    widget alive until it is closed, so a notebook that opens text after text without closing keeps every trace
    (about 1 GiB each at 32k tokens on a GPU).

    `view="bertviz"` / `"bertviz-model"` returns bertviz's head view / model view of the same trace instead,
    with everything it needs inlined (nothing from a CDN).
    """
    from sinkviz import capture, models

    trace = model_or_name if isinstance(model_or_name, capture.Trace) else None
    if view in ("bertviz", "bertviz-head", "bertviz-model"):
        from sinkviz.widgets import bertviz_view

        if trace is None:
            loaded = model_or_name if hasattr(model_or_name, "tokenizer") else \
                models.load(model_or_name or models.DEFAULT_MODEL)
            trace = capture.trace(loaded, text, capture=("attn",))
        make = bertviz_view.model_view if view == "bertviz-model" else bertviz_view.head_view
        return make(trace, **{k: v for k, v in kwargs.items() if k in ("layer", "heads", "include_layers")})
    if view != "explorer":
        raise ValueError(f"view={view!r}: use 'explorer', 'bertviz' or 'bertviz-model'.")
    if trace is not None:
        return Explorer(None, text, trace=trace, **kwargs)
    from sinkviz.widgets.long_context import open_if_long

    long_view, model_or_name = open_if_long(model_or_name, text, kwargs)  # a text too long for dense capture
    if long_view is not None:
        return long_view
    return Explorer(model_or_name, text, **kwargs)
