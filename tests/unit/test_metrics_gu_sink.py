"""Known-answer tests for sinkviz.metrics.sink (Gu et al. 2025, §3.2 and §7.4)."""
import numpy as np
import pytest

from sinkviz.metrics.sink import (
    alpha_layer_head,
    alpha_vs_length,
    importance_scores,
    importance_scores_published,
    proxy_scores_abs,
    proxy_scores_rownorm,
    sink_k,
    sink_metric,
    sink_rate,
    sink_vs_eps,
    sink_vs_length,
)

# rows = queries, columns = keys; lower-triangular, rows sum to 1
A4 = np.array([
    [1.0, 0.0, 0.0, 0.0],
    [0.5, 0.5, 0.0, 0.0],
    [0.3, 0.3, 0.4, 0.0],
    [0.1, 0.2, 0.3, 0.4],
])


def random_causal(rng, shape, T):
    a = np.tril(rng.random(shape + (T, T)) + 1e-3)
    return a / a.sum(-1, keepdims=True)


def test_alpha_causal_known_values():
    alpha = importance_scores(A4)
    # alpha_k = 1/(T-k+1) * sum_{t>=k} A[t,k] (1-indexed)
    np.testing.assert_allclose(alpha, [1.9 / 4, 1.0 / 3, 0.7 / 2, 0.4 / 1])


def test_alpha_bounds_first_token():
    rng = np.random.default_rng(0)
    a = random_causal(rng, (3, 5), 9)
    alpha1 = importance_scores(a)[..., 0]
    assert (alpha1 >= 1 / 9 - 1e-12).all() and (alpha1 <= 1 + 1e-12).all()


def test_alpha_refuses_attention_a_causal_mask_hides():
    """A causal model never attends to a later key; a map that does (an encoder's, read with the default
    causal=True) would lose its upper triangle silently, so it is refused with what to pass instead."""
    leaky = A4.copy()
    leaky[0, 0], leaky[0, 3] = 0.5, 0.5
    with pytest.raises(ValueError, match="causal mask hides.*causal=False"):
        importance_scores(leaky)
    importance_scores(leaky, causal=False)  # the same map, read as bidirectional


def test_alpha_bidirectional_all_queries():
    A = np.array([
        [0.2, 0.3, 0.5],
        [0.6, 0.2, 0.2],
        [0.1, 0.1, 0.8],
    ])
    np.testing.assert_allclose(importance_scores(A, causal=False), [0.9 / 3, 0.6 / 3, 1.5 / 3])
    # the causal formula would drop the upper triangle: refused, not computed
    with pytest.raises(ValueError, match="causal=False"):
        importance_scores(A, causal=True)


def test_published_formula_equals_ours_on_causal_maps():
    rng = np.random.default_rng(1)
    a = random_causal(rng, (2, 3, 4), 7)
    np.testing.assert_allclose(importance_scores_published(a), importance_scores(a), rtol=1e-12)


def test_strict_greater_at_eps_exactly():
    # column 0 sums to 1.5 over T=5 queries -> alpha_1 = 1.5/5 == 0.3 exactly in float64
    col = np.array([1.0, 0.25, 0.125, 0.0625, 0.0625])
    A = np.zeros((5, 5))
    A[:, 0] = col
    for t in range(1, 5):
        A[t, t] = 1.0 - col[t]
    alpha = importance_scores(A)
    assert alpha[0] == 0.3
    assert sink_rate(alpha[None], 0.3)[0] == 0.0  # strictly greater: exactly at eps is NOT a sink
    assert sink_rate(alpha[None], np.nextafter(0.3, 0))[0] == 100.0
    assert sink_k(A[None, None, None], k=1, eps=0.3) == 0.0


def test_sink_averages_samples_layers_heads():
    sink_map = np.eye(4)
    sink_map[:, 0] = 1.0
    sink_map[np.arange(1, 4), np.arange(1, 4)] = 0.0  # everything on token 1: alpha_1 = 1
    diag = np.eye(4)  # no sink: alpha_1 = 1/4
    maps = np.empty((2, 2, 2, 4, 4))
    sinks = {(0, 0, 0), (0, 1, 1), (1, 0, 1)}
    for idx in np.ndindex(2, 2, 2):
        maps[idx] = sink_map if idx in sinks else diag
    s = sink_metric(maps, eps=0.3)
    assert s[0] == pytest.approx(100 * 3 / 8)
    assert sink_k(maps, k=1) == pytest.approx(37.5)
    # per-position vector: key 4 (last) gets alpha = A[3,3]: 1 for diag maps, 0 for sink maps
    assert s[3] == pytest.approx(100 * 5 / 8)


def test_padding_respected():
    rng = np.random.default_rng(2)
    full = random_causal(rng, (1, 2), 5)[0]  # (2 heads, 5, 5)
    short = random_causal(rng, (1, 2), 3)[0]  # (2 heads, 3, 3)
    padded = np.zeros((2, 5, 5))
    padded[:, :3, :3] = short
    padded[:, 3:, :] = 0.7  # garbage in padding rows/cols must be ignored
    padded[:, :, 3:] = 0.7
    batch = np.stack([full, padded])  # (B=2, H=2, 5, 5)
    alpha = importance_scores(batch, lengths=[5, 3])
    np.testing.assert_allclose(alpha[0], importance_scores(full))
    np.testing.assert_allclose(alpha[1, :, :3], importance_scores(short))
    assert np.isnan(alpha[1, :, 3:]).all()
    # sink_rate over positions the short sample lacks counts only the long one
    eps = 0.3
    rate = sink_rate(alpha, eps)
    exp4 = 100 * np.mean(importance_scores(full)[:, 3] > eps)
    assert rate[3] == pytest.approx(exp4)
    exp1 = 100 * np.mean(np.concatenate([importance_scores(full)[:, 0], importance_scores(short)[:, 0]]) > eps)
    assert rate[0] == pytest.approx(exp1)


def test_padding_bidirectional():
    A = np.full((1, 4, 4), 0.25)
    A[0, :2, :2] = [[0.9, 0.1], [0.4, 0.6]]
    alpha = importance_scores(A, causal=False, lengths=[2])
    np.testing.assert_allclose(alpha[0, :2], [1.3 / 2, 0.7 / 2])
    assert np.isnan(alpha[0, 2:]).all()


def test_alpha_vs_length_matches_truncated_maps():
    rng = np.random.default_rng(3)
    a = random_causal(rng, (3, 2, 2), 12)  # (B, L, H, T, T)
    grid = [2, 5, 8, 12]
    for k in (0, 1):
        got = alpha_vs_length(a[..., :, k], grid, k=k)
        for i, T in enumerate(grid):
            np.testing.assert_allclose(got[i], importance_scores(a[..., :T, :T])[..., k])


def test_sink_vs_length_matches_sink_metric_on_truncations():
    rng = np.random.default_rng(4)
    a = random_causal(rng, (4, 2, 3), 16)
    a[0, 0, :, :, 0] += 3.0  # make some strong sinks
    a /= a.sum(-1, keepdims=True)
    grid, eps = [4, 8, 16], [0.2, 0.3, 0.5]
    out = sink_vs_length(a[..., :, 0], grid, eps)
    assert out.shape == (3, 3)
    for j, T in enumerate(grid):
        for i, e in enumerate(eps):
            assert out[i, j] == pytest.approx(sink_metric(a[..., :T, :T], e)[0])


def test_sink_vs_length_skips_short_samples():
    a = np.zeros((2, 1, 1, 6, 6))
    a[..., :, 0] = 1.0  # every query on token 1: alpha_1 = 1 whatever T
    col = a[..., :, 0]
    out = sink_vs_length(col, [3, 6], [0.3], lengths=[6, 3])
    assert out[0].tolist() == [100.0, 100.0]
    al = alpha_vs_length(col, [3, 6], lengths=[6, 3])
    assert np.isnan(al[1, 1]).all() and not np.isnan(al[1, 0]).any()


def test_sink_vs_eps_rows():
    alpha = np.array([[0.25, 0.35, 0.45, 0.55]]).T  # 4 "heads", one position
    out = sink_vs_eps(alpha, [0.2, 0.3, 0.4, 0.5])
    np.testing.assert_allclose(out[:, 0], [100, 75, 50, 25])


def test_alpha_layer_head():
    alpha = np.zeros((2, 3, 4, 5))
    alpha[0, ..., 0] = 0.2
    alpha[1, ..., 0] = 0.6
    alpha[1, 2, 3, 0] = np.nan
    out = alpha_layer_head(alpha)
    assert out.shape == (3, 4)
    assert out[0, 0] == pytest.approx(0.4)
    assert out[2, 3] == pytest.approx(0.2)  # NaN (padding) ignored


def test_proxy_rownorm_known_values():
    sim = np.array([[0.5, 0.9], [0.25, 0.75]])
    p = proxy_scores_rownorm(sim)
    np.testing.assert_allclose(p, [[0.5 / (0.5 + 1e-8), 0.0], [0.25 / (1 + 1e-8), 0.75 / (1 + 1e-8)]], rtol=1e-15)
    # all-zero row stays 0 thanks to +1e-8
    assert np.all(proxy_scores_rownorm(np.zeros((3, 3))) == 0)


def test_proxy_abs_known_values_and_scale_invariance():
    sim = np.array([[-2.0, 7.0], [1.0, -3.0]])
    p = proxy_scores_abs(sim)
    np.testing.assert_allclose(p, [[2 / (2 + 1e-8), 0.0], [1 / (4 + 1e-8), 3 / (4 + 1e-8)]], rtol=1e-15)
    np.testing.assert_allclose(proxy_scores_abs(sim, eps=0.0), [[1.0, 0.0], [0.25, 0.75]])
    # dividing each row by max(|row sum|, 1) (the training normaliser) does not change the proxy
    z = np.maximum(np.abs(np.tril(sim).sum(-1, keepdims=True)), 1.0)
    np.testing.assert_allclose(proxy_scores_abs(sim / z, eps=0.0), proxy_scores_abs(sim, eps=0.0))


def test_sink_on_proxy_scores():
    # sigmoid-like similarities with a big first column -> proxy puts mass on token 1
    T = 6
    sim = np.full((T, T), 0.1)
    sim[:, 0] = 0.9
    alpha = importance_scores(proxy_scores_rownorm(sim))
    assert alpha[0] > 0.3 and sink_rate(alpha[None], 0.3)[0] == 100.0


@pytest.mark.parametrize("bad", [np.zeros((3, 4)), np.zeros(5)])
def test_rejects_non_square(bad):
    with pytest.raises(ValueError, match="T, T"):
        importance_scores(bad)


def test_rejects_bad_lengths():
    with pytest.raises(ValueError, match="one length per sample"):
        importance_scores(np.zeros((2, 3, 3)), lengths=[3])
    with pytest.raises(ValueError, match=r"\[1, 3\]"):
        importance_scores(np.zeros((2, 3, 3)), lengths=[3, 4])
    with pytest.raises(ValueError, match="1-indexed"):
        sink_k(np.zeros((1, 3, 3)), k=0)


# ---- prefix-LM (Gu et al. 2025 §5, Fig. 5 middle): p = 2 over T = 4, uniform over what each query sees
PREFIX_UNIFORM = np.array([
    [1 / 2, 1 / 2, 0.0, 0.0],   # query 0 sees the whole prefix (keys 0, 1)
    [1 / 2, 1 / 2, 0.0, 0.0],
    [1 / 3, 1 / 3, 1 / 3, 0.0],
    [1 / 4, 1 / 4, 1 / 4, 1 / 4],
])


def test_prefix_published_counts_forward_attention_over_the_causal_denominator():
    from sinkviz.metrics.sink import importance_scores_prefix_published
    # column sums 19/12, 19/12, 7/12, 1/4 over ALL queries, divided by T - k = 4, 3, 2, 1
    np.testing.assert_allclose(importance_scores_prefix_published(PREFIX_UNIFORM, 2),
                               [19 / 48, 19 / 36, 7 / 24, 1 / 4])


def test_prefix_corrected_averages_over_the_queries_that_see_each_key():
    from sinkviz.metrics.sink import importance_scores_prefix_corrected
    # keys 0 and 1 are seen by all 4 queries; keys 2, 3 by 2 and 1
    np.testing.assert_allclose(importance_scores_prefix_corrected(PREFIX_UNIFORM, 2),
                               [19 / 48, 19 / 48, 7 / 24, 1 / 4])
    # the plain causal formula would drop query 0's forward attention to key 1: refused, naming prefix_length
    with pytest.raises(ValueError, match="prefix_length"):
        importance_scores(PREFIX_UNIFORM)


def test_prefix_published_exceeds_one_where_corrected_cannot():
    from sinkviz.metrics.sink import importance_scores_prefix_corrected, importance_scores_prefix_published
    a = np.zeros((4, 4))
    a[:, 1] = 1.0  # every query, including query 0 inside the prefix, puts all its mass on key 1
    assert importance_scores_prefix_published(a, 2)[1] == pytest.approx(4 / 3)
    assert importance_scores_prefix_corrected(a, 2)[1] == pytest.approx(1.0)
    # Sink_2 at eps = 0.3 is 100 % either way here; the two differ below 1 on real maps (19/36 vs 19/48)
    assert sink_rate(importance_scores_prefix_published(PREFIX_UNIFORM, 2)[None], 0.5)[1] == 100.0
    assert sink_rate(importance_scores_prefix_corrected(PREFIX_UNIFORM, 2)[None], 0.5)[1] == 0.0


def test_prefix_zero_is_the_causal_score_and_lengths_are_respected():
    from sinkviz.metrics.sink import importance_scores_prefix_corrected
    np.testing.assert_allclose(importance_scores_prefix_corrected(A4, 0), importance_scores(A4))
    padded = np.zeros((1, 5, 5))
    padded[0, :4, :4] = PREFIX_UNIFORM
    alpha = importance_scores_prefix_corrected(padded, 2, lengths=[4])
    np.testing.assert_allclose(alpha[0, :4], [19 / 48, 19 / 48, 7 / 24, 1 / 4])
    assert np.isnan(alpha[0, 4])


def test_prefix_length_checked():
    from sinkviz.metrics.sink import importance_scores_prefix_published
    with pytest.raises(ValueError, match="prefix_length"):
        importance_scores_prefix_published(A4, 5)
    with pytest.raises(ValueError, match="bidirectional"):
        importance_scores(A4, causal=False, prefix_length=2)


def test_alpha_refuses_what_is_not_attention_probabilities():
    """Logits, a difference of maps or a sum of heads would give α outside [0, 1] (3 × uniform: α₁ 1.37); each is
    refused with what was wrong. Rows summing to less than 1 (a learned sink logit holds the rest) are read as is."""
    uniform = np.tril(np.ones((4, 4))) / np.arange(1, 5)[:, None]
    with pytest.raises(ValueError, match="negative entry"):
        importance_scores(uniform - 0.3 * np.eye(4))
    with pytest.raises(ValueError, match="row summing to 3"):
        sink_k(3 * uniform)
    with_sink_slot = 0.6 * uniform  # 40 % of every row on a slot outside the map
    np.testing.assert_allclose(importance_scores(with_sink_slot), 0.6 * importance_scores(uniform))
    # a bf16 capture's rounding stays within the tolerance
    import torch

    rounded = torch.tensor(uniform, dtype=torch.bfloat16)
    assert sink_k(rounded, 1) == sink_k(uniform, 1) == 100.0


def test_activation_metrics_take_bf16_tensors_as_the_models_give_them():
    """The metrics on model activations convert torch tensors of any float dtype exactly (numpy has no bf16)."""
    import torch

    from sinkviz.metrics.norms import l2_norms
    from sinkviz.metrics.qk import qk_decomposition

    x = torch.tensor([[3.0, 4.0], [0.0, 1.0]], dtype=torch.bfloat16)
    np.testing.assert_allclose(l2_norms(x), [5.0, 1.0])
    q = torch.tensor([[[1.0, 0.0], [0.0, 2.0], [3.0, 4.0]]], dtype=torch.bfloat16)
    decomposition = qk_decomposition(q, q)
    np.testing.assert_allclose(np.diagonal(decomposition.cos, axis1=-2, axis2=-1), [[1.0, 1.0, 1.0]])
    assert decomposition.cos[0, 2, 0] == pytest.approx(0.6)  # (3, 4)·(1, 0) / 5


def test_empty_maps_and_a_window_of_no_keys_are_refused_with_the_shape_said():
    from sinkviz.metrics._validate import visibility_mask
    from sinkviz.metrics.frames import head_sinks

    with pytest.raises(ValueError, match=r"T >= 1.*got \(0, 0\)"):
        sink_metric(np.zeros((0, 0)))
    with pytest.raises(ValueError, match=r"none of them 0.*got \(1, 1, 0, 0\)"):
        head_sinks(np.zeros((1, 1, 0, 0)), causal=True)
    with pytest.raises(ValueError, match="sliding_window must be a number of keys >= 1"):
        visibility_mask(4, True, sliding_window=0)
