"""The Ruscio et al. analyses added for issue 12 (head specialisation, layer comparison, threshold sweep, Fiedler
correlations, per-head RMT, entropy-magnitude / PCA / GSA statistics) on tiny random models: shapes, the published
rules and their nulls, the max_tokens truncation, and every figure factory."""
from __future__ import annotations

import numpy as np
import pytest
from tiny_models import load_tiny, text

from sinkviz.papers import ruscio2025
from sinkviz.plots.graph_sweep import fiedler_heatmap_figure, threshold_sweep_figure
from sinkviz.plots.head_maps import head_specialisation_figure, rmt_heads_figure
from sinkviz.plots.layer_statistics import layer_comparison_figure

TEXTS = [text(6 + i % 5, i) for i in range(8)]


@pytest.fixture(scope="module")
def llama(tmp_path_factory):
    return load_tiny("llama", tmp_path_factory)


@pytest.fixture(scope="module")
def bert(tmp_path_factory):
    return load_tiny("bert", tmp_path_factory)


@pytest.fixture(scope="module")
def traces(llama):
    return ruscio2025.trace_texts(llama, TEXTS, batch_size=4)


def test_truncation_to_max_tokens_as_topology_ipynb(llama, bert):
    long = text(40, 3)
    for m in (llama, bert):
        full = ruscio2025.trace_texts(m, [long])[0]
        cut = ruscio2025.trace_texts_truncated(m, [long, TEXTS[0]], max_tokens=12)
        lengths = sorted(tr.n_tokens(i) for tr in cut for i in range(tr.batch_size))
        assert full.n_tokens() > 12 and lengths[-1] == 12
        assert len(lengths) == 2
    # a causal model's first 12 rows are the truncated sentence's map (the future never enters)
    full = ruscio2025.trace_texts(llama, [long])[0]
    single = ruscio2025.trace_texts_truncated(llama, [long], max_tokens=12)[0]
    np.testing.assert_allclose(single.attention(1, 0), full.attention(1, 0)[:12, :12], atol=1e-5)
    enc = ruscio2025.trace_texts_truncated(bert, [long], max_tokens=12)[0]
    assert enc.special_positions[0][-1] == 11  # the encoder keeps its final special token, as the tokenizer does


def test_head_specialisation_shapes_and_null(traces):
    res = ruscio2025.head_specialisation(traces, [0, 2])
    assert res["published"]["consistency"].shape == (2, 4) and res["n_samples"] == len(TEXTS)
    assert res["published"]["total"] == sum(res["published"]["count"].values())
    assert res["null"]["corrected_total"] == 0  # uniform attention never sinks by the corrected rule
    assert 0.0 <= res["null"]["published_consistency"] <= 1.0
    assert head_specialisation_figure(res, title="t").data


def test_layer_comparison_tests_every_pair(traces):
    res = ruscio2025.layer_comparison(traces, [0, 1, 2])
    assert [(r["layer_a"], r["layer_b"]) for r in res["tests_corrected"]["betti0@0.5"]] == [(0, 1), (0, 2), (1, 2)]
    # the published 'Betti0' of a causal map is the token count at every layer, as on uniform attention
    assert res["published"]["betti0"][0] == res["published"]["betti0"][2] == res["null"]["betti0"]
    assert layer_comparison_figure(res, title="t").data


def test_graph_sweep_threshold_summary_and_fiedler_correlation(traces):
    sweep = ruscio2025.graph_sweep(traces, thresholds=(0.01, 0.05, 0.5), ratios=(1.0, 2.0))
    summary = ruscio2025.threshold_sweep_summary(sweep, thresholds=(0.01, 0.05))
    assert summary["published"]["fiedler"].shape == (2, 3)
    assert summary["published"]["best_threshold"] in (0.01, 0.05)
    assert summary["null"]["uniform"]["corrected_density"][1.0] == 0.0  # uniform attention: no edge above 1×uniform
    layer1 = sweep["published"][0.01][1]
    assert sum(layer1["computed"]) == sum(layer1["effective"])  # layer 1: computed only where effective
    assert all(sweep["published"][0.01][0]["computed"])  # layer 0 (divisible by 4): always computed
    corr = ruscio2025.fiedler_star_correlation(sweep, thresholds=(0.01, 0.5))
    overall = corr["published"][0.01]["overall"]["fiedler_vs_star"]
    per_layer = [c for c in (corr["published"][0.01]["by_layer"][l]["fiedler_vs_star"] for l in sweep["layers"]) if c]
    if per_layer:
        assert overall["published"]["r"] == pytest.approx(np.mean([c["r"] for c in per_layer]))
        assert overall["published"]["p"] == pytest.approx(np.mean([c["p"] for c in per_layer]))
    assert threshold_sweep_figure(summary, title="t").data and fiedler_heatmap_figure(summary, title="t").data


def test_rmt_heads_and_value_geometry(llama, traces):
    rh = ruscio2025.rmt_heads(traces, [0, 2])
    assert rh["published"]["spectral_gap"].shape == (2, 4) and rh["corrected"]["ks_minus_null"].shape == (2, 4)
    assert set(rh["null"]) == {"uniform", "random"}
    assert rmt_heads_figure(rh, title="t").data
    vg = ruscio2025.value_geometry(traces)
    assert set(vg) == set(range(llama.info.n_layers))
    em = ruscio2025.entropy_magnitude_summary(vg)
    gsa = ruscio2025.gsa_statistics(vg)
    assert gsa["published"]["one_sample"]["n"] == len(TEXTS) * llama.info.n_layers  # pooled, as published
    assert gsa["corrected"]["one_sample"]["n"] == len(TEXTS)  # per sentence
    assert gsa["published"]["trend"]["n_layers"] == llama.info.n_layers
    assert np.isfinite(em["pca"]["published"]["mean"])
    vg_again = ruscio2025.value_geometry(traces)
    again = ruscio2025.entropy_magnitude_summary(vg_again)
    assert again["pca"]["published"]["mean"] == em["pca"]["published"]["mean"]  # the seeded SVD reproduces
    # every statistic, published and corrected, stands beside its uniform and random-logit nulls
    for summary in (gsa, em["entropy_magnitude"], em["pca"]):
        assert {"null_uniform", "null_uniform_corrected", "null_random_draw", "null_random_draw_corrected"} <= set(summary)
    assert np.isfinite(gsa["null_random_draw_corrected"]["mean"])
    assert np.isfinite(em["pca"]["null_random_draw_corrected"]["mean"])
    # uniform attention has one normalised entropy in every row: no correlation to speak of (NaN, not 0)
    assert np.isnan(em["entropy_magnitude"]["null_uniform_corrected"]["mean"])
    assert ruscio2025.gsa_statistics(vg_again)["null_random_draw"]["mean"] == gsa["null_random_draw"]["mean"]  # seeded
