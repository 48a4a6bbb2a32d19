"""The explorer's model selector: a dropdown of the models that load here, plus a box for any folder or hub id.

The dropdown lists the registry models (installed or not: choosing a missing one says how to install it), the
models in the local Hugging Face cache (they load without network), and every other model loaded in this
explorer. Its last entry, "folder or hub id…", shows a text box that takes a local folder made by
`save_pretrained` or a hub id.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

#: The dropdown value that shows the free-text box.
OTHER = "\u0000other"
OTHER_LABEL = "folder or hub id\u2026"


def menu_entries(extra: list[str] = ()) -> list[tuple[str, str]]:
    """(label, value) pairs: registry models, cached hub models, then `extra` names, then the free-text entry."""
    from sinkviz.models import REGISTRY, cached_hub_models

    entries = []
    for entry in REGISTRY.values():
        state = f"{entry.parameters}" if entry.installed() else "not installed"
        entries.append((f"{entry.name} ({state})", entry.name))
    for repo in cached_hub_models():
        entries.append((f"{repo} (hub cache)", repo))
    seen = {value for _, value in entries}
    entries += [(name, name) for name in extra if name and name not in seen]
    entries.append((OTHER_LABEL, OTHER))
    return entries


class ModelMenu:
    """A dropdown and a text box; `value` is the model name, folder or hub id chosen."""

    def __init__(self, initial: str | None):
        self._extra: list[str] = []
        self.dropdown = widgets.Dropdown(options=menu_entries(), description="model",
                                         layout=widgets.Layout(width="300px"))
        self.other = widgets.Text(placeholder="local folder or hub id, e.g. ./my_model or gpt2",
                                  layout=widgets.Layout(width="300px", display="none"))
        self.dropdown.add_class("sinkviz-model-menu")
        self.other.add_class("sinkviz-model-other")
        self.dropdown.observe(self._on_choice, names="value")
        self.widget = widgets.HBox([self.dropdown, self.other])
        if initial:
            self.show(initial)

    @property
    def value(self) -> str:
        """What Trace will load: the dropdown's model, or the text box's folder / hub id."""
        return self.other.value.strip() if self.dropdown.value == OTHER else str(self.dropdown.value)

    def show(self, name: str) -> None:
        """Select `name` in the dropdown, adding it to the list if it is not there (a folder or hub id)."""
        name = str(name).strip()
        values = [value for _, value in self.dropdown.options]
        if name not in values:
            self._extra.append(name)
            self.dropdown.options = menu_entries(self._extra)
        self.dropdown.value = name
        self.other.value = ""

    def _on_choice(self, change: Any) -> None:
        self.other.layout.display = None if change["new"] == OTHER else "none"
