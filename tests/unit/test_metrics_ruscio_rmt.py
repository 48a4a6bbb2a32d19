"""Random-matrix statistics (Ruscio et al. 2025, rmt.ipynb): published artefacts and corrected variant."""
import numpy as np
import pytest

from sinkviz.metrics import toy_attention as toy
from sinkviz.metrics.rmt import (
    eigen_magnitudes_published,
    mp_cdf,
    mp_density,
    mp_kl_published,
    mp_ks_corrected,
    rmt_corrected,
    rmt_published,
    row_entropy_bits_published,
    sink_concentration_published,
)


def test_causal_eigenvalues_are_the_diagonal():
    a = toy.random_causal_attention(25, seed=2, sink_logit=3.0)
    np.testing.assert_allclose(eigen_magnitudes_published(a), np.sort(np.diag(a))[::-1], atol=1e-12)
    r = rmt_published(a)
    d = np.sort(np.diag(a))[::-1]
    assert d[0] == 1.0  # row 0 of a causal map attends only itself
    assert r["spectral_gap"] == pytest.approx(1.0 / d[1])
    assert r["participation_ratio"] == pytest.approx(d.sum() ** 2 / np.sum(d**2))
    np.testing.assert_allclose(r["eigenvalues_top10"], d[:10])


def test_uniform_causal_closed_forms():
    n = 20
    r = rmt_published(toy.uniform_causal_attention(n))
    k = np.arange(1, n + 1)
    assert r["spectral_gap"] == pytest.approx(2.0)
    assert r["participation_ratio"] == pytest.approx(np.sum(1 / k) ** 2 / np.sum(1 / k**2))
    # MP fit on the top 10 only: 1, 1/2, ..., 1/10
    assert r["marchenko_pastur_kl"] == pytest.approx(mp_kl_published(1 / np.arange(1, 11)))
    assert r["entropy"] == pytest.approx(np.mean(np.log2(k)), abs=1e-6)


def test_identity_all_equal_eigenvalues():
    n = 12
    r = rmt_published(toy.identity_attention(n))
    assert r["spectral_gap"] == pytest.approx(1.0)
    assert r["participation_ratio"] == pytest.approx(n)
    assert r["stable_rank"] == pytest.approx(n)
    # ten equal eigenvalues -> one histogram bin; KL = -log(normalised MP mass of that bin)
    edges = np.histogram(np.ones(10), bins=20)[1]
    centers = (edges[:-1] + edges[1:]) / 2
    mp = mp_density(centers)
    mp = mp / mp.sum()
    occupied = int(np.argmax(np.histogram(np.ones(10), bins=20)[0]))
    assert r["marchenko_pastur_kl"] == pytest.approx(-np.log(mp[occupied]))


def test_star_rank_one():
    n = 9
    r = rmt_published(toy.star_attention(n))
    assert r["spectral_gap"] == np.inf
    assert r["spectral_norm"] == pytest.approx(np.sqrt(n))
    assert r["sink_concentration"] == pytest.approx(1.0)
    c = rmt_corrected(toy.star_attention(n))
    np.testing.assert_allclose(c["singular_values"], [np.sqrt(n)] + [0] * (n - 1), atol=1e-12)
    assert c["stable_rank"] == pytest.approx(1.0)
    assert c["marchenko_pastur_ks"] > 0.8


def test_mp_cdf_matches_density_integral():
    xs = np.linspace(0.01, 3.99, 400)
    dens = mp_density(xs, gamma=0.999999)
    num = np.concatenate([[0], np.cumsum((dens[1:] + dens[:-1]) / 2 * np.diff(xs))])
    np.testing.assert_allclose(mp_cdf(xs) - mp_cdf(xs[0]), num, atol=2e-3)
    assert mp_cdf(0.0) == 0.0 and mp_cdf(4.0) == pytest.approx(1.0)


def test_corrected_mp_small_for_random_large_for_sink():
    rng = np.random.default_rng(0)
    n = 300
    x = rng.normal(size=(n, n))
    assert mp_ks_corrected(np.linalg.eigvalsh(x @ x.T / n)) < 0.05
    sink = toy.random_causal_attention(64, seed=1, sink_logit=8.0)
    noise = toy.uniform_attention(64) + rng.normal(scale=1e-3, size=(64, 64))
    assert rmt_corrected(sink)["marchenko_pastur_ks"] > rmt_corrected(noise)["marchenko_pastur_ks"]


def test_corrected_uses_singular_values_not_diagonal():
    a = toy.random_causal_attention(16, seed=4, sink_logit=4.0)
    sv = np.linalg.svd(a, compute_uv=False)
    c = rmt_corrected(a)
    assert c["spectral_gap"] == pytest.approx(sv[0] / sv[1])
    assert c["participation_ratio"] == pytest.approx(np.sum(sv**2) ** 2 / np.sum(sv**4))
    assert c["spectral_gap"] != pytest.approx(rmt_published(a)["spectral_gap"])


def test_sink_concentration_and_entropy():
    a = toy.uniform_attention(10)
    # all column sums equal -> every key is at/above the 90th percentile -> 1.0
    assert sink_concentration_published(a) == pytest.approx(1.0)
    assert row_entropy_bits_published(a) == pytest.approx(np.log2(10), abs=1e-6)
    assert mp_kl_published([1.0]) != mp_kl_published([1.0])  # NaN for < 2 eigenvalues
