"""KL to the mean head and sink removal (Ruscio et al. 2025, KL.ipynb)."""
import numpy as np
import pytest

from sinkviz.metrics import toy_attention as toy
from sinkviz.metrics.divergence import (
    kl_to_mean_head_corrected,
    kl_to_mean_head_published,
    row_kl,
    sink_removal_corrected,
    sink_removal_published,
    sinks_by_percentile_corrected,
    sinks_by_percentile_published,
)


def test_identical_heads_have_zero_kl():
    stack = np.stack([toy.uniform_causal_attention(6)] * 3)
    assert kl_to_mean_head_published(stack)["avg_kl"] == pytest.approx(0.0)
    assert kl_to_mean_head_corrected(stack, causal=True)["avg_kl"] == pytest.approx(0.0)


def test_two_one_hot_heads_log2():
    h1 = np.array([[1.0, 0.0], [1.0, 0.0]])
    h2 = np.array([[0.0, 1.0], [0.0, 1.0]])
    res = kl_to_mean_head_published(np.stack([h1, h2]))
    np.testing.assert_allclose(res["kl"], [np.log(2), np.log(2)])


def test_published_samples_twenty_rows_when_long():
    stack = np.stack([toy.uniform_causal_attention(30), toy.identity_attention(30)])
    pub = kl_to_mean_head_published(stack)
    np.testing.assert_array_equal(pub["rows"], np.linspace(0, 29, 20, dtype=int))
    full = kl_to_mean_head_published(stack, optimize=False)
    assert len(full["rows"]) == 30
    cor = kl_to_mean_head_corrected(stack, causal=True)
    assert cor["avg_kl"] == pytest.approx(full["avg_kl"])


def test_sinks_by_percentile_published_uses_raw_column_sums():
    a = toy.uniform_causal_attention(10)
    totals = a.sum(axis=0)
    res = sinks_by_percentile_published(a[None], 80)
    np.testing.assert_array_equal(res["sink_indices"], np.where(totals >= np.percentile(totals, 80))[0])
    assert list(res["sink_indices"]) == [0, 1]  # early keys win by visibility alone
    cor = sinks_by_percentile_corrected(a[None], 80, causal=True)
    alpha = totals / np.arange(10, 0, -1)
    np.testing.assert_allclose(cor["alpha"], alpha)
    # the mask alone makes α fall with j on uniform attention, (H_n − H_j) / (n − j); relative to it no key stands out
    harmonic = np.concatenate([[0.0], np.cumsum(1 / np.arange(1, 11))])
    np.testing.assert_allclose(cor["alpha_uniform"], (harmonic[10] - harmonic[:10]) / np.arange(10, 0, -1))
    np.testing.assert_allclose(cor["ratio"], 1.0)
    assert cor["sink_count"] == 0


def test_sinks_by_percentile_corrected_finds_a_planted_sink_and_none_in_uniform_maps():
    """The corrected rule against its nulls: a planted first-token sink is found; uniform causal and uniform
    bidirectional attention (where α alone would pick keys 0-3, or tie every key) give none, and removing no sink
    reduces no KL."""
    n = 20
    causal_uniform = toy.uniform_causal_attention(n)
    assert sinks_by_percentile_corrected(causal_uniform[None], 80, causal=True)["sink_count"] == 0
    alpha_only = causal_uniform.sum(axis=0) / np.arange(n, 0, -1)
    assert list(np.where(alpha_only >= np.percentile(alpha_only, 80))[0]) == [0, 1, 2, 3]
    assert sinks_by_percentile_corrected(np.full((1, n, n), 1 / n), 80, causal=False)["sink_count"] == 0
    planted = toy.random_causal_attention(n, seed=0, sink_logit=4.0)
    found = sinks_by_percentile_corrected(planted[None], 95, causal=True)
    assert 0 in found["sink_indices"] and found["ratio"][0] == found["ratio"].max() > 2
    removal = sink_removal_corrected(np.stack([causal_uniform, causal_uniform]), (80,), causal=True)
    at_80 = removal["by_percentile"][80.0]
    assert at_80["sink_count"] == 0 and at_80["avg_kl_reduction"] == pytest.approx(0.0) and at_80["rows_kept"] == n


def test_masking_published_spreads_row_zero_over_future_tokens_corrected_drops_it():
    n = 6
    a = toy.random_causal_attention(n, seed=0, sink_logit=3.0)
    stack = np.stack([a, toy.uniform_causal_attention(n)])
    pub = kl_to_mean_head_published(stack, [0])
    cor = kl_to_mean_head_corrected(stack, [0], causal=True)
    assert cor["rows_kept"] == n - 1  # row 0 only sees the sink: dropped
    # published keeps row 0 as uniform over keys 1..5 (which it cannot see) for both heads -> KL 0 on that row
    assert np.all(np.isfinite(pub["kl_masked"]))
    assert np.all(np.isfinite(cor["kl_masked"]))
    np.testing.assert_allclose(pub["kl_reduction"], pub["kl"] - pub["kl_masked"])


def test_sink_removal_tables():
    stack = np.stack([toy.random_causal_attention(12, seed=s, sink_logit=2.0) for s in range(3)])
    pub = sink_removal_published(stack)
    cor = sink_removal_corrected(stack, causal=True)
    assert set(pub["by_percentile"]) == {80.0, 90.0, 95.0}
    assert set(cor["by_percentile"]) == {80.0, 90.0, 95.0}
    for p in (80.0, 90.0, 95.0):
        assert pub["by_percentile"][p]["sink_count"] >= 1
        assert 0 < pub["by_percentile"][p]["sink_attention_percentage"] <= 100


def test_row_kl_renormalises():
    p = np.array([[2.0, 2.0]])
    q = np.array([[1.0, 3.0]])
    assert row_kl(p, q)[0] == pytest.approx(0.5 * np.log(0.5 / 0.25) + 0.5 * np.log(0.5 / 0.75))
