"""Spectrum figures of Ruscio et al. (NeurIPS 2025): eigenvalues and singular values of attention maps.

The published eigenvalue magnitudes of an attention map next to its diagonal (identical for a causal map)
and its singular values, and the corrected full-spectrum comparison with the Marchenko–Pastur law.
Factories take the dicts of ``sinkviz.metrics.rmt.rmt_published`` / ``rmt_corrected``.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from sinkviz.metrics.rmt import mp_density
from sinkviz.plots.style import COLORS, apply_style
from sinkviz.plots._ruscio_layout import room_for_title as _room_for_title

__all__ = ["spectrum_figure"]


def spectrum_figure(published: Mapping[str, Any], corrected: Mapping[str, Any], diagonal: Any, *,
                    title: str | None = None, height: int = 380, width: int = 1000) -> go.Figure:
    """Three panels for one attention map: (1) |eigenvalues| as the notebook computes them, with the sorted
    diagonal Ā_ii overlaid (they coincide for causal maps) and the top-10 cut used for the MP fit marked;
    (2) singular values (corrected spectrum); (3) histogram of the corrected MP spectrum (eigenvalues of
    XXᵀ/n, X the entry-standardised map) against the MP density with γ = 1. Annotated with the published
    gap / PR / MP-KL and the corrected gap / PR / MP-KS."""
    ev = np.asarray(published["eigenvalues"], dtype=float)
    diag = np.sort(np.abs(np.asarray(diagonal, dtype=float)))[::-1]
    sv = np.asarray(corrected["singular_values"], dtype=float)
    mp_spec = np.asarray(corrected["mp_spectrum"], dtype=float)
    fig = make_subplots(rows=1, cols=3, horizontal_spacing=0.08, subplot_titles=[
        f"published: |λ(Ā)| (gap {published['spectral_gap']:.3g}, PR {published['participation_ratio']:.3g})",
        f"corrected: σ(Ā) (gap {corrected['spectral_gap']:.3g}, PR {corrected['participation_ratio']:.3g})",
        f"MP fit: KL(top-10) {published['marchenko_pastur_kl']:.3g} · KS(full) {corrected['marchenko_pastur_ks']:.3g}"])
    k = np.arange(1, len(ev) + 1)
    fig.add_trace(go.Scatter(x=k, y=ev, mode="markers", name="|λ| (np.linalg.eigvals)",
                             marker=dict(color=COLORS[0], size=9)), row=1, col=1)
    fig.add_trace(go.Scatter(x=np.arange(1, len(diag) + 1), y=diag, mode="markers", name="sorted diagonal Ā_ii",
                             marker=dict(color=COLORS[1], size=5, symbol="x")), row=1, col=1)
    fig.add_vline(x=10.5, line=dict(color="grey", dash="dash", width=1), row=1, col=1)
    fig.add_trace(go.Scatter(x=np.arange(1, len(sv) + 1), y=sv, mode="markers", name="singular values σ",
                             marker=dict(color=COLORS[2], size=8, symbol="square")), row=1, col=2)
    x = mp_spec / mp_spec.mean() if mp_spec.size and mp_spec.mean() > 0 else mp_spec
    fig.add_trace(go.Histogram(x=x, histnorm="probability density", nbinsx=30, name="spectrum of XXᵀ/n (mean 1)",
                               marker=dict(color=COLORS[5], line=dict(color="black", width=0.5)), opacity=0.8),
                  row=1, col=3)
    grid = np.linspace(1e-3, 4.0, 300)
    fig.add_trace(go.Scatter(x=grid, y=mp_density(grid), mode="lines", name="Marchenko–Pastur γ = 1",
                             line=dict(color="black", width=1.5)), row=1, col=3)
    fig.update_xaxes(title_text="rank (1 = largest)", row=1, col=1)
    fig.update_xaxes(title_text="rank (1 = largest)", row=1, col=2)
    fig.update_xaxes(title_text="eigenvalue / mean", row=1, col=3)
    fig.update_yaxes(type="log", row=1, col=1)
    fig.update_yaxes(type="log", row=1, col=2)
    fig.update_yaxes(range=[0, 1.2], row=1, col=3)
    fig.update_layout(legend=dict(orientation="h", y=-0.25, x=0.0))
    apply_style(fig, title=title, height=height, width=width)
    return _room_for_title(fig, title)
