"""Directional influence and geometric-semantic alignment (Ruscio et al. 2025)."""
import numpy as np
import pytest

from sinkviz.metrics import toy_attention as toy
from sinkviz.metrics.influence import (
    attention_entropy_published,
    cosine_similarity_matrix,
    directional_influence_corrected,
    directional_influence_published,
    gsa_corrected,
    gsa_published,
    reference_tokens_published,
    transformation_magnitude_corrected,
    transformation_magnitude_published,
)


def test_reference_tokens_rules():
    assert reference_tokens_published(toy.star_attention(5)) == [0]
    a = toy.uniform_attention(20) + np.linspace(0, 1e-3, 20)[None, :]
    assert sorted(reference_tokens_published(a)) == [18, 19]  # none > 0.1 -> top 10% (2 of 20)
    a = np.full((10, 10), 0.0)
    a[:, :5] = 0.2  # five keys above 0.1, cap is 30% = 3
    a[:, 4] += 0.01
    refs = reference_tokens_published(a)
    assert len(refs) == 3 and 4 in refs


def test_di_star_with_basis_vectors_placeholders_change_the_mean():
    n = 4
    h = np.eye(n)
    pub = directional_influence_published(toy.star_attention(n), h)
    cor = directional_influence_corrected(toy.star_attention(n), h)
    # non-reference tokens: post = ref = h_0 -> rel 1, DI 1, info 1; the reference token adds 0.5/0.5/0.0
    np.testing.assert_allclose(pub["directional_influence"], [0.5, 1, 1, 1])
    assert pub["mean_directional_influence"] == pytest.approx(0.875)
    assert pub["mean_relative_magnitude"] == pytest.approx(0.875)
    assert pub["mean_information_content_change"] == pytest.approx(0.75)
    assert cor["mean_directional_influence"] == pytest.approx(1.0)
    assert cor["mean_relative_magnitude"] == pytest.approx(1.0)
    assert cor["mean_information_content_change"] == pytest.approx(1.0)
    assert np.isnan(cor["directional_influence"][0])


def test_di_uniform_attention_half_magnitude():
    n = 4
    h = np.eye(n)
    res = directional_influence_corrected(toy.uniform_attention(n), h, reference_tokens=[0])
    # post = (1/4)Σe, ref = (1/4)e0: |ref|/|post| = 1/2, cos = 1/2 -> DI = 3/4; info = |ref| = 1/4
    np.testing.assert_allclose(res["relative_magnitude"][1:], 0.5)
    np.testing.assert_allclose(res["directional_influence"][1:], 0.75)
    np.testing.assert_allclose(res["information_content_change"][1:], 0.25)


def test_gsa_published_counts_masked_zeros_corrected_does_not():
    rng = np.random.default_rng(0)
    n = 12
    h = rng.normal(size=(n, 16))
    s = cosine_similarity_matrix(h)
    a = np.tril(s - s.min() + 0.1, -1) + np.eye(n)  # attention proportional to similarity below the diagonal
    assert gsa_corrected(a, h, causal=True) == pytest.approx(1.0)
    assert gsa_published(a, h) < 0.9
    # bidirectional: corrected equals published
    sym = s - s.min() + 0.1
    assert gsa_corrected(sym, h, causal=False) == pytest.approx(gsa_published(sym, h))


def test_gsa_zero_variance_fallbacks():
    h = np.ones((5, 3))
    a = toy.uniform_causal_attention(5)
    assert gsa_published(a, h) == 0.0
    assert np.isnan(gsa_corrected(a, h, causal=True))


def test_cosine_matrix_and_shapes():
    h = np.array([[1.0, 0.0], [0.0, 2.0], [0.0, 0.0]])
    s = cosine_similarity_matrix(h)
    np.testing.assert_allclose(s, [[1, 0, 0], [0, 1, 0], [0, 0, 1]])
    with pytest.raises(ValueError, match="n = 3"):
        gsa_published(toy.uniform_attention(3), np.ones((4, 2)))


def test_entropy_and_transformation_magnitude():
    ent = attention_entropy_published(toy.uniform_causal_attention(4))
    np.testing.assert_allclose(ent, np.log([1, 2, 3, 4]))
    h_in = np.zeros((2, 3))
    h_out = np.array([[2000.0, 0, 0], [1.0, 0, 0]])
    np.testing.assert_allclose(transformation_magnitude_published(h_in, h_out), [1000.0, 0.5])
    np.testing.assert_allclose(transformation_magnitude_corrected(h_in, h_out), [2000.0, 1.0])


@pytest.mark.parametrize("refs", [[5], [-1]])
def test_reference_tokens_outside_the_sample_are_refused(refs):
    """A reference index past the sample raised a bare IndexError, and -1 silently meant the last token."""
    a = toy.uniform_causal_attention(5)
    with pytest.raises(ValueError, match=r"0-indexed positions in \[0, 4\]"):
        directional_influence_corrected(a, np.eye(5), reference_tokens=refs)
    with pytest.raises(ValueError, match="reference_tokens"):
        directional_influence_published(a, np.eye(5), reference_tokens=refs)
