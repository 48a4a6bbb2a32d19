"""Figures of the pretraining lab, drawn from run results (``sinkviz.lab.results``).

Every title says "scaled down" and names the paper's value beside the lab's.

* ``emergence_figure``: Fig. 4 middle — train/valid loss and Sink_1 vs step (plus Sink_* with a slot).
* ``lr_figure``: Fig. 4 right — train loss (solid) and Sink_1 (dashed) vs step per learning rate.
* ``table_figure``: Tables 2, 3, 4, 6, 9 — lab vs paper (``sinkviz.plots.tables.comparison_table``).
* ``massive_figure``: Figs 7/8 — massive-activation ratio per block (``sinkviz.plots.lines``).
* ``frame_emergence_figure``: Ruscio et al.'s frame statistics and RMT medians over training
  (``sinkviz.plots.frames.frames_over_training_figure``).
* ``sink_position_figure``: Sink_k for k = 1..10 (fixed-token, prefix and random-first runs).
* ``data_amount_figure``: Fig. 28 — Sink_1 (overall and in the strongest layer) and valid loss vs tokens
  seen, for runs on corpora of different sizes.
* ``control_figure``: the control's seeds — Sink_1 (all heads and the strongest layer) and valid loss vs tokens
  seen, with the 10% the control must reach, the paper's 18.18% and the seams where a run was resumed.
* ``contrast_figure``: each committed contrast's Sink_1 (and Sink_* where it has a slot) and valid loss vs tokens
  seen, over the control's seeds, with the paper's number in the legend.
* ``contrast_panels_figure``: one small panel per committed contrast, its seeds' Sink_1 over the control's seeds
  on shared axes, with the tokens where the contrast table reads them and the paper's Sink_1.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from sinkviz.lab.results import (
    CONTRASTS,
    PAPER,
    TABLE_RUNS,
    committed_seeds,
    contrast_paper,
    diverged,
    final,
    frame_rows,
    further_seeds,
    matched_entry,
    matched_pair,
    paper_reference,
    series,
    table_rows,
)
from sinkviz.plots.frames import frames_over_training_figure
from sinkviz.plots.lines import massive_activation_figure, sink_by_position_figure
from sinkviz.plots.style import COLORS, COLORS_EXTENDED, SYMBOLS, add_caption, apply_style, titled, wrapped
from sinkviz.plots.tables import comparison_table


def _setting(run: dict[str, Any]) -> str:
    p = run["parameters"]["total"] / 1e6
    d = run["data"]
    return (f"{p:.1f}M params, {run['tokens_per_step']:,} tok/step, {d['source']} "
            f"{d['train_tokens'] / 1e6:.2f}M tok ({d['distinct_tokens']['train']:,} distinct), {run['device']}")


def _shared_setting(runs: Iterable[dict[str, Any]]) -> str:
    """The setting line of a figure that shows several runs: theirs when they share one, else each distinct
    setting with the runs that have it, so that a title never gives one run's corpus or device to another's
    numbers."""
    names_by_setting: dict[str, list[str]] = {}
    for run in runs:
        names_by_setting.setdefault(_setting(run), []).append(run["name"])
    if not names_by_setting:
        return "no committed run"
    if len(names_by_setting) == 1:
        return next(iter(names_by_setting))
    return "; ".join(f"{', '.join(names)}: {setting}" for setting, names in names_by_setting.items())


def emergence_figure(run: dict[str, Any], *, title: str | None = None) -> go.Figure:
    """Fig. 4 middle: losses (left axis) and Sink_1 / Sink_* (right axis, %) vs training step."""
    ref = PAPER["fig4_middle"]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    for key, name, color, dash in (("train_loss", "train loss", COLORS[0], "solid"),
                                   ("valid_loss", "valid loss", COLORS[2], "solid")):
        xs, ys = series(run, key)
        fig.add_trace(go.Scatter(x=xs, y=ys, name=name, mode="lines+markers", line=dict(color=color, dash=dash)),
                      secondary_y=False)
    xs, ys = series(run, "sink_1")
    fig.add_trace(go.Scatter(x=xs, y=ys, name="Sink₁ (%)", mode="lines+markers", line=dict(color=COLORS[1], dash="dash")),
                  secondary_y=True)
    if any(h.get("sink_star") is not None for h in run["history"]):
        xs, ys = series(run, "sink_star")
        fig.add_trace(go.Scatter(x=xs, y=ys, name="Sink_* (%)", mode="lines+markers",
                                 line=dict(color=COLORS[3], dash="dot")), secondary_y=True)
    fig.update_xaxes(title_text="training step")
    fig.update_yaxes(title_text="loss", secondary_y=False)
    fig.update_yaxes(title_text="Sink (%), ε = 0.3", range=[-2, 102], dtick=20, secondary_y=True, showgrid=False)
    last = final(run)
    title = title or titled(f"Sink emergence: {run['name']} (lab Fig. 4 middle, scaled down)", setting=_setting(run))
    apply_style(fig, title=title, height=460, width=900)
    fig.update_layout(legend=dict(orientation="h", y=1.02, yanchor="bottom", x=1.0, xanchor="right"))
    return add_caption(fig, f"lab, {run['step']} steps: Sink₁ {last['sink_1']:.2f}%, valid loss {last['valid_loss']:.3f}"
                            + (f", Sink_* {last['sink_star']:.2f}%" if last.get("sink_star") is not None else "")
                            + f"<br>paper (60M, 1M tokens/step): sink emerges between 1k and 2k steps; "
                              f"{ref['final_sink_1']}% at 20k steps, valid loss {ref['final_valid_loss']}")


def lr_figure(runs: dict[str, dict[str, Any]], *, title: str | None = None) -> go.Figure:
    """Fig. 4 right: train loss (solid, left) and Sink_1 (dashed, right) vs step, one colour per run."""
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    for i, (label, run) in enumerate(runs.items()):
        color = COLORS[i % len(COLORS)]
        xs, ys = series(run, "train_loss")
        fig.add_trace(go.Scatter(x=xs, y=ys, name=f"{label} loss", line=dict(color=color)), secondary_y=False)
        xs, ys = series(run, "sink_1")
        fig.add_trace(go.Scatter(x=xs, y=ys, name=f"{label} Sink₁", line=dict(color=color, dash="dash")),
                      secondary_y=True)
    fig.update_xaxes(title_text="training step")
    fig.update_yaxes(title_text="train loss", secondary_y=False)
    fig.update_yaxes(title_text="Sink₁ (%)", range=[-2, 102], dtick=20, secondary_y=True, showgrid=False)
    rows = paper_reference("table9_learning_rate")["rows"]
    paper = ", ".join(f"lr {lr:g}: {v[0]}%" for lr, v in rows.items())
    title = title or titled("Learning rate vs sink (lab Fig. 4 right, scaled down)",
                            setting=_shared_setting(runs.values()))
    apply_style(fig, title=title, height=500, width=900)
    fig.update_layout(legend=dict(orientation="v", x=1.08, xanchor="left", y=1.0))
    return add_caption(fig, f"paper (60M, Sink₁ at 20k steps): {paper}")


def table_figure(item: str, runs: dict[str, dict[str, Any]], *, title: str | None = None) -> go.Figure:
    """A lab-vs-paper table (``sinkviz.lab.results.TABLE_RUNS`` items); lab columns are tinted."""
    header, rows = table_rows(item, runs)
    n_lab = (len(header) - 1) // 2 + 1
    shown = [runs[name] for _, name, _ in TABLE_RUNS[item] if name in runs]
    title = title or titled(paper_reference(item)["caption"].replace("(60M)", "").strip(),
                            setting=f"lab: {_shared_setting(shown)}", scaled_down=True, paper="60M, 5B Pile tokens")
    fig = comparison_table(header, rows, title=title, highlight_cols=list(range(1, n_lab + 1)), width=1100)
    return fig.update_layout(height=30 * len(rows) + 190)


def massive_figure(runs: dict[str, Any], *, title: str | None = None, paper: str | None = None) -> go.Figure:
    """Figs 7/8: the final massive-activation ratio per block for each labelled run. A value may be a run
    or ``(run, key)`` with key ``"massive_ratio_pre_ln"`` (a post-norm run before each block's last LN)
    or ``"massive_ratio_sink_token"`` (the sink token's own ratio)."""
    ratios = {}
    for label, value in runs.items():
        run, key = value if isinstance(value, tuple) else (value, "massive_ratio")
        last = final(run)
        if key not in last:
            raise KeyError(f"run {run['name']!r} has no {key!r} (available: "
                           f"{[k for k in last if k.startswith('massive')]})")
        ratios[label] = last[key]
    shown = [value[0] if isinstance(value, tuple) else value for value in runs.values()]
    title = title or titled("Massive activations: ‖h₁‖ / mean ‖hₜ‖ per block (lab Figs 7/8)",
                            setting=_shared_setting(shown), scaled_down=True, paper=paper)
    return massive_activation_figure(ratios, title=title, log_y=True, width=760, height=420)


def frame_emergence_figure(run: dict[str, Any], *, title: str | None = None) -> go.Figure:
    """Frame statistics (Ruscio et al., position rule of ``sinkviz.metrics.frames``) and RMT medians
    vs training step (log x), from the lab's evaluations."""
    rows = frame_rows(run)
    title = title or titled(f"Frame emergence over training: {run['name']} (scaled down)", setting=_setting(run))
    return frames_over_training_figure(rows, title=title)


def sink_position_figure(runs: dict[str, dict[str, Any]], *, title: str | None = None,
                         paper: str | None = None) -> go.Figure:
    """Sink_k (%) for k = 1..10 at the end of each labelled run."""
    series_k = {label: final(run)["sink_k"] for label, run in runs.items()}
    title = title or titled("Sink by position k", setting=_shared_setting(runs.values()), scaled_down=True,
                            paper=paper)
    return sink_by_position_figure(series_k, title=title, width=700, height=400)


def _emergence_traces(fig: go.Figure, hist: list[dict[str, Any]], xs: list[float], label: str, name: str,
                      color: str, marker: dict | None = None) -> None:
    """One run's Sink_1 (all heads, solid), its strongest layer's Sink_1 (dotted) and its valid loss (right)."""
    fig.add_trace(go.Scatter(x=xs, y=[h["sink_1"] for h in hist], name=name, legendgroup=label,
                             mode="lines+markers", marker=marker, line=dict(color=color)), row=1, col=1)
    fig.add_trace(go.Scatter(x=xs, y=[max(h.get("sink_1_per_layer") or [0.0]) for h in hist],
                             name=f"{label}: strongest layer", legendgroup=label, mode="lines",
                             line=dict(color=color, dash="dot")), row=1, col=1)
    fig.add_trace(go.Scatter(x=xs, y=[h["valid_loss"] for h in hist], name=f"{label}: valid loss",
                             legendgroup=label, showlegend=False, mode="lines+markers",
                             line=dict(color=color)), row=1, col=2)


def data_amount_figure(runs: dict[str, dict[str, Any]], *, title: str | None = None) -> go.Figure:
    """Fig. 28: Sink_1 (solid: all heads; dotted: the strongest layer) and valid loss vs tokens seen (log
    x), one colour per run (:data:`COLORS_EXTENDED` past eight runs: a repeated colour reads as the same run); the
    legend names each corpus's size."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Sink₁ (%), ε = 0.3, T = 64", "valid loss"),
                        horizontal_spacing=0.1)
    palette = COLORS if len(runs) <= len(COLORS) else COLORS_EXTENDED
    for i, (label, run) in enumerate(runs.items()):
        color = palette[i % len(palette)]
        d = run["data"]
        name = f"{label}: {d['source']}, {d['train_tokens'] / 1e6:.1f}M tokens of data"
        hist = [h for h in run["history"] if h["step"] > 0]
        xs = [h["tokens_seen"] / 1e6 for h in hist]
        _emergence_traces(fig, hist, xs, label, name, color)
    for col in (1, 2):
        fig.update_xaxes(title_text="tokens seen (M, log)", type="log", row=1, col=col)
    fig.update_yaxes(title_text="Sink₁ (%)", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title_text="loss", row=1, col=2)
    # the corpora differ by design (the legend names each); every model size and device among the runs is named
    params = sorted({f"{run['parameters']['total'] / 1e6:.1f}M params" for run in runs.values()})
    devices = sorted({run["device"] for run in runs.values()})
    title = title or titled("Data amount vs first-token sink (lab Fig. 28, scaled down)",
                            setting=f"{' / '.join(params)}, {' / '.join(devices)}")
    return _legend_then_caption(fig, title, [
        "paper (60M, 1M tokens/step, Fig. 28): 5B tokens of data → Sink₁ ≈ 7% by 3–5k steps; 50M or 100M → below 1%",
        "valid losses are on each run's own corpus and tokeniser: not comparable across runs"])


#: Sink_1 (%) the lab's control must reach in every seed (the paper's default run: 18.18%).
CONTROL_TARGET = 10.0


def control_figure(runs: dict[str, dict[str, Any]], *, title: str | None = None) -> go.Figure:
    """Sink_1 (solid: all heads; dotted: the strongest layer) and valid loss vs tokens seen for each labelled
    control run; hollow markers are unscheduled evaluations (a job's time budget), dashed verticals the steps where
    a run resumed from a checkpoint (``results["resumes"]``; carried packs round the AdamW moments to bf16)."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Sink₁ (%), ε = 0.3, T = 64, document starts", "valid loss"),
                        horizontal_spacing=0.1)
    for i, (label, run) in enumerate(runs.items()):
        color = COLORS[i % len(COLORS)]
        hist = run["history"]
        xs = [h["tokens_seen"] / 1e9 for h in hist]
        symbols = ["circle-open" if h.get("unscheduled") else "circle" for h in hist]
        _emergence_traces(fig, hist, xs, label, f"{label}: all heads", color, marker=dict(symbol=symbols, size=7))
        for seam in run.get("resumes") or []:
            for col in (1, 2):
                fig.add_vline(x=seam["step"] * run["tokens_per_step"] / 1e9, line=dict(color=color, dash="dash", width=1),
                              row=1, col=col)
    fig.add_hline(y=CONTROL_TARGET, line=dict(color="grey", dash="dash", width=1), row=1, col=1,
                  annotation_text=f"target {CONTROL_TARGET:.0f}%", annotation_position="bottom right")
    paper = PAPER["fig4_middle"]["final_sink_1"]
    fig.add_hline(y=paper, line=dict(color="black", dash="dot", width=1), row=1, col=1,
                  annotation_text=f"paper {paper}% (60M, 21B tokens)", annotation_position="top left")
    for col in (1, 2):
        fig.update_xaxes(title_text="tokens seen (B)", rangemode="tozero", row=1, col=col)
    fig.update_yaxes(title_text="Sink₁ (%)", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title_text="loss (log)", type="log", row=1, col=2)
    title = title or titled("The lab's control: first-token sink emergence (scaled down)",
                            setting=_shared_setting(runs.values()))
    note = _own_windows_note(runs.values())
    apply_style(fig, title=title, height=560 + (30 if note else 0), width=1100)
    if note:
        fig = add_caption(fig, note, y=-0.38)
    fig.update_layout(legend=dict(orientation="h", y=-0.25, yanchor="top", x=0.0, xanchor="left"),
                      margin=dict(b=180 if note else 150))
    return fig


def _control_names(runs: dict[str, dict[str, Any]]) -> tuple[str, ...]:
    """The default ``controls`` of the contrast figures: ``control`` and its committed ``control_seedN``, in seed
    order."""
    return ("control", *(f"control_seed{seed}" for seed, _ in further_seeds("control", runs)))


def contrast_figure(runs: dict[str, dict[str, Any]], controls: tuple[str, ...] | None = None, *,
                    title: str | None = None) -> go.Figure:
    """Sink_1 (solid) and, for runs with a slot, Sink_* (dashed) and valid loss vs tokens seen: the control's seeds
    (``controls``; default ``control`` and its committed ``control_seedN``) in greys (:func:`_control_line`), each
    committed contrast of :data:`sinkviz.lab.results.CONTRASTS` in colour, the paper's number in its legend entry,
    and a contrast's committed further seeds in its colour, each in its dash of :data:`SEED_DASHES`. Contrasts
    without a committed result are left out (the contrast table says "not run"); the caption under the legend says
    which valid losses do not compare with the control's."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Sink₁ (solid) and Sink_* (dashed), %, ε = 0.3, T = 64",
                                                        "valid loss"), horizontal_spacing=0.1)
    if controls is None:
        controls = _control_names(runs)
    for i, name in enumerate(c for c in controls if c in runs):
        hist = runs[name]["history"]
        xs = [h["tokens_seen"] / 1e9 for h in hist]
        label = f"control, seed {runs[name]['config']['seed']}"
        line = _control_line(i)
        fig.add_trace(go.Scatter(x=xs, y=[h["sink_1"] for h in hist], name=label, legendgroup=label,
                                 mode="lines", line=line), row=1, col=1)
        fig.add_trace(go.Scatter(x=xs, y=[h["valid_loss"] for h in hist], name=label, legendgroup=label,
                                 showlegend=False, mode="lines", line=line), row=1, col=2)
    shown = [(name, label) for name, label, *_ in CONTRASTS if name in runs and name not in controls]
    for i, (name, label) in enumerate(shown):
        color = COLORS_EXTENDED[i % len(COLORS_EXTENDED)]
        hist = runs[name]["history"]
        xs = [h["tokens_seen"] / 1e9 for h in hist]
        where, value = contrast_paper(name)
        paper = {where.split(": ")[-1]: f" (paper {value})"}  # the paper's number goes beside its statistic
        marker = dict(size=6, symbol=SYMBOLS[i % len(SYMBOLS)])
        fig.add_trace(go.Scatter(x=xs, y=[h["sink_1"] for h in hist], name=f"{label}: Sink₁{paper.get('Sink_1', '')}",
                                 legendgroup=name, mode="lines+markers", marker=marker, line=dict(color=color)),
                      row=1, col=1)
        if any(h.get("sink_star") is not None for h in hist):
            star = [(x, h["sink_star"]) for x, h in zip(xs, hist) if h.get("sink_star") is not None]
            fig.add_trace(go.Scatter(x=[x for x, _ in star], y=[y for _, y in star],
                                     name=f"{label}: Sink_*{paper.get('Sink_*', '')}", legendgroup=name,
                                     mode="lines", line=dict(color=color, dash="dash")), row=1, col=1)
        fig.add_trace(go.Scatter(x=xs, y=[h["valid_loss"] for h in hist], name=label, legendgroup=name,
                                 showlegend=False, mode="lines+markers", marker=marker, line=dict(color=color)),
                      row=1, col=2)
        for seed, run in further_seeds(name, runs):
            _add_further_seed(fig, run, runs[name], f"{label}, seed {seed}", color, seed)
    for col in (1, 2):
        fig.update_xaxes(title_text="tokens seen (B)", rangemode="tozero", row=1, col=col)
    fig.update_yaxes(title_text="%", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title_text="loss (log)", type="log", row=1, col=2)
    any_run = runs[next(c for c in controls if c in runs)]
    title = title or titled("Contrasts against the lab's control (scaled down)", setting=_setting(any_run))
    caveats = _incomparable_losses([(label, runs[name]) for name, label in shown], any_run)
    drawn = [runs[c] for c in controls if c in runs] + [run for name, _ in shown for _, run in further_seeds(name, runs)]
    caveats += [note for note in [_own_windows_note(drawn)] if note]
    return _legend_then_caption(fig, title, caveats)


def _legend_then_caption(fig: go.Figure, title: str, caveats: list[str], *, width_px: int = 1100,
                         plot_px: int = 340, top_px: int = 118) -> go.Figure:
    """Styles ``fig`` with its legend beneath the plot and the caption (``caveats``, each wrapped to the figure's
    width) under the legend, the figure as tall as both need (:func:`legend_height_px`): a legend of many runs
    pushes the caption down instead of printing over it."""
    # the legend spans the figure less the screen style's left and right margins (60 + 20 px)
    legend_end_px = 75 + legend_height_px(fig, width_px - 80)  # below the plot area, x-axis title included
    caption = wrapped("<br>".join(caveats), CAPTION_CHARS).split("<br>") if caveats else []
    bottom_px = legend_end_px + 22 + 18 * max(len(caption), 1)
    apply_style(fig, title=title, height=plot_px + top_px + bottom_px, width=width_px)
    if caption:
        fig = add_caption(fig, "<br>".join(caption), y=-(legend_end_px - 42) / plot_px)
    fig.update_layout(legend=dict(orientation="h", y=-75 / plot_px, yanchor="top", x=0.0, xanchor="left"),
                      margin=dict(t=top_px, b=bottom_px))
    return fig


def contrast_panels_figure(runs: dict[str, dict[str, Any]], controls: tuple[str, ...] | None = None, *,
                           cols: int = 4, title: str | None = None) -> go.Figure:
    """One panel per committed contrast of :data:`sinkviz.lab.results.CONTRASTS`, on shared axes: the control's
    seeds (``controls``; default ``control`` and its committed ``control_seedN``) in greys (:func:`_control_line`),
    the contrast's seed 0 (solid, markers) and further seeds (:data:`SEED_DASHES`) in one colour, a vertical line
    where the contrast table reads them (:func:`sinkviz.lab.results.matched_pair` with the control's seed 0) and a
    dotted line at the paper's Sink_1 where the paper gives one number for it. Only Sink_1 is drawn: a contrast
    with a slot (K biases, the sink token) moves its sink to the slot, whose Sink_* is in the contrast table and in
    :func:`contrast_figure`. A further seed that :func:`sinkviz.lab.results.diverged` is named in its panel's
    title."""
    if controls is None:
        controls = _control_names(runs)
    controls = tuple(c for c in controls if c in runs)
    if not controls:
        raise ValueError("contrast_panels_figure needs the control's results (a run named 'control').")
    shown = [(name, label) for name, label, *_ in CONTRASTS if name in runs and name not in controls
             and name != "control_seed1"]
    rows = -(-len(shown) // cols)
    # each contrast's reading in the contrast table, and its further seeds
    entries = {name: matched_pair(runs[name], runs[controls[0]])[0] for name, _ in shown}
    seeds = {name: committed_seeds(name, runs) for name, _ in shown}
    titles = []
    for name, label in shown:
        gone = [seed for seed, run in seeds[name][1:]
                if diverged(matched_entry(run, entries[name]["tokens_seen"]), entries[name])]
        titles.append(f"{label} (seed {', '.join(map(str, gone))} diverged)" if gone else label)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, shared_xaxes=True, shared_yaxes=True,
                        horizontal_spacing=0.03, vertical_spacing=0.32 / rows)
    in_legend: set[str] = set()

    def add(run: dict[str, Any], name: str, row: int, col: int, **style: Any) -> None:
        hist = run["history"]
        fig.add_trace(go.Scatter(x=[h["tokens_seen"] / 1e9 for h in hist], y=[h["sink_1"] for h in hist], name=name,
                                 legendgroup=name, showlegend=name not in in_legend, **style), row=row, col=col)
        in_legend.add(name)

    for i, (name, label) in enumerate(shown):
        row, col = i // cols + 1, i % cols + 1
        for j, control in enumerate(controls):
            add(runs[control], f"control, seed {runs[control]['config']['seed']}", row, col, mode="lines",
                line={**_control_line(j), "width": 1})
        for seed, run in seeds[name]:
            dash = "solid" if seed == 0 else SEED_DASHES[(seed - 1) % len(SEED_DASHES)]
            add(run, f"contrast, seed {seed}", row, col, mode="lines+markers" if seed == 0 else "lines",
                marker=dict(size=4), line=dict(color=COLORS[0], dash=dash, width=1.5))
        fig.add_vline(x=entries[name]["tokens_seen"] / 1e9, line=dict(color="grey", width=1, dash="dot"), row=row, col=col)
        where, value = contrast_paper(name)
        if where.endswith("Sink_1") and _is_number(value):
            fig.add_hline(y=float(value), line=dict(color="black", width=1, dash="dot"), row=row, col=col)
    fig.update_yaxes(range=[0, 1.05 * max(max(trace.y) for trace in fig.data)], rangemode="tozero")
    for col in range(1, cols + 1):
        # a column whose bottom slot is empty gets its tick labels and title on its last panel
        last_row = rows if (rows - 1) * cols + col <= len(shown) else rows - 1
        fig.update_xaxes(title_text="tokens seen (B)", showticklabels=True, row=last_row, col=col)
    for row in range(1, rows + 1):
        fig.update_yaxes(title_text="Sink₁ (%)", row=row, col=1)
    title = title or titled("Each contrast's seeds against the control's (scaled down)",
                            setting=_setting(runs[controls[0]]) + "; dotted: where the contrast table reads them "
                            "and the paper's Sink₁; the slot runs' Sink_* is in the table")
    plot_px = 190 * rows
    apply_style(fig, title=title, height=plot_px + 118 + 110, width=1100)
    fig.update_layout(legend=dict(orientation="h", y=-60 / plot_px, yanchor="top", x=0.0, xanchor="left"),
                      margin=dict(t=118, b=110))
    return fig


def _is_number(text: Any) -> bool:
    try:
        float(text)
    except (TypeError, ValueError):
        return False
    return True


#: Line dashes of a contrast's further seeds (seed 1, seed 2, …); Sink_* already takes "dash", and a contrast with
#: more further seeds than dashes would draw two of them alike.
SEED_DASHES = ("dot", "dashdot", "longdashdot", "longdash")

#: Greys of the control's seeds; once they repeat, the further seeds' dashes tell a fourth seed from the first.
CONTROL_GREYS = ("#555555", "#999999", "#bbbbbb")

#: Characters of a caption line in the 1100-pixel contrast figure (11-pixel caption font: about 5 px a character,
#: so 190 leave the right margin free).
CAPTION_CHARS = 190

#: A horizontal legend's geometry in the screen style (12-pixel legend font), measured on the contrast figure's
#: render: an entry takes its symbol and padding plus its text; a row takes one line, or two where it holds a
#: group of two entries (Sink_1 and Sink_* of one run). The character width is the widest measured, so the
#: estimate errs towards more rows.
LEGEND_ENTRY_PX, LEGEND_CHAR_PX, LEGEND_LINE_PX = 40, 6.2, 25


def _control_line(index: int) -> dict[str, Any]:
    """The line of the control's ``index``-th seed: a grey of :data:`CONTROL_GREYS`, solid for the first three and
    then in the dashes of :data:`SEED_DASHES` (dotted, dash-dotted, …) each time the greys repeat, so that no two
    seeds draw alike."""
    dashes = ("solid", *SEED_DASHES)
    return dict(color=CONTROL_GREYS[index % len(CONTROL_GREYS)], width=1.5,
                dash=dashes[(index // len(CONTROL_GREYS)) % len(dashes)])


def legend_height_px(fig: go.Figure, width_px: float) -> int:
    """Pixels a horizontal legend of ``fig``'s shown traces needs at ``width_px``: its entries packed into rows
    left to right as plotly packs them (one legend group is one entry, its members stacked), each row as high as
    its tallest entry (:data:`LEGEND_ENTRY_PX`, :data:`LEGEND_CHAR_PX`, :data:`LEGEND_LINE_PX`)."""
    groups: dict[Any, list[str]] = {}
    for i, trace in enumerate(fig.data):
        if trace.showlegend is not False:
            groups.setdefault(trace.legendgroup or ("trace", i), []).append(trace.name or "")
    rows: list[int] = []  # lines of each row
    used = width_px
    for names in groups.values():
        entry_px = LEGEND_ENTRY_PX + LEGEND_CHAR_PX * max(len(name) for name in names)
        if used + entry_px > width_px:
            rows.append(0)
            used = 0.0
        used += entry_px
        rows[-1] = max(rows[-1], len(names))
    return round(LEGEND_LINE_PX * sum(rows) + 4 * len(rows))


def _add_further_seed(fig: go.Figure, other: dict[str, Any], seed_0: dict[str, Any], label: str, color: str,
                      seed: int) -> None:
    """A contrast's further seed beside its first, in the same colour with its own dash (:data:`SEED_DASHES`); named
    "diverged" when its final validation loss lies more than ``results.DIVERGED_LOSS`` above the first seed's at the
    same tokens. A run with a slot also draws its Sink_* in that dash, with open circles to tell it from Sink₁."""
    hist = other["history"]
    xs = [h["tokens_seen"] / 1e9 for h in hist]
    last = hist[-1]
    note = " (diverged)" if diverged(last, matched_entry(seed_0, last["tokens_seen"])) else ""
    name = f"{label}: Sink₁{note}"
    line = dict(color=color, dash=SEED_DASHES[(seed - 1) % len(SEED_DASHES)], width=1.5)
    fig.add_trace(go.Scatter(x=xs, y=[h["sink_1"] for h in hist], name=name, legendgroup=name, mode="lines",
                             line=line), row=1, col=1)
    star = [(x, h["sink_star"]) for x, h in zip(xs, hist) if h.get("sink_star") is not None]
    if star:
        fig.add_trace(go.Scatter(x=[x for x, _ in star], y=[y for _, y in star], name=f"{label}: Sink_*{note}",
                                 legendgroup=name, mode="lines+markers", line=line,
                                 marker=dict(symbol="circle-open", size=5)), row=1, col=1)
    fig.add_trace(go.Scatter(x=xs, y=[h["valid_loss"] for h in hist], name=name, legendgroup=name,
                             showlegend=False, mode="lines", line=line), row=1, col=2)


def _own_windows_note(runs: Iterable[dict[str, Any]]) -> str | None:
    """A caption line naming the seeds whose drawn runs scored their valid loss on windows drawn with their own seed
    (the committed further seeds before ``control_seed2``: ``eval.valid_windows: "run_seed"``), so their loss is not
    on the same text as seed 0's. A seed whose drawn runs are only partly so is named by its fewer side: the runs
    that are ("of control_nope's seed 2"), or the runs that are not ("seed 1 (except control_data_50mb's)")."""
    runs = [run for run in runs if run["config"].get("seed", 0)]
    own = [run for run in runs if run["config"]["eval"].get("valid_windows") == "run_seed"]
    if not own:
        return None
    named = []
    for seed in sorted({run["config"]["seed"] for run in own}):
        own_names = [run["name"] for run in own if run["config"]["seed"] == seed]
        shared_names = [run["name"] for run in runs
                        if run["config"]["seed"] == seed and run["config"]["eval"].get("valid_windows") != "run_seed"]
        if not shared_names:
            named.append(f"seed {seed}")
        elif len(shared_names) < len(own_names):
            not_own = _listed([f"{name}'s" for name in shared_names])
            named.append(f"seed {seed} (except {not_own})")
        else:
            named += [f"{name}'s seed {seed}" for name in own_names]
    whose = _listed(named, joiner="of ")
    return (f"valid loss of {whose} on windows drawn with the run's own seed (one model scores 0.08 higher on "
            "seed 1's windows than on seed 0's: lab_valid_windows.json)")


def _listed(items: list[str], joiner: str = "") -> str:
    """"a", "a and b", "a, b and c": ``items`` in words, each after the first preceded by ``joiner`` ("of ")."""
    if len(items) == 1:
        return items[0]
    return f"{', '.join([items[0], *(joiner + item for item in items[1:-1])])} and {joiner}{items[-1]}"


def _incomparable_losses(shown: list[tuple[str, dict[str, Any]]], control: dict[str, Any]) -> list[str]:
    """One caption line per reason a contrast's valid loss cannot be set beside the control's: another corpus
    (its probes too), or another training context (the loss is over windows of that length)."""
    own_corpus = [label for label, run in shown if run["config"]["data"] != control["config"]["data"]]
    lines = []
    if own_corpus:
        whose = "its" if len(own_corpus) == 1 else "each run's"
        lines.append(f"{', '.join(own_corpus)}: valid loss and probes on {whose} own corpus and tokeniser "
                     "(not comparable with the control's)")
    context = control["config"]["train"]["seq_len"]
    for label, run in shown:
        if run["config"]["data"] == control["config"]["data"] and run["config"]["train"]["seq_len"] != context:
            lines.append(f"{label}: valid loss over {run['config']['train']['seq_len']}-token windows (the "
                         f"control's: {context}; not comparable); probes the same")
    return lines
