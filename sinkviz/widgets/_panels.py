"""The explorer's analysis panels (QK, key-manifold PCA, persistence, frame verdict, bertviz).

Each panel is computed only while it is open (an Accordion starts closed), and again when the selected
head changes while it is open. The figures come from `sinkviz.plots` and the numbers from `sinkviz.metrics`;
nothing is computed here that those modules do not provide. A panel whose module is missing says so.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any, Callable

import ipywidgets as widgets


class PanelUnavailable(Exception):
    """The panel cannot be shown for this trace (missing module, missing capture, too long...)."""


@dataclass
class Panel:
    title: str
    build: Callable[[Any], Any]  # explorer -> go.Figure | widgets.Widget | str (HTML)
    per_head: bool = True  # rebuilt when the head changes (else only when the layer changes)


def _qk(ex) -> Any:
    try:
        from sinkviz.plots import qk as plots_qk
    except ImportError as exc:
        raise PanelUnavailable("the QK panel needs sinkviz.plots.qk, which this version does not have yet") from exc
    return plots_qk.explorer_panel(ex.trace, ex.layer, ex.head)


def _manifold(ex) -> Any:
    try:
        from sinkviz.plots import manifold as plots_manifold
    except ImportError as exc:
        raise PanelUnavailable("the key-manifold panel needs sinkviz.plots.manifold (not in this version yet)") from exc
    return plots_manifold.explorer_panel(ex.trace, ex.layer, ex.head)


def _topology(ex) -> Any:
    try:
        from sinkviz.plots import topology as plots_topology
    except ImportError as exc:
        raise PanelUnavailable("the persistence panel needs sinkviz.plots.topology (not in this version yet)") from exc
    return plots_topology.explorer_panel(ex.trace, ex.layer, ex.head)


def _frames(ex) -> Any:
    try:
        from sinkviz.plots import frames as plots_frames
    except ImportError as exc:
        raise PanelUnavailable("the frame verdict needs sinkviz.plots.frames (not in this version yet)") from exc
    return plots_frames.explorer_panel(ex.trace, ex.layer, ex.head)


def _bertviz(ex) -> Any:
    from sinkviz.widgets import bertviz_view

    n = ex.trace.n_tokens(0)
    if n > bertviz_view.MAX_TOKENS:
        raise PanelUnavailable(f"bertviz's head view draws every token as a line; {n} tokens is more than "
                               f"{bertviz_view.MAX_TOKENS}, so it is not shown. Use the map above.")
    return bertviz_view.head_view(ex.trace, layer=ex.layer, heads=[ex.head], include_layers=[ex.layer])


PANELS = [
    Panel("QK: cos and norm product (selected head)", _qk),
    Panel("Key manifold: PCA of keys (selected head's KV head)", _manifold),
    Panel("Persistence diagram (selected head)", _topology),
    Panel("Frame verdict (selected layer)", _frames, per_head=False),
    Panel("bertviz head view (selected layer)", _bertviz, per_head=False),
]


class PanelArea:
    def __init__(self, explorer, panels: list[Panel] | None = None):
        self.explorer = explorer
        self.panels = panels or PANELS
        self.outputs = [widgets.Output() for _ in self.panels]
        self.widget = widgets.Accordion(children=self.outputs, titles=tuple(p.title for p in self.panels),
                                        selected_index=None)
        self._shown: dict[int, tuple] = {}
        self.widget.observe(lambda _: self.refresh(), names="selected_index")

    def refresh(self) -> None:
        index = self.widget.selected_index
        ex = self.explorer
        if index is None or ex.trace is None:
            return
        panel = self.panels[index]
        key = (id(ex.trace), ex.layer, ex.head if panel.per_head else None)
        if self._shown.get(index) == key:
            return
        self._shown[index] = key
        self.show(index, panel)

    def show(self, index: int, panel: Panel) -> None:
        from IPython.display import HTML, display

        out = self.outputs[index]
        try:
            content = panel.build(self.explorer)
        except PanelUnavailable as exc:
            content = f"<i>{html.escape(str(exc))}</i>"
        except Exception as exc:  # a panel must never break the explorer
            content = f'<span style="color:#8b0000">{html.escape(type(exc).__name__)}: {html.escape(str(exc))}</span>'
        with out:
            out.clear_output(wait=True)
            if isinstance(content, str):
                display(HTML(content))
            elif hasattr(content, "to_plotly_json"):
                import json

                display({"application/vnd.plotly.v1+json": json.loads(content.to_json())}, raw=True)
            else:
                display(content)
