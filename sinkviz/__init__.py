"""sinkviz: a Jupyter-first explorer of attention sinks.

    m = sinkviz.load("smollm2-135m")      # registry name, local directory or hub id
    tr = sinkviz.trace(m, "some text")     # attention, q/k (pre/post rotary), v, hidden states
"""

__version__ = "0.1.0"

from sinkviz.capture import Trace, trace
from sinkviz.census import Census, CensusResult
from sinkviz.census import census as run_census
from sinkviz.errors import (
    AttentionTooLargeError,
    InputError,
    MissingDependencyError,
    ModelNotFoundError,
    NoAttentionLayersError,
    NonFiniteAttentionError,
    SinkvizError,
)
from sinkviz import ruscio
from sinkviz.models import DEFAULT_MODEL, REGISTRY, LoadedModel, ModelInfo, list_models, load, wrap

__all__ = [
    "Census", "CensusResult", "run_census",
    "AttentionTooLargeError", "DEFAULT_MODEL", "InputError", "LoadedModel", "MissingDependencyError", "ModelInfo",
    "ModelNotFoundError", "NoAttentionLayersError", "NonFiniteAttentionError", "REGISTRY", "SinkvizError", "Trace",
    "list_models", "load", "trace", "wrap",
]
