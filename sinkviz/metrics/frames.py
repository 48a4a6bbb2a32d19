"""Reference-frame classification — Ruscio, Nanni, Silvestri, "What are you sinking?"
(NeurIPS 2025): sinks establish reference frames of three kinds (abstract; Fig. 1):
**centralized** (one dominant reference point, e.g. BOS), **distributed** (several weaker
reference points), **bidirectional** (dual anchors with layer-wise specialisation, e.g.
[CLS]/<s> early and [SEP]/</s> or "." later in encoders).

The paper releases NO classification code (Ruscio et al. 2025 release only Fig. 1's schematic). This module implements an
explicit, documented rule built on where the sinks sit across heads and samples, by
POSITION and, side by side, by token STRING (the view the official ``topology.ipynb`` head
specialisation uses).

Per sample, layer l and head h (``head_sinks``):
* the sink candidate is the key with the largest column mean c_j = (1/n) Σ_i A_ij (its share of
  the head's attention budget, as ``_analyze_heads`` in topology.ipynb);
* its **excess** e = c_j / u_j over the share u_j the same key would get from uniform attention
  under the same mask (causal: u_j = (1/n) Σ_{i≥j} 1/(i+1); bidirectional: u_j = 1/n). Uniform
  causal attention puts the largest column mean on key 0 with e = 1: without this check it
  would look like a BOS sink.
* the head-sample has a **frame top** if e ≥ ``min_excess`` (2.0) — sinkviz's rule for where a head's
  sink sits, not Gu et al.'s Sink_k (α_k > ε = 0.3); its category is ``start`` (key 0),
  ``end`` (key n−1, and n−2 as well when key n−1 is a tokenizer-added special token such as
  [SEP]/</s>, since n−2 is where the final "." sits), otherwise ``interior``.

Per layer (``LayerFrame``; shares are over head-samples that have a frame top):
* ``no-sink`` if fewer than ``min_frame_top_rate`` (50%) of head-samples have a frame top;
* ``centralized`` if one anchor (start or end) takes ≥ ``anchor_share`` (80%);
* ``bidirectional`` if start and end each take ≥ ``dual_min`` (20%) and together ≥ 80%;
* ``distributed`` otherwise (sinks on content-dependent interior tokens).

Per model (``FrameVerdict``), over the N layers that are not ``no-sink``:
* ``centralized`` if ≥ ``model_majority`` (2/3) of them are centralized on the same anchor and
  fewer than ``dual_min`` (20%) use the other anchor (as a centralized or bidirectional layer);
* ``bidirectional`` if at least 20% of layers use the start anchor and at least 20% use the end
  anchor (centralized on it or bidirectional), and at least half the layers are anchored;
* ``distributed`` otherwise; ``undetermined`` if N = 0.

The same rule applied to token STRINGS instead of positions (a layer is centralized by string
if one string takes ≥ 80% of the sinks, …) gives ``string_label``: a tokenizer without BOS
whose heads all sink on the first word is centralized by position but distributed by string,
which is how the authors' per-string statistics describe Qwen2.5 (their Results_sample/ topology report).
Thresholds are engineering choices (the paper gives none) and are stored with every verdict.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np

from ._validate import as_array

__all__ = [
    "FrameThresholds",
    "HeadSinks",
    "LayerFrame",
    "FrameVerdict",
    "uniform_column_share",
    "head_sinks",
    "classify_frames",
    "frame_statistics_over_training",
]

CATEGORIES = ("start", "end", "interior")


@dataclass(frozen=True)
class FrameThresholds:
    """Decision thresholds of the frame rule (module docstring). Engineering choices."""

    min_excess: float = 2.0
    min_frame_top_rate: float = 0.5
    anchor_share: float = 0.8
    dual_min: float = 0.2
    model_majority: float = 2.0 / 3.0


@dataclass
class HeadSinks:
    """Per-sample reduction of a (L, H, n, n) attention stack: for every layer and head, the
    top key (``top_position``), its column mean (``top_share``) and its excess over uniform
    attention (``excess``). ``tokens`` (strings) and ``special_positions`` are optional."""

    top_position: np.ndarray
    top_share: np.ndarray
    excess: np.ndarray
    n: int
    causal: bool
    layers: list[int]
    tokens: list[str] | None = None
    special_positions: tuple[int, ...] = ()

    def end_positions(self) -> tuple[int, ...]:
        last = self.n - 1
        if last in self.special_positions and self.n >= 2:
            return (last, last - 1)
        return (last,)

    def category(self, thresholds: FrameThresholds) -> np.ndarray:
        """(L, H) array of 'start' / 'end' / 'interior' / 'none'."""
        cat = np.full(self.top_position.shape, "interior", dtype=object)
        cat[self.top_position == 0] = "start"
        ends = self.end_positions()
        cat[np.isin(self.top_position, ends) & (self.top_position != 0)] = "end"
        cat[self.excess < thresholds.min_excess] = "none"
        return cat


@dataclass
class LayerFrame:
    """Verdict of one layer with the numbers that decided it."""

    layer: int
    label: str
    anchor: str | None
    reason: str
    n_head_samples: int
    frame_top_rate: float  # share of head-samples with a frame top (excess ≥ min_excess)
    shares: dict[str, float]
    median_excess: float
    mean_top_share: float
    position_consistency: float
    string_label: str
    string_anchor: str | None
    string_share: float
    string_consistency: float
    head_modal_position: list[int] = field(default_factory=list)
    head_modal_string: list[str | None] = field(default_factory=list)


@dataclass
class FrameVerdict:
    """Model-level verdict, its reason, per-layer evidence and the thresholds used."""

    label: str
    reason: str
    string_label: str
    string_reason: str
    layers: list[LayerFrame]
    counts: dict[str, int]
    thresholds: FrameThresholds

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return d

    def layer_table(self) -> list[dict[str, Any]]:
        """One flat row per layer (for display / DataFrame)."""
        rows = []
        for lf in self.layers:
            rows.append({
                "layer": lf.layer, "label": lf.label, "anchor": lf.anchor, "frame_top_rate": round(lf.frame_top_rate, 3),
                "start": round(lf.shares["start"], 3), "end": round(lf.shares["end"], 3),
                "interior": round(lf.shares["interior"], 3), "median_excess": round(lf.median_excess, 2),
                "position_consistency": round(lf.position_consistency, 3),
                "string_label": lf.string_label, "string_anchor": lf.string_anchor,
                "string_share": round(lf.string_share, 3), "string_consistency": round(lf.string_consistency, 3),
            })
        return rows


def uniform_column_share(n: int, causal: bool) -> np.ndarray:
    """u_j: column mean key j receives when every query attends uniformly to what it can see."""
    if not causal:
        return np.full(n, 1.0 / n)
    inv = 1.0 / np.arange(1, n + 1)
    tail = np.cumsum(inv[::-1])[::-1]  # Σ_{i ≥ j} 1/(i+1)
    return tail / n


def head_sinks(
    attn: Any,
    *,
    causal: bool,
    tokens: Sequence[str] | None = None,
    special_positions: Sequence[int] = (),
    layers: Sequence[int] | None = None,
) -> HeadSinks:
    """Reduce one sample's (L, H, n, n) attention (unpadded) to per-head sink candidates
    (module docstring). A (H, n, n) stack is treated as one layer::

        c_j = (1/n) Σ_i A^{l,h}_{ij};  top = argmax_j c_j;  excess = c_top / u_top
        u_j = (1/n) Σ_{i≥j} 1/(i+1) (causal) or 1/n (bidirectional)   (0-indexed)

    Ruscio et al. 2025 (abstract, Fig. 1) release no frame code; the column-mean top key follows
    ``Notebooks/topology.ipynb``, ``AggregateTopologyAnalyzer._analyze_heads``."""
    a = as_array(attn, name="attention")
    if a.ndim == 3:
        a = a[None]
    if a.ndim != 4 or a.shape[-1] != a.shape[-2] or a.size == 0:
        raise ValueError(f"attention must be (layers, heads, n, n), none of them 0, for one sample; got {a.shape}")
    n = a.shape[-1]
    if tokens is not None and len(tokens) != n:
        raise ValueError(f"got {len(tokens)} tokens for attention over {n} positions (pass the unpadded sample)")
    col = a.mean(axis=-2)  # (L, H, n) column means
    top = col.argmax(axis=-1)
    share = np.take_along_axis(col, top[..., None], axis=-1)[..., 0]
    base = uniform_column_share(n, causal)
    excess = share / base[top]
    lay = list(layers) if layers is not None else list(range(a.shape[0]))
    if len(lay) != a.shape[0]:
        raise ValueError(f"{len(lay)} layer ids for {a.shape[0]} layers")
    return HeadSinks(top, share, excess, n, causal, lay, list(tokens) if tokens is not None else None, tuple(int(p) for p in special_positions))


def _label_from_shares(shares: dict[str, float], anchors: Sequence[str], thr: FrameThresholds) -> tuple[str, str | None]:
    """Layer rule on category shares; ``anchors`` are the categories that may be anchors."""
    ranked = sorted(((shares.get(k, 0.0), k) for k in anchors), reverse=True)
    if not ranked:
        return "distributed", None
    (s1, k1) = ranked[0]
    if s1 >= thr.anchor_share:
        return "centralized", k1
    if len(ranked) > 1:
        (s2, k2) = ranked[1]
        if s2 >= thr.dual_min and s1 + s2 >= thr.anchor_share:
            return "bidirectional", f"{k1}+{k2}"
    return "distributed", None


def _model_rule(labels: Sequence[tuple[str, str | None]], thr: FrameThresholds) -> tuple[str, str, dict[str, int]]:
    sinky = [(lab, anc) for lab, anc in labels if lab != "no-sink"]
    counts = Counter(lab for lab, _ in labels)
    counts_d = {k: int(counts.get(k, 0)) for k in ("centralized", "bidirectional", "distributed", "no-sink")}
    n = len(sinky)
    if n == 0:
        return "undetermined", "no layer has sinks in at least half of its head-samples", counts_d
    uses: Counter[str] = Counter()
    central_on: Counter[str] = Counter()
    for lab, anc in sinky:
        if lab == "centralized" and anc:
            uses[anc] += 1
            central_on[anc] += 1
        elif lab == "bidirectional" and anc:
            for part in anc.split("+"):
                uses[part] += 1
    if central_on:
        anchor, k = central_on.most_common(1)[0]
        others = max((v for a, v in uses.items() if a != anchor), default=0)
        if k / n >= thr.model_majority and others / n < thr.dual_min:
            return "centralized", (
                f"{k}/{n} layers with sinks are centralized on '{anchor}' (≥ {thr.model_majority:.2f}); "
                f"the most-used other anchor appears in {others}/{n} layers (< {thr.dual_min})"), counts_d
    top2 = uses.most_common(2)
    anchored = sum(1 for lab, _ in sinky if lab in ("centralized", "bidirectional"))
    if len(top2) == 2 and all(v / n >= thr.dual_min for _, v in top2) and anchored / n >= 0.5:
        (a1, v1), (a2, v2) = top2
        return "bidirectional", (
            f"two anchors used across layers: '{a1}' in {v1}/{n} and '{a2}' in {v2}/{n} layers with sinks "
            f"(each ≥ {thr.dual_min}); {anchored}/{n} layers anchored"), counts_d
    return "distributed", (
        f"no anchor dominates: anchor use {dict(uses)} over {n} layers with sinks; "
        f"{counts_d['distributed']} layers distributed"), counts_d


def _modal_per_head(values: np.ndarray) -> tuple[list, list[float]]:
    """Each head's most frequent value over samples, and the share of samples that have it (``values``: (S, H))."""
    modal, consistency = [], []
    for head_values in values.T:
        value, count = Counter(head_values.tolist()).most_common(1)[0]
        modal.append(value)
        consistency.append(count / len(head_values))
    return modal, consistency


def _layer_frame(layer: int, categories: np.ndarray, positions: np.ndarray, excess: np.ndarray,
                 top_share: np.ndarray, strings: np.ndarray | None, thr: FrameThresholds) -> LayerFrame:
    """One layer's verdict from its head-samples (each array (S, H); ``strings`` the top tokens' text, or None)."""
    has_top = categories != "none"
    total = categories.size
    n_top = int(has_top.sum())
    frame_top_rate = n_top / total
    shares = {cat: (float(np.sum(categories == cat)) / n_top if n_top else 0.0) for cat in CATEGORIES}
    head_modal_position, position_consistency = _modal_per_head(positions)
    head_modal_string: list[str | None] = []
    string_consistency: list[float] = []
    string_share, string_anchor, string_label = 0.0, None, "unknown"
    if strings is not None:
        head_modal_string, string_consistency = _modal_per_head(strings)
        if n_top:
            string_counts = Counter(strings[has_top].tolist())
            string_shares = {text: count / n_top for text, count in string_counts.items()}
            string_label, string_anchor = _label_from_shares(string_shares, list(string_shares), thr)
            string_share = max(string_shares.values())
    if frame_top_rate < thr.min_frame_top_rate:
        label, anchor = "no-sink", None
        reason = (f"only {frame_top_rate:.0%} of {total} head-samples have a frame top (excess ≥ {thr.min_excess}); "
                  f"need ≥ {thr.min_frame_top_rate:.0%}")
        string_label, string_anchor = "no-sink", None
    else:
        label, anchor = _label_from_shares(shares, ("start", "end"), thr)
        reason = (f"{n_top}/{total} head-samples have a frame top (excess ≥ {thr.min_excess}); of those start "
                  f"{shares['start']:.0%}, end {shares['end']:.0%}, interior {shares['interior']:.0%} → {label}"
                  + (f" on {anchor}" if anchor else ""))
    return LayerFrame(
        layer=layer, label=label, anchor=anchor, reason=reason, n_head_samples=total,
        frame_top_rate=frame_top_rate, shares=shares, median_excess=float(np.median(excess)),
        mean_top_share=float(np.mean(top_share[has_top])) if n_top else 0.0,
        position_consistency=float(np.mean(position_consistency)), string_label=string_label,
        string_anchor=string_anchor, string_share=float(string_share),
        string_consistency=float(np.mean(string_consistency)) if string_consistency else float("nan"),
        head_modal_position=[int(p) for p in head_modal_position], head_modal_string=head_modal_string,
    )


def classify_frames(samples: Sequence[HeadSinks], thresholds: FrameThresholds | None = None) -> FrameVerdict:
    """Frame verdict per layer and per model from per-sample ``HeadSinks`` (module docstring).
    All samples must cover the same layers and heads. Per layer, over head-samples with excess ≥ 2::

        s_c = #{category c} / #{frame tops},  c ∈ {start, end, interior}
        centralized: max(s_start, s_end) ≥ 0.8;  bidirectional: both ≥ 0.2, sum ≥ 0.8
        no-sink: frame-top rate < 0.5;  else distributed;  model: 2/3-majority rule (module docstring)

    Frame types from Ruscio et al. 2025 (abstract, Fig. 1); the rule and thresholds are sinkviz's
    (``FrameThresholds``), since the official notebooks release no classification code."""
    thr = thresholds or FrameThresholds()
    if not samples:
        raise ValueError("classify_frames needs at least one sample (HeadSinks from head_sinks())")
    shape = samples[0].top_position.shape
    layers = samples[0].layers
    for s in samples:
        if s.top_position.shape != shape or s.layers != layers:
            raise ValueError("all samples must have the same captured layers and heads")
    categories = np.stack([s.category(thr) for s in samples])  # (S, L, H)
    positions = np.stack([s.top_position for s in samples])
    excess = np.stack([s.excess for s in samples])
    top_share = np.stack([s.top_share for s in samples])
    strings = None
    if all(s.tokens is not None for s in samples):
        strings = np.empty(positions.shape, dtype=object)
        for i, s in enumerate(samples):
            strings[i] = np.asarray(s.tokens, dtype=object)[positions[i]]
    out_layers = [
        _layer_frame(int(layer), categories[:, li], positions[:, li], excess[:, li], top_share[:, li],
                     None if strings is None else strings[:, li], thr)
        for li, layer in enumerate(layers)]
    label, reason, counts = _model_rule([(f.label, f.anchor) for f in out_layers], thr)
    if strings is not None:
        s_label, s_reason, _ = _model_rule([(f.string_label, f.string_anchor) for f in out_layers], thr)
    else:
        s_label, s_reason = "unknown", "no token strings given"
    return FrameVerdict(label, reason, s_label, s_reason, out_layers, counts, thr)


def frame_statistics_over_training(
    checkpoints: Sequence[Sequence[HeadSinks]], steps: Sequence[int], thresholds: FrameThresholds | None = None
) -> list[dict[str, Any]]:
    """Frame statistics per training step: for each checkpoint's samples, the model verdict,
    layer-label counts, and the layer-averaged frame-top rate and start/end/interior shares plus the
    median excess. ``checkpoints[k]`` are the HeadSinks of step ``steps[k]``."""
    if len(checkpoints) != len(steps):
        raise ValueError(f"{len(checkpoints)} checkpoints but {len(steps)} steps")
    rows = []
    for step, samples in zip(steps, checkpoints):
        v = classify_frames(samples, thresholds)
        rows.append({
            "step": int(step), "label": v.label, "string_label": v.string_label, "reason": v.reason, **{f"n_{k}": c for k, c in v.counts.items()},
            "frame_top_rate": float(np.mean([lf.frame_top_rate for lf in v.layers])),
            "start_share": float(np.mean([lf.shares["start"] for lf in v.layers])),
            "end_share": float(np.mean([lf.shares["end"] for lf in v.layers])),
            "interior_share": float(np.mean([lf.shares["interior"] for lf in v.layers])),
            "median_excess": float(np.median([lf.median_excess for lf in v.layers])),
            "verdict": v,
        })
    return rows
