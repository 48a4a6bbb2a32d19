"""Tests for sinkviz.metrics.rope: plane decomposition sums to q·k; HF rotate_half pairing and frequencies."""
import numpy as np
import pytest
import torch

from sinkviz.metrics.rope import (
    rope_first_vs_rest,
    rope_frequencies,
    rope_plane_contributions,
    rope_plane_pairs,
)


def hf_rotate(x: np.ndarray, theta: float = 10000.0) -> np.ndarray:
    """Rotary embedding exactly as transformers' LLaMA code applies it (apply_rotary_pos_emb + rotate_half)."""
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    T, d = x.shape
    inv_freq = 1.0 / (theta ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
    freqs = torch.outer(torch.arange(T, dtype=torch.float64), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    xt = torch.tensor(x)[None, None]
    out, _ = apply_rotary_pos_emb(xt, xt, emb.cos()[None], emb.sin()[None])
    return out[0, 0].numpy()


def test_pairs_layouts():
    assert rope_plane_pairs(8) == [(0, 4), (1, 5), (2, 6), (3, 7)]
    assert rope_plane_pairs(8, "interleaved") == [(0, 1), (2, 3), (4, 5), (6, 7)]
    assert rope_plane_pairs(8, rotary_dim=4) == [(0, 2), (1, 3)]
    with pytest.raises(ValueError, match="pairing"):
        rope_plane_pairs(8, "zigzag")
    with pytest.raises(ValueError, match="even"):
        rope_plane_pairs(8, rotary_dim=3)


def test_frequencies_known():
    np.testing.assert_allclose(rope_frequencies(4, 100.0), [1.0, 0.1])


@pytest.mark.parametrize("pairing", ["half", "interleaved"])
def test_planes_sum_exactly_to_dot(pairing):
    rng = np.random.default_rng(0)
    q, k = rng.normal(size=(2, 3, 9, 16))
    planes = rope_plane_contributions(q, k, pairing=pairing)
    assert planes.contrib.shape == (3, 8, 9, 9)
    np.testing.assert_allclose(planes.contrib.sum(axis=-3), q @ np.swapaxes(k, -1, -2), atol=1e-12)


def test_partial_rotary_passthrough():
    rng = np.random.default_rng(1)
    q, k = rng.normal(size=(2, 5, 12))
    planes = rope_plane_contributions(q, k, rotary_dim=8)
    assert planes.has_passthrough and planes.contrib.shape == (5, 5, 5)
    np.testing.assert_allclose(planes.contrib.sum(0), q @ k.T, atol=1e-12)
    np.testing.assert_allclose(planes.contrib[-1], q[:, 8:] @ k[:, 8:].T, atol=1e-12)


def test_half_pairing_matches_hf_rotary_planes_and_angles():
    d, T = 8, 6
    freqs = rope_frequencies(d)
    for i, (a, b) in enumerate(rope_plane_pairs(d)):
        x = np.zeros((T, d))
        x[:, a] = 1.0  # a unit vector in plane i at every position
        rot = hf_rotate(x)
        # HF keeps plane i closed under rotation ...
        others = [c for c in range(d) if c not in (a, b)]
        assert np.abs(rot[:, others]).max() < 1e-12
        # ... and rotates it by pos * theta_i
        np.testing.assert_allclose(np.arctan2(rot[:, b], rot[:, a]),
                                   np.angle(np.exp(1j * np.arange(T) * freqs[i])), atol=1e-12)


def test_plane_contribution_is_relative_angle():
    # pre-rotary q and k equal and confined to plane 1: post-rotary contribution = |q||k| cos((t - j) theta_1)
    d, T = 8, 5
    x = np.zeros((T, d))
    x[:, 1] = 2.0
    q = hf_rotate(x)
    k = hf_rotate(x)
    planes = rope_plane_contributions(q, k)
    th = rope_frequencies(d)[1]
    t = np.arange(T)
    np.testing.assert_allclose(planes.contrib[1], 4.0 * np.cos((t[:, None] - t[None, :]) * th), atol=1e-12)
    assert np.abs(np.delete(planes.contrib, 1, axis=0)).max() < 1e-12


def test_first_vs_rest_known():
    c = np.zeros((2, 3, 3))  # (P, Tq, Tk)
    c[0, :, 0] = [9.0, 4.0, 6.0]  # plane 0 toward key 0 from queries 1, 2: mean 5
    c[1, 1, 1], c[1, 2, 1], c[1, 2, 2] = 3.0, 6.0, 9.0  # plane 1 toward other keys: mean 6
    c[1, 0, 2] = 100.0  # acausal entry: ignored
    to_first, to_rest = rope_first_vs_rest(c, scaling=0.5)
    np.testing.assert_allclose(to_first, [2.5, 0.0])
    np.testing.assert_allclose(to_rest, [0.0, 3.0])
