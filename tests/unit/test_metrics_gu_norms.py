"""Known-answer tests for sinkviz.metrics.norms (Gu et al. 2025, Fig. 2 top, Figs 7, 8, 11–14)."""
import numpy as np
import pytest

from sinkviz.metrics.norms import first_vs_rest_norms, l2_norms, massive_activation_ratio


def hidden():
    # (L=2, B=2, T=3, D=2); layer 0 norms: s0 [5, 1, 2], s1 [10, 3, 0]; layer 1 = 2 * layer 0
    l0 = np.array([
        [[3.0, 4.0], [1.0, 0.0], [0.0, 2.0]],
        [[6.0, 8.0], [0.0, 3.0], [0.0, 0.0]],
    ])
    return np.stack([l0, 2 * l0])


def test_l2_norms():
    np.testing.assert_allclose(l2_norms(hidden())[0], [[5, 1, 2], [10, 3, 0]])


def test_first_vs_rest_known_values():
    p = first_vs_rest_norms(hidden())
    np.testing.assert_allclose(p.first, [7.5, 15.0])
    np.testing.assert_allclose(p.rest, [1.5, 3.0])  # (1 + 2 + 3 + 0) / 4
    np.testing.assert_allclose(p.per_token[0], [7.5, 2.0, 1.0])
    np.testing.assert_allclose(p.ratio, [5.0, 5.0])


def test_lengths_drop_padding():
    p = first_vs_rest_norms(hidden(), lengths=[3, 2])
    np.testing.assert_allclose(p.rest, [2.0, 4.0])  # (1 + 2 + 3) / 3: the padded 0 is gone
    np.testing.assert_allclose(p.per_token[0], [7.5, 2.0, 2.0])


def test_head_axis_averaged():
    x = np.zeros((1, 1, 2, 3, 2))  # (L, B, H, T, d)
    x[0, 0, 0] = [[3, 4], [0, 1], [0, 1]]  # head 0 norms 5, 1, 1
    x[0, 0, 1] = [[0, 1], [0, 3], [0, 5]]  # head 1 norms 1, 3, 5
    p = first_vs_rest_norms(x)
    np.testing.assert_allclose(p.first, [3.0])
    np.testing.assert_allclose(p.rest, [2.5])


def test_first_position_parameter():
    p = first_vs_rest_norms(hidden(), first=1)
    np.testing.assert_allclose(p.first[0], 2.0)
    np.testing.assert_allclose(p.rest[0], (5 + 2 + 10 + 0) / 4)


def test_massive_activation_ratio():
    np.testing.assert_allclose(massive_activation_ratio(hidden()), [5.0, 5.0])
    np.testing.assert_allclose(massive_activation_ratio(hidden(), lengths=[3, 2]), [3.75, 3.75])


def test_errors():
    with pytest.raises(ValueError, match="layers, samples"):
        first_vs_rest_norms(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="one length"):
        first_vs_rest_norms(hidden(), lengths=[3])
