"""Keys pressed inside the explorer go to the explorer's controls, not to the notebook's shortcuts.

Why: Notebook 7 (unlike JupyterLab 4) handles its keyboard shortcuts on `document` in the capture phase, so
a key reaches the notebook before the focused widget. With a slider handle focused, ArrowRight/ArrowLeft ran
`notebook:move-cursor-heading-below-or-expand` / `-above-or-collapse` and the slider never moved (seen in
tests/browser/test_explorer_browser.py). Lumino, under both front ends, skips every shortcut whose target sits
from an element carrying `data-lm-suppress-shortcuts` (it walks up from the key's target and stops at the first
element that has the attribute or matches the shortcut's selector; the notebook's selectors end in `:focus`, so
only the attribute on the focused element itself helps). Python cannot set an attribute on a widget's DOM, so
this invisible anywidget does it: a window-level capture listener (it runs before the one on `document`) marks
the target of each key pressed inside the element matching `scope`. Outside it nothing changes; in VS Code
(no Lumino) the attribute is inert.
"""

from __future__ import annotations

from functools import lru_cache

_ESM = r"""
function render({ model, el }) {
  function mark(ev) {
    const root = el.isConnected && el.closest(model.get("scope"));
    if (root && ev.target instanceof Element && root.contains(ev.target)) {
      ev.target.setAttribute("data-lm-suppress-shortcuts", "true");
    }
  }
  window.addEventListener("keydown", mark, true);
  return () => window.removeEventListener("keydown", mark, true);
}
export default { render };
"""


@lru_cache(maxsize=1)
def _widget_class():
    import anywidget
    import traitlets

    class KeyScope(anywidget.AnyWidget):
        _esm = _ESM
        scope = traitlets.Unicode("").tag(sync=True)  # CSS selector of the ancestor whose keys are its own

    return KeyScope


def key_scope(scope: str):
    """An invisible widget; put it inside the element matching `scope` (a CSS selector, e.g. a class)."""
    import ipywidgets as widgets

    return _widget_class()(scope=scope, layout=widgets.Layout(display="none"))
