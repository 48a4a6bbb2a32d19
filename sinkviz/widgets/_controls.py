"""Control logic shared by the dense and the long-context explorer."""

from __future__ import annotations

from typing import Any


def sync_sliders(view: Any, layer: int, head: int) -> None:
    """Select (layer, head) on an explorer view and move its sliders there without their observers selecting
    again (both explorers share the layer/head slider pair)."""
    view.layer, view.head = layer, head
    view._syncing = True
    try:
        view.layer_slider.value, view.head_slider.value = layer, head
    finally:
        view._syncing = False
