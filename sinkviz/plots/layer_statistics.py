"""Early / middle / late layer comparison of Ruscio et al. (NeurIPS 2025), topology.ipynb: per-layer values and the tests.

Factory takes the dict of ``sinkviz.papers.ruscio2025.layer_comparison`` and returns a styled ``go.Figure``: the
per-layer means of the published statistics beside their uniform-attention null, the corrected statistics, and
the p-values of every layer pair (published: Welch, uncorrected; corrected: paired, Holm-adjusted). Layers are
counted from 0, as the authors count them.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from sinkviz.plots._ruscio_layout import room_for_title
from sinkviz.plots.style import COLORS, RUSCIO_BASE, apply_style, index_label

__all__ = ["layer_comparison_figure"]

_LABELS = {"betti0": "pairs H0 ('Betti₀')", "betti1": "pairs H1 ('Betti₁')", "mean_attention": "mean of Ā",
           "max_attention": "max of Ā", "dim0_avg_persistence": "avg dim-0 persistence",
           "betti0@0.5": "β₀(ε = 0.5)", "betti1@0.9": "β₁(ε = 0.9)", "total_persistence0": "total H0 persistence"}


def _mean_sd(values: Mapping[int, Sequence[float]], layers: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    arr = [np.asarray(values[l], dtype=float) for l in layers]
    arr = [a[np.isfinite(a)] for a in arr]
    return (np.array([a.mean() if a.size else np.nan for a in arr]),
            np.array([a.std() if a.size else np.nan for a in arr]))


def layer_comparison_figure(result: Mapping[str, Any], *, authors: Mapping[str, Any] | None = None,
                            title: str | None = None) -> go.Figure:
    """Three panels: (1) the published pair count "Betti₀" per layer with its null (uniform attention at the same
    lengths: a causal map gives the token count at every layer) and the corrected β₀(0.5); (2) the average dim-0
    persistence, published, with its null, and the authors' values (``authors``: ``{"label", "layers",
    "n_layers", "dim0_persistence"}``, drawn against the same relative depth) ; (3) −log₁₀ p of every layer pair
    and statistic: published Welch tests as topology.ipynb runs them, corrected paired tests Holm-adjusted."""
    layers = list(result["layers"])
    pub, cor, null = result["published"], result["corrected"], result["null"]
    x = [str(l) for l in layers]
    fig = make_subplots(rows=2, cols=2, horizontal_spacing=0.1, vertical_spacing=0.2, row_heights=[0.5, 0.5],
                        specs=[[{}, {}], [{"colspan": 2}, None]], subplot_titles=[
        "pair counts vs Betti number at a scale", "avg dim-0 persistence", "−log₁₀ p of every layer pair (published: Welch, uncorrected; corrected: paired, Holm)"])
    for key, variant, color, name in (("betti0", pub, COLORS[0], "published 'Betti₀'"),
                                      ("betti0@0.5", cor, COLORS[1], "corrected β₀(ε = 0.5)")):
        mean, sd = _mean_sd(variant[key], layers)
        fig.add_trace(go.Scatter(x=x, y=mean, error_y=dict(array=sd, thickness=1, width=3), mode="lines+markers",
                                 line=dict(color=color), name=name), row=1, col=1)
    fig.add_trace(go.Scatter(x=x, y=[np.mean(null["betti0"])] * len(x), mode="lines", name="null: uniform attention",
                             line=dict(color="#777777", dash="dot")), row=1, col=1)
    mean, sd = _mean_sd(pub["dim0_avg_persistence"], layers)
    fig.add_trace(go.Scatter(x=x, y=mean, error_y=dict(array=sd, thickness=1, width=3), mode="lines+markers",
                             line=dict(color=COLORS[0]), name="published persistence", showlegend=False), row=1, col=2)
    fig.add_trace(go.Scatter(x=x, y=[np.nanmean(null["dim0_avg_persistence"])] * len(x), mode="lines",
                             line=dict(color="#777777", dash="dot"), showlegend=False, name="null"), row=1, col=2)
    if authors:
        d = max(1, authors["n_layers"] - 1)
        ours = [layers[int(np.argmin([abs(l / max(1, layers[-1]) - a / d) for l in layers]))] for a in authors["layers"]]
        fig.add_trace(go.Scatter(x=[str(l) for l in ours], y=authors["dim0_persistence"], mode="markers",
                                 marker=dict(symbol="diamond-open", size=10, color="black"),
                                 name=f"{authors['label']}, same relative depth"), row=1, col=2)
    rows, z, text = [], [], []
    pairs = None
    for variant, tests, pkey in (("published", result["tests_published"], "p"),
                                 ("corrected", result["tests_corrected"], "p_holm")):
        for key, rows_ in tests.items():
            if not rows_:
                continue
            pairs = [f"{r['layer_a']}–{r['layer_b']}" for r in rows_]
            ps = np.array([r[pkey] for r in rows_], dtype=float)
            rows.append(f"{variant}: {_LABELS.get(key, key)}")
            z.append(-np.log10(np.clip(ps, 1e-300, 1.0)))
            text.append(["undefined (constant)" if not np.isfinite(p) else f"p = {p:.2g}" for p in ps])
    if rows:
        fig.add_trace(go.Heatmap(z=np.array(z), x=pairs, y=rows, text=text, colorscale="Greys", zmin=0,
                                 zmax=max(2.0, float(np.nanmax(np.where(np.isfinite(z), z, np.nan)))),
                                 colorbar=dict(title=dict(text="−log₁₀ p")),
                                 hovertemplate="%{y}<br>" + index_label("layers", "%{x}", base=RUSCIO_BASE)
                                 + "<br>%{text}<extra></extra>"), row=2, col=1)
    for col in (1, 2):
        fig.update_xaxes(title_text=index_label("layer", base=RUSCIO_BASE), type="category", row=1, col=col)
    fig.update_xaxes(title_text=index_label("layer pair", base=RUSCIO_BASE), row=2, col=1)
    fig.update_yaxes(autorange="reversed", row=2, col=1)
    fig.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.13, x=0.0, xanchor="left"))
    apply_style(fig, title=title, height=900, width=1000)
    return room_for_title(fig, title)
