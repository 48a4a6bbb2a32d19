"""sinkviz: a Jupyter-first explorer of attention sinks.

    m = sinkviz.load("smollm2-135m")             # registry name, local directory or hub id
    tr = sinkviz.trace(m, "some text")            # attention, q/k (pre/post rotary), v, hidden states
    sinkviz.explore(m, "some text")               # the interactive explorer (ipywidgets)
    sinkviz.export(fig, "figures/x.pdf")          # PNG / PDF / SVG / HTML, paper style
    sinkviz.run_census(m, texts, seq_len=4096)    # streaming statistics at long context
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

from sinkviz.capture import Trace, trace
from sinkviz.errors import (
    AttentionTooLargeError,
    InputError,
    MissingDependencyError,
    ModelNotFoundError,
    NoAttentionLayersError,
    NonFiniteAttentionError,
    SinkvizError,
)
from sinkviz.models import DEFAULT_MODEL, REGISTRY, LoadedModel, ModelInfo, list_models, load, wrap

# Imported eagerly: the function shares its name with its module, and a later `import sinkviz.export`
# elsewhere would otherwise leave the module, not the function, as `sinkviz.export`. (Light: plotly and
# kaleido load inside the call.)
from sinkviz.export import export  # noqa: E402

# Heavier parts (plotly, ipywidgets, scikit-learn, ripser, triton) load on first use, so `import sinkviz`
# and `sinkviz.load` stay quick in scripts that only trace.
_LAZY = {
    "explore": ("sinkviz.widgets.explorer", "explore"),
    "Explorer": ("sinkviz.widgets.explorer", "Explorer"),
    "run_census": ("sinkviz.census", "census"),
    "Census": ("sinkviz.census", "Census"),
    "CensusResult": ("sinkviz.census", "CensusResult"),
    "ruscio": ("sinkviz.ruscio", None),
    "gu2025": ("sinkviz.gu2025", None),
    "importance_scores": ("sinkviz.metrics.sink", "importance_scores"),
    "sink_k": ("sinkviz.metrics.sink", "sink_k"),
    "sink_metric": ("sinkviz.metrics.sink", "sink_metric"),
    "natural_texts": ("sinkviz.probes", "natural_texts"),
    "probe_inputs": ("sinkviz.probes", "probe_inputs"),
    "reported_numbers": ("sinkviz.probes", "reported_numbers"),
    "edited_positions": ("sinkviz.positional", "edited_positions"),
    "metrics": ("sinkviz.metrics", None),
    "plots": ("sinkviz.plots", None),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'sinkviz' has no attribute {name!r}")
    module_name, attribute = _LAZY[name]
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value


__all__ = [
    "AttentionTooLargeError", "Census", "CensusResult", "DEFAULT_MODEL", "Explorer", "InputError", "LoadedModel",
    "MissingDependencyError", "ModelInfo", "ModelNotFoundError", "NoAttentionLayersError",
    "NonFiniteAttentionError", "REGISTRY", "SinkvizError", "Trace", "explore", "export", "list_models", "load",
    "metrics", "plots", "ruscio", "run_census", "trace", "wrap", "gu2025", "importance_scores", "sink_k",
    "sink_metric", "natural_texts", "probe_inputs", "reported_numbers", "edited_positions",
]
