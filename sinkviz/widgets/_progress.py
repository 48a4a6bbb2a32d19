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


@contextlib.contextmanager
def shown_while_building(*parts: widgets.Widget) -> Iterator[None]:
    """In a notebook kernel, display ``parts`` (a status line, a progress bar) at once, and close that display when
    the block ends. A widget that ``explore(model, text)`` builds is displayed only when the call returns, so the
    memory estimate and the progress of the forward pass inside the call would show only once it was over.
    Elsewhere (plain Python, tests) nothing is displayed."""
    box = None
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        get_ipython = None
    shell = get_ipython() if get_ipython is not None else None
    if shell is not None and getattr(shell, "kernel", None) is not None:
        box = widgets.VBox(list(parts))
        display(box)
    try:
        yield
    finally:
        if box is not None:
            box.close()  # the box only: its parts live on in the widget being built
