"""Known-answer tests for sinkviz.metrics.qk (Gu et al. 2025 §3.1, Fig. 2 bottom, Figs 15–18)."""
import numpy as np
import pytest

from sinkviz.metrics.qk import qk_decomposition, qk_first_vs_rest

Q = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 4.0]])
K = np.array([[3.0, 0.0], [1.0, 1.0], [0.0, 0.0]])


def test_known_values_causal():
    d = qk_decomposition(Q, K)
    r2 = np.sqrt(2)
    np.testing.assert_allclose(d.dot[0, 0], 3.0)
    np.testing.assert_allclose(d.dot[1, :2], [0.0, 2.0])
    np.testing.assert_allclose(d.dot[2], [9.0, 7.0, 0.0])
    np.testing.assert_allclose(d.norm_product[2], [15.0, 5 * r2, 0.0])
    np.testing.assert_allclose(d.cos[1, :2], [0.0, 1 / r2])
    np.testing.assert_allclose(d.cos[2], [0.6, 7 / (5 * r2), 0.0])  # zero key -> cos 0, not NaN
    assert np.isnan(d.dot[0, 1]) and np.isnan(d.cos[0, 2]) and np.isnan(d.norm_product[1, 2])
    assert d.logits is None


def test_identity_holds_and_scaling():
    rng = np.random.default_rng(0)
    q, k = rng.normal(size=(2, 3, 7, 8))
    d = qk_decomposition(q, k, causal=False, scaling=0.125)
    np.testing.assert_allclose(d.dot, d.norm_product * d.cos, atol=1e-12)
    np.testing.assert_allclose(d.dot, q @ np.swapaxes(k, -1, -2))
    np.testing.assert_allclose(d.logits, d.dot * 0.125)
    assert not np.isnan(d.dot).any()


def test_first_vs_rest_summary():
    d = qk_decomposition(Q, K)
    s = qk_first_vs_rest(d)
    # queries t=1,2; first key: cos [0, 0.6]; other causal keys: (1,1)=1/sqrt2, (2,1)=7/(5 sqrt2), (2,2)=0
    assert s["cos"][0] == pytest.approx(0.3)
    assert s["cos"][1] == pytest.approx((1 / np.sqrt(2) + 7 / (5 * np.sqrt(2)) + 0.0) / 3)
    assert s["dot"] == pytest.approx((4.5, 3.0))


def test_shape_errors():
    with pytest.raises(ValueError, match="same d"):
        qk_decomposition(np.zeros((3, 4)), np.zeros((3, 5)))
