"""Spectral graph metrics (Ruscio et al. 2025, laplacian.ipynb / fiedler.ipynb) on graphs with known spectra."""
import numpy as np
import pytest

from sinkviz.metrics import toy_attention as toy
from sinkviz.metrics.spectral import (
    adjacency,
    effective_thresholds_published,
    gini,
    graph_metrics_corrected,
    graph_metrics_published,
    laplacian_spectrum,
    star_likeness_basic_published,
    star_likeness_weighted_published,
)


def test_star_both_published_star_likeness_definitions_and_corrected():
    n = 8
    pub = graph_metrics_published(toy.star_attention(n), 0.5)
    # in-degree of the sink counts its self-loop: n; leaves 0
    assert pub["max_in_degree"] == n
    assert pub["star_likeness_basic"] == pytest.approx(n / (n - 1))  # > 1: the self-loop artefact
    g = 2 * n * n / (n * n) - (n + 1) / n
    assert pub["gini"] == pytest.approx(g)
    assert pub["star_likeness_weighted"] == pytest.approx(0.3 * n / (n - 1) + 0.7 * g)
    assert pub["degree_centralization"] == pytest.approx((n - 1) * n / (n - 1) ** 2)
    # B_s halves one-directional edges: star with weight 1/2 -> eigenvalues 0, 1/2 (n-2 times), n/2
    np.testing.assert_allclose(pub["eigenvalues"], [0] + [0.5] * (n - 2) + [n / 2], atol=1e-12)
    assert pub["fiedler_value"] == pytest.approx(0.5)
    assert pub["spectral_gap"] == pytest.approx(0.0, abs=1e-12)
    cor = graph_metrics_corrected(toy.star_attention(n), 0.5)
    assert cor["star_likeness"] == pytest.approx(1.0)
    assert cor["degree_centralization"] == pytest.approx(1.0)
    np.testing.assert_allclose(cor["eigenvalues"], [0] + [1.0] * (n - 2) + [n], atol=1e-12)


def test_fiedler_notebook_drops_isolated_nodes():
    a = toy.star_attention(6)
    a[5] = 0.0
    a[5, 5] = 0.0  # token 5 neither attends nor is attended above tau
    lap = graph_metrics_published(a, 0.5, notebook="laplacian")  # n <= 50: node kept
    fie = graph_metrics_published(a, 0.5, notebook="fiedler")
    assert lap["n_nodes_degrees"] == 6 and fie["n_nodes_degrees"] == 5
    assert lap["star_likeness_basic"] == pytest.approx(5 / 5)
    assert fie["star_likeness_basic"] == pytest.approx(5 / 4)


def test_path_fiedler_closed_form():
    n = 10
    a = toy.path_attention(n, 0.5)
    expected = 2 * (1 - np.cos(np.pi / n))
    assert graph_metrics_corrected(a, 0.1)["fiedler_value"] == pytest.approx(expected)
    assert graph_metrics_published(a, 0.1)["fiedler_value"] == pytest.approx(expected / 2)


def test_two_cliques_disconnected():
    k = 4
    for m in (graph_metrics_published(toy.two_cliques_attention(k), 0.1), graph_metrics_corrected(toy.two_cliques_attention(k), 0.1)):
        assert m["fiedler_value"] == pytest.approx(0.0, abs=1e-12)
        assert m["spectral_gap"] == pytest.approx(k)
        assert m["gini"] == pytest.approx(0.0)


def test_identity_no_edges_between_tokens():
    n = 6
    pub = graph_metrics_published(toy.identity_attention(n), 0.5)
    np.testing.assert_allclose(pub["eigenvalues"], 0.0, atol=1e-12)
    assert pub["star_likeness_basic"] == pytest.approx(1 / (n - 1))
    assert pub["gini"] == 0.0
    cor = graph_metrics_corrected(toy.identity_attention(n), 0.5)
    assert cor["star_likeness"] == 0.0 and cor["max_in_degree"] == 0.0


def test_uniform_causal_is_complete_graph():
    n = 9
    a = toy.uniform_causal_attention(n)
    cor = graph_metrics_corrected(a, 0.01)
    np.testing.assert_allclose(cor["eigenvalues"], [0] + [n] * (n - 1), atol=1e-10)
    assert cor["causal"] is True and cor["density"] == pytest.approx(1.0)
    pub = graph_metrics_published(a, 0.01)
    assert pub["fiedler_value"] == pytest.approx(n / 2)
    assert pub["density"] == pytest.approx((n * (n + 1) / 2) / n**2)
    assert pub["star_likeness_basic"] == pytest.approx(n / (n - 1))


def test_too_few_connections_fallback():
    m = graph_metrics_published(np.full((4, 4), 0.25), 0.5)
    assert m["fiedler_value"] == 0.0 and m["error"].startswith("Too few")


def test_gini_and_star_functions():
    assert gini([1, 1, 1, 1]) == pytest.approx(0.0)
    assert gini([0, 0, 0, 4]) == pytest.approx(0.75)  # (n-1)/n for all mass on one of n
    assert gini([]) == 0.0
    assert star_likeness_basic_published([3, 0, 0, 0]) == pytest.approx(1.0)
    assert star_likeness_weighted_published([3, 0, 0, 0]) == pytest.approx(0.3 + 0.7 * 0.75)


def test_laplacian_spectrum_symmetrize_modes_and_adjacency_strict():
    b = adjacency(np.array([[0.5, 0.5], [0.2, 0.8]]), 0.5)
    np.testing.assert_array_equal(b, [[0, 0], [0, 1]])
    b = np.array([[0, 1], [0, 0]], dtype=float)
    np.testing.assert_allclose(laplacian_spectrum(b, "mean"), [0, 1])
    np.testing.assert_allclose(laplacian_spectrum(b, "max"), [0, 2])
    with pytest.raises(ValueError):
        laplacian_spectrum(b, "sum")


def test_effective_thresholds():
    eff = effective_thresholds_published(toy.uniform_attention(10), taus=(0.05, 0.2))
    # all entries 0.1: density 1 at tau .05 (not effective), 0 at tau .2 (not effective)
    assert eff == {0.05: False, 0.2: False}
    eff = effective_thresholds_published(toy.uniform_causal_attention(10), taus=(0.05, 0.2))
    assert eff[0.05] is True
