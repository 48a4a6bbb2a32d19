"""Persistent homology (Ruscio et al. 2025, topology.ipynb): published artefact and corrected variant."""
import numpy as np
import pytest

from sinkviz.metrics import toy_attention as toy
from sinkviz.metrics.topology import (
    betti_at_scale,
    betti_curve,
    connection_density_published,
    corrected_distance,
    downsample_indices_published,
    head_specialization_published,
    head_top_tokens_published,
    persistence_corrected,
    persistence_per_head,
    persistence_published,
    total_persistence,
)


def test_ripser_artefact_reproduced_exactly_on_causal_matrix_and_corrected_is_not_degenerate():
    """The test issue 5 names: as published, a causal map gives n H0 pairs all dying at 1.0, no H1,
    vertex births 1 − Ā_ii and average dim-0 persistence = mean self-attention of the non-oldest
    vertices; the corrected variant on the SAME matrix has spread-out deaths and loops."""
    a = toy.random_causal_attention(24, seed=3, sink_logit=2.0, scale=2.0)
    pub = persistence_published(a)
    h0, h1 = pub.dgms
    assert pub.pair_counts == [24, 0]
    finite = h0[np.isfinite(h0[:, 1])]
    assert len(finite) == 23 and np.all(finite[:, 1] == 1.0)
    diag = np.diag(a).astype(np.float32).astype(np.float64)
    oldest = int(np.argmax(diag))
    expected_births = np.sort(1.0 - np.delete(diag, oldest))
    np.testing.assert_allclose(np.sort(finite[:, 0]), expected_births, atol=1e-6)
    np.testing.assert_allclose(pub.stats["dim0_avg_persistence"], np.mean(np.delete(diag, oldest)), atol=1e-6)
    assert np.isnan(pub.stats["dim1_avg_persistence"])
    # the transposed (upper-triangular) matrix is read completely: not the same answer
    assert persistence_published(a.T).pair_counts != pub.pair_counts

    cor = persistence_corrected(a)
    c0, c1 = cor.dgms
    cfin = c0[np.isfinite(c0[:, 1])]
    assert np.all(cfin[:, 0] == 0.0)  # zero diagonal: every vertex born at 0
    assert np.std(cfin[:, 1]) > 0.01 and np.all(cfin[:, 1] < 1.0)
    assert len(c1) >= 1
    assert betti_at_scale(c0, 0.5) != betti_at_scale(c0, 0.999)


def test_published_downsamples_to_thirty_with_linspace():
    idx = downsample_indices_published(48)
    np.testing.assert_array_equal(idx, np.linspace(0, 47, 30, dtype=int))
    assert idx[0] == 0 and idx[-1] == 47
    res = persistence_published(toy.uniform_causal_attention(48))
    assert res.pair_counts == [30, 0]
    np.testing.assert_array_equal(res.indices, idx)


def test_uniform_causal_published_births_are_one_minus_diagonal():
    n = 12
    res = persistence_published(toy.uniform_causal_attention(n))
    h0 = res.dgms[0]
    fin = h0[np.isfinite(h0[:, 1])]
    expected = np.sort(1.0 - 1.0 / np.arange(2, n + 1))
    np.testing.assert_allclose(np.sort(fin[:, 0]), expected, atol=1e-6)
    assert np.all(fin[:, 1] == 1.0)


def test_identity_attention_n_components_until_scale_one():
    n = 7
    for res in (persistence_published(toy.identity_attention(n)), persistence_corrected(toy.identity_attention(n))):
        assert res.pair_counts == [n, 0]
        assert betti_at_scale(res.dgms[0], 0.5) == n
        assert betti_at_scale(res.dgms[0], 1.0) == 1


def test_two_cliques_corrected_two_components_between_scales():
    k = 5
    res = persistence_corrected(toy.two_cliques_attention(k))
    h0, h1 = res.dgms
    # within-block distance 1 − 1/k = 0.8, across blocks 1.0
    assert betti_at_scale(h0, 0.5) == 2 * k
    assert betti_at_scale(h0, 0.9) == 2
    assert betti_at_scale(h0, 1.0) == 1
    assert len(h1) == 0
    np.testing.assert_array_equal(betti_curve(h0, [0.5, 0.9, 1.0]), [2 * k, 2, 1])
    assert total_persistence(h0) == pytest.approx(2 * (k - 1) * 0.8 + 1.0)


def test_path_corrected_merges_at_adjacent_distance():
    n = 9
    res = persistence_corrected(toy.path_attention(n, self_weight=0.5))
    h0, h1 = res.dgms
    # D = 0.5 for i, i±1 (token 0 attends itself only: D_10 = 1 − 0.5) and 1 otherwise
    assert betti_at_scale(h0, 0.25) == n
    assert betti_at_scale(h0, 0.75) == 1
    assert len(h1) == 0


def test_star_corrected_is_one_component_at_zero():
    res = persistence_corrected(toy.star_attention(6))
    assert betti_at_scale(res.dgms[0], 0.0) == 1
    assert len(res.dgms[1]) == 0


def test_corrected_distance_is_symmetric_zero_diagonal_and_both_rules():
    a = toy.random_causal_attention(10, seed=1)
    for sym in ("max", "mean"):
        d = corrected_distance(a, sym)
        np.testing.assert_allclose(d, d.T)
        assert np.all(np.diag(d) == 0)
    np.testing.assert_allclose(corrected_distance(a, "max")[5, 2], 1 - a[5, 2])
    np.testing.assert_allclose(corrected_distance(a, "mean")[5, 2], 1 - a[5, 2] / 2)
    with pytest.raises(ValueError, match="symmetrize"):
        corrected_distance(a, "min")


def test_giotto_backend_matches_ripser():
    import gph  # noqa: F401  (installed by `make test`: the test extras pin giotto-ph)
    a = toy.random_causal_attention(40, seed=7, sink_logit=1.0, scale=2.0)
    r = persistence_corrected(a, backend="ripser")
    g = persistence_corrected(a, backend="giotto", n_threads=2)
    for dr, dg in zip(r.dgms, g.dgms):
        assert dr.shape == dg.shape
        np.testing.assert_allclose(np.sort(dr, axis=0), np.sort(dg, axis=0), atol=1e-6)


def test_per_head_and_bad_input():
    stack = np.stack([toy.identity_attention(5), toy.two_cliques_attention(2, 3)])
    res = persistence_per_head(stack, "corrected")
    assert [r.pair_counts[0] for r in res] == [5, 5]
    with pytest.raises(ValueError, match="square"):
        persistence_published(np.ones((3, 4)))
    with pytest.raises(ValueError, match="NaN"):
        persistence_published(np.full((3, 3), np.nan))


def test_connection_density_counts_causal_zeros():
    d = connection_density_published(toy.uniform_causal_attention(4), thresholds=(0.2, 0.4))
    # entries: row0 1; row1 .5 .5; row2 1/3 ×3; row3 .25 ×4 -> >0.2: 1+2+3+4 = 10; >0.4: 1+2 = 3
    assert d == {0.2: 10 / 16, 0.4: 3 / 16}


def test_head_top_tokens_and_specialization():
    stack = np.stack([toy.star_attention(4), toy.identity_attention(4)])
    tops = head_top_tokens_published(stack, ["<s>", "a", "b", "c"])
    assert tops[0]["token"] == "<s>" and tops[0]["strength"] == pytest.approx(1.0)
    assert tops[1]["position"] == 0  # identity: all column means 1/4, argmax → first
    samples = [["<s>", "x"], ["<s>", "y"], ["<s>", "x"], ["<s>", "z"], ["<s>", "q"], ["a", "w"]]
    spec = head_specialization_published(samples)
    assert spec[0]["head"] == 0 and spec[0]["consistency"] == pytest.approx(5 / 6) and spec[0]["specialized"]
    h1 = [s for s in spec if s["head"] == 1][0]
    assert h1["consistency"] == pytest.approx(2 / 6) and h1["specialized"]
    assert not head_specialization_published(samples[:4])[0]["specialized"]  # < 5 samples
