"""What the explorer shows, as plain arrays: the layer x head overview and one head's map, cut down for display.

Nothing here touches ipywidgets or plotly, so every rule (masking, pooling, windowing, colour scale) is tested
on hand-built arrays. A slider move or a click only calls these functions on the cached `Trace`; no forward
pass is ever run from here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Literal

import numpy as np

from sinkviz.metrics import visibility_mask

#: Maps with more tokens than this are shown pooled (or windowed): a 1k x 1k heat-map is the most a browser
#: redraws without stalling, and more rows than screen pixels show nothing more.
MAX_DISPLAY_TOKENS = 1024
#: Side of the pooled map (cells) for long inputs.
POOLED_SIDE = 512

Values = Literal["probabilities", "logits"]
Scale = Literal["0-1", "0-max", "log10"]
Display = Literal["auto", "full", "pooled", "window"]


def first_token_importance(layer_maps: Iterable[np.ndarray], causal: bool) -> np.ndarray:
    """alpha_1 for every (layer, head) of one sample: an iterable of ``(H, n, n)`` maps -> ``(L, H)``.

    alpha_1 is the mean attention that key 0 receives from the queries that see it (Gu et al. 2025, sec. 3.2);
    for a causal map every query sees key 0, so it is the mean of column 0. Computed by
    `sinkviz.metrics.sink.importance_scores`, one layer at a time so that only one layer is ever copied.
    """
    from sinkviz.metrics.sink import importance_scores

    rows = []
    for maps in layer_maps:
        maps = np.asarray(maps)
        if maps.ndim != 3 or maps.shape[-1] != maps.shape[-2]:
            raise ValueError(f"each layer must be (heads, n, n); got {maps.shape}")
        rows.append(importance_scores(maps, causal=causal)[:, 0])
    return np.asarray(rows, dtype=np.float32)


def token_labels(tokens: list[str]) -> list[str]:
    """Unique, readable axis labels: "<position> <token>" with whitespace made visible and markup escaped."""
    out = []
    for i, tok in enumerate(tokens):
        shown = (tok.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                 .replace("\n", "\u21b5").replace("\t", "\u2192").replace(" ", "\u2423"))
        out.append(f"{i} {shown}")
    return out


@dataclass
class MapSlice:
    """One head's map as shown: ``z`` (rows = queries, columns = keys; NaN = hidden/not visible)."""

    z: np.ndarray
    x_labels: list[str]  # keys
    y_labels: list[str]  # queries
    values: Values
    scale: Scale
    zmin: float
    zmax: float
    colorbar_title: str
    n_tokens: int
    note: str = ""  # what was done for display (pooling/windowing), shown under the map
    hover_value: str = "weight"
    extra: dict = field(default_factory=dict)


def pool_max(a: np.ndarray, factor: int) -> np.ndarray:
    """Max over ``factor x factor`` blocks (NaN-aware; all-NaN blocks stay NaN). Max keeps a sink column
    visible where a mean would dilute it by ``factor``."""
    if factor <= 1:
        return a
    n_r, n_c = a.shape
    rows, cols = math.ceil(n_r / factor), math.ceil(n_c / factor)
    padded = np.full((rows * factor, cols * factor), np.nan, dtype=np.float32)
    padded[:n_r, :n_c] = a
    blocks = padded.reshape(rows, factor, cols, factor)
    finite = ~np.isnan(blocks)
    filled = np.where(finite, blocks, -np.inf).max(axis=(1, 3))
    return np.where(finite.any(axis=(1, 3)), filled, np.nan).astype(np.float32)


def _range_labels(labels: list[str], factor: int, n: int) -> list[str]:
    """"<first>–<last> <first token>…" for each pooled block (the token says where the block starts)."""
    out = []
    for start in range(0, n, factor):
        stop = min(start + factor, n) - 1
        out.append(labels[start] if stop == start else f"{start}\u2013{stop} {labels[start].split(' ', 1)[1]}\u2026")
    return out


#: Longest tick label (characters) before it is cut with "…": longer ones run into the axis title.
TICK_LABEL_CHARS = 14
LabelDensity = Literal["auto", "all", "none"] | int


def short_label(label: str, limit: int = TICK_LABEL_CHARS) -> str:
    """`label` cut to `limit` characters with a trailing "…" (hover read-outs keep the whole label)."""
    return label if len(label) <= limit else label[:limit - 1].rstrip() + "\u2026"


def tick_step(n_labels: int, length_px: float, density: LabelDensity = "auto", spacing_px: float = 13.0) -> int:
    """Show every `tick_step`-th of `n_labels` labels along an axis `length_px` long; 0 = no labels.

    "auto": as many as fit at `spacing_px` apart (one text line of the 9–10 px tick font, so labels never
    overlap: at 460 px, every label up to 35 tokens, every 2nd up to 70, every 24th at 800 cells); "all":
    every label; "none": no labels; an int k: every k-th label.
    """
    if n_labels <= 0 or density == "none":
        return 0
    if density == "all":
        return 1
    if isinstance(density, int) and not isinstance(density, bool):
        if density < 1:
            raise ValueError(f"label density {density}: give 'auto', 'all', 'none' or a step of at least 1")
        return density
    if density != "auto":
        raise ValueError(f"label density {density!r}: give 'auto', 'all', 'none' or a step such as 5")
    return max(1, math.ceil(n_labels * spacing_px / max(float(length_px), 1.0)))


def head_map(
    matrix: np.ndarray,
    tokens: list[str],
    *,
    causal: bool,
    values: Values = "probabilities",
    scale: Scale = "0-1",
    visible: np.ndarray | None = None,
    display: Display = "auto",
    max_tokens: int = MAX_DISPLAY_TOKENS,
    window_start: int = 0,
    window: int = POOLED_SIDE,
) -> MapSlice:
    """Cut one head's ``(n, n)`` probabilities or logits down to what the map shows.

    * Entries a query cannot see (above the diagonal for a decoder, outside a sliding window) become NaN,
      so only the visible part is drawn; logits of those entries are -inf and are hidden the same way.
    * ``scale``: "0-1" (probabilities on a fixed 0..1 scale), "0-max" (0..largest visible value), "log10"
      (log10 of probabilities, floor 1e-6). Logits always use their own min..max.
    * Maps larger than ``max_tokens`` (``display="auto"``) are max-pooled to at most
      ``min(POOLED_SIDE, max_tokens)`` cells a side; ``display="window"`` shows the ``window`` x ``window`` block starting at ``window_start``
      instead. Both say so in ``note``.
    """
    a = np.asarray(matrix, dtype=np.float32)
    n = a.shape[0]
    if a.ndim != 2 or a.shape[1] != n:
        raise ValueError(f"a head map must be square (n, n); got {a.shape}")
    if len(tokens) != n:
        raise ValueError(f"{len(tokens)} tokens for a {n} x {n} map")
    if visible is None:
        visible = visibility_mask(n, causal)
    z = np.where(visible & np.isfinite(a), a, np.nan).astype(np.float32)
    labels = token_labels(tokens)
    x_labels, y_labels, note = labels, labels, ""

    if display == "window":
        w = max(1, min(window, n))
        start = int(min(max(window_start, 0), n - w))
        z = z[start:start + w, start:start + w]
        x_labels = y_labels = labels[start:start + w]
        if w < n:
            note = f"window: tokens {start}\u2013{start + w - 1} of {n} (queries and keys)"
    elif display == "pooled" or (display == "auto" and n > max_tokens):
        factor = math.ceil(n / min(POOLED_SIDE, max_tokens))
        if factor > 1:
            z = pool_max(z, factor)
            x_labels = y_labels = _range_labels(labels, factor, n)
            note = f"{n} tokens shown max-pooled over {factor}\u00d7{factor} blocks ({z.shape[0]}\u00d7{z.shape[1]} cells)"

    if values == "logits":
        finite = z[np.isfinite(z)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        return MapSlice(z, x_labels, y_labels, values, scale, lo, hi if hi > lo else lo + 1, "logit", n, note,
                        hover_value="logit")
    if scale == "log10":
        z = np.log10(np.maximum(z, 1e-6)).astype(np.float32)
        return MapSlice(z, x_labels, y_labels, values, scale, -6.0, 0.0, "log10 p", n, note, hover_value="log10 p")
    finite = z[np.isfinite(z)]
    top = float(finite.max()) if (scale == "0-max" and finite.size) else 1.0
    return MapSlice(z, x_labels, y_labels, values, scale, 0.0, top if top > 0 else 1.0, "p", n, note)
