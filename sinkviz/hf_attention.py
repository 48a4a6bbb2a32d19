"""The one place that talks to transformers' attention and mask interfaces: registration, switching, masks.

Why a registered attention function: one registered with ``AttentionInterface`` receives the *post-rotary*
queries and the *un-repeated* post-rotary keys of every layer, for every architecture that follows
transformers' attention interface, without patching any model class. Delegating to the family's own
``eager_attention_forward`` (looked up in the module that defines the attention class) keeps each family's
quirks -- Gemma's soft-capping, GPT-OSS's learned sink logits, GPT-2's scaling -- exactly as the model
computes them. A mask function is registered under the same name: without it transformers passes
``attention_mask=None`` and silently drops the causal mask.

Two implementations are registered here, each with a listener stack that is active only inside
:func:`listening`:

* ``"sinkviz"`` (:data:`CAPTURE_IMPLEMENTATION`): exact eager attention; each listener receives an
  :class:`AttentionCall` (used by capture and by the loader's one-pass probe);
* ``"sinkviz_census"`` (:data:`CENSUS_IMPLEMENTATION`): a function supplied by the census engine, which
  reads its listener with :func:`active_listener` (SDPA boolean masks).
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from sinkviz.metrics import visibility_mask

CAPTURE_IMPLEMENTATION = "sinkviz"
CENSUS_IMPLEMENTATION = "sinkviz_census"

# implementation name -> listeners, innermost last. A ContextVar, so that nested or concurrent runs in
# other contexts do not see each other's listeners.
_LISTENERS: contextvars.ContextVar[dict[str, tuple[Any, ...]]] = contextvars.ContextVar(
    "sinkviz_attention_listeners", default={}
)
_REGISTERED: set[str] = set()


@dataclass
class AttentionCall:
    """What one attention layer received and produced during a forward pass."""

    module: torch.nn.Module
    query: torch.Tensor | None  # (B, H, T, d) after rotary
    key: torch.Tensor | None  # (B, H_kv, T, d) after rotary, un-repeated
    value: torch.Tensor | None  # (B, H_kv, T, d)
    weights: torch.Tensor  # (B, H, T, T) probabilities as the model's eager attention returns them
    attention_mask: torch.Tensor | None  # additive float mask (B or 1, 1, T, T) or None
    scaling: float | None
    sliding_window: int | None
    softcap: float | None


Recorder = Callable[[AttentionCall], None]


# ---------------------------------------------------------------------------------------------
# registration and switching


def register(name: str, function: Callable[..., Any], mask: str = "eager") -> str:
    """Register ``function`` with ``AttentionInterface`` and transformers' ``mask`` builder ("eager" or
    "sdpa") with ``AttentionMaskInterface``, both under ``name`` (idempotent). Returns the name."""
    if name in _REGISTERED:
        return name
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, eager_mask, sdpa_mask

    masks = {"eager": eager_mask, "sdpa": sdpa_mask}
    AttentionInterface.register(name, function)
    AttentionMaskInterface.register(name, masks[mask])
    _REGISTERED.add(name)
    return name


def uses_attention_interface(model: torch.nn.Module) -> bool:
    """Whether the model dispatches attention through transformers' AttentionInterface."""
    can = getattr(model, "_can_set_attn_implementation", None)
    return bool(can()) if callable(can) else False


@contextlib.contextmanager
def using_implementation(model: torch.nn.Module, name: str) -> Iterator[None]:
    """Switch ``model`` to the attention implementation ``name`` and restore the previous one afterwards."""
    previous = model.config._attn_implementation
    if previous != name:
        model.set_attn_implementation(name)
        if model.config._attn_implementation != name:
            raise RuntimeError(
                f"{type(model).__name__} does not let its attention implementation be set to {name!r} "
                "(transformers' AttentionInterface); sinkviz cannot observe its attention this way."
            )
    try:
        yield
    finally:
        if previous != name:
            model.set_attn_implementation(previous)


@contextlib.contextmanager
def listening(model: torch.nn.Module, name: str, listener: Any) -> Iterator[None]:
    """Route ``model``'s attention through the registered implementation ``name`` while ``listener`` is
    active for it; restore the implementation and the listeners afterwards."""
    if name == CAPTURE_IMPLEMENTATION:
        register(CAPTURE_IMPLEMENTATION, capture_attention, mask="eager")
    elif name not in _REGISTERED:
        raise RuntimeError(f"attention implementation {name!r} is not registered; call hf_attention.register first")
    current = _LISTENERS.get()
    token = _LISTENERS.set({**current, name: current.get(name, ()) + (listener,)})
    try:
        with using_implementation(model, name):
            yield
    finally:
        _LISTENERS.reset(token)


def listeners(name: str) -> tuple[Any, ...]:
    """The listeners active for implementation ``name``, outermost first."""
    return _LISTENERS.get().get(name, ())


def active_listener(name: str) -> Any | None:
    """The innermost listener active for implementation ``name``, or None."""
    found = listeners(name)
    return found[-1] if found else None


# ---------------------------------------------------------------------------------------------
# the family's own eager attention


def family_eager(module: torch.nn.Module, *, fallback_to_llama: bool = True) -> Callable[..., Any]:
    """The ``eager_attention_forward`` of the module's own modeling file.

    Capture falls back to LLaMA's (the shape every interface model shares); the census needs the family's
    own function exactly where it cannot use SDPA (soft-capping, sink logits) and asks for an error instead.
    """
    function = getattr(sys.modules.get(type(module).__module__), "eager_attention_forward", None)
    if function is not None:
        return function
    if not fallback_to_llama:
        raise RuntimeError(
            f"{type(module).__name__} needs its model's eager attention (soft-capping or sink logits), but its "
            "module defines no eager_attention_forward"
        )
    from transformers.models.llama.modeling_llama import eager_attention_forward

    return eager_attention_forward


def capture_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    """Attention function registered as "sinkviz": exact eager attention, shown to every active listener."""
    if scaling is not None:
        kwargs["scaling"] = scaling
    output, weights = family_eager(module)(module, query, key, value, attention_mask, dropout=dropout, **kwargs)
    active = listeners(CAPTURE_IMPLEMENTATION)
    if active:
        call = AttentionCall(
            module=module, query=query, key=key, value=value, weights=weights, attention_mask=attention_mask,
            scaling=float(scaling) if scaling is not None else getattr(module, "scaling", None),
            sliding_window=kwargs.get("sliding_window"), softcap=kwargs.get("softcap"),
        )
        for record in active:
            record(call)
    return output, weights


@contextlib.contextmanager
def recording(model: torch.nn.Module, recorder: Recorder) -> Iterator[None]:
    """Capture's shorthand: run ``model`` through the "sinkviz" implementation while ``recorder`` listens."""
    with listening(model, CAPTURE_IMPLEMENTATION, recorder):
        yield


@contextlib.contextmanager
def eager_with_weights(model: torch.nn.Module) -> Iterator[None]:
    """Plain eager attention, for models outside the interface that return weights with output_attentions."""
    with using_implementation(model, "eager"):
        yield


# ---------------------------------------------------------------------------------------------
# masks


def additive_mask(
    mask: torch.Tensor | None, length: int, causal: bool, window: int | None, dtype: torch.dtype,
    device: torch.device,
) -> torch.Tensor | None:
    """The additive float mask an eager attention function expects, from the boolean-or-None masks of
    transformers' ``sdpa_mask`` (None means "plain causal" for a causal layer and "no mask" for a
    bidirectional one). The pattern itself comes from :func:`sinkviz.metrics.visibility_mask`."""
    if mask is not None:
        if mask.dtype == torch.bool:
            return torch.where(mask, torch.zeros((), dtype=dtype, device=mask.device), torch.finfo(dtype).min)
        return mask
    if not causal and window is None:
        return None
    allowed = torch.from_numpy(np.ascontiguousarray(visibility_mask(length, causal, window))).to(device)
    return torch.where(allowed, torch.zeros((), dtype=dtype, device=device), torch.finfo(dtype).min)[None, None]


__all__ = [
    "AttentionCall", "CAPTURE_IMPLEMENTATION", "CENSUS_IMPLEMENTATION", "Recorder", "active_listener",
    "additive_mask", "capture_attention", "eager_with_weights", "family_eager", "listeners", "listening",
    "recording", "register", "uses_attention_interface", "using_implementation", "visibility_mask",
]
