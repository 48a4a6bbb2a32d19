"""Null baselines (sinkviz.metrics.nulls) and what the corrected statistics of Ruscio et al. give on them: every
corrected graph, spectral, random-matrix and topology statistic separates a planted star from uniform attention,
and none rates uniform causal attention as a star."""
import warnings

import numpy as np
import pytest

from sinkviz.metrics import nulls, rmt, spectral, topology, toy_attention as toy
from sinkviz.metrics._validate import visibility_mask


def harmonic(n):
    return sum(1 / t for t in range(1, n + 1))


# ------------------------------------------------------------------------------------------ null matrices
@pytest.mark.parametrize("causal,window", [(True, None), (False, None), (True, 3), (False, 2)])
def test_masked_uniform_and_random_logit_respect_the_mask(causal, window):
    n = 7
    vis = visibility_mask(n, causal, window)
    u = toy.masked_uniform_attention(n, causal=causal, sliding_window=window)
    np.testing.assert_allclose(u.sum(1), 1.0)
    np.testing.assert_allclose(u[vis], np.repeat(1 / vis.sum(1), vis.sum(1)))
    assert (u[~vis] == 0).all()
    r = toy.random_logit_attention(n, causal=causal, sliding_window=window, seed=3, heads=4)
    assert r.shape == (4, n, n) and (r[:, ~vis] == 0).all()
    np.testing.assert_allclose(r.sum(-1), 1.0)
    assert not np.allclose(r[0], r[1])  # independent heads
    np.testing.assert_array_equal(r, toy.random_logit_attention(n, causal=causal, sliding_window=window, seed=3, heads=4))


def test_old_toy_maps_are_the_masked_ones():
    np.testing.assert_array_equal(toy.uniform_causal_attention(6), toy.masked_uniform_attention(6, causal=True))
    np.testing.assert_array_equal(toy.uniform_attention(6), np.full((6, 6), 1 / 6))
    np.testing.assert_array_equal(toy.random_causal_attention(6, seed=2, sink_logit=1.0),
                                  toy.random_logit_attention(6, causal=True, seed=2, sink_logit=1.0))


def test_null_baseline_known_answer_and_dicts():
    n = 10
    first_key = lambda a: a[:, 0].mean()  # noqa: E731  mean attention to key 0
    b = nulls.null_baseline(first_key, n, causal=True, draws=30)
    assert b.uniform == pytest.approx(harmonic(n) / n)  # uniform causal: A_i0 = 1/(i+1)
    assert b.random_sd > 0 and b.n_finite == 30 and b.draws == 30 and b.causal
    bi = nulls.null_baseline(first_key, n, causal=False)
    assert bi.uniform == pytest.approx(1 / n)
    # a dict statistic: one baseline per numeric entry, other entries ignored
    both = nulls.null_baseline(lambda a: {"first": a[:, 0].mean(), "name": "x", "diag": np.trace(a)}, n, causal=True)
    assert set(both) == {"first", "diag"} and both["diag"].uniform == pytest.approx(harmonic(n))
    # H heads averaged pull the random null toward uniform; a stack goes to per-head statistics as it is
    one = nulls.null_baseline(first_key, n, causal=True, heads=1)
    avg = nulls.null_baseline(first_key, n, causal=True, heads=9)
    assert avg.random_sd < one.random_sd
    stacked = nulls.null_baseline(lambda s: s.shape[0], n, causal=True, heads=4, average_heads=False)
    assert stacked.uniform == 4 and stacked.random_mean == 4


def test_compare_to_null_and_errors():
    b = nulls.NullBaseline(uniform=0.5, random_mean=0.2, random_sd=0.1, draws=20, n_finite=20, n=8, causal=True)
    c = nulls.compare_to_null(0.6, b)
    assert c["minus_uniform"] == pytest.approx(0.1) and c["minus_random"] == pytest.approx(0.4)
    assert c["z"] == pytest.approx(4.0)
    flat = nulls.NullBaseline(uniform=0.0, random_mean=0.0, random_sd=0.0, draws=20, n_finite=20, n=8, causal=True)
    assert np.isnan(flat.z(1.0))
    noise = nulls.NullBaseline(uniform=0.0, random_mean=1e-18, random_sd=3e-17, draws=20, n_finite=20, n=8, causal=True)
    assert np.isnan(noise.z(1.0))  # eigenvalue rounding noise is no scale
    with pytest.raises(ValueError, match="draws"):
        nulls.null_baseline(np.trace, 5, causal=True, draws=1)
    with pytest.raises(ValueError, match="heads"):
        nulls.null_matrices(5, causal=True, heads=0)


def test_null_results_return_the_raw_statistic():
    u, rs = nulls.null_results(np.diag, 5, causal=True, draws=3)
    np.testing.assert_allclose(u, 1 / np.arange(1, 6))
    assert len(rs) == 3 and all(r.shape == (5,) for r in rs)


# ------------------------------------------------------------------- the facts, reproduced and fixed
def test_rmt_corrected_mp_ks_mostly_measures_the_causal_mask():
    n = 64
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # log2 of the masked zeros in the row entropy
        dense = rmt.rmt_corrected(np.random.default_rng(0).normal(size=(n, n)))["marchenko_pastur_ks"]
        b = nulls.null_baseline(rmt.rmt_corrected, n, causal=True)
        star = rmt.rmt_corrected(toy.star_attention(n))
    assert dense == pytest.approx(0.03, abs=0.005)
    assert b["marchenko_pastur_ks"].random_mean == pytest.approx(0.31, abs=0.01)
    assert b["marchenko_pastur_ks"].random_sd == pytest.approx(0.02, abs=0.005)
    assert b["marchenko_pastur_ks"].uniform == pytest.approx(0.56, abs=0.005)
    assert star["marchenko_pastur_ks"] == pytest.approx(0.98, abs=0.005)
    assert b["participation_ratio"].uniform == pytest.approx(2.86, abs=0.01)
    assert b["participation_ratio"].random_mean == pytest.approx(6.2, abs=0.05)
    assert b["participation_ratio"].random_sd == pytest.approx(0.6, abs=0.05)
    assert star["participation_ratio"] == pytest.approx(1.0)


@pytest.mark.parametrize("n", [12, 20, 30])
def test_uniform_causal_is_a_star_at_an_absolute_tau_and_not_at_the_relative_default(n):
    u = toy.uniform_causal_attention(n)
    assert spectral.graph_metrics_corrected(u, 0.01, causal=True)["star_likeness"] == 1.0  # the artefact
    rel = spectral.graph_metrics_corrected(u, causal=True)
    assert rel["star_likeness"] == 0.0 and rel["density"] == 0.0 and rel["threshold"].startswith("relative")
    assert spectral.graph_metrics_corrected(u, 0.01, causal=True)["threshold"] == "absolute: Ā_ij > 0.01"


def test_a_relative_threshold_below_the_uniform_share_is_refused():
    """tau_rel < 1 would make every entry of uniform attention an edge (a uniform map would score as a star)."""
    uniform = toy.uniform_causal_attention(12)
    with pytest.raises(ValueError, match="tau_rel must be at least 1"):
        spectral.graph_metrics_corrected(uniform, tau_rel=0.5)
    assert spectral.graph_metrics_corrected(uniform, tau_rel=1.0)["star_likeness"] == 0.0


def test_spectral_docstring_nulls():
    assert spectral.graph_metrics_corrected(toy.uniform_causal_attention(99), 0.01, causal=True)["star_likeness"] == 1.0
    assert spectral.graph_metrics_corrected(toy.uniform_causal_attention(100), 0.01, causal=True)["star_likeness"] < 1.0
    b = nulls.null_baseline(lambda a: spectral.graph_metrics_corrected(a, causal=True), 64, causal=True)
    assert b["star_likeness"].random_mean == pytest.approx(0.26, abs=0.01)
    assert b["star_likeness"].random_sd == pytest.approx(0.02, abs=0.01)


def test_topology_docstring_nulls():
    b = nulls.null_baseline(_topology_stats, 30, causal=True)
    assert b["betti0@0.5"].uniform == 29 and b["total_persistence0"].uniform == pytest.approx(26.0, abs=0.01)
    assert b["betti0@0.5"].random_mean == pytest.approx(27.2, abs=0.05)
    assert b["betti0@0.5"].random_sd == pytest.approx(1.4, abs=0.05)
    assert b["total_persistence0"].random_mean == pytest.approx(20.8, abs=0.05)
    assert b["total_persistence0"].random_sd == pytest.approx(0.6, abs=0.05)
    assert b["betti1@0.9"].random_mean == pytest.approx(15.7, abs=0.05)
    assert b["betti1@0.9"].random_sd == pytest.approx(4.7, abs=0.05)


# --------------------------------------------- every corrected statistic: star vs uniform, uniform is no star
def _graph_stats(a, causal):
    g = spectral.graph_metrics_corrected(a, causal=causal)
    return {k: g[k] for k in ("star_likeness", "degree_centralization", "gini", "fiedler_value", "density")}


def _rmt_stats(a):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        r = rmt.rmt_corrected(a)
    return {k: r[k] for k in ("participation_ratio", "stable_rank", "marchenko_pastur_ks", "spectral_gap")}


def _topology_stats(a):
    cor = topology.persistence_corrected(a)
    return {"betti0@0.5": topology.betti_at_scale(cor.dgms[0], 0.5),
            "betti1@0.9": topology.betti_at_scale(cor.dgms[1], 0.9),
            "total_persistence0": topology.total_persistence(cor.dgms[0])}


def planted_star(n, causal, weight=0.6):
    """A BOS sink as trained models have it: ``weight`` on key 0, the rest uniform over the visible keys."""
    star = np.zeros((n, n))
    star[:, 0] = 1.0
    return weight * star + (1 - weight) * toy.masked_uniform_attention(n, causal=causal)


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("n", [12, 30])
def test_each_corrected_statistic_separates_a_planted_star_from_uniform(n, causal):
    u = toy.masked_uniform_attention(n, causal=causal)
    for star in (toy.star_attention(n), planted_star(n, causal)):
        g_star, g_uni = _graph_stats(star, causal), _graph_stats(u, causal)
        # uniform attention has no edge at the relative threshold; the star keeps its hub
        assert all(v == 0.0 for v in g_uni.values()), g_uni
        assert g_star["star_likeness"] >= 0.9 and g_star["degree_centralization"] >= 0.9
        assert g_star["gini"] > 0.5 and g_star["fiedler_value"] > 0.5 and g_star["density"] > 0
        r_star, r_uni = _rmt_stats(star), _rmt_stats(u)
        if causal:
            assert r_star["participation_ratio"] < r_uni["participation_ratio"] - 0.5
            assert r_star["stable_rank"] < r_uni["stable_rank"] - 0.2
            assert r_star["marchenko_pastur_ks"] > r_uni["marchenko_pastur_ks"] + 0.1
            assert r_star["spectral_gap"] > r_uni["spectral_gap"] + 0.5
        else:
            # a limitation, stated in rmt's docstring: under a bidirectional mask every row of uniform attention
            # and of a (planted) star is the same, so both maps are rank one and the singular-value statistics
            # cannot tell them apart; the MP KS of the constant uniform map is undefined
            assert r_star["participation_ratio"] == pytest.approx(1.0) == r_uni["participation_ratio"]
            assert r_star["stable_rank"] == pytest.approx(1.0) == r_uni["stable_rank"]
            assert np.isnan(r_uni["marchenko_pastur_ks"])
        t_star, t_uni = _topology_stats(star), _topology_stats(u)
        assert t_star["betti0@0.5"] == 1 and t_uni["betti0@0.5"] >= n - 1
        assert t_star["total_persistence0"] < 0.5 * t_uni["total_persistence0"]


@pytest.mark.parametrize("n", [12, 20, 30])
def test_no_corrected_statistic_rates_uniform_causal_attention_as_a_star(n):
    """On every corrected statistic uniform causal attention stays away from the star's value: at least a quarter of
    the way from the star to the random-logit null (on the graph and topology statistics it is further from the
    star than the random-logit null is, except the Fiedler value, where random graphs are better connected than a
    star and uniform attention has no edge at all)."""
    u, star = toy.uniform_causal_attention(n), toy.star_attention(n)
    stats = lambda a: {**_graph_stats(a, True), **_rmt_stats(a), **_topology_stats(a)}  # noqa: E731
    rand = nulls.null_baseline(stats, n, causal=True)
    s_star, s_uni = stats(star), stats(u)
    # β1 is no star statistic: the star and uniform attention both have no loop (β1 = 0); only random-like
    # attention makes loops (topology's docstring says so)
    assert s_star["betti1@0.9"] == s_uni["betti1@0.9"] == 0 < rand["betti1@0.9"].random_mean
    for name, value in s_uni.items():
        if name == "betti1@0.9":
            continue
        s, r = s_star[name], rand[name].random_mean
        if np.isinf(s):  # the star's σ-gap σ1/σ2 is infinite (rank one)
            assert np.isfinite(value), name
            continue
        assert abs(value - s) > 0.25 * abs(s - r), name
        if name in ("star_likeness", "degree_centralization", "gini", "betti0@0.5", "total_persistence0"):
            assert abs(value - s) > abs(r - s), name
