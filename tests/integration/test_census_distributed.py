"""Splitting a census over processes and merging it equals one run over all samples (CPU, gloo)."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch

import sinkviz
from sinkviz.census import CensusResult, run_census
from tiny_models import save_tiny

TEXTS = [f"text number {i} " + "abc def ghi jkl mno " * (3 + i % 4) for i in range(7)] + ["short"]


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory):
    return save_tiny("llama", tmp_path_factory.mktemp("census_llama"))


def assert_same(a: CensusResult, b: CensusResult):
    np.testing.assert_array_equal(a.sample_index, b.sample_index)
    np.testing.assert_array_equal(a.lengths, b.lengths)
    for f in ("alpha", "entropy", "row_max", "first_mass"):
        np.testing.assert_allclose(getattr(a, f), getattr(b, f), rtol=1e-5, atol=1e-7)
    for f in ("alpha_sum", "alpha_n", "colsum_sum", "count_sum", "profile_sum", "profile_n"):
        np.testing.assert_allclose(getattr(a, f), getattr(b, f), rtol=1e-9, atol=1e-9)
    assert a.n_skipped == b.n_skipped


def test_partial_results_merge_to_the_full_run(tiny_llama):
    m = sinkviz.load(str(tiny_llama), device="cpu", progress=False)
    full = run_census(m, TEXTS, seq_len=24, n_keys=10)
    parts = [run_census(m, TEXTS, seq_len=24, n_keys=10, indices=list(range(r, len(TEXTS), 3))) for r in range(3)]
    merged = CensusResult.merge(parts[::-1])
    assert full.n_samples == 7 and full.n_skipped == 1
    assert_same(merged, full)
    assert merged.sink(0.3) == full.sink(0.3)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_with_gloo_equal_one(tiny_llama, tmp_path):
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(TEXTS) + "\n")
    common = [sys.executable, "-m", "sinkviz.census", str(tiny_llama), "--texts", str(texts), "--seq-len", "24",
              "--device", "cpu", "--no-progress", "--n-keys", "10"]
    single = subprocess.run(common + ["--out", str(tmp_path / "one.json"), "--save-arrays", str(tmp_path / "one.npz")],
                            capture_output=True, text=True, timeout=300)
    assert single.returncode == 0, single.stderr
    port = _free_port()
    procs = []
    for rank in range(2):
        env = dict(os.environ, RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2", MASTER_ADDR="127.0.0.1",
                   MASTER_PORT=str(port), OMP_NUM_THREADS="1")
        procs.append(subprocess.Popen(common + ["--out", str(tmp_path / "two.json"), "--save-arrays",
                                                str(tmp_path / "two.npz")],
                                      env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    one, two = json.loads((tmp_path / "one.json").read_text()), json.loads((tmp_path / "two.json").read_text())
    assert two["world_size"] == 2 and one["world_size"] == 1
    assert two["n_samples"] == one["n_samples"] == 7 and two["n_skipped"] == one["n_skipped"] == 1
    assert two["sink"] == one["sink"]
    np.testing.assert_allclose(two["alpha_first"], one["alpha_first"], rtol=1e-5)
    assert_same(CensusResult.load(tmp_path / "two.npz"), CensusResult.load(tmp_path / "one.npz"))


def test_gather_without_process_group_is_identity(tiny_llama):
    from sinkviz.census import gather_results

    assert not torch.distributed.is_initialized()
    m = sinkviz.load(str(tiny_llama), device="cpu", progress=False)
    res = run_census(m, TEXTS[:2], seq_len=24, n_keys=10)
    assert gather_results(res) is res
