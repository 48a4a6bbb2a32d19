"""Reference-frame figures of Ruscio et al. (NeurIPS 2025): frame verdicts and frame statistics over training.

The per-layer evidence behind a frame verdict (where the sinks sit, by position and by token string) and
frame statistics across training checkpoints. Factories take ``sinkviz.metrics.frames.FrameVerdict`` /
``frame_statistics_over_training`` rows.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from sinkviz.plots.style import COLORS, RUSCIO_BASE, apply_style, index_label
from sinkviz.plots._ruscio_layout import room_for_title as _room_for_title

__all__ = ["frame_panel_figure", "frames_over_training_figure"]

_NULL_NAMES = {"uniform": "uniform null", "random": "random-logit null"}
_SHARE_COLORS = {"start": COLORS[0], "end": COLORS[1], "interior": COLORS[4]}
_ABBR = {"centralized": "C", "bidirectional": "B", "distributed": "D", "no-sink": "∅", "undetermined": "?"}


def frame_panel_figure(verdict: Any, *, title: str | None = None, height: int = 560, width: int | None = None) -> go.Figure:
    """Top: per layer, the share of sinking head-samples whose sink is the first token (start), the last
    token (end; or the one before a final special token) or an interior token, with the share of
    head-samples that sink at all (black line) and the layer's verdict letter (C centralized, B
    bidirectional, D distributed, ∅ no sink). Bottom: position consistency vs token-string consistency per
    layer (per head, share of samples on its modal position / string; mean over heads) — the two views the
    verdict and the string verdict are built on."""
    layers = [lf.layer for lf in verdict.layers]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.1, row_heights=[0.62, 0.38],
                        subplot_titles=["where the sinks sit (share of sinking head-samples)",
                                        "consistency across samples: by position vs by token string"])
    for cat in ("start", "end", "interior"):
        fig.add_trace(go.Bar(x=layers, y=[lf.shares[cat] for lf in verdict.layers], name=cat,
                             marker_color=_SHARE_COLORS[cat]), row=1, col=1)
    fig.add_trace(go.Scatter(x=layers, y=[lf.frame_top_rate for lf in verdict.layers], mode="lines+markers",
                             name="frame-top rate (excess ≥ %.3g)" % verdict.thresholds.min_excess,
                             line=dict(color="black", width=1.5), marker=dict(size=5)), row=1, col=1)
    for lf in verdict.layers:
        fig.add_annotation(x=lf.layer, y=1.08, text=_ABBR.get(lf.label, "?"), showarrow=False, row=1, col=1,
                           font=dict(size=11), hovertext=lf.reason)
    fig.add_trace(go.Scatter(x=layers, y=[lf.position_consistency for lf in verdict.layers], mode="lines+markers",
                             name="position consistency", line=dict(color=COLORS[2])), row=2, col=1)
    sc = [lf.string_consistency for lf in verdict.layers]
    if np.all(np.isfinite(sc)):
        fig.add_trace(go.Scatter(x=layers, y=sc, mode="lines+markers", name="token-string consistency (paper's view)",
                                 line=dict(color=COLORS[3], dash="dash"), marker=dict(symbol="square")), row=2, col=1)
    fig.update_layout(barmode="stack")
    fig.update_yaxes(range=[0, 1.15], title_text="share", row=1, col=1)
    fig.update_yaxes(range=[0, 1.05], title_text="consistency", row=2, col=1)
    fig.update_xaxes(title_text=index_label("layer", base=RUSCIO_BASE), row=2, col=1)
    fig.update_layout(legend=dict(orientation="h", y=-0.16, x=0.0))
    apply_style(fig, title=title, height=height, width=width or max(620, 26 * len(layers) + 240))
    return _room_for_title(fig, title)


#: The share of a log step axis a verdict letter needs to itself.
_LETTER_GAP = 0.06


def _verdicts_to_letter(xs: Any, labels: Sequence[str], log_x: bool, min_gap: float = _LETTER_GAP) -> list[int]:
    """Indices of the steps whose verdict letter is drawn: the first, the last, every change of verdict, and others
    at least ``min_gap`` of the axis from the last drawn (dense evaluations late in a run, on a log axis, printed
    their letters over each other)."""
    if not log_x:
        return list(range(len(labels)))  # categorical or linear axes give each step its own room
    at = np.log10(np.asarray(xs, dtype=float))
    span = float(at.max() - at.min()) or 1.0
    shown: list[int] = []
    kept: set[int] = set()  # the first step and every change: never dropped
    for i, label in enumerate(labels):
        changed = i == 0 or label != labels[i - 1]
        close = bool(shown) and (at[i] - at[shown[-1]]) / span < min_gap
        if not close:
            shown.append(i)
        elif changed or i == len(labels) - 1:
            if shown[-1] not in kept:
                shown.pop()  # a change, or the last step, takes the place of a nearby letter of no change
            shown.append(i)
        if changed:
            kept.add(i)
    return shown


def frames_over_training_figure(rows: Sequence[Mapping[str, Any]], *, title: str | None = None,
                                log_x: bool = True, step_labels: Sequence[str] | None = None,
                                height: int = 420, width: int = 720) -> go.Figure:
    """Layer-averaged frame-top rate and start / end / interior shares vs training step, with the model verdict
    letter at each step (rows of ``frame_statistics_over_training`` or ``sinkviz.papers.ruscio2025.frames_over_training``);
    if the rows carry RMT medians (``published_spectral_gap``, ``corrected_marchenko_pastur_ks``) they are
    drawn in a second panel, the corrected MP-KS beside its nulls where the rows carry them
    (``null_uniform_marchenko_pastur_ks``, ``null_random_marchenko_pastur_ks``: uniform and random-logit attention
    under the same mask and length; uniform causal attention scores 0.56 at n = 64, so a KS that falls from there
    with training leaves the uniform null, not a random matrix's). On a log axis step 0 is drawn at half the smallest positive step.
    ``step_labels`` (one per row) switches to a categorical axis, e.g. ``["init", "trained"]``."""
    if not rows:
        raise ValueError("rows is empty: pass frame statistics for at least one checkpoint")
    if step_labels is not None and len(step_labels) != len(rows):
        raise ValueError(f"{len(step_labels)} step labels for {len(rows)} rows")
    steps = np.array([r["step"] for r in rows], dtype=float)
    xs: Any = steps
    if step_labels is not None:
        xs, log_x = list(step_labels), False
    elif log_x and np.any(steps <= 0):
        positive = steps[steps > 0]
        xs = np.where(steps > 0, steps, (positive.min() / 2) if positive.size else 0.5)
    axis_type = "category" if step_labels is not None else ("log" if log_x else "linear")
    has_rmt = "corrected_marchenko_pastur_ks" in rows[0]
    fig = make_subplots(rows=1, cols=2 if has_rmt else 1, horizontal_spacing=0.12,
                        subplot_titles=["frame statistics", "random-matrix statistics (median over layers, samples)"]
                        if has_rmt else ["frame statistics"])
    for key, color, dash in (("frame_top_rate", "black", "solid"), ("start_share", COLORS[0], "solid"),
                             ("end_share", COLORS[1], "dash"), ("interior_share", COLORS[4], "dot")):
        fig.add_trace(go.Scatter(x=xs, y=[r[key] for r in rows], mode="lines+markers", name=key.replace("_", " "),
                                 line=dict(color=color, dash=dash)), row=1, col=1)
    lettered = _verdicts_to_letter(xs, [r["label"] for r in rows], log_x and step_labels is None)
    at = np.log10(np.asarray(xs, dtype=float)) if log_x else None
    raised = False
    for previous, i in zip([None] + lettered[:-1], lettered):
        x, r = xs[i], rows[i]
        # two changes of verdict closer than a letter's width: the later one a line higher, both readable
        near = at is not None and previous is not None and at[i] - at[previous] < _LETTER_GAP * np.ptp(at)
        raised = near and not raised
        fig.add_annotation(x=np.log10(x) if log_x else x, y=1.07, text=_ABBR.get(r["label"], "?"), showarrow=False,
                           row=1, col=1, hovertext=r.get("reason", ""), yshift=12 if raised else 0)
    if has_rmt:
        for key, color in (("published_spectral_gap", COLORS[2]), ("corrected_marchenko_pastur_ks", COLORS[3]),
                           ("published_marchenko_pastur_kl", COLORS[5])):
            if key in rows[0]:
                fig.add_trace(go.Scatter(x=xs, y=[r[key] for r in rows], mode="lines+markers",
                                         name=key.replace("_", " "), line=dict(color=color)), row=1, col=2)
        for null, dash in (("uniform", "dot"), ("random", "dash")):
            key = f"null_{null}_marchenko_pastur_ks"
            if key in rows[0]:  # the corrected KS beside what its nulls give at the same length and mask
                fig.add_trace(go.Scatter(x=xs, y=[r[key] for r in rows], mode="lines",
                                         name=f"corrected MP-KS: {_NULL_NAMES[null]}",
                                         line=dict(color=COLORS[3], dash=dash, width=1.5)), row=1, col=2)
        fig.update_xaxes(title_text="training step", type=axis_type, row=1, col=2)
    fig.update_xaxes(title_text="training step", type=axis_type, row=1, col=1)
    fig.update_yaxes(range=[0, 1.12], title_text="share", row=1, col=1)
    fig.update_layout(legend=dict(orientation="h", y=-0.25, x=0.0))
    apply_style(fig, title=title, height=height, width=width if not has_rmt else width + 360)
    return _room_for_title(fig, title)
