"""Exceptions sinkviz raises. Each message says what was wrong and what to do about it."""

from __future__ import annotations


class SinkvizError(Exception):
    """Base class of every error sinkviz raises on purpose."""


class ModelNotFoundError(SinkvizError, ValueError):
    """A model name is neither a registry name, a local directory nor a reachable hub id."""


class MissingDependencyError(SinkvizError, ImportError):
    """An optional package needed for this call is not installed."""


class InputError(SinkvizError, ValueError):
    """The text or token ids given cannot be traced (empty, too long, wrong shape)."""


class OutputExistsError(SinkvizError, FileExistsError):
    """A file sinkviz was asked to write exists and overwriting was not allowed."""


class AttentionTooLargeError(SinkvizError, MemoryError):
    """Dense attention for this request would not fit in the memory at hand."""


class NonFiniteAttentionError(SinkvizError, FloatingPointError):
    """A layer produced NaN or infinite attention (typically fp16 overflow)."""


class NoAttentionLayersError(SinkvizError, RuntimeError):
    """No attention layer of the model could be observed."""


def require(package: str, purpose: str, pip_name: str | None = None):
    """Import `package` or raise a MissingDependencyError naming it and how to install it."""
    import importlib

    try:
        return importlib.import_module(package)
    except ImportError as exc:  # pragma: no cover - exercised via monkeypatch in tests
        raise MissingDependencyError(
            f"{purpose} needs the package '{pip_name or package}', which is not installed. "
            f"Install it with `pip install {pip_name or package}` (or run `make lab`)."
        ) from exc
