"""Two ways to put a changing plotly figure in a widget tree, behind one interface.

* `FigureWidgetView`: a `go.FigureWidget` (anywidget-based in plotly >= 6) updated in place: one small
  message per change, plotly.js redraws the existing plot. Needed for click events (the overview).
* `OutputView`: a `widgets.Output` into which a fresh `go.Figure` is displayed on every change, as the
  plotly mime bundle (`application/vnd.plotly.v1+json`, rendered by JupyterLab's / VS Code's own plotly
  renderer; no HTML, no script, nothing from a CDN). No events come back.

Which one the explorer uses for the attention map was chosen by measuring both in Chromium
(benchmarks/bench_explorer.py; numbers in benchmarks/results/explorer.json).
"""

from __future__ import annotations

import importlib.util
from typing import Any, Callable

import ipywidgets as widgets
import plotly.graph_objects as go


def figurewidget_available() -> bool:
    """plotly >= 6 builds FigureWidget on anywidget; without anywidget it cannot be created."""
    return importlib.util.find_spec("anywidget") is not None


class FigureWidgetView:
    kind = "figurewidget"

    def __init__(self, fig: go.Figure, config: dict[str, Any] | None = None):
        self.figure = go.FigureWidget(fig)
        self.figure._config = {"displaylogo": False, **(config or {})}
        self.widget = self.figure

    def patch(self, trace_props: dict[str, Any], layout_props: dict[str, Any] | None = None,
              trace_index: int = 0) -> None:
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
    import base64

    import numpy as np

    flat = np.frombuffer(base64.b64decode(spec["bdata"]), dtype=np.dtype(spec["dtype"]))
    shape = tuple(int(s) for s in str(spec.get("shape", len(flat))).split(","))
    array = flat.reshape(shape).astype(np.float64)
    out = array.tolist()
    if np.isnan(array).any():
        rows = np.isnan(array)
        for i, row in enumerate(out):
            if rows[i].any():
                out[i] = [None if bad else v for v, bad in zip(row, rows[i])]
    return out


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


def make_view(fig: go.Figure, kind: str = "auto", config: dict[str, Any] | None = None):
    """kind: "figurewidget", "output", or "auto" (FigureWidget when anywidget is installed)."""
    if kind == "auto":
        kind = "figurewidget" if figurewidget_available() else "output"
    if kind == "figurewidget":
        return FigureWidgetView(fig, config)
    if kind == "output":
        return OutputView(fig, config)
    raise ValueError(f"Unknown render kind {kind!r}: use 'auto', 'figurewidget' or 'output'.")
