"""Progress of one forward pass, block by block, in a progress bar (the explorer's long inputs take minutes).

Forward hooks on the model's blocks count the blocks done; they only count, and are removed when the pass
ends (also on error), so the capture itself is untouched.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import ipywidgets as widgets


def progress_bar() -> widgets.IntProgress:
    """A hidden bar; `forward_progress` shows it while a pass runs."""
    bar = widgets.IntProgress(value=0, min=0, max=1, description="forward", bar_style="info",
                              layout=widgets.Layout(display="none", width="360px"))
    bar.add_class("sinkviz-progress")
    return bar


@contextlib.contextmanager
def forward_progress(model, bar: widgets.IntProgress) -> Iterator[None]:
    """Within the block, each finished transformer block of `model` moves `bar` one step."""
    from sinkviz.models import layer_modules

    try:
        blocks = list(layer_modules(model))
    except Exception:  # noqa: BLE001 - a model whose blocks cannot be found still runs, without a bar
        blocks = []
    bar.max, bar.value = max(1, len(blocks)), 0
    bar.description = f"0/{len(blocks)} blocks"

    def step(*_):
        bar.value = min(bar.max, bar.value + 1)
        bar.description = f"{bar.value}/{len(blocks)} blocks"

    handles = [block.register_forward_hook(step) for block in blocks]
    bar.layout.display = None if blocks else "none"
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
        bar.layout.display = "none"
