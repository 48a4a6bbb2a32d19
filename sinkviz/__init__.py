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

from sinkviz._version import __version__

from sinkviz.capture import Trace, trace
from sinkviz.errors import (
    AttentionTooLargeError,
    InputError,
    OutputExistsError,
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
    "run_census": ("sinkviz.census", "run_census"),
    "Census": ("sinkviz.census", "Census"),
    "CensusResult": ("sinkviz.census", "CensusResult"),
    "ruscio": ("sinkviz.papers.ruscio2025", None),
    "gu2025": ("sinkviz.papers.gu2025", None),
    "importance_scores": ("sinkviz.metrics.sink", "importance_scores"),
    "sink_k": ("sinkviz.metrics.sink", "sink_k"),
    "sink_metric": ("sinkviz.metrics.sink", "sink_metric"),
    "natural_texts": ("sinkviz.papers.probes", "natural_texts"),
    "probe_inputs": ("sinkviz.papers.probes", "probe_inputs"),
    "reported_numbers": ("sinkviz.papers.reported", "reported_numbers"),
    "edited_positions": ("sinkviz.papers.positional", "edited_positions"),
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
    "NonFiniteAttentionError", "OutputExistsError", "REGISTRY", "SinkvizError", "Trace", "explore", "export", "list_models", "load",
    "metrics", "plots", "ruscio", "run_census", "trace", "wrap", "gu2025", "importance_scores", "sink_k",
    "sink_metric", "natural_texts", "probe_inputs", "reported_numbers", "edited_positions",
]
