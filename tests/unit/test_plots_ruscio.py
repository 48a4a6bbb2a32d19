"""Figure factories for Ruscio et al. (2025): they draw exactly the metric results they are given."""
import numpy as np
import pytest

from sinkviz.metrics import rmt, topology
from sinkviz.metrics import toy_attention as toy
from sinkviz.metrics.fisher import fisher_by_layer_corrected, fisher_by_layer_published
from sinkviz.metrics.frames import classify_frames, frame_statistics_over_training, head_sinks
from sinkviz.plots.frames import frame_panel_figure, frames_over_training_figure
from sinkviz.plots.layer_profiles import fisher_figure, layer_profile_figure
from sinkviz.plots.spectra import spectrum_figure
from sinkviz.plots.topology import betti_curve_figure, persistence_diagram_figure


def test_persistence_diagram_draws_finite_and_infinite_pairs():
    a = toy.random_causal_attention(12, seed=0, sink_logit=2.0)
    pub, cor = topology.persistence_published(a), topology.persistence_corrected(a)
    fig = persistence_diagram_figure(pub, cor, title="t")
    h0_pub = [t for t in fig.data if t.name == "H0" and t.xaxis == "x"][0]
    fin = pub.dgms[0][np.isfinite(pub.dgms[0][:, 1])]
    np.testing.assert_allclose(sorted(h0_pub.x), sorted(fin[:, 0]))
    assert np.all(np.asarray(h0_pub.y) == 1.0)
    inf_traces = [t for t in fig.data if t.name == "H0 (∞)"]
    assert len(inf_traces) == 2 and all(len(t.x) == 1 for t in inf_traces)
    assert "12/0" in fig.layout.annotations[0].text


def test_betti_curve_figure_values():
    scales = np.linspace(0, 1, 11)
    dg = topology.persistence_corrected(toy.two_cliques_attention(3)).dgms[0]
    curve = topology.betti_curve(dg, scales)
    fig = betti_curve_figure(scales, {"β0": curve})
    np.testing.assert_array_equal(fig.data[0].y, curve)
    with pytest.raises(ValueError):
        betti_curve_figure(scales, {})


def test_spectrum_figure_shows_diagonal_and_singular_values():
    a = toy.random_causal_attention(15, seed=1, sink_logit=3.0)
    pub, cor = rmt.rmt_published(a), rmt.rmt_corrected(a)
    fig = spectrum_figure(pub, cor, np.diag(a))
    by_name = {t.name: t for t in fig.data}
    np.testing.assert_allclose(by_name["|λ| (np.linalg.eigvals)"].y, by_name["sorted diagonal Ā_ii"].y)
    np.testing.assert_allclose(by_name["singular values σ"].y, cor["singular_values"])


def test_frame_panel_uses_verdict_evidence():
    n = 8
    stack = np.stack([np.stack([toy.star_attention(n)] * 2), np.stack([toy.uniform_causal_attention(n)] * 2)])
    v = classify_frames([head_sinks(stack, causal=True, tokens=list("abcdefgh"))])
    fig = frame_panel_figure(v)
    start = [t for t in fig.data if t.name == "start"][0]
    assert list(start.y) == [lf.shares["start"] for lf in v.layers]
    letters = [a.text for a in fig.layout.annotations if a.text in ("C", "∅", "B", "D")]
    assert letters == ["C", "∅"]


def test_frames_over_training_and_layer_profiles_and_fisher():
    n = 8
    early = [head_sinks(np.stack([np.stack([toy.uniform_causal_attention(n)] * 2)]), causal=True)]
    late = [head_sinks(np.stack([np.stack([toy.star_attention(n)] * 2)]), causal=True)]
    rows = frame_statistics_over_training([early, late], [0, 100])
    fig = frames_over_training_figure(rows)
    assert [t.name for t in fig.data][:2] == ["frame top rate", "start share"]
    assert list(fig.data[1].y) == [0.0, 1.0]
    prof_rows = [{"layer": l, "variant": v, "metric": "m", "mean": float(l) + (v == "corrected"), "sd": 0.1, "n": 3}
                 for l in (0, 2, 4) for v in ("published", "corrected")]
    fig = layer_profile_figure(prof_rows, [("panel", [("published", "m", "pub"), ("corrected", "m", "cor")])], n_layers=5,
                               paper={"panel": {"label": "paper", "layers": [0, 9], "n_layers": 10, "values": [1, 2]}})
    np.testing.assert_allclose(fig.data[0].x, [0, 0.5, 1.0])
    np.testing.assert_allclose(fig.data[2].x, [0, 1.0])
    with pytest.raises(ValueError, match="no rows"):
        layer_profile_figure(prof_rows, [("p", [("published", "missing", "x")])], n_layers=5)
    per = [{"model.layers.0.mlp.up_proj.weight": 1.0, "model.layers.1.self_attn.q_proj.weight": 2.0}]
    fig = fisher_figure(fisher_by_layer_published(per), fisher_by_layer_corrected(per))
    assert list(fig.data[0].y) == [1.0, 2.0]


def test_frames_over_training_categorical_labels():
    n = 8
    early = [head_sinks(np.stack([np.stack([toy.uniform_causal_attention(n)] * 2)]), causal=True)]
    late = [head_sinks(np.stack([np.stack([toy.star_attention(n)] * 2)]), causal=True)]
    rows = frame_statistics_over_training([early, late], [0, 1])
    fig = frames_over_training_figure(rows, step_labels=["init", "trained"])
    assert list(fig.data[0].x) == ["init", "trained"] and fig.layout.xaxis.type == "category"
    with pytest.raises(ValueError, match="labels"):
        frames_over_training_figure(rows, step_labels=["only one"])


def test_frames_over_training_letters_never_overlap_and_every_change_is_shown():
    """Verdict letters over dense late evaluations (log axis) are thinned to one per 6 % of the axis; the first,
    the last and every change of verdict are always drawn."""
    import numpy as np

    from sinkviz.plots.frames import _verdicts_to_letter, frames_over_training_figure

    steps = [0, 100, 250, 500, 1000, 1500, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 10000, 12000, 14000, 16000,
             18000, 20000, 22000, 22903]
    labels = ["undetermined"] + ["distributed"] * 10 + ["centralized"] * 10
    rows = [{"step": s, "label": lab, "frame_top_rate": 0.5, "start_share": 0.2, "end_share": 0.0,
             "interior_share": 0.8} for s, lab in zip(steps, labels)]
    fig = frames_over_training_figure(rows)
    letters = [(a.x, a.text) for a in fig.layout.annotations if a.text in ("?", "D", "C")]
    xs = sorted(x for x, _ in letters)
    span = np.log10(22903) - np.log10(50)  # step 0 is drawn at half the smallest positive step
    assert min(np.diff(xs)) / span >= 0.06 - 1e-9 or len(xs) < 2
    assert [t for _, t in sorted(letters)][0] == "?" and sorted(letters)[-1][1] == "C"
    first_c = np.log10(steps[labels.index("centralized")])
    assert any(abs(x - first_c) < 1e-9 for x, t in letters if t == "C")  # the change is marked where it happens
    assert len(letters) < len(rows)
    assert _verdicts_to_letter(steps[1:], labels[1:], log_x=False) == list(range(len(steps) - 1))
