"""Four ways to put a changing heat-map figure in a widget tree, behind one interface.

* `CanvasView`: sinkviz's canvas heat-map widget (`_canvas_widget`), no plotly.js in the browser.
* `PlotlyWidgetView`: sinkviz's own small anywidget (`_plotly_widget`): the figure as JSON plus the heat-map
  values as raw float32 bytes; plotly.js redraws in place (`Plotly.react`); only clicks come back.
* `FigureWidgetView`: a `go.FigureWidget` (anywidget-based in plotly >= 6) updated in place: one small
  message per change, plotly.js redraws the existing plot. Needed for click events (the overview).
* `OutputView`: a `widgets.Output` into which a fresh `go.Figure` is displayed on every change, as the
  plotly mime bundle (`application/vnd.plotly.v1+json`, rendered by JupyterLab's / VS Code's own plotly
  renderer; no HTML, no script, nothing from a CDN). No events come back.

Which one the explorer uses was chosen by measuring all three in Chromium
(benchmarks/bench_explorer.py; numbers in benchmarks/results/explorer.json).
"""

from __future__ import annotations

import importlib.util
from typing import Any, Callable

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go


def figurewidget_available() -> bool:
    """anywidget is installed (plotly >= 6 builds FigureWidget on it; sinkviz's own widget needs it too)."""
    return importlib.util.find_spec("anywidget") is not None


class FigureWidgetView:
    kind = "figurewidget"

    def __init__(self, fig: go.Figure, config: dict[str, Any] | None = None):
        self.figure = go.FigureWidget(fig)
        self.figure._config = {"displaylogo": False, **(config or {})}
        self.widget = self.figure

    def patch(self, trace_props: dict[str, Any], layout_props: dict[str, Any] | None = None,
              trace_index: int = 0) -> None:
        trace_props = dict(trace_props)
        if isinstance(trace_props.get("z"), np.ndarray) and trace_props["z"].ndim == 2:
            from _plotly_utils.utils import to_typed_array_spec

            trace_props["z"] = to_typed_array_spec(np.ascontiguousarray(trace_props["z"], dtype=np.float32))
        with self.figure.batch_update():
            self.figure.data[trace_index].update(trace_props, overwrite=False)
            if layout_props:
                self.figure.layout.update(layout_props)

    def resync(self) -> None:
        """Send the whole current figure as the widget's state, with typed arrays written out as lists.

        Call before a new view of the widget is created (the explorer does it when it is displayed). plotly's
        FigureWidget view draws `_widget_data`, then reports to Python every property where plotly's computed
        trace differs from it; a typed-array spec there is decoded by plotly.js into rows that share one
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

    def on_click(self, callback: Callable[[int, int], None]) -> None:
        """callback(x, y) with the data coordinates of a clicked point of any trace."""

        def handler(trace, points, state):
            if points.point_inds:
                callback(points.xs[0], points.ys[0])

        for trace in self.figure.data:
            trace.on_click(handler)

    def current(self) -> go.Figure:
        return go.Figure(self.figure)


def _spec_to_lists(spec: dict[str, Any]) -> list:
    """A plotly typed-array spec as nested lists (NaN -> None, which plotly draws as a gap)."""
    from sinkviz.widgets._plotly_widget import decode_z

    array = decode_z(spec).astype(np.float64)
    return np.where(np.isnan(array), None, array).tolist()


class OutputView:
    kind = "output"
    MIME = "application/vnd.plotly.v1+json"

    def __init__(self, fig: go.Figure, config: dict[str, Any] | None = None):
        self.config = {"displaylogo": False, **(config or {})}
        self.widget = widgets.Output()
        self._fig = go.Figure(fig)
        self._show()

    def _show(self) -> None:
        import json

        from IPython.display import display

        spec = json.loads(self._fig.to_json())
        spec["config"] = self.config
        bundle = {self.MIME: spec, "text/plain": f"<sinkviz figure {self._fig.layout.title.text!r}>"}
        with self.widget:
            self.widget.clear_output(wait=True)
            display(bundle, raw=True)

    def patch(self, trace_props: dict[str, Any], layout_props: dict[str, Any] | None = None,
              trace_index: int = 0) -> None:
        self._fig.data[trace_index].update(trace_props, overwrite=False)
        if layout_props:
            self._fig.layout.update(layout_props)
        self._show()

    def on_click(self, callback: Callable[[int, int], None]) -> None:  # pragma: no cover - nothing to bind
        return None

    def resync(self) -> None:
        return None

    def current(self) -> go.Figure:
        return go.Figure(self._fig)


class _MirroredView:
    """A view whose widget is redrawn from a plotly figure kept in Python (`_fig`) plus the values of one
    heat-map kept aside as a numpy array (`_z`, never run through plotly's validation). Subclasses send."""

    _fig: go.Figure
    _z: np.ndarray | None
    _z_trace: int | None

    def _send(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def patch(self, trace_props: dict[str, Any], layout_props: dict[str, Any] | None = None,
              trace_index: int = 0) -> None:
        from sinkviz.widgets._plotly_widget import decode_z

        trace_props = dict(trace_props)
        if trace_index == self._z_trace and "z" in trace_props:
            self._z = decode_z(trace_props.pop("z"))
        self._fig.data[trace_index].update(trace_props, overwrite=False)
        if layout_props:
            self._fig.layout.update(layout_props)
        self._send()

    def on_click(self, callback: Callable[[Any, Any], None]) -> None:
        self.widget._click_callbacks.append(callback)

    def resync(self) -> None:
        return None  # a new front-end view reads the synced state as it is

    def current(self) -> go.Figure:
        fig = go.Figure(self._fig)
        if self._z is not None:
            fig.data[self._z_trace].z = self._z
        return fig


class PlotlyWidgetView(_MirroredView):
    kind = "anywidget"

    def __init__(self, fig: go.Figure, config: dict[str, Any] | None = None):
        from sinkviz.widgets._plotly_widget import decode_z, plotly_widget

        self.config = {"displaylogo": False, **(config or {})}
        self._fig = go.Figure(fig)
        self._z_trace = next((i for i, t in enumerate(self._fig.data) if t.type == "heatmap"), None)
        self._z = decode_z(self._fig.data[self._z_trace].z) if self._z_trace is not None else None
        self.widget = plotly_widget()
        self._send()

    def _send(self) -> None:
        from sinkviz.widgets._plotly_widget import figure_spec

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
    value_name, y_axis_width, x_axis_height. A scatter trace with one point marks the selected cell."""

    kind = "canvas"

    def __init__(self, fig: go.Figure, config: dict[str, Any] | None = None):
        from sinkviz.widgets._canvas_widget import canvas_heatmap
        from sinkviz.widgets._plotly_widget import decode_z

        self._fig = go.Figure(fig)
        self._z_trace = next(i for i, t in enumerate(self._fig.data) if t.type == "heatmap")
        self._z = decode_z(self._fig.data[self._z_trace].z)
        self.widget = canvas_heatmap()
        self._send()

    def _send(self) -> None:
        import html

        fig, z = self._fig, self._z
        heat = fig.data[self._z_trace]
        meta = heat.meta if isinstance(heat.meta, dict) else {}
        rows, cols = z.shape
        xs = list(heat.x) if heat.x is not None else list(range(cols))
        ys = list(heat.y) if heat.y is not None else list(range(rows))
        selected: list[int] = []
        marker = next((t for t in fig.data if t.type == "scatter" and t.x is not None and len(t.x) == 1), None)
        if marker is not None and marker.x[0] in xs and marker.y[0] in ys:
            selected = [ys.index(marker.y[0]), xs.index(marker.x[0])]
        width, height = meta.get("canvas", (440, 440))
        annotations = fig.layout.annotations or ()
        colorbar = heat.colorbar.title.text if heat.colorbar and heat.colorbar.title else ""
        text = lambda v: html.unescape(str(v))  # noqa: E731 - labels were escaped for plotly's pseudo-HTML
        w = self.widget
        with w.hold_sync():
            w.z = np.ascontiguousarray(z, dtype="<f4").tobytes()
            w.shape = [int(rows), int(cols)]
            w.x_labels, w.y_labels = [text(v) for v in xs], [text(v) for v in ys]
            w.x_values = [v if isinstance(v, (int, float)) else text(v) for v in xs]
            w.y_values = [v if isinstance(v, (int, float)) else text(v) for v in ys]
            w.zmin = float(heat.zmin if heat.zmin is not None else np.nanmin(z))
            w.zmax = float(heat.zmax if heat.zmax is not None else np.nanmax(z))
            w.title = text(fig.layout.title.text or "")
            w.note = text(annotations[0].text) if annotations and annotations[0].text else ""
            w.x_title = text(fig.layout.xaxis.title.text or "")
            w.y_title = text(fig.layout.yaxis.title.text or "")
            w.hover_x, w.hover_y = meta.get("hover_x", "x"), meta.get("hover_y", "y")
            w.value_name = meta.get("value_name", "value")
            w.colorbar_title = text(colorbar or "")
            w.selected = selected
            w.width, w.height = int(width), int(height)
            w.y_axis_width = int(meta.get("y_axis_width", 80))
            w.x_axis_height = int(meta.get("x_axis_height", 70))
            w.revision = w.revision + 1



def make_view(fig: go.Figure, kind: str = "auto", config: dict[str, Any] | None = None):
    """kind: "canvas", "anywidget", "figurewidget", "output", or "auto" (canvas when anywidget is installed)."""
    if kind == "auto":
        kind = "canvas" if figurewidget_available() else "output"
    if kind == "canvas":
        return CanvasView(fig, config)
    if kind == "anywidget":
        return PlotlyWidgetView(fig, config)
    if kind == "figurewidget":
        return FigureWidgetView(fig, config)
    if kind == "output":
        return OutputView(fig, config)
    raise ValueError(f"Unknown render kind {kind!r}: use 'auto', 'canvas', 'anywidget', 'figurewidget' or 'output'.")
