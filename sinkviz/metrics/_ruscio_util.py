"""Small array helpers shared by the Ruscio et al. (2025) metric modules.

Private to ``sinkviz.metrics``: input validation and the head average used by every
analysis of paper B ("What are you sinking?", NeurIPS 2025, official notebooks). Nothing
here imports another sinkviz layer.
"""
from __future__ import annotations

from typing import Any

import numpy as np


def as_array(x: Any, *, name: str = "array", dtype: Any = np.float64) -> np.ndarray:
    """Convert numpy / torch / nested lists to a numpy array (torch via ``.detach().cpu()``)."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        x = x.detach().cpu().float().numpy()
    arr = np.asarray(x, dtype=dtype)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf values; clean the input (e.g. drop padded rows) first")
    return arr


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


def is_lower_triangular(a: np.ndarray, atol: float = 0.0) -> bool:
    """True when every entry strictly above the diagonal is within ``atol`` of zero (causal attention)."""
    return bool(np.all(np.abs(np.triu(a, 1)) <= atol))


def causal_visible_mask(n: int, causal: bool) -> np.ndarray:
    """Boolean (n, n) mask of query->key pairs the model can attend: j <= i if causal, else all."""
    if causal:
        return np.tril(np.ones((n, n), dtype=bool))
    return np.ones((n, n), dtype=bool)
