"""bertviz's head view and model view for a sinkviz `Trace`, with nothing loaded from a CDN.

bertviz (https://github.com/jessevig/bertviz) writes a ``<script src=...require.min.js>`` tag and a
``require.config`` that fetch require.js, d3 and jQuery from cdnjs; offline, or behind a firewall, the view
stays blank (bertviz#63). Here bertviz's own Python builds the view (``html_action="return"``), then:

* the require.js tag and ``require.config`` are removed;
* ``requirejs(['jquery', 'd3'], function ($, d3) {...})`` becomes a plain call with d3 5.7.0 and jQuery 3.7.1
  from ``sinkviz/widgets/vendor/`` (BSD-3-Clause and MIT licences beside them; fetched with `npm pack d3@5.7.0 jquery@3.7.1`), loaded once per page into
  ``window.__sinkviz_vendor`` with AMD/CommonJS hidden (so a page's own require.js is not disturbed) and
  ``jQuery.noConflict(true)`` (so a page's own ``$`` is kept).

The result displays in JupyterLab, Notebook 7 and VS Code (HTML output with an inline script), and saves as
a standalone page: ``view.save("figures/head_view.html")``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

from sinkviz._files import atomic_write
from sinkviz.errors import InputError, MissingDependencyError

VENDOR = Path(__file__).parent / "vendor"
D3_FILE = "d3-5.7.0.min.js"
JQUERY_FILE = "jquery-3.7.1.min.js"
#: bertviz draws one line per (query, key) pair of every head; beyond this it is unreadable and slow.
MAX_TOKENS = 160
DECIMALS = 4  # attention values are written with 4 decimals (bertviz would write 17 digits each)


@lru_cache(maxsize=1)
def vendor_loader() -> str:
    """JavaScript that defines window.__sinkviz_vendor = {d3, jquery} once, from the vendored files."""
    d3 = (VENDOR / D3_FILE).read_text(encoding="utf-8")
    jquery = (VENDOR / JQUERY_FILE).read_text(encoding="utf-8")
    return (
        "(function () {\n"
        "  if (window.__sinkviz_vendor) { return; }\n"
        "  var scope = {};\n"
        "  (function (define, module, exports) {\n" + d3 + "\n  }).call(scope);\n"
        "  (function (define, module, exports) {\n" + jquery + "\n  }).call(window);\n"
        "  window.__sinkviz_vendor = { d3: scope.d3, jquery: window.jQuery.noConflict(true) };\n"
        "})();\n"
    )


_CDN_TAG = re.compile(r"<script[^>]*\bsrc=[\"'][^\"']*require[^\"']*[\"'][^>]*>\s*</script>", re.I)
_REQUIRE_CONFIG = re.compile(r"require\.config\(\s*\{.*?\}\s*\}\s*\);", re.S)
_REQUIREJS_CALL = re.compile(r"requirejs\(\s*\[\s*'jquery'\s*,\s*'d3'\s*\]\s*,\s*function\s*\(\s*\$\s*,\s*d3\s*\)\s*\{")


def inline_dependencies(bertviz_html: str) -> str:
    """Rewrite bertviz's HTML so it uses the vendored d3/jQuery and loads nothing from the network."""
    out, n_tags = _CDN_TAG.subn("", bertviz_html)
    out, n_config = _REQUIRE_CONFIG.subn("", out)
    out, n_calls = _REQUIREJS_CALL.subn("(function ($, d3) {", out)
    if n_tags != 1 or n_config != 1 or n_calls != 1:
        raise RuntimeError(
            f"bertviz's HTML did not have the expected shape (require.js tags {n_tags}, require.config {n_config}, "
            f"requirejs calls {n_calls}); this bertviz version is not supported by sinkviz's offline view."
        )
    end = out.rfind("});")
    out = out[:end] + "})(window.__sinkviz_vendor.jquery, window.__sinkviz_vendor.d3);" + out[end + 3:]
    script = out.find("<script")
    body_start = out.find(">", script) + 1
    return out[:body_start] + "\n" + vendor_loader() + "\n" + out[body_start:]


@dataclass
class BertvizView:
    """A bertviz view as self-contained HTML. Shows itself in a notebook; `save()` writes a standalone page."""

    fragment: str
    kind: str
    title: str

    def _repr_html_(self) -> str:
        return self.fragment

    def to_html(self) -> str:
        return ("<!DOCTYPE html>\n<html>\n<head><meta charset=\"utf-8\"><title>" + self.title + "</title></head>\n"
                "<body style=\"background:white\">\n" + self.fragment + "\n</body>\n</html>\n")

    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write the standalone page; an existing file is kept unless ``overwrite`` (`OutputExistsError`)."""
        path = Path(path)
        if path.suffix.lower() not in (".html", ".htm"):
            raise InputError(f"A bertviz view saves as HTML; {path.name!r} does not end in .html.")
        return atomic_write(path, self.to_html(), overwrite=overwrite)


def _attention_for(trace, sample: int, include_layers: Sequence[int] | None):
    import torch

    if not trace.attentions:
        raise InputError("This trace holds no attention: trace again with capture including 'attn'.")
    n = trace.n_tokens(sample)
    if n > MAX_TOKENS:
        raise InputError(
            f"The text has {n} tokens; bertviz's views draw every pair as a line and become unreadable (and slow) "
            f"beyond {MAX_TOKENS}. Use a shorter text, or sinkviz.explore(...) whose map pools long inputs."
        )
    layers = list(trace.layers) if include_layers is None else [int(l) for l in include_layers]
    missing = [l for l in layers if l not in trace.attentions]
    if missing:
        raise InputError(f"Layers {missing} are not in this trace (captured: {trace.layers}).")
    # bertviz takes one (1, heads, n, n) tensor per layer, indexed by layer number: fill the others with
    # placeholders (never serialised, since include_layers selects only the captured ones).
    full = []
    for l in range(max(layers) + 1):
        if l in layers:
            a = trace.attentions[l][sample:sample + 1, :, :n, :n].double()
            full.append(torch.round(a, decimals=DECIMALS))
        else:
            full.append(torch.zeros(1, 1, 1, 1, dtype=torch.float64))
    return full, layers, trace.tokens[sample]


def _bertviz():
    try:
        import bertviz
    except ImportError as exc:
        raise MissingDependencyError("The bertviz views need the package 'bertviz'. Install it with "
                                     "`pip install bertviz`.") from exc
    return bertviz


def head_view(trace, *, sample: int = 0, layer: int | None = None, heads: Sequence[int] | None = None,
              include_layers: Sequence[int] | None = None) -> BertvizView:
    """bertviz's head view (lines from each token to the tokens it attends to) for a sinkviz Trace."""
    bertviz = _bertviz()
    attention, layers, tokens = _attention_for(trace, sample, include_layers)
    if layer is not None and layer not in layers:
        raise InputError(f"Layer {layer} is not among the layers shown ({layers}).")
    heads = None if heads is None else [trace.heads.index(h) for h in heads]
    html = bertviz.head_view(attention=tuple(attention), tokens=list(tokens), layer=layer, heads=heads,
                             include_layers=layers, html_action="return").data
    return BertvizView(inline_dependencies(html), "head", f"bertviz head view: {trace.model_name}")


def model_view(trace, *, sample: int = 0, include_layers: Sequence[int] | None = None,
               include_heads: Sequence[int] | None = None, display_mode: str = "light") -> BertvizView:
    """bertviz's model view (a thumbnail per layer and head) for a sinkviz Trace."""
    bertviz = _bertviz()
    attention, layers, tokens = _attention_for(trace, sample, include_layers)
    heads = None if include_heads is None else [trace.heads.index(h) for h in include_heads]
    html = bertviz.model_view(attention=tuple(attention), tokens=list(tokens), include_layers=layers,
                              include_heads=heads, display_mode=display_mode, html_action="return").data
    return BertvizView(inline_dependencies(html), "model", f"bertviz model view: {trace.model_name}")


def external_urls(html: str) -> list[str]:
    """URLs the page would load: script/link/img/iframe sources and require.js paths (empty when offline-safe)."""
    found = re.findall(r"<(?:script|img|iframe|link)[^>]*\b(?:src|href)=[\"']((?:https?:)?//[^\"']+)", html, re.I)
    found += re.findall(r"paths\s*:\s*\{[^}]*?[\"']((?:https?:)?//[^\"']+)", html)
    return found


__all__ = ["BertvizView", "head_view", "model_view", "inline_dependencies", "external_urls", "MAX_TOKENS"]
