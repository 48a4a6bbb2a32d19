"""Input validation and visibility masks shared by every metric module (the one home for both).

Private to ``sinkviz.metrics``; imports nothing else of sinkviz. Every metric converts its arguments
here, so a torch tensor, a numpy array and nested lists are accepted alike and a wrong shape fails with
the same kind of message everywhere.
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np


def _from_torch(x: Any) -> Any:
    """A torch tensor as numpy (floating point as float64: exact for float16, bfloat16, float32 and float64 alike;
    numpy has no bfloat16); anything else unchanged."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        x = x.detach().cpu()
        return (x.double() if x.is_floating_point() else x).numpy()
    return x


def as_array(x: Any, *, name: str = "array", dtype: Any = np.float64, finite: bool = True) -> np.ndarray:
    """Convert numpy / torch / nested lists to a numpy array (torch via ``.detach().cpu()``, without rounding).
    ``finite=False`` lets NaN through (the sink metrics mark padded keys with it)."""
    try:
        arr = np.asarray(_from_torch(x), dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be array-like of numbers (numpy array or torch tensor); got "
                        f"{type(x).__name__}") from exc
    if finite and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf values; clean the input (e.g. drop padded rows) first")
    return arr


# a captured bf16 map rounds each entry to 2^-9 relative, so a row's sum lies within about 0.002 of 1
ROW_SUM_TOLERANCE = 1e-2


def check_probabilities(a: np.ndarray, *, name: str = "attn") -> None:
    """Attention probabilities as the sink metrics read them: no entry below 0, and no query row summing to more
    than 1 (within :data:`ROW_SUM_TOLERANCE`); NaN marks padding and is skipped. A row may sum to less than 1: a
    learned sink logit (gpt-oss) or a key/value slot outside the map holds the rest. A ValueError names the first
    violation found, so logits, differences of maps or summed heads fail here instead of giving α above 1."""
    if a.size == 0:
        return
    with warnings.catch_warnings():  # an all-padding (all-NaN) input has no minimum: nothing to check
        warnings.simplefilter("ignore", RuntimeWarning)
        lowest = np.nanmin(a)
        highest_row = np.nanmax(np.nansum(a, axis=-1))
    if lowest < 0:
        raise ValueError(f"{name} has a negative entry ({lowest:.3g}); attention probabilities are >= 0. Pass "
                         "softmax outputs (trace.attention(...)), not logits or a difference of two maps")
    if highest_row > 1 + ROW_SUM_TOLERANCE:
        raise ValueError(f"{name} has a query row summing to {highest_row:.4g}; each row of attention probabilities "
                         "sums to 1 (less with a sink slot). Pass one head's map or a head average, not a sum of "
                         "heads or unnormalised scores")


def as_square(x: Any, *, name: str = "attention", dtype: Any = np.float64) -> np.ndarray:
    """Return ``x`` as a square (n, n) array, n >= 1, or raise a ValueError naming the shape."""
    arr = as_array(x, name=name, dtype=dtype)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or arr.shape[0] < 1:
        raise ValueError(
            f"{name} must be a square (n, n) matrix for one layer/head and one sample; got shape {arr.shape}. "
            "Pass trace.attention(layer, head) or head_average(...) of a (heads, n, n) stack."
        )
    return arr


def as_head_stack(x: Any, *, name: str = "attention", dtype: Any = np.float64) -> np.ndarray:
    """Return ``x`` as (H, n, n); a single (n, n) matrix becomes (1, n, n)."""
    arr = as_array(x, name=name, dtype=dtype)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[1] != arr.shape[2] or arr.shape[1] < 1:
        raise ValueError(
            f"{name} must be (heads, n, n) for one layer and one sample; got shape {arr.shape}"
        )
    return arr


def head_average(attn: Any) -> np.ndarray:
    """Ā = (1/H) Σ_h A^h: the head-averaged layer map every paper-B notebook uses
    (``np.mean(attention_map, axis=1)[0]`` in ``topology.ipynb``). Accepts (H, n, n) or (n, n)."""
    return as_head_stack(attn).mean(axis=0)


def visibility_mask(n: int, causal: bool, sliding_window: int | None = None) -> np.ndarray:
    """(n, n) bool: which keys j each query i may attend to.

    Causal: j <= i. A sliding window of w keeps i - j < w (and j - i < w for a bidirectional layer), as
    transformers' masks do. This is the one mask builder of sinkviz; the torch masks of
    :mod:`sinkviz.hf_attention` are made from it.
    """
    if sliding_window is not None and sliding_window < 1:
        raise ValueError(f"sliding_window must be a number of keys >= 1 (or None for no window); got {sliding_window}")
    i = np.arange(n)[:, None]
    j = np.arange(n)[None, :]
    visible = (j <= i) if causal else np.ones((n, n), dtype=bool)
    if sliding_window is not None:
        visible = visible & ((i - j) < sliding_window)
        if not causal:
            visible &= (j - i) < sliding_window
    return visible


def check_square(attn: np.ndarray, name: str = "attn") -> int:
    """T of an attention stack of shape (..., T, T); a ValueError naming the shape otherwise."""
    if attn.ndim < 2 or attn.shape[-1] != attn.shape[-2] or attn.shape[-1] < 1 or attn.size == 0:
        raise ValueError(
            f"{name} must have shape (..., T, T), T >= 1, with queries on axis -2 and keys on axis -1 and no empty "
            f"axis; got {attn.shape}"
        )
    return attn.shape[-1]


def check_lengths(lengths: Any, n_samples: int, T: int) -> np.ndarray:
    """One real-token length per sample, each in [1, T] (right padding)."""
    lens = np.asarray(lengths, dtype=np.int64).reshape(-1)
    if lens.shape[0] != n_samples:
        raise ValueError(
            f"lengths has {lens.shape[0]} entries but the first (sample) axis has {n_samples}; pass one "
            "length per sample, with the sample axis first"
        )
    if (lens < 1).any() or (lens > T).any():
        raise ValueError(f"every length must be in [1, {T}] (the padded length); got {lens.tolist()}")
    return lens
