"""Known-answer tests for sinkviz.metrics.manifold (key PCA; first key off the others' subspace)."""
import numpy as np
import pytest

from sinkviz.metrics.manifold import first_key_offsubspace, key_pca, unique_kv_heads


def planar_keys(B=4, T=10, d=6, seed=0):
    """Non-first keys = mu + a e0 + b e1 (a plane); first key = mu + 3 e5 (orthogonal to the plane)."""
    rng = np.random.default_rng(seed)
    mu = np.zeros(d)
    mu[2] = 5.0
    keys = np.tile(mu, (B, T, 1))
    noise = rng.normal(size=(B, T, 2))
    noise -= noise[:, 1:].mean(axis=(0, 1))  # the others' mean is exactly mu
    keys[:, :, :2] += noise
    keys[:, 0] = mu
    keys[:, 0, 5] = 3.0
    return keys


def test_first_key_fully_off_plane_centered():
    res = first_key_offsubspace(planar_keys(), r=2)
    np.testing.assert_allclose(res.first, 1.0, atol=1e-10)
    np.testing.assert_allclose(res.baseline, 0.0, atol=1e-8)
    assert res.r == 2 and res.centered


def test_auto_r_from_variance():
    res = first_key_offsubspace(planar_keys(), var_explained=0.99)
    assert res.r == 2


def test_uncentered_share_known():
    # uncentred: the others span (e0, e1, e2) linearly (mu on e2); k1 = 5 e2 + 3 e5 -> outside share 3/sqrt(34)
    res = first_key_offsubspace(planar_keys(), r=3, centered=False)
    np.testing.assert_allclose(res.first, 3 / np.sqrt(34), atol=1e-10)


def test_first_key_on_plane_is_not_off():
    keys = planar_keys()
    keys[:, 0] = keys[:, 1] * 2 - keys[:, 2]  # an affine combination: on the plane
    res = first_key_offsubspace(keys, r=2)
    np.testing.assert_allclose(res.first, 0.0, atol=1e-8)


def test_single_sample_baseline_uses_token_folds():
    res = first_key_offsubspace(planar_keys(B=1, T=30), r=2)
    assert res.first.shape == (1,) and res.baseline.shape == (29,)
    np.testing.assert_allclose(res.baseline, 0.0, atol=1e-8)


def test_lengths_ignore_padding():
    keys = planar_keys(B=2, T=10)
    keys[1, 6:] = 1000.0 * np.eye(6)[3]  # padding far off the plane
    res = first_key_offsubspace(keys, r=2, lengths=[10, 6])
    np.testing.assert_allclose(res.baseline, 0.0, atol=1e-8)
    assert res.baseline.shape == (9 + 5,)


def test_key_pca_marks_first():
    keys = planar_keys(B=3, T=8)
    p = key_pca(keys, n_components=2)
    assert p.coords.shape == (24, 2)
    assert p.is_first.sum() == 3 and (p.position[p.is_first] == 0).all()
    assert set(p.sample.tolist()) == {0, 1, 2}
    p2 = key_pca(keys, n_components=2, fit_on="others")
    # fitted on the plane: first keys (off the plane, at mu) project to the plane's centre region
    assert p2.explained_variance_ratio.sum() == pytest.approx(1.0)


def test_unique_kv_heads_counts_each_once():
    rng = np.random.default_rng(0)
    kv = rng.normal(size=(2, 3, 5, 4))  # (B, n_kv, T, d)
    kv_head_of = [0, 0, 0, 1, 1, 1, 2, 2, 2]  # 9 query heads, 3 KV heads (SmolLM2 layout)
    repeated = kv[:, kv_head_of]  # (B, 9, T, d) as repeat_kv makes them
    out = unique_kv_heads(repeated, kv_head_of)
    assert out.shape == (2, 3, 5, 4)
    np.testing.assert_array_equal(out, kv)
    with pytest.raises(ValueError, match="not repeated KV keys"):
        unique_kv_heads(rng.normal(size=(2, 9, 5, 4)), kv_head_of)
