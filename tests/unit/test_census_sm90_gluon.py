"""The Hopper statistics kernel's gatekeeping, on a CPU: which calls it takes, the tuner's agreement check, and how
its configurations are named and stored. (Its compiled schedule: test_census_sm90_schedule.py; its numbers against
the torch path: benchmarks/check_census_sm90.py on a Hopper GPU.)"""
from __future__ import annotations

import pytest
import torch

from sinkviz.census import kernels_sm90, tuning
from sinkviz.census.kernels import KernelConfig


def test_layout_of_tells_token_major_from_head_major():
    B, H, T, d = 2, 4, 16, 8
    token_major = torch.zeros(B, T, H, d).transpose(1, 2)
    head_major = torch.zeros(B, H, T, d)
    assert kernels_sm90.layout_of(token_major) == "tokens"
    assert kernels_sm90.layout_of(head_major) == "heads"
    assert kernels_sm90.layout_of(head_major[..., ::2]) is None
    assert kernels_sm90.layout_of(torch.zeros(B, T, d, H).permute(0, 3, 1, 2)) is None


def test_supports_says_why_a_call_is_not_taken():
    q = torch.zeros(1, 4, 128, 64, dtype=torch.bfloat16)
    why = kernels_sm90.supports(q, q, causal=True, window=None, has_mask=False, q_valid_all=True, block_m=64,
                                block_n=64)
    assert why in ("needs an sm90 (Hopper) GPU", "triton.experimental.gluon is not importable")


def test_a_gluon_config_raises_for_a_call_it_does_not_take():
    from sinkviz.census.kernels import TritonCall

    q = torch.zeros(1, 4, 128, 64, dtype=torch.bfloat16)
    call = TritonCall(q, q, 0.125, True, None, None, torch.ones(1, 128, dtype=torch.int8), True, 4, None)
    with pytest.raises(ValueError, match="Hopper"):
        call.launch_stats(torch.zeros(1, 4, 128), (torch.zeros(1, 4, 128),) * 4,
                          KernelConfig(64, 64, 8, 3, True, True, engine="gluon"))


def test_disagreement_is_relative_to_the_largest_reference_value_and_catches_nan():
    ref = (torch.tensor([100.0, 1.0]), torch.tensor([2.0, 0.5]))
    assert tuning.disagreement(ref, ref) == 0.0
    assert tuning.disagreement((torch.tensor([100.01, 1.0]), ref[1]), ref) == pytest.approx(1e-4, rel=1e-3)
    assert tuning.disagreement((ref[0], torch.tensor([2.0, float("nan")])), ref) == float("inf")


def test_gluon_configs_are_named_apart_and_round_trip_through_the_cache_record():
    config = KernelConfig(32, 64, 4, 3, True, blocks_first=True, engine="gluon")
    assert tuning._name(config) == "gluon-32x64w4s3kb"
    assert KernelConfig(**config.as_dict()) == config
    older = {k: v for k, v in config.as_dict().items() if k != "engine"}  # a record written before engines
    assert KernelConfig(**older).engine == "triton"
    assert tuning.STATS_CANDIDATES[0].engine == "triton"  # the untimed default stays the portable kernel


def test_folded_and_capped_configs_are_named_apart_and_checked():
    capped = KernelConfig(64, 64, 4, 3, True, blocks_first=True, fold_rows=True, max_registers=168)
    assert tuning._name(capped) == "64x64w4s3kbfr168" and KernelConfig(**capped.as_dict()) == capped
    assert len({tuning._name(c) for c in tuning.STATS_CANDIDATES}) == len(tuning.STATS_CANDIDATES)
    with pytest.raises(ValueError, match="fold_rows needs keys as rows"):
        KernelConfig(128, 64, 4, 4, False, fold_rows=True)


def test_gluon_candidates_are_timed_only_when_asked_for(monkeypatch):
    monkeypatch.delenv("SINKVIZ_CENSUS_GLUON", raising=False)
    assert all(c.engine == "triton" for c in tuning.candidates("stats"))
    monkeypatch.setenv("SINKVIZ_CENSUS_GLUON", "1")
    assert sum(c.engine == "gluon" for c in tuning.candidates("stats")) == 7
    assert tuning.candidates("lse") == tuning.LSE_CANDIDATES


def test_the_tuner_never_chooses_a_faster_candidate_whose_outputs_disagree(monkeypatch):
    """_time_candidates with stand-ins for the GPU: the fastest candidate writes wrong statistics and is refused,
    one that does not take the call is skipped, and the choice is the fastest candidate that agrees."""
    reference, wrong, refusing, slower = (KernelConfig(64, 64, 4, 3, True), KernelConfig(32, 64, 4, 3, True),
                                          KernelConfig(16, 64, 4, 3, True), KernelConfig(64, 64, 4, 4, True))
    ms = {reference: 2.0, wrong: 0.5, slower: 1.0}
    running = []

    class Part:
        shape = (1, 2, 2, 8, 4)
        q = torch.zeros(1, 2, 8, 4)

        def launch_stats(self, lse, outs, config):
            if config == refusing:
                raise ValueError("does not take this call")
            running.append(config)
            outs[0].add_(1.0)  # column sums accumulate, as atomics do
            for out in outs[1:]:
                out.fill_(1.5 if config == wrong else 1.0)

    class Event:
        def __init__(self, enable_timing=False):
            pass

        def record(self):
            pass

        def synchronize(self):
            pass

        def elapsed_time(self, other):
            return ms[running[-1]]

    monkeypatch.setattr(tuning, "_slice", lambda call: Part())
    monkeypatch.setattr(tuning, "candidates", lambda kind: (reference, wrong, refusing, slower))
    monkeypatch.setattr(torch.cuda, "Event", Event)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: None)
    record = tuning._time_candidates(None, "stats", torch.zeros(1, 2, 8))
    assert record["config"] == slower.as_dict()
    assert set(record["ms"]) == {tuning._name(reference), tuning._name(slower)}
    assert "differ" in record["errors"][tuning._name(wrong)]
    assert "does not take" in record["errors"][tuning._name(refusing)]
