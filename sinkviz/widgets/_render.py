"""Views: a changing plotly figure inside a widget tree, four ways, all behind one interface (:class:`View`).

* `CanvasView`: sinkviz's canvas heat-map widget (`_canvas_widget`), no plotly.js in the browser.
* `PlotlyWidgetView`: sinkviz's own small anywidget (`_plotly_widget`): the figure as JSON plus the heat-map
  values as raw float32 bytes; plotly.js redraws in place (`Plotly.react`); only clicks come back.
* `FigureWidgetView`: a `go.FigureWidget` (anywidget-based in plotly >= 6) updated in place: one small
  message per change, plotly.js redraws the existing plot.
* `OutputView`: a `widgets.Output` into which a fresh `go.Figure` is displayed on every change, as the
  plotly mime bundle (`application/vnd.plotly.v1+json`, rendered by JupyterLab's / VS Code's own plotly
  renderer; no HTML, no script, nothing from a CDN). No events come back; needs no anywidget.

The explorer only calls the methods of :class:`View` and never asks which kind it holds. The default kind
was chosen by measuring all four in Chromium (benchmarks/bench_explorer.py, results in
benchmarks/results/explorer.json): for a 512-token map, the median time from a slider key press to the
redrawn map was 77 ms for the canvas, 166 ms for the plotly anywidget, 187 ms for FigureWidget (which also
sent a 537 MB report back once, see `FigureWidgetView.resync`) and 471 ms for an Output.
"""

from __future__ import annotations

import contextlib
import html
import importlib.util
import json
import re
from typing import Any, Callable, Iterator

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go

from sinkviz.widgets._canvas_widget import canvas_heatmap
from sinkviz.widgets._plotly_widget import decode_z, figure_spec, plotly_widget

#: The kind ``make_view(..., "auto")`` picks when anywidget is installed (fastest measured, see above).
DEFAULT_KIND = "canvas"
KINDS = ("canvas", "anywidget", "figurewidget", "output")


def anywidget_available() -> bool:
    """anywidget is installed (every kind but "output" needs it; plotly >= 6 builds FigureWidget on it)."""
    return importlib.util.find_spec("anywidget") is not None


class View:
    """A figure shown in a widget and changed by small patches.

    ``widget`` goes into the widget tree; ``clickable`` says whether ``on_click`` callbacks will ever fire.
    Subclasses apply changes to their copy of the figure (``_apply_trace`` / ``_apply_layout``) and send them
    to the browser when a change is complete (``_changing``).
    """

    kind: str
    clickable = True
    widget: Any

    def patch(self, trace_props: dict[str, Any], layout_props: dict[str, Any] | None = None,
              trace_index: int = 0) -> None:
        """Change some properties of trace ``trace_index`` (and of the layout), in one update."""
        with self._changing():
            self._apply_trace(dict(trace_props), trace_index)
            if layout_props:
                self._apply_layout(layout_props)

    def update(self, fig: go.Figure) -> None:
        """Show ``fig``, a figure with the same traces as the one shown, in one update."""
        with self._changing():
            for index, trace in enumerate(fig.data):
                props = trace.to_plotly_json()
                props.pop("type", None)
                self._apply_trace(props, index)
            self._apply_layout(fig.layout.to_plotly_json())

    def on_click(self, callback: Callable[[Any, Any], None]) -> None:
        """``callback(x, y)`` with the data coordinates of each clicked cell or point."""

    def resync(self) -> None:
        """Prepare the widget's state for a new front-end view (called before the explorer is displayed)."""

    def current(self) -> go.Figure:
        """The figure as it is shown now."""
        raise NotImplementedError

    def _changing(self) -> contextlib.AbstractContextManager:
        raise NotImplementedError

    def _apply_trace(self, props: dict[str, Any], index: int) -> None:
        raise NotImplementedError

    def _apply_layout(self, props: dict[str, Any]) -> None:
        raise NotImplementedError


class FigureWidgetView(View):
    kind = "figurewidget"

    def __init__(self, fig: go.Figure, config: dict[str, Any] | None = None):
        self.figure = go.FigureWidget(fig)
        self.figure._config = {"displaylogo": False, **(config or {})}
        self.widget = self.figure

    def _changing(self) -> contextlib.AbstractContextManager:
        return self.figure.batch_update()

    def _apply_trace(self, props: dict[str, Any], index: int) -> None:
        trace = self.figure.data[index]
        for axis in ("x", "y"):  # unchanged labels: plotly keeps them (saves ~40 KB and a re-layout)
            if axis in props and trace[axis] is not None and tuple(trace[axis]) == tuple(props[axis]):
                del props[axis]
        if isinstance(props.get("z"), np.ndarray) and props["z"].ndim == 2:
            from _plotly_utils.utils import to_typed_array_spec

            props["z"] = to_typed_array_spec(np.ascontiguousarray(props["z"], dtype=np.float32))
        trace.update(props, overwrite=False)

    def _apply_layout(self, props: dict[str, Any]) -> None:
        self.figure.layout.update(props)

    def resync(self) -> None:
        """Send the whole current figure as the widget's state, with typed arrays written out as lists.

        plotly's FigureWidget view draws `_widget_data`, then reports to Python every property where plotly's
        computed trace differs from it; a typed-array spec there is decoded by plotly.js into rows that share one
        buffer, and the report then carries that whole buffer once per row (512 rows x 1 MiB = 537 MB for a
        512 x 512 map, measured). With plain lists in `_widget_data` the report stays small.
        """
        from copy import deepcopy

        data = deepcopy(self.figure._data)
        for trace in data:
            for key, value in list(trace.items()):
                if isinstance(value, dict) and "bdata" in value:
                    trace[key] = _spec_to_lists(value)
        self.figure._widget_layout = deepcopy(self.figure._layout_obj._props)
        self.figure._widget_data = data

    def on_click(self, callback: Callable[[Any, Any], None]) -> None:
        def handler(trace, points, state):
            if points.point_inds:
                callback(points.xs[0], points.ys[0])

        for trace in self.figure.data:
            trace.on_click(handler)

    def current(self) -> go.Figure:
        return go.Figure(self.figure)


def _spec_to_lists(spec: dict[str, Any]) -> list:
    """A plotly typed-array spec as nested lists (NaN -> None, which plotly draws as a gap)."""
    array = decode_z(spec).astype(np.float64)
    return np.where(np.isnan(array), None, array).tolist()


class _SendsWhenDone(View):
    """A view that keeps the figure in Python and sends it whole (``_send``) once a change is complete."""

    _fig: go.Figure

    @contextlib.contextmanager
    def _changing(self) -> Iterator[None]:
        yield
        self._send()

    def _send(self) -> None:
        raise NotImplementedError

    def _apply_trace(self, props: dict[str, Any], index: int) -> None:
        self._fig.data[index].update(props, overwrite=False)

    def _apply_layout(self, props: dict[str, Any]) -> None:
        self._fig.layout.update(props)


class OutputView(_SendsWhenDone):
    kind = "output"
    clickable = False
    MIME = "application/vnd.plotly.v1+json"

    def __init__(self, fig: go.Figure, config: dict[str, Any] | None = None):
        self.config = {"displaylogo": False, **(config or {})}
        self.widget = widgets.Output()
        self._fig = go.Figure(fig)
        self._send()

    def _send(self) -> None:
        from IPython.display import display

        spec = json.loads(self._fig.to_json())
        spec["config"] = self.config
        bundle = {self.MIME: spec, "text/plain": f"<sinkviz figure {self._fig.layout.title.text!r}>"}
        with self.widget:
            self.widget.clear_output(wait=True)
            display(bundle, raw=True)

    def current(self) -> go.Figure:
        return go.Figure(self._fig)


class _MirroredView(_SendsWhenDone):
    """A view whose widget is redrawn from a plotly figure kept in Python (`_fig`) plus the values of one
    heat-map kept aside as a numpy array (`_z`, never run through plotly's validation)."""

    _z: np.ndarray | None
    _z_trace: int | None

    def _apply_trace(self, props: dict[str, Any], index: int) -> None:
        if index == self._z_trace and "z" in props:
            self._z = decode_z(props.pop("z"))
        super()._apply_trace(props, index)

    def on_click(self, callback: Callable[[Any, Any], None]) -> None:
        self.widget._click_callbacks.append(callback)

    def current(self) -> go.Figure:
        fig = go.Figure(self._fig)
        if self._z is not None:
            fig.data[self._z_trace].z = self._z
        return fig


class PlotlyWidgetView(_MirroredView):
    kind = "anywidget"

    def __init__(self, fig: go.Figure, config: dict[str, Any] | None = None):
        self.config = {"displaylogo": False, **(config or {})}
        self._fig = go.Figure(fig)
        self._z_trace = next((i for i, t in enumerate(self._fig.data) if t.type == "heatmap"), None)
        self._z = decode_z(self._fig.data[self._z_trace].z) if self._z_trace is not None else None
        self.widget = plotly_widget()
        self._send()

    def _send(self) -> None:
        binary = self._z is not None
        spec = figure_spec(self._fig, self._z_trace if binary else None, self.config)
        with self.widget.hold_sync():
            self.widget.spec = spec
            self.widget.z = np.ascontiguousarray(self._z, dtype="<f4").tobytes() if binary else b""
            self.widget.z_shape = list(self._z.shape) if binary else []
            self.widget.z_trace = self._z_trace if binary else 0
            self.widget.revision = self.widget.revision + 1


class CanvasView(_MirroredView):
    """The figure's heat-map drawn by `_canvas_widget` (a canvas, no plotly.js); a plotly figure is kept beside
    it for `current()` (export). Trace `meta` may carry canvas settings: canvas=[w, h], hover_x, hover_y,
    hover_tag (said once in the tooltip, after the column's index: "(0-indexed)"), value_name, y_axis_width,
    x_axis_height. A scatter trace with one point marks the selected cell."""

    kind = "canvas"

    def __init__(self, fig: go.Figure, config: dict[str, Any] | None = None):
        self._fig = go.Figure(fig)  # `config` is plotly.js's; the canvas has no mode bar to configure
        self._z_trace = next(i for i, t in enumerate(self._fig.data) if t.type == "heatmap")
        self._z = decode_z(self._fig.data[self._z_trace].z)
        self.widget = canvas_heatmap()
        self._send()

    def _send(self) -> None:
        fig, z = self._fig, self._z
        heat = fig.data[self._z_trace]
        meta = heat.meta if isinstance(heat.meta, dict) else {}
        rows, cols = z.shape
        xs = list(heat.x) if heat.x is not None else list(range(cols))
        ys = list(heat.y) if heat.y is not None else list(range(rows))
        width, height = meta.get("canvas", (440, 440))
        annotations = fig.layout.annotations or ()
        colorbar = heat.colorbar.title.text if heat.colorbar and heat.colorbar.title else ""
        w = self.widget
        with w.hold_sync():
            w.z = np.ascontiguousarray(z, dtype="<f4").tobytes()
            w.shape = [int(rows), int(cols)]
            w.x_labels, w.y_labels = [_plain(v) for v in xs], [_plain(v) for v in ys]
            w.x_values = [v if isinstance(v, (int, float)) else _plain(v) for v in xs]
            w.y_values = [v if isinstance(v, (int, float)) else _plain(v) for v in ys]
            w.zmin = float(heat.zmin if heat.zmin is not None else np.nanmin(z))
            w.zmax = float(heat.zmax if heat.zmax is not None else np.nanmax(z))
            w.title = _plain(fig.layout.title.text or "")
            w.note = _plain(annotations[0].text) if annotations and annotations[0].text else ""
            w.x_title = _plain(fig.layout.xaxis.title.text or "")
            w.y_title = _plain(fig.layout.yaxis.title.text or "")
            w.hover_x, w.hover_y = meta.get("hover_x", "x"), meta.get("hover_y", "y")
            w.hover_tag = meta.get("hover_tag", "")
            w.value_name = meta.get("value_name", "value")
            w.colorbar_title = _plain(colorbar or "")
            w.selected = _selected_cell(fig, xs, ys)
            w.width, w.height = int(width), int(height)
            w.y_axis_width = int(meta.get("y_axis_width", 80))
            w.x_axis_height = int(meta.get("x_axis_height", 70))
            w.tick_chars = int(meta.get("tick_chars", 14))
            w.revision = w.revision + 1


def _plain(value: Any) -> str:
    """A label as plain text: labels were written in plotly's pseudo-HTML (escapes, <br>, <span>), the canvas
    writes text nodes (a <br> becomes a line break)."""
    text = re.sub(r"<br\s*/?>", "\n", str(value), flags=re.I)
    return html.unescape(re.sub(r"</?(?:span|b|i|sub|sup)\b[^>]*>", "", text, flags=re.I))


def _selected_cell(fig: go.Figure, xs: list, ys: list) -> list[int]:
    """[row, col] of the one-point scatter trace marking the selection, or [] when there is none."""
    marker = next((t for t in fig.data if t.type == "scatter" and t.x is not None and len(t.x) == 1), None)
    if marker is not None and marker.x[0] in xs and marker.y[0] in ys:
        return [ys.index(marker.y[0]), xs.index(marker.x[0])]
    return []


_VIEW_CLASSES = {"canvas": CanvasView, "anywidget": PlotlyWidgetView, "figurewidget": FigureWidgetView,
                 "output": OutputView}


def make_view(fig: go.Figure, kind: str = "auto", config: dict[str, Any] | None = None) -> View:
    """A view of ``fig``. ``kind``: "canvas", "anywidget", "figurewidget", "output", or "auto"
    (:data:`DEFAULT_KIND`). Without anywidget every kind falls back to "output"."""
    if kind != "auto" and kind not in _VIEW_CLASSES:
        raise ValueError(f"Unknown render kind {kind!r}: use 'auto', {', '.join(map(repr, KINDS))}.")
    if kind == "auto":
        kind = DEFAULT_KIND
    if not anywidget_available():
        kind = "output"
    return _VIEW_CLASSES[kind](fig, config)
