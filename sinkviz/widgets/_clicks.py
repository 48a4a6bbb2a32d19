"""Shared by sinkviz's anywidgets: a base class whose front end reports clicks as {"event": "click", x, y}."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Callable


@lru_cache(maxsize=None)
def click_widget_base():
    """anywidget.AnyWidget with `_click_callbacks` called as callback(x, y) for each reported click."""
    import anywidget

    class ClickWidget(anywidget.AnyWidget):
        def __init__(self, **kwargs: Any):
            super().__init__(**kwargs)
            self._click_callbacks: list[Callable[[Any, Any], None]] = []
            self.on_msg(self._on_custom_msg)

        def _on_custom_msg(self, widget, content, buffers) -> None:
            if isinstance(content, dict) and content.get("event") == "click":
                for callback in self._click_callbacks:
                    callback(content.get("x"), content.get("y"))

    return ClickWidget
