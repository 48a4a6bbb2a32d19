"""Ruscio et al. (NeurIPS 2025): significance tests, correlation aggregates, entropy–magnitude and PCA-component
correlations, corrected head specialisation and the threshold sweep, on hand-built inputs with known answers."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from sinkviz.metrics import alignment, spectral, stats, topology
from sinkviz.metrics import toy_attention as toy
from sinkviz.metrics.frames import head_sinks


# ------------------------------------------------------------------------------------------------ stats
def test_holm_by_hand():
    # sorted: 0.01 -> 3*0.01 = 0.03; 0.03 -> 2*0.03 = 0.06; 0.04 -> max(0.06, 1*0.04) = 0.06
    np.testing.assert_allclose(stats.holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
    out = stats.holm([0.5, np.nan, 0.9])  # NaN is not counted in m
    assert np.isnan(out[1]) and out[0] == pytest.approx(1.0) and out[2] == pytest.approx(1.0)


def test_welch_matches_the_formula():
    a, b = [1.0, 2.0, 3.0], [4.0, 5.0, 6.0]
    res = stats.welch_t_published(a, b)
    t = (2.0 - 5.0) / np.sqrt(1.0 / 3 + 1.0 / 3)  # sample variances are 1
    assert res["t"] == pytest.approx(t)
    assert res["p"] == pytest.approx(2 * sps.t.sf(abs(t), df=4))  # Welch df = 4 for equal variances and sizes
    assert np.isnan(stats.welch_t_published([1.0, 1.0], [1.0, 1.0])["p"])  # constant groups: scipy's NaN, kept


def test_paired_test_sees_a_shift_that_welch_misses():
    rng = np.random.default_rng(0)
    base = rng.normal(scale=10.0, size=40)  # large between-sentence spread
    shifted = base + 0.5 + rng.normal(scale=0.05, size=40)  # every sentence moves by 0.5
    assert stats.welch_t_published(base, shifted)["p"] > 0.5
    assert stats.paired_t_corrected(base, shifted)["p"] < 1e-10
    with pytest.raises(ValueError, match="same samples"):
        stats.paired_t_corrected([1, 2, 3], [1, 2])


def test_layer_pair_tests_count_and_holm():
    values = {0: [1.0, 2.0, 3.0, 4.0], 7: [1.1, 2.1, 3.3, 4.1], 14: [5.0, 6.0, 7.5, 8.0]}
    pub = stats.layer_pair_tests_published(values)
    cor = stats.layer_pair_tests_corrected(values)
    assert [(r["layer_a"], r["layer_b"]) for r in pub] == [(0, 7), (0, 14), (7, 14)]
    assert all(r["p_holm"] >= r["p"] for r in cor)
    with pytest.raises(ValueError, match="at least 2 layers"):
        stats.layer_pair_tests_published({0: [1.0]})


def test_layer_trend_and_first_vs_last():
    values = {layer: [layer * 1.0 + d for d in (-0.1, 0.0, 0.1)] for layer in (0, 1, 2, 3, 4)}
    trend = stats.layer_trend_published(values)
    assert trend["spearman_rho"] == pytest.approx(1.0) and trend["pattern"] == "increasing" and trend["n_layers"] == 5
    fl = stats.first_vs_last_published(values)
    assert (fl["first_layer"], fl["last_layer"]) == (0, 4) and fl["difference"] == pytest.approx(4.0)


def test_one_sample_tests_count_samples_not_sample_layers():
    per_sample = np.tile(np.array([[0.1], [0.2], [0.3], [0.2]]), (1, 10))  # 4 sentences x 10 layers
    pub = stats.one_sample_t_published(per_sample.ravel())
    cor = stats.one_sample_t_corrected(per_sample)
    assert pub["n"] == 40 and cor["n"] == 4
    assert abs(pub["t"]) > abs(cor["t"])  # pooling the layers of one sentence inflates t


def test_correlation_aggregates():
    layers = [{"r": 0.5, "p": 0.01, "n": 13}, {"r": -0.5, "p": 0.2, "n": 13}, None]
    pub = stats.correlation_aggregate_published(layers)
    assert pub == {"r": pytest.approx(0.0), "p": pytest.approx(0.105), "n_layers": 2}
    cor = stats.correlation_aggregate_corrected(layers)
    assert cor["r"] == pytest.approx(0.0, abs=1e-12) and cor["n_layers"] == 2 and cor["n_significant_holm"] == 1
    one = stats.correlation_aggregate_corrected([{"r": 0.6, "p": 0.001, "n": 20}])
    assert one["r"] == pytest.approx(0.6)
    assert stats.pearson_published([1, 1, 1], [1, 2, 3]) is None  # a constant side: the notebook skips the layer


# ---------------------------------------------------------------------------------------- alignment
def _states_with_growing_update(n: int, d: int = 6) -> tuple[np.ndarray, np.ndarray]:
    h_in = np.zeros((n, d))
    h_out = np.zeros((n, d))
    h_out[:, 0] = np.arange(1, n + 1)  # ‖Δh_i‖ = i + 1
    return h_in, h_out


def test_entropy_magnitude_on_uniform_causal_attention_measures_position():
    n = 12
    u = toy.uniform_causal_attention(n)
    h_in, h_out = _states_with_growing_update(n)
    expected = np.corrcoef(np.log(np.arange(1, n + 1)), np.arange(1, n + 1))[0, 1]
    assert alignment.entropy_magnitude_published(u, h_in, h_out) == pytest.approx(expected, abs=1e-6)
    # corrected: the normalised entropy of uniform attention is 1 on every row -> no correlation to measure
    assert np.isnan(alignment.entropy_magnitude_corrected(u, h_in, h_out, causal=True))


def test_normalised_entropy_known_values():
    np.testing.assert_allclose(alignment.normalised_entropy(toy.uniform_causal_attention(6), causal=True)[1:], 1.0)
    star = alignment.normalised_entropy(toy.star_attention(6), causal=True)
    assert np.isnan(star[0]) and np.allclose(star[1:], 0.0)
    np.testing.assert_allclose(alignment.normalised_entropy(toy.uniform_attention(5), causal=False), 1.0)


def test_entropy_magnitude_corrected_ranks_resist_one_massive_token():
    n = 10
    a = toy.random_causal_attention(n, seed=3)
    h_in, h_out = _states_with_growing_update(n)
    base = alignment.entropy_magnitude_corrected(a, h_in, h_out, causal=True)
    h_out2 = h_out.copy()
    h_out2[n - 1, 0] = 1e6  # the largest update made enormous: ranks unchanged
    assert alignment.entropy_magnitude_corrected(a, h_in, h_out2, causal=True) == pytest.approx(base)


def test_pca_correlation_sign_artefact_and_seed():
    rng = np.random.default_rng(1)
    n, d = 14, 8
    a = toy.random_causal_attention(n, seed=2)
    h = rng.normal(size=(n, d))
    p1 = alignment.pca_component_correlation_published(a, h, seed=0)
    assert p1 == alignment.pca_component_correlation_published(a, h, seed=0)  # seeded: reproducible
    flipped = alignment.pca_component_correlation_published(a, -h, seed=0)
    # negating the residual stream changes nothing geometric but flips every matched correlation's sign
    np.testing.assert_allclose(flipped["correlations"], -np.asarray(p1["correlations"]), atol=1e-6)
    c1, c2 = alignment.pca_component_correlation_corrected(a, h), alignment.pca_component_correlation_corrected(a, -h)
    assert c1["mean"] == pytest.approx(c2["mean"]) and 0.0 <= c1["mean"] <= 1.0
    np.testing.assert_allclose(np.abs(p1["correlations"]), c1["correlations"], atol=1e-4)  # randomized ≈ exact here


# ------------------------------------------------------------------------------ head specialisation
def test_uniform_causal_attention_is_specialised_only_by_the_published_rule():
    n, n_samples, n_heads = 10, 8, 3
    uniform = np.stack([toy.uniform_causal_attention(n)] * n_heads)
    tokens = ["<bos>"] + [f"w{i}" for i in range(1, n)]
    sinks = [head_sinks(uniform, causal=True, tokens=tokens) for _ in range(n_samples)]
    top_tokens = [[tokens[p] for p in s.top_position[0]] for s in sinks]
    published = topology.head_specialization_published(top_tokens)
    assert all(h["specialized"] and h["consistency"] == 1.0 and h["token"] == "<bos>" for h in published)
    corrected = topology.head_specialization_corrected([s.top_position[0] for s in sinks], [s.excess[0] for s in sinks])
    assert all(not h["specialized"] and h["consistency"] == 0.0 for h in corrected)


def test_star_heads_are_specialised_by_position_even_without_a_bos():
    n, n_samples = 10, 6
    star = toy.star_attention(n)[None]
    sinks = [head_sinks(star, causal=True) for _ in range(n_samples)]
    first_words = [["The"], ["A"], ["Euclid"], ["In"], ["Water"], ["Mars"]]  # no BOS: position 0 varies
    assert not topology.head_specialization_published(first_words)[0]["specialized"]
    row = topology.head_specialization_corrected([s.top_position[0] for s in sinks], [s.excess[0] for s in sinks])[0]
    assert row["specialized"] and row["position"] == 0 and row["consistency"] == 1.0


# ------------------------------------------------------------------------------------ threshold sweep
def test_threshold_effectiveness_and_best_threshold():
    eff = spectral.threshold_effectiveness_published({0.001: [0.5, 0.5], 0.01: [0.5, 0.01], 0.1: [0.01, 0.99]})
    assert eff == {0.001: 1.0, 0.01: 0.5, 0.1: 0.0}
    assert spectral.best_threshold_published(eff) == 0.001
    assert spectral.best_threshold_published({0.2: 0.5, 0.1: 0.5}) == 0.2  # ties: the first one
    assert spectral.best_threshold_published({0.2: 0.0, 0.1: 0.0}) == 0.2  # nothing effective: the first one
    assert spectral.computed_published(False, 8) and not spectral.computed_published(False, 9)


def test_uniform_ratio_gives_uniform_attention_no_edge_and_keeps_a_star():
    n = 20
    u = toy.uniform_causal_attention(n)
    r = spectral.uniform_ratio(u, causal=True)
    np.testing.assert_allclose(r[np.tril_indices(n)], 1.0)
    assert spectral.graph_metrics_corrected(r, 1.0, causal=True)["star_likeness"] == 0.0
    # at the published fixed τ = 0.01 every visible entry of uniform attention is an edge (1/(i+1) > 0.01)
    assert spectral.graph_metrics_corrected(u, 0.01, causal=True)["density"] == pytest.approx(1.0)
    star = spectral.uniform_ratio(toy.star_attention(n), causal=True)
    assert spectral.graph_metrics_corrected(star, 1.0, causal=True)["star_likeness"] == pytest.approx(1.0)
