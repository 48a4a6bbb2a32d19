"""The census's running sums: handed to a result without a copy, never changed by a later batch, exact to merge."""
from __future__ import annotations

import numpy as np
import torch

from sinkviz.census import kernels
from sinkviz.census.engine import RunningSums

H, T = 3, 8


def layer_stats(seed: int) -> kernels.LayerStats:
    g = torch.Generator().manual_seed(seed)
    rand = [torch.rand(1, H, T, generator=g) for _ in range(5)]
    count = torch.arange(T, 0, -1, dtype=torch.float32)[None]
    return kernels.LayerStats(rand[0], count, rand[1], rand[2], rand[3], rand[4])


def add_batch(sums: RunningSums, seed: int) -> None:
    for i, layer in enumerate(sums.layers):
        sums.add(layer, layer_stats(seed + i), torch.ones(1, T, dtype=torch.bool))
    sums.flush()


def test_arrays_share_the_totals_and_a_later_batch_leaves_them_alone():
    sums = RunningSums(T, 4, 2, [1, 5])
    add_batch(sums, 0)
    first = sums.arrays([1, 5], H)
    assert np.shares_memory(first["alpha_sum"], sums.totals["alpha_sum"])  # no copy of (L, H, T) float64
    assert not first["alpha_sum"].flags.writeable  # a result cannot write into the census's totals
    kept = {name: first[name].copy() for name in ("alpha_sum", "colsum_sum", "count_sum", "profile_sum")}
    add_batch(sums, 10)
    second = sums.arrays([1, 5], H)
    for name, value in kept.items():
        np.testing.assert_array_equal(first[name], value)  # the earlier result did not move
    alone = RunningSums(T, 4, 2, [1, 5])
    add_batch(alone, 10)
    only_second = alone.arrays([1, 5], H)
    for name in kept:  # float64 sums of the same float32 parts: merging is exact
        np.testing.assert_array_equal(second[name], kept[name] + only_second[name])
    assert first["alpha_sum"].shape == (2, H, T) and second["profile_sum"].shape == (3, 2, H, 2)


def test_arrays_of_a_subset_of_layers_and_before_any_batch():
    sums = RunningSums(T, 4, 2, [0, 2, 3])
    empty = sums.arrays([0, 2, 3], H)
    assert empty["alpha_sum"].shape == (3, H, T) and not empty["alpha_sum"].any() and empty["alpha"].shape[0] == 0
    add_batch(sums, 3)
    every = sums.arrays([0, 2, 3], H)
    part = sums.arrays([3], H)
    np.testing.assert_array_equal(part["colsum_sum"][0], every["colsum_sum"][2])
    np.testing.assert_array_equal(part["alpha"][:, 0], every["alpha"][:, 2])
    assert sums.n_heads == H


def test_a_fused_lse_is_checked_once_per_process_and_shape(monkeypatch):
    """The check of a fused op's lse against the kernel's runs once per (op, device, dtype, head dim, causal,
    length), not once per Census; a new shape is checked again, and a failed check is remembered."""
    from sinkviz.census import engine

    monkeypatch.setattr(engine, "_FUSED_LSE_VERDICTS", {})
    checks = []

    def fused(query, key, value, *, scaling, causal, source):
        lse = torch.logsumexp(scaling * query @ key.transpose(-1, -2), -1)
        return query.clone(), (lse + 1.0 if source == "flash" else lse)  # "flash" returns a wrong lse here

    def own_lse(query, key, *, scaling, causal, config=None):
        checks.append(query.shape)
        return torch.logsumexp(scaling * query @ key.transpose(-1, -2), -1)

    monkeypatch.setattr(engine.kernels, "forward_with_lse", fused)
    monkeypatch.setattr(engine.kernels, "lse_triton", own_lse)
    settings_for = {src: engine.CensusSettings(
        layers=frozenset([0]), seq_len=8, n_keys=4, n_first=4, n_bins=2, backend="triton", chunk_elems=None,
        triton_opts={}, lse_source=src, attn_output="auto") for src in ("cudnn", "flash")}

    def call(T):
        q = torch.randn(1, 2, T, 4)
        return engine.LayerCall(torch.nn.Module(), q, torch.randn(1, 2, T, 4), torch.randn(1, 2, T, 4), None, 0.5,
                                0.0, {})

    for _ in range(3):  # three censuses of the same shape: one check
        choice = engine.KernelChoice()
        out, lse = choice.fused_forward(call(8), settings_for["cudnn"])
        assert out is not None and choice.lse_used == "cudnn"
    assert len(checks) == 1
    engine.KernelChoice().fused_forward(call(16), settings_for["cudnn"])  # another length: checked again
    assert len(checks) == 2
    for _ in range(2):  # a wrong lse is refused, and the refusal remembered
        choice = engine.KernelChoice()
        assert choice.fused_forward(call(8), settings_for["flash"]) == (None, None)
        assert choice.lse_verdict["flash"] is False
    assert len(checks) == 3


def test_position_bin_sums_equal_an_index_add_over_the_bins():
    from sinkviz.census.engine import position_bin_sums

    g = torch.Generator().manual_seed(3)
    for length, seq_len, n_bins in [(100, 100, 32), (37, 100, 32), (64, 64, 64), (1, 5, 3), (5, 5, 1)]:
        values = torch.randn(3, 4, length, generator=g)
        bins = (torch.arange(length) * n_bins) // seq_len
        expected = torch.zeros(3, 4, n_bins, dtype=torch.float64).index_add_(2, bins, values.double())
        got = position_bin_sums(values, n_bins, seq_len)
        assert got.shape == (3, 4, n_bins) and got.dtype == torch.float32
        np.testing.assert_allclose(got.numpy(), expected.float().numpy(), rtol=0, atol=1e-6)
        assert (got[..., bins.max() + 1:] == 0).all()  # bins past the batch's length stay empty


def test_layers_sharing_a_mask_pattern_reuse_its_sums_and_equal_a_fresh_computation():
    """What depends only on the key counts and valid queries (divisors, alpha_n, count and profile-n sums) is
    computed once for the layers of a batch that share them: a later layer dispatches fewer ops, its packed sums
    equal those of a run that recomputes everything, and flush() forgets the shared values."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Count(TorchDispatchMode):
        def __init__(self) -> None:
            super().__init__()
            self.ops = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            self.ops += 1
            return func(*args, **(kwargs or {}))

    valid = torch.tensor([[True] * (T - 2) + [False, False]])
    count = torch.arange(T, 0, -1, dtype=torch.float32)[None] * valid
    stats = [kernels.LayerStats(s.colsum, count, s.entropy, s.rowmax, s.first_mass, s.lse)
             for s in (layer_stats(seed) for seed in range(3))]
    shared = RunningSums(T, 4, 2, [0, 1, 2])
    counted = []
    for layer, st in enumerate(stats):
        with Count() as c:
            shared.add(layer, st, valid)
        counted.append(c.ops)
    assert counted[1] == counted[2] < counted[0] - 10 and counted[1] <= 40
    assert shared._pattern
    shared.flush()
    assert not shared._pattern
    separate = RunningSums(T, 4, 2, [0, 1, 2])
    for layer, st in enumerate(stats):  # a new count tensor each layer: nothing shared
        separate.add(layer, kernels.LayerStats(st.colsum, count.clone(), st.entropy, st.rowmax, st.first_mass,
                                               st.lse), valid.clone())
    a, b = shared.arrays([0, 1, 2], H), separate.arrays([0, 1, 2], H)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
    assert np.isnan(a["alpha"][0, 0, 0]).sum() == 0 and a["alpha_n"][0, -1] == 0  # padded keys: n_k = 0


def test_alpha_of_the_first_keys_is_nan_past_a_short_batch():
    sums = RunningSums(T + 4, T + 2, 2, [0])  # n_keys T + 2 > the batch's T keys
    st = layer_stats(0)
    sums.add(0, st, torch.ones(1, T, dtype=torch.bool))
    alpha = sums.arrays([0], H)["alpha"][0, 0]  # (H, T + 2)
    assert alpha.shape == (H, T + 2) and np.isnan(alpha[:, T:]).all()
    np.testing.assert_allclose(alpha[:, :T], (st.colsum[0] / st.count[0]).numpy(), rtol=1e-6)
