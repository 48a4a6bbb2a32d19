"""The census statistics (torch chunked path) against dense softmax attention built by hand."""
from __future__ import annotations

import math

import pytest
import torch

from sinkviz.census import kernels as ck
from sinkviz.metrics import visibility_mask


def dense_probs(q, k, scaling, *, causal=True, window=None, mask=None, softcap=None, sinks=None):
    """Dense float64 reference: (B, H, T, T) probabilities (sink column dropped) and the visibility (B, 1, T, T)."""
    B, H, T, d = q.shape
    rep = H // k.shape[1]
    kk = k.repeat_interleave(rep, 1).double()
    s = torch.matmul(q.double(), kk.transpose(-1, -2)) * scaling
    if softcap is not None:
        s = torch.tanh(s / softcap) * softcap
    if mask is None:
        vis = torch.from_numpy(visibility_mask(T, causal, window))[None, None].expand(B, 1, T, T)
    else:
        vis = mask if mask.dtype == torch.bool else mask > torch.finfo(mask.dtype).min / 2
        vis = vis.expand(B, 1, T, T)
    s = s.masked_fill(~vis, -math.inf)
    if sinks is not None:
        sk = sinks.double().view(1, H, 1, 1).expand(B, H, T, 1)
        p = torch.softmax(torch.cat([s, sk], -1), -1)[..., :-1]
    else:
        p = torch.softmax(s, -1)
    return p, vis


def check_against_dense(st, p, vis, q_valid, n_first=4, atol=2e-6):
    qv = q_valid.double()
    colsum = torch.einsum("bhij,bi->bhj", p, qv)
    count = torch.einsum("bij,bi->bj", vis[:, 0].double(), qv)
    torch.testing.assert_close(st.colsum.double(), colsum, atol=atol, rtol=1e-5)
    torch.testing.assert_close(st.count.double(), count, atol=0, rtol=0)
    logp = torch.where(p > 0, p.log(), torch.zeros_like(p))
    ent = -(p * logp).sum(-1)
    rows = q_valid[:, None, :].expand_as(ent)
    torch.testing.assert_close(st.entropy.double()[rows], ent[rows], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(st.rowmax.double()[rows], p.amax(-1)[rows], atol=atol, rtol=1e-5)
    torch.testing.assert_close(st.first_mass.double()[rows], p[..., :n_first].sum(-1)[rows], atol=atol, rtol=1e-5)


@pytest.mark.parametrize(
    "H,Hkv,T,causal,window",
    [(4, 4, 23, True, None), (6, 2, 37, True, None), (4, 2, 30, True, 5), (4, 1, 19, False, None), (2, 2, 21, False, 4)],
)
def test_structural_patterns_match_dense(H, Hkv, T, causal, window):
    B, d = 2, 8
    q = torch.randn(B, H, T, d) * 2
    k = torch.randn(B, Hkv, T, d) * 2
    qv = torch.ones(B, T, dtype=torch.bool)
    # tiny chunks force many query blocks and key ranges
    st = ck.stats_torch(q, k, scaling=0.4, causal=causal, window=window, q_valid=qv, chunk_elems=H * T * 3)
    p, vis = dense_probs(q, k, 0.4, causal=causal, window=window)
    check_against_dense(st, p, vis, qv)


def test_causal_counts_are_queries_that_see_each_key():
    T, W = 12, 4
    c = ck.key_counts(T, causal=True)
    assert c[0].tolist() == [float(T - j) for j in range(T)]
    c = ck.key_counts(T, causal=True, window=W)
    assert c[0].tolist() == [float(min(W, T - j)) for j in range(T)]
    c = ck.key_counts(T, causal=False)
    assert c[0].tolist() == [float(T)] * T


@pytest.mark.parametrize("kind", ["bool", "float"])
def test_padding_mask_excludes_padded_queries_and_keys(kind):
    B, H, T, d = 3, 4, 17, 8
    q, k = torch.randn(B, H, T, d), torch.randn(B, 2, T, d)
    lengths = [17, 11, 6]
    qv = torch.arange(T)[None, :] < torch.tensor(lengths)[:, None]
    i = torch.arange(T)
    vis = ((i[None, :] <= i[:, None])[None] & qv[:, None, :])[:, None]  # HF: padded keys hidden, padded rows kept
    mask = vis if kind == "bool" else torch.where(vis, 0.0, torch.finfo(torch.float32).min)
    st = ck.stats_torch(q, k, scaling=0.35, mask=mask, q_valid=qv, chunk_elems=H * T * 4)
    p, _ = dense_probs(q, k, 0.35, mask=vis)
    check_against_dense(st, p, vis, qv)
    # a padded key is seen by nobody; the last real key of a sample only by itself
    assert st.count[1, 11:].eq(0).all() and st.count[1, 10] == 1
    assert st.colsum[2, :, 6:].eq(0).all()


def test_softcap_and_sink_logits():
    B, H, T, d = 2, 4, 15, 8
    q, k = torch.randn(B, H, T, d) * 3, torch.randn(B, 2, T, d) * 3
    qv = torch.ones(B, T, dtype=torch.bool)
    st = ck.stats_torch(q, k, scaling=0.5, softcap=2.0, q_valid=qv)
    p, vis = dense_probs(q, k, 0.5, softcap=2.0)
    check_against_dense(st, p, vis, qv)
    sinks = torch.tensor([2.0, -1.0, 0.5, 3.0])
    st = ck.stats_torch(q, k, scaling=0.5, sinks=sinks, q_valid=qv)
    p, vis = dense_probs(q, k, 0.5, sinks=sinks)
    assert (p.sum(-1) < 1 - 1e-3).any()  # the sink takes the rest
    qd = qv.double()
    torch.testing.assert_close(st.colsum.double(), torch.einsum("bhij,bi->bhj", p, qd), atol=2e-6, rtol=1e-5)
    torch.testing.assert_close(st.rowmax.double(), p.amax(-1), atol=2e-6, rtol=1e-5)
    logp = torch.where(p > 0, p.log(), torch.zeros_like(p))
    torch.testing.assert_close(st.entropy.double(), -(p * logp).sum(-1), atol=1e-5, rtol=1e-5)


def test_sink_logit_takes_mass_from_the_tokens():
    # one query, one key with logit 0 and a sink logit 1: p_key = 1 / (1 + e), the returned row is just p_key
    q = torch.ones(1, 1, 1, 1)
    k = torch.zeros(1, 1, 1, 1)
    st = ck.stats_torch(q, k, scaling=1.0, sinks=torch.tensor([1.0]))
    pk = 1 / (1 + math.e)
    assert st.colsum.item() == pytest.approx(pk)
    assert st.rowmax.item() == pytest.approx(pk)
    assert st.entropy.item() == pytest.approx(-pk * math.log(pk))
    assert st.lse.item() == pytest.approx(math.log(1 + math.e))


def test_uniform_attention_known_answer():
    # identical keys: causal rows are uniform, so alpha_k = mean_{i>=k} 1/(i+1) and the entropy of row i is log(i+1)
    T = 9
    q = torch.randn(1, 1, T, 4)
    k = torch.ones(1, 1, 1, 4).expand(1, 1, T, 4).contiguous()
    st = ck.stats_torch(q * 0, k, scaling=1.0)
    expect_col = torch.tensor([sum(1 / (i + 1) for i in range(j, T)) for j in range(T)])
    torch.testing.assert_close(st.colsum[0, 0].double(), expect_col.double(), atol=1e-6, rtol=0)
    torch.testing.assert_close(st.entropy[0, 0].double(), torch.log(torch.arange(1, T + 1).double()), atol=1e-6, rtol=0)
    torch.testing.assert_close(st.rowmax[0, 0].double(), 1 / torch.arange(1, T + 1).double(), atol=1e-7, rtol=0)


def test_mask_key_ranges_cover_every_visible_key():
    T, bm = 20, 8
    vis = torch.from_numpy(visibility_mask(T, True, 5))
    lo, hi = ck.mask_key_ranges(vis[None, None], T, bm)
    for qb in range(lo.shape[1]):
        rows = vis[qb * bm : (qb + 1) * bm]
        cols = rows.any(0).nonzero().flatten()
        assert lo[0, qb] == cols.min() and hi[0, qb] == cols.max() + 1


@pytest.mark.parametrize("causal,window", [(True, None), (True, 3), (False, None), (False, 3)])
def test_key_counts_with_padded_queries_match_brute_force(causal, window):
    T = 11
    qv = torch.rand(3, T) > 0.3
    vis = torch.from_numpy(visibility_mask(T, causal, window))
    expect = torch.einsum("ij,bi->bj", vis.float(), qv.float())
    got = ck.key_counts(T, causal=causal, window=window, q_valid=qv)
    assert torch.equal(got, expect)
    # the same pattern given as a dense mask
    got_dense = ck.key_counts(T, causal=causal, mask=vis[None, None], q_valid=qv)
    assert torch.equal(got_dense, expect)


def test_key_range_is_the_span_of_the_visibility_masks_keys():
    """census.kernels.key_range (the keys a block of queries may see, used by the census and the long-context
    window) spans exactly the keys that metrics.visibility_mask lets any query of the block see."""
    import numpy as np

    T = 23
    for causal in (True, False):
        for window in (None, 1, 4, 30):
            vis = visibility_mask(T, causal, window)
            for a in range(T):
                for e in range(a + 1, T + 1):
                    keys = np.flatnonzero(vis[a:e].any(axis=0))
                    lo, hi = ck.key_range(a, e, T, causal, window, has_mask=False)
                    assert (lo, hi) == (keys.min(), keys.max() + 1), (causal, window, a, e)


def test_the_census_device_side_mask_rule_is_the_visibility_mask():
    """census.kernels' per-block rule on position vectors (torch, on the device) gives metrics.visibility_mask,
    the one mask builder, for causal and bidirectional layers with and without a sliding window."""
    T = 19
    pos = torch.arange(T)
    for causal in (True, False):
        for window in (None, 1, 5, 40):
            got = ck._structural_allowed(pos, pos, causal, window).numpy()
            assert (got == visibility_mask(T, causal, window)).all(), (causal, window)
