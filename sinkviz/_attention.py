"""The one hook into transformers' attention: a registered attention function that delegates to the
model family's own eager attention and hands what it saw to the active recorder.

Why this way (see ../shared/design.md, pitfalls 1 and 5): a function registered with
`AttentionInterface` receives the *post-rotary* queries and the *un-repeated* post-rotary keys of every
layer, for every architecture that follows transformers' attention interface, without patching any
model class. Delegating to the family's own `eager_attention_forward` (looked up in the module that
defines the attention class) keeps each family's quirks -- Gemma's soft-capping, GPT-OSS's learned sink
logits, GPT-2's scaling -- exactly as the model computes them. The mask function is registered under the
same name; without it transformers silently drops the causal mask.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch

ATTN_NAME = "sinkviz"


@dataclass
class AttentionCall:
    """What one attention layer received and produced during a forward pass."""

    module: torch.nn.Module
    query: torch.Tensor  # (B, H, T, d) after rotary
    key: torch.Tensor  # (B, H_kv, T, d) after rotary, un-repeated
    value: torch.Tensor  # (B, H_kv, T, d)
    weights: torch.Tensor  # (B, H, T, T) probabilities as the model's eager attention returns them
    attention_mask: torch.Tensor | None  # additive float mask (B or 1, 1, T, T) or None
    scaling: float | None
    sliding_window: int | None
    softcap: float | None


Recorder = Callable[[AttentionCall], None]
_recorders: list[Recorder] = []


def _family_eager(module: torch.nn.Module) -> Callable[..., Any]:
    """The `eager_attention_forward` of the module's own modeling file (falls back to LLaMA's)."""
    family = sys.modules.get(type(module).__module__)
    fn = getattr(family, "eager_attention_forward", None)
    if fn is None:
        from transformers.models.llama.modeling_llama import eager_attention_forward as fn
    return fn


def sinkviz_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    """Attention function registered as "sinkviz": exact eager attention plus recording."""
    eager = _family_eager(module)
    if scaling is not None:
        kwargs["scaling"] = scaling
    output, weights = eager(module, query, key, value, attention_mask, dropout=dropout, **kwargs)
    if _recorders:
        call = AttentionCall(
            module=module,
            query=query,
            key=key,
            value=value,
            weights=weights,
            attention_mask=attention_mask,
            scaling=float(scaling) if scaling is not None else getattr(module, "scaling", None),
            sliding_window=kwargs.get("sliding_window"),
            softcap=kwargs.get("softcap"),
        )
        for record in list(_recorders):
            record(call)
    return output, weights


def register() -> None:
    """Register the attention and mask functions (idempotent)."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, eager_mask

    AttentionInterface.register(ATTN_NAME, sinkviz_attention)
    AttentionMaskInterface.register(ATTN_NAME, eager_mask)


def uses_attention_interface(model: torch.nn.Module) -> bool:
    """Whether the model dispatches attention through transformers' AttentionInterface."""
    can = getattr(model, "_can_set_attn_implementation", None)
    return bool(can()) if callable(can) else False


@contextlib.contextmanager
def recording(model: torch.nn.Module, recorder: Recorder) -> Iterator[None]:
    """Route the model's attention through the sinkviz function while `recorder` listens; restore after."""
    register()
    previous = model.config._attn_implementation
    if previous != ATTN_NAME:
        model.set_attn_implementation(ATTN_NAME)
    _recorders.append(recorder)
    try:
        yield
    finally:
        _recorders.remove(recorder)
        if previous != ATTN_NAME:
            model.set_attn_implementation(previous)
