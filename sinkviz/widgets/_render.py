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

    def __init__(self, fig: go.Figure):
        self.figure = go.FigureWidget(fig)
        self.widget = self.figure

    def patch(self, trace_props: dict[str, Any], layout_props: dict[str, Any] | None = None,
              trace_index: int = 0) -> None:
        with self.figure.batch_update():
            self.figure.data[trace_index].update(trace_props, overwrite=False)
            if layout_props:
                self.figure.layout.update(layout_props)

    def on_click(self, callback: Callable[[int, int], None]) -> None:
        """callback(x, y) with the data coordinates of a clicked point of any trace."""

        def handler(trace, points, state):
            if points.point_inds:
                callback(points.xs[0], points.ys[0])

        for trace in self.figure.data:
            trace.on_click(handler)

    def current(self) -> go.Figure:
        return go.Figure(self.figure)


class OutputView:
    kind = "output"
    MIME = "application/vnd.plotly.v1+json"

    def __init__(self, fig: go.Figure):
        self.widget = widgets.Output()
        self._fig = go.Figure(fig)
        self._show()

    def _show(self) -> None:
        import json

        from IPython.display import display

        bundle = {self.MIME: json.loads(self._fig.to_json()), "text/plain": f"<sinkviz figure {self._fig.layout.title.text!r}>"}
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

    def current(self) -> go.Figure:
        return go.Figure(self._fig)


def make_view(fig: go.Figure, kind: str = "auto"):
    """kind: "figurewidget", "output", or "auto" (FigureWidget when anywidget is installed)."""
    if kind == "auto":
        kind = "figurewidget" if figurewidget_available() else "output"
    if kind == "figurewidget":
        return FigureWidgetView(fig)
    if kind == "output":
        return OutputView(fig)
    raise ValueError(f"Unknown render kind {kind!r}: use 'auto', 'figurewidget' or 'output'.")
