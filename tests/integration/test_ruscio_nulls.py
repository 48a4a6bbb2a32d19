"""Ruscio tables carry null baselines for their corrected statistics (sinkviz.metrics.nulls): per sample, at its
own length and mask, on a tiny random decoder and encoder."""
from __future__ import annotations

import numpy as np
import pytest
from tiny_models import save_tiny, text

import sinkviz
from sinkviz.metrics import head_average, nulls, rmt, spectral
from sinkviz.papers import ruscio2025

TEXTS = [text(5), text(9, 2), text(5, 7)]


@pytest.fixture(scope="module")
def llama_traces(tmp_path_factory):
    m = sinkviz.load(str(save_tiny("llama", tmp_path_factory.mktemp("llama"))), device="cpu", progress=False)
    return ruscio2025.trace_texts(m, TEXTS)


def test_null_variants_are_the_baselines_at_each_samples_length(llama_traces):
    res = ruscio2025.rmt_by_layer(llama_traces, layers=[1], null_draws=5)
    assert set(ruscio2025.NULL_VARIANTS) <= set(res[1])
    samples = list(ruscio2025.iter_samples(llama_traces))
    for i, s in enumerate(samples):
        n, heads = len(s.tokens), s.attention.shape[1]
        b = nulls.null_baseline(lambda a: {k: rmt.rmt_corrected(a)[k] for k in ruscio2025.RMT_CORRECTED_KEYS},
                                n, causal=True, heads=heads, draws=5)
        ks = res[1]["corrected"]["marchenko_pastur_ks"][i]
        assert ks == pytest.approx(rmt.rmt_corrected(head_average(s.layer_attention(1)))["marchenko_pastur_ks"])
        assert res[1]["null_uniform"]["marchenko_pastur_ks"][i] == pytest.approx(b["marchenko_pastur_ks"].uniform)
        assert res[1]["null_random"]["marchenko_pastur_ks"][i] == pytest.approx(b["marchenko_pastur_ks"].random_mean)
        assert res[1]["null_random_sd"]["marchenko_pastur_ks"][i] == pytest.approx(b["marchenko_pastur_ks"].random_sd)
        assert res[1]["z"]["marchenko_pastur_ks"][i] == pytest.approx(b["marchenko_pastur_ks"].z(ks))
    # the two texts of 5 words have the same length: one baseline serves both
    assert len(samples[0].tokens) == len(samples[2].tokens)
    assert res[1]["null_random"]["spectral_gap"][0] == res[1]["null_random"]["spectral_gap"][2]


def test_spectral_nulls_and_relative_threshold(llama_traces):
    res = ruscio2025.spectral_by_layer(llama_traces, layers=[0], null_draws=4)
    # uniform attention has no edge at the relative threshold: every corrected graph statistic of the null is 0
    for key in ruscio2025.SPECTRAL_CORRECTED_KEYS:
        assert set(res[0]["null_uniform"][key]) == {0.0}, key
    s = next(ruscio2025.iter_samples(llama_traces))
    avg = head_average(s.layer_attention(0))
    expected = spectral.graph_metrics_corrected(avg, causal=True)["star_likeness"]
    assert res[0]["corrected"]["star_likeness"][0] == pytest.approx(expected)
    # the published variant keeps the notebooks' absolute tau
    assert res[0]["published"]["star_likeness_basic"][0] == pytest.approx(
        spectral.graph_metrics_published(avg, 0.01, notebook="laplacian")["star_likeness_basic"])


def test_kl_topology_influence_nulls(llama_traces):
    kl = ruscio2025.kl_by_layer(llama_traces, layers=[0], null_draws=3)
    assert set(kl[0]["null_uniform"]["kl"]) == {0.0}  # identical uniform heads do not diverge
    assert all(v > 0 for v in kl[0]["null_random"]["kl"])
    topo = ruscio2025.topology_by_layer(llama_traces, layers=[0], null_draws=3)
    n0 = len(next(ruscio2025.iter_samples(llama_traces)).tokens)
    assert topo[0]["null_uniform"]["betti0@0.5"][0] == n0 - 1  # uniform causal: only tokens 0 and 1 join by 0.5
    infl = ruscio2025.influence_by_layer(llama_traces, layers=[1], null_draws=3)
    assert {"gsa", "di", "relative_magnitude"} <= set(infl[1]["null_uniform"])
    assert "transformation_magnitude" not in infl[1]["null_uniform"]  # no attention in it: no attention null
    off = ruscio2025.influence_by_layer(llama_traces, layers=[1], nulls=False)
    assert set(off[1]) == {"published", "corrected"}
    assert off[1]["corrected"]["gsa"] == pytest.approx(infl[1]["corrected"]["gsa"], nan_ok=True)


def test_compare_rows_shows_observed_beside_the_nulls(llama_traces):
    res = ruscio2025.rmt_by_layer(llama_traces, layers=[0, 1], null_draws=3)
    header, rows = ruscio2025.compare_rows(res, [("MP deviation", "marchenko_pastur_kl", "marchenko_pastur_ks"),
                                                 ("sink concentration", "sink_concentration", None)])
    assert header[-3:] == ["uniform attention (null)", "random-logit attention (null, mean ± sd)",
                           "z (corrected vs random-logit)"]
    assert len(rows) == 4 and all(len(r) == 7 for r in rows)
    assert rows[1][-3:] == ["–", "–", "–"]  # no corrected metric, no null
    u = np.asarray(res[0]["null_uniform"]["marchenko_pastur_ks"])
    assert rows[0][4] == f"{u.mean():.3f} ± {u.std():.3f}"
    plain, _ = ruscio2025.compare_rows(res, [("MP", "marchenko_pastur_kl", "marchenko_pastur_ks")], nulls=False)
    assert len(plain) == 4
    assert len(ruscio2025.compare_rows(ruscio2025.rmt_by_layer(llama_traces, layers=[0], nulls=False),
                                       [("MP", None, "marchenko_pastur_ks")])[0]) == 4


def test_frames_over_training_reports_the_rmt_nulls(llama_traces):
    rows = ruscio2025.frames_over_training([llama_traces], [0])
    assert {"corrected_marchenko_pastur_ks", "null_uniform_marchenko_pastur_ks",
            "null_random_marchenko_pastur_ks"} <= set(rows[0])
