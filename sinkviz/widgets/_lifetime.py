"""Closing a widget tree: ipywidgets keep every widget alive until it is closed, and with it whatever its callbacks
reach (an explorer's trace: about 1 GiB at 32k tokens on a GPU), so an explorer frees its memory only through this."""
from __future__ import annotations

import ipywidgets as widgets


def close_tree(root: widgets.Widget) -> None:
    """Close every widget under ``root`` (through ``children``, and widgets held as attributes but not shown),
    leaving ``root`` itself open for its own ``close``."""
    stack = list(getattr(root, "children", ())) + [v for v in vars(root).values() if isinstance(v, widgets.Widget)]
    seen = {id(root)}
    while stack:
        widget = stack.pop()
        if id(widget) in seen:
            continue
        seen.add(id(widget))
        stack.extend(getattr(widget, "children", ()) or ())
        widget.close()
