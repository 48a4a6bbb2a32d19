"""The explorer carries the invisible key-scope widget that keeps its keys from the notebook's shortcuts
(Notebook 7 takes a slider's arrow keys otherwise). The browser test checks the effect in both front ends."""

from __future__ import annotations

import sinkviz
from sinkviz.widgets.explorer import explore
from tiny_models import save_tiny, text



def test_explorer_has_a_key_scope_for_itself(tmp_path):
    tr = sinkviz.trace(sinkviz.load(str(save_tiny("llama", tmp_path / "llama")), device="cpu"), text(8))
    ex = explore(tr)
    scopes = [w for w in ex.children if type(w).__name__ == "KeyScope"]
    assert len(scopes) == 1
    scope = scopes[0]
    assert scope.scope == ".sinkviz-explorer" and "sinkviz-explorer" in ex._dom_classes
    assert scope.layout.display == "none"
    assert "data-lm-suppress-shortcuts" in scope._esm and '"keydown", mark, true' in scope._esm
