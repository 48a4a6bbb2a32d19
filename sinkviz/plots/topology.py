"""Persistence figures of Ruscio et al. (NeurIPS 2025): persistence diagrams and Betti curves.

Diagrams published vs corrected, side by side. Factories take ``sinkviz.metrics.topology`` results.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from sinkviz.plots._ruscio_layout import room_for_title as _room_for_title
from sinkviz.plots.style import COLORS, apply_style

__all__ = ["persistence_diagram_figure", "betti_curve_figure"]


def _diagram_traces(fig: go.Figure, dgms: Sequence[np.ndarray], col: int, top: float, show_legend: bool) -> None:
    for dim, (dg, color, symbol) in enumerate(zip(dgms, (COLORS[0], COLORS[1]), ("circle", "diamond"))):
        dg = np.asarray(dg, dtype=float).reshape(-1, 2)
        fin = dg[np.isfinite(dg[:, 1])]
        inf = dg[~np.isfinite(dg[:, 1])]
        fig.add_trace(go.Scatter(
            x=fin[:, 0], y=fin[:, 1], mode="markers", name=f"H{dim}", legendgroup=f"H{dim}", showlegend=show_legend,
            marker=dict(color=color, symbol=symbol, size=8, opacity=0.75, line=dict(width=0.5, color="black")),
            hovertemplate=f"H{dim}<br>birth %{{x:.4f}}<br>death %{{y:.4f}}<extra></extra>"), row=1, col=col)
        if len(inf):
            fig.add_trace(go.Scatter(
                x=inf[:, 0], y=np.full(len(inf), top), mode="markers", name=f"H{dim} (∞)", legendgroup=f"H{dim}",
                showlegend=False, marker=dict(color=color, symbol="triangle-up", size=10),
                hovertemplate=f"H{dim}<br>birth %{{x:.4f}}<br>death ∞<extra></extra>"), row=1, col=col)


def persistence_diagram_figure(published, corrected, *, null=None, title: str | None = None,
                               caption_counts: bool = True, height: int = 400, width: int = 860) -> go.Figure:
    """Two persistence diagrams of the SAME attention map: left as the official notebook computes it
    (1 − Ā, upper triangle read by ripser), right with the corrected symmetric distance. Points above
    the dashed line at the top are infinite bars. ``published`` / ``corrected`` are
    ``PersistenceResult`` objects; ``null`` (optional) is the corrected result of the uniform-attention null of
    the same length and mask (``sinkviz.metrics.toy_attention.masked_uniform_attention``), drawn in the right
    panel as grey crosses: where attention that singles out nothing would put its bars."""
    def label(res, name: str) -> str:
        counts = "/".join(str(c) for c in res.pair_counts)
        return f"{name}: pairs H0/H1 = {counts}" if caption_counts else name

    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.1,
                        subplot_titles=[label(published, "published (1 − Ā, ≤30 tokens)"),
                                        label(corrected, f"corrected (1 − {corrected.meta.get('symmetrize', 'max')}(Ā, Āᵀ), diag 0)")])
    for col, res in ((1, published), (2, corrected)):
        finite = [d[np.isfinite(d[:, 1])] for d in res.dgms if len(d)]
        vals = np.concatenate([f.ravel() for f in finite]) if finite else np.array([1.0])
        hi = float(max(1.0, vals.max() if vals.size else 1.0))
        top = hi * 1.08
        _diagram_traces(fig, res.dgms, col, top, show_legend=col == 1)
        if col == 2 and null is not None:
            pts = np.concatenate([np.asarray(d, dtype=float).reshape(-1, 2) for d in null.dgms])
            pts[~np.isfinite(pts[:, 1]), 1] = top
            fig.add_trace(go.Scatter(x=pts[:, 0], y=pts[:, 1], mode="markers", name="uniform-attention null",
                                     marker=dict(symbol="x-thin", size=9, color="grey", line=dict(width=1.5, color="grey")),
                                     hovertemplate="uniform null<br>birth %{x:.4f}<br>death %{y:.4f}<extra></extra>"),
                          row=1, col=col)
        fig.add_trace(go.Scatter(x=[0, hi], y=[0, hi], mode="lines", line=dict(color="grey", dash="dot", width=1),
                                 showlegend=False, hoverinfo="skip"), row=1, col=col)
        fig.add_hline(y=top * 0.985, line=dict(color="grey", dash="dash", width=1), row=1, col=col)
        fig.update_xaxes(title_text="birth", range=[-0.03 * hi, hi * 1.02], row=1, col=col)
        fig.update_yaxes(title_text="death" if col == 1 else None, range=[-0.03 * hi, top * 1.05], row=1, col=col)
    fig.update_layout(legend=dict(orientation="h", y=-0.2, x=0.0))
    apply_style(fig, title=title, height=height, width=width)
    return _room_for_title(fig, title)


def betti_curve_figure(scales: Sequence[float], curves: Mapping[str, Sequence[float]], *, dims_label: str = "β",
                       null_curves: Mapping[str, Sequence[float]] | None = None,
                       null_bands: Mapping[str, tuple[Sequence[float], Sequence[float]]] | None = None,
                       title: str | None = None, height: int = 360, width: int = 560) -> go.Figure:
    """Betti number vs scale ε, one line per entry of ``curves`` (e.g. ``{"β0 layer 0": ..., "β1 layer 0": ...}``
    from ``sinkviz.metrics.topology.betti_curve``). Step lines: β(ε) changes only at births and deaths.
    Null baselines at the same length and mask: ``null_curves`` (``{label: curve}``, e.g. uniform attention's,
    dotted grey) and ``null_bands`` (``{label: (mean curve, sd curve)}`` over random-logit draws, shaded)."""
    if not curves:
        raise ValueError("curves is empty: pass {label: betti_curve(dgm, scales)}")
    fig = go.Figure()
    x = np.asarray(scales, dtype=float)
    for j, (name, (mean, sd)) in enumerate((null_bands or {}).items()):
        mean, sd = np.asarray(mean, dtype=float), np.asarray(sd, dtype=float)
        fig.add_trace(go.Scatter(x=np.concatenate([x, x[::-1]]), y=np.concatenate([mean + sd, (mean - sd)[::-1]]),
                                 mode="lines", fill="toself", fillcolor=f"rgba(120, 120, 120, {0.22 - 0.08 * (j % 2)})",
                                 line=dict(width=0, shape="hv"), hoverinfo="skip", name=name))
    for name, ys in (null_curves or {}).items():
        fig.add_trace(go.Scatter(x=list(scales), y=list(ys), mode="lines", name=name, line_shape="hv",
                                 line=dict(color="grey", dash="dot", width=1.5)))
    for i, (name, ys) in enumerate(curves.items()):
        dash = "solid" if "1" not in name.split()[0] else "dash"
        fig.add_trace(go.Scatter(x=list(scales), y=list(ys), mode="lines", name=name, line_shape="hv",
                                 line=dict(color=COLORS[i % len(COLORS)], dash=dash)))
    fig.update_xaxes(title_text="scale ε (distance 1 − attention)")
    fig.update_yaxes(title_text=f"{dims_label}(ε)", rangemode="tozero")
    apply_style(fig, title=title, height=height, width=width)
    return _room_for_title(fig, title)
