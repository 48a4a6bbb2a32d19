"""Line figures of Gu et al. (ICLR 2025): norms, Sink vs length and size, massive activations, Sink_k.

Norms per block (Fig. 2 top, Figs 11–14), Sink vs token length (Fig. 3), Sink vs model size (Fig. 4 left),
massive-activation ratio per block (Figs 7, 8, 29), Sink_k vs position k (Fig. 5 middle), Sink₁ by text domain
(Fig. 9, on sinkviz's domains) and Sink₁ beside HellaSwag accuracy against model size (Fig. 10). Every factory
takes metric results and returns a styled ``go.Figure``.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from sinkviz.plots.style import COLORS, GU_BASE, SYMBOLS, apply_style, index_label

__all__ = [
    "norms_figure",
    "sink_vs_length_figure",
    "sink_vs_params_figure",
    "massive_activation_figure",
    "sink_by_position_figure",
    "sink_by_domain_figure",
    "sink_and_accuracy_figure",
]

_NORM_LABELS = {"hidden": "h", "h": "h", "keys": "k", "k": "k", "values": "v", "v": "v"}


def norms_figure(profiles: Mapping[str, object], *, x: Mapping[str, Sequence[float]] | None = None,
                 title: str | None = None, log_y: bool = False, height: int = 360,
                 width: int | None = None) -> go.Figure:
    """One panel per quantity (e.g. ``{"hidden": p_h, "keys": p_k, "values": p_v}`` of
    :class:`sinkviz.metrics.norms.NormProfile`), each with the first-token norm and the mean over the other
    tokens per block.  ``x`` gives the block numbers per panel (default 0..L-1; pass 0..L for hidden states whose
    entry 0 is the embeddings, 1..L for keys/values of blocks 1..L as the paper numbers them).  The axes say
    "block (1-indexed)", and "0 = embeddings" on a hidden-state panel."""
    names = list(profiles)
    if not names:
        raise ValueError("profiles is empty: pass e.g. {'hidden': NormProfile, 'keys': ..., 'values': ...}")
    fig = make_subplots(rows=1, cols=len(names), horizontal_spacing=0.08,
                        subplot_titles=[f"ℓ2-norm of {_NORM_LABELS.get(n, n)}" for n in names])
    for c, name in enumerate(names, start=1):
        prof = profiles[name]
        first, rest = np.asarray(prof.first), np.asarray(prof.rest)
        xs = np.arange(len(first)) if x is None or name not in x else np.asarray(x[name])
        sym = _NORM_LABELS.get(name, name)
        fig.add_trace(go.Scatter(x=xs, y=first, mode="lines+markers", name=f"{sym}₁ (first token)",
                                 line=dict(color=COLORS[1]), marker=dict(size=5), legendgroup="first",
                                 showlegend=c == 1), row=1, col=c)
        fig.add_trace(go.Scatter(x=xs, y=rest, mode="lines+markers", name=f"{sym}ₜ, t≠1 (mean)",
                                 line=dict(color=COLORS[0]), marker=dict(size=5, symbol="square"),
                                 legendgroup="rest", showlegend=c == 1), row=1, col=c)
        embeddings = "; 0 = embeddings" if name in ("hidden", "h") else ""
        fig.update_xaxes(title_text=index_label("block", base=GU_BASE) + embeddings, row=1, col=c)
        if log_y:
            fig.update_yaxes(type="log", row=1, col=c)
    fig.update_yaxes(title_text="ℓ2-norm", row=1, col=1)
    fig.update_layout(legend=dict(orientation="h", y=-0.22, x=0.0))
    return apply_style(fig, title=title, height=height, width=width or 330 * len(names) + 80)


def sink_vs_length_figure(lengths: Sequence[int], eps_grid: Sequence[float], values, *,
                          n_samples: Sequence[int] | None = None, title: str | None = None,
                          paper: Mapping[float, float] | None = None, height: int = 380,
                          width: int = 560) -> go.Figure:
    """Figure 3: Sink_1^ε (%) vs token length T, one line per ε.  ``values``: ``(len(eps_grid), len(lengths))``
    (:func:`sinkviz.metrics.sink.sink_vs_length`).  ``n_samples``: texts behind each T (shown on hover).
    ``paper``: optional ``{T: Sink}`` reference points at ε = 0.3 (drawn as open diamonds)."""
    vals = np.asarray(values, dtype=float)
    if vals.shape != (len(eps_grid), len(lengths)):
        raise ValueError(f"values must have shape (len(eps_grid), len(lengths)) = "
                         f"({len(eps_grid)}, {len(lengths)}); got {vals.shape}")
    fig = go.Figure()
    custom = None if n_samples is None else np.asarray(n_samples)
    for i, eps in enumerate(eps_grid):
        fig.add_trace(go.Scatter(
            x=list(lengths), y=vals[i], mode="lines+markers", name=f"ε = {eps:g}", customdata=custom,
            line=dict(color=COLORS[i % len(COLORS)]),
            hovertemplate="T=%{x}<br>Sink=%{y:.2f}%" + ("<br>%{customdata} texts" if custom is not None else "")
            + f"<extra>ε={eps:g}</extra>"))
    if paper:
        fig.add_trace(go.Scatter(x=list(paper), y=list(paper.values()), mode="markers", name="paper (ε = 0.3)",
                                 marker=dict(symbol="diamond-open", size=11, color="black", line=dict(width=2))))
    fig.update_xaxes(title_text="token length T", type="log", tickvals=list(lengths),
                     ticktext=[str(t) for t in lengths])
    fig.update_yaxes(title_text="Sink₁^ε (%)", range=[-3, 103])
    return apply_style(fig, title=title, height=height, width=width)


def sink_vs_params_figure(points: Sequence[Mapping[str, object]], *,
                          paper_points: Sequence[Mapping[str, object]] = (), title: str | None = None,
                          height: int = 400, width: int = 600) -> go.Figure:
    """Figure 4 (left): Sink_1 (%) vs number of parameters (log x).

    ``points``: measured, each ``{"name", "params", "sink", "family"?}``; ``paper_points``: the paper's values in
    the same form, drawn as open grey markers so measured and reported sit side by side."""
    fig = go.Figure()
    families: dict[str, list[Mapping[str, object]]] = {}
    for p in points:
        families.setdefault(str(p.get("family", p["name"])), []).append(p)
    for i, (fam, pts) in enumerate(families.items()):
        pts = sorted(pts, key=lambda p: float(p["params"]))
        fig.add_trace(go.Scatter(
            x=[float(p["params"]) for p in pts], y=[float(p["sink"]) for p in pts], mode="lines+markers+text",
            text=[str(p["name"]) for p in pts], textposition="top center", name=f"{fam} (measured)",
            marker=dict(size=10, color=COLORS[i % len(COLORS)]), line=dict(color=COLORS[i % len(COLORS)])))
    if paper_points:
        pfam: dict[str, list[Mapping[str, object]]] = {}
        for p in paper_points:
            pfam.setdefault(str(p.get("family", "paper")), []).append(p)
        for fam, pts in pfam.items():
            pts = sorted(pts, key=lambda p: float(p["params"]))
            fig.add_trace(go.Scatter(
                x=[float(p["params"]) for p in pts], y=[float(p["sink"]) for p in pts], mode="lines+markers",
                name=f"{fam} (paper)", text=[str(p["name"]) for p in pts],
                hovertemplate="%{text}: %{y:.2f}%<extra>paper</extra>",
                marker=dict(size=9, symbol="circle-open", color="#777"), line=dict(color="#AAA", dash="dot")))
    fig.update_xaxes(title_text="number of parameters", type="log")
    fig.update_yaxes(title_text="Sink₁^ε (%)", range=[-3, 103])
    return apply_style(fig, title=title, height=height, width=width)


def massive_activation_figure(ratios: Mapping[str, Sequence[float]], *, x: Sequence[float] | None = None,
                              title: str | None = None, log_y: bool = False, height: int = 360,
                              width: int = 560) -> go.Figure:
    """Figures 7, 8, 29: ‖h₁‖ / mean‖h_{t≠1}‖ per block, one line per model or variant (``{label: (L+1,)}``,
    from :func:`sinkviz.metrics.norms.massive_activation_ratio`): block 0 is the embeddings, blocks 1..L as the
    paper numbers them."""
    fig = go.Figure()
    for i, (label, r) in enumerate(ratios.items()):
        r = np.asarray(r, dtype=float)
        xs = np.arange(len(r)) if x is None else np.asarray(x)
        fig.add_trace(go.Scatter(x=xs, y=r, mode="lines+markers", name=label,
                                 line=dict(color=COLORS[i % len(COLORS)]), marker=dict(size=5)))
    fig.add_hline(y=1.0, line=dict(color="#999", dash="dot", width=1))
    fig.update_xaxes(title_text=index_label("block", base=GU_BASE) + "; 0 = embeddings")
    fig.update_yaxes(title_text="‖h₁‖ / mean ‖hₜ‖ (t≠1)", type="log" if log_y else "linear")
    return apply_style(fig, title=title, height=height, width=width)


def sink_by_position_figure(series: Mapping[str, Sequence[float]], *, max_k: int = 10,
                            title: str | None = None, height: int = 340, width: int = 520) -> go.Figure:
    """Figure 5 (middle) style: Sink_k^ε (%) vs token position k = 1..max_k, one line per label (each value
    vector indexed from k = 1, e.g. :func:`sinkviz.metrics.sink.sink_metric` output)."""
    fig = go.Figure()
    top = 1.0
    for i, (label, v) in enumerate(series.items()):
        v = np.asarray(v, dtype=float)[:max_k]
        top = max(top, float(np.nanmax(v, initial=0.0)))
        # markers shrink with each series so that lines lying on the same values (all 0 %) stay visible
        marker = dict(symbol=SYMBOLS[i % len(SYMBOLS)], size=max(14 - 3 * i, 5))
        fig.add_trace(go.Scatter(x=np.arange(1, len(v) + 1), y=v, mode="lines+markers", name=label, marker=marker,
                                 line=dict(color=COLORS[i % len(COLORS)])))
    fig.update_xaxes(title_text=index_label("token position k", base=GU_BASE), dtick=1)
    fig.update_yaxes(title_text="Sink_k^ε (%)", range=[-0.03 * top, 1.05 * top])  # a share: never below 0
    return apply_style(fig, title=title, height=height, width=width)


def sink_by_domain_figure(results: Mapping[str, Mapping[str, object]], *, title: str | None = None,
                          height: int = 420, width: int = 720) -> go.Figure:
    """Fig. 9 of Gu et al. (Sink₁ against the text domain, one line per ε) on sinkviz's own domains
    (``sinkviz.papers.gu2025.fig9_domains``): the x axis names our domains, not the paper's 17 Pile domains, and
    each tick says how many texts of T tokens the domain gave."""
    if not results:
        raise ValueError("results is empty: no domain had a text of T tokens")
    domains = list(results)
    eps_grid = list(next(iter(results.values()))["sink"])
    ticks = [f"{d}<br>(n = {results[d]['n']})" for d in domains]
    fig = go.Figure()
    for i, eps in enumerate(eps_grid):
        fig.add_trace(go.Scatter(x=ticks, y=[results[d]["sink"][eps] for d in domains], mode="lines+markers",
                                 name=f"ε = {eps:g}", line=dict(color=COLORS[i % len(COLORS)]),
                                 hovertemplate="%{x}<br>Sink₁ %{y:.2f} %<extra>ε = " + f"{eps:g}" + "</extra>"))
    fig.update_xaxes(title_text="text domain (sinkviz's probe sets, not the Pile's)")
    fig.update_yaxes(title_text="Sink₁ (%)", rangemode="tozero")
    return apply_style(fig, title=title, height=height, width=width)


def sink_and_accuracy_figure(rows: Sequence[Mapping[str, object]], *, title: str | None = None,
                             height: int = 380, width: int = 760) -> go.Figure:
    """Fig. 10 of Gu et al. 2025 (§3.3): Sink₁ (left) and 0-shot HellaSwag accuracy, acc and acc_norm (right),
    against the number of parameters (log x), one marker per model. ``rows``: :func:`sinkviz.papers.gu2025.fig10_row`
    results (``model``, ``parameters``, ``sink_1`` in %, ``acc`` and ``acc_norm`` in [0, 1]), in any order."""
    if not rows:
        raise ValueError("rows is empty: give at least one gu2025.fig10_row result")
    rows = sorted(rows, key=lambda r: float(r["parameters"]))
    x = [float(r["parameters"]) for r in rows]
    names = [str(r["model"]) for r in rows]
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.14, subplot_titles=["Sink₁", "HellaSwag (0-shot)"])
    series = [(1, "Sink₁ (%)", [float(r["sink_1"]) for r in rows], COLORS[0], "solid", SYMBOLS[0]),
              (2, "acc", [100 * float(r["acc"]) for r in rows], COLORS[1], "solid", SYMBOLS[1]),
              (2, "acc_norm", [100 * float(r["acc_norm"]) for r in rows], COLORS[2], "dash", SYMBOLS[2])]
    for col, name, y, color, dash, symbol in series:
        fig.add_trace(go.Scatter(x=x, y=y, text=names, mode="lines+markers", name=name,
                                 line=dict(color=color, dash=dash), marker=dict(symbol=symbol, size=8),
                                 hovertemplate="%{text}: %{y:.2f} %<extra>" + name + "</extra>"), row=1, col=col)
    for col in (1, 2):
        fig.update_xaxes(title_text="number of parameters", type="log", row=1, col=col)
    fig.update_yaxes(title_text="Sink₁^ε (%)", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title_text="accuracy (%)", rangemode="tozero", row=1, col=2)
    return apply_style(fig, title=title, height=height, width=width)
