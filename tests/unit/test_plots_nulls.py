"""Figures that show corrected statistics draw their null baselines: a band for random-logit attention and a line for
uniform attention (layer profiles, spectra, Betti curves), the uniform null's bars in the persistence diagram."""
import warnings

import numpy as np

from sinkviz.metrics import nulls, rmt, topology, toy_attention as toy
from sinkviz.plots.layer_profiles import layer_profile_figure
from sinkviz.plots.spectra import spectrum_figure
from sinkviz.plots.topology import betti_curve_figure, persistence_diagram_figure


def rows_with_nulls():
    rows = []
    for layer in (0, 1, 2):
        for variant, mean in (("published", 1.0), ("corrected", 0.8), ("null_uniform", 0.0), ("null_random", 0.2),
                              ("null_random_sd", 0.05)):
            rows.append({"layer": layer, "variant": variant, "metric": "star", "mean": mean, "sd": 0.01, "n": 4})
    return rows


def test_layer_profile_draws_band_and_uniform_line_behind_corrected_series():
    panels = [("star-likeness", [("published", "star", "published"), ("corrected", "star", "corrected")])]
    fig = layer_profile_figure(rows_with_nulls(), panels, n_layers=3)
    names = [t.name for t in fig.data]
    assert names == ["published", "random-logit null (mean ± sd)", "uniform-attention null", "corrected"]
    band = fig.data[1]
    assert band.fill == "toself" and band.mode == "lines"  # no markers at the polygon's corners
    np.testing.assert_allclose(band.y, [0.25, 0.25, 0.25, 0.15, 0.15, 0.15])  # mean ± sd, there and back
    np.testing.assert_allclose(fig.data[2].y, [0.0, 0.0, 0.0])
    plain = layer_profile_figure(rows_with_nulls(), panels, n_layers=3, nulls=False)
    assert [t.name for t in plain.data] == ["published", "corrected"]


def test_spectrum_figure_shows_the_nulls():
    a = toy.random_logit_attention(12, causal=True, seed=1, sink_logit=3.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        u, rs = nulls.null_results(rmt.rmt_corrected, 12, causal=True, draws=4)
        fig = spectrum_figure(rmt.rmt_published(a), rmt.rmt_corrected(a), np.diag(a), nulls={"uniform": u, "random": rs})
    names = [t.name for t in fig.data]
    assert "σ of uniform attention" in names and "σ of random-logit nulls (mean ± sd)" in names
    note = [x.text for x in fig.layout.annotations if x.text.startswith("KS of the nulls")]
    assert note and f"uniform {u['marchenko_pastur_ks']:.2f}" in note[0]
    assert len(spectrum_figure(rmt.rmt_published(a), rmt.rmt_corrected(a), np.diag(a)).data) == len(names) - 2


def test_persistence_and_betti_nulls():
    a = toy.random_logit_attention(10, causal=True, seed=2, sink_logit=2.0)
    pub, cor = topology.persistence_published(a), topology.persistence_corrected(a)
    null = topology.persistence_corrected(toy.masked_uniform_attention(10, causal=True))
    fig = persistence_diagram_figure(pub, cor, null=null)
    marks = [t for t in fig.data if t.name == "uniform-attention null"]
    assert len(marks) == 1 and len(marks[0].x) == sum(len(d) for d in null.dgms) and marks[0].xaxis == "x2"
    scales = np.linspace(0, 1, 11)
    curve = topology.betti_curve(cor.dgms[0], scales)
    b = betti_curve_figure(scales, {"β0": curve}, null_curves={"β0 uniform": curve + 1},
                           null_bands={"β0 random": (curve * 1.0, np.ones(11))})
    assert [t.name for t in b.data] == ["β0 random", "β0 uniform", "β0"]
    assert b.data[0].fill == "toself" and b.data[1].line.dash == "dot"
