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


def _null_ks(nulls: Mapping[str, Any] | None) -> str:
    if not nulls:
        return ""
    parts = []
    if "uniform" in nulls:
        parts.append(f"uniform {nulls['uniform']['marchenko_pastur_ks']:.2f}")
    if nulls.get("random"):
        ks = np.array([r["marchenko_pastur_ks"] for r in nulls["random"]], dtype=float)
        ks = ks[np.isfinite(ks)]
        if ks.size:
            parts.append(f"random-logit {ks.mean():.2f} ± {ks.std():.2f}")
    return "KS of the nulls<br>" + "<br>".join(parts) if parts else ""


def spectrum_figure(published: Mapping[str, Any], corrected: Mapping[str, Any], diagonal: Any, *,
                    nulls: Mapping[str, Any] | None = None, title: str | None = None, height: int = 400,
                    width: int = 1000) -> go.Figure:
    """Three panels for one attention map: (1) |eigenvalues| as the notebook computes them, with the sorted
    diagonal Ā_ii overlaid (they coincide for causal maps) and the top-10 cut used for the MP fit marked;
    (2) singular values (corrected spectrum); (3) histogram of the corrected MP spectrum (eigenvalues of
    XXᵀ/n, X the entry-standardised map) against the MP density with γ = 1. Annotated with the published
    gap / PR / MP-KL and the corrected gap / PR / MP-KS.

    ``nulls`` (``{"uniform": rmt_corrected(U), "random": [rmt_corrected(R_d), ...]}``, e.g. from
    ``sinkviz.metrics.nulls.null_results(rmt_corrected, n, causal=..., heads=H)``) adds the uniform map's
    singular values (dotted) and the random-logit band (mean ± sd per rank) to panel 2, and their MP-KS to
    panel 3 (a note at its top right): under a causal mask the KS of uniform attention is far from 0."""
    ev = np.asarray(published["eigenvalues"], dtype=float)
    diag = np.sort(np.abs(np.asarray(diagonal, dtype=float)))[::-1]
    sv = np.asarray(corrected["singular_values"], dtype=float)
    mp_spec = np.asarray(corrected["mp_spectrum"], dtype=float)
    fig = make_subplots(rows=1, cols=3, horizontal_spacing=0.08, subplot_titles=[
        f"published: |λ(Ā)| (gap {published['spectral_gap']:.3g}, PR {published['participation_ratio']:.3g})",
        f"corrected: σ(Ā) (gap {corrected['spectral_gap']:.3g}, PR {corrected['participation_ratio']:.3g})",
        f"MP fit: KL(top-10) {published['marchenko_pastur_kl']:.3g} · KS(full) {corrected['marchenko_pastur_ks']:.3g}"])
    if _null_ks(nulls):
        fig.add_annotation(text=_null_ks(nulls), xref="x3 domain", yref="y3 domain", x=0.98, y=0.97, xanchor="right",
                           yanchor="top", showarrow=False, align="right", bgcolor="rgba(255, 255, 255, 0.85)",
                           font=dict(size=11))
    k = np.arange(1, len(ev) + 1)
    fig.add_trace(go.Scatter(x=k, y=ev, mode="markers", name="|λ| (np.linalg.eigvals)",
                             marker=dict(color=COLORS[0], size=9)), row=1, col=1)
    fig.add_trace(go.Scatter(x=np.arange(1, len(diag) + 1), y=diag, mode="markers", name="sorted diagonal Ā_ii",
                             marker=dict(color=COLORS[1], size=5, symbol="x")), row=1, col=1)
    fig.add_vline(x=10.5, line=dict(color="grey", dash="dash", width=1), row=1, col=1)
    if nulls and nulls.get("random"):
        rs = np.array([np.asarray(r["singular_values"], dtype=float) for r in nulls["random"]])
        mean, sd = rs.mean(axis=0), rs.std(axis=0)
        k_r = np.arange(1, rs.shape[1] + 1)
        lo = np.maximum(mean - sd, mean * 1e-3)  # a log axis: keep the band's lower edge positive
        fig.add_trace(go.Scatter(x=np.concatenate([k_r, k_r[::-1]]), y=np.concatenate([mean + sd, lo[::-1]]),
                                 mode="lines", fill="toself", fillcolor="rgba(120, 120, 120, 0.2)", line=dict(width=0),
                                 hoverinfo="skip", name="σ of random-logit nulls (mean ± sd)"), row=1, col=2)
    if nulls and "uniform" in nulls:
        su = np.asarray(nulls["uniform"]["singular_values"], dtype=float)
        fig.add_trace(go.Scatter(x=np.arange(1, len(su) + 1), y=su, mode="lines", name="σ of uniform attention",
                                 line=dict(color="black", dash="dot", width=1.5)), row=1, col=2)
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
