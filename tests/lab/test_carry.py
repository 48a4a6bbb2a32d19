"""Carrying a run between GPU jobs: pack a checkpoint into bounded files, unpack it elsewhere, resume; and the
one-job driver end to end on CPU."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from lab_helpers import tiny_config_dict
from sinkviz.lab import carry, job
from sinkviz.lab.train import RunConfig, run


def _config(name="carried"):
    return RunConfig.from_dict(tiny_config_dict(name))


def test_pack_unpack_resume_keeps_weights_exact_and_marks_the_seam(tmp_path, lab_data_dir):
    stopped = run(_config(), tmp_path / "job1", device="cpu", data_dir=lab_data_dir, progress=False, max_minutes=1e-9)
    assert stopped["status"] == "stopped"
    shards = carry.pack(tmp_path / "job1", tmp_path / "bag", "carried", max_file_bytes=100_000)
    assert len(shards) >= 2 and all(s.stat().st_size <= 100_000 for s in shards)
    folder = carry.unpack(tmp_path / "bag", tmp_path / "job2", "carried")
    original = tmp_path / "job1" / "checkpoints" / "step_000001"
    a, b = load_file(str(original / "model.safetensors")), load_file(str(folder / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)  # weights exact
    ma, mb = load_file(str(original / "optimizer.safetensors")), load_file(str(folder / "optimizer.safetensors"))
    for key in ma:
        if key.endswith((".exp_avg", ".exp_avg_sq")):  # rounded to bf16 in the pack
            assert mb[key].dtype == torch.float32
            torch.testing.assert_close(mb[key], ma[key].to(torch.bfloat16).float(), rtol=0, atol=0)
        else:
            assert torch.equal(ma[key], mb[key])
    assert json.loads((tmp_path / "job2" / "results.json").read_text())["step"] == 1
    resumed = run(_config(), tmp_path / "job2", device="cpu", data_dir=lab_data_dir, progress=False)
    assert resumed["status"] == "finished" and resumed["step"] == 6
    assert resumed["resumes"][-1]["optimizer_moments"] == "bfloat16 (carried)"
    straight = run(_config(), tmp_path / "straight", device="cpu", data_dir=lab_data_dir, progress=False)
    for got, want in zip(resumed["history"][2:], straight["history"][1:]):  # past the seam's extra evaluation
        assert got["step"] == want["step"]
        assert got["valid_loss"] == pytest.approx(want["valid_loss"], rel=1e-3)


def test_unpack_refuses_missing_and_corrupt_packs(tmp_path, lab_data_dir):
    run(_config(), tmp_path / "job1", device="cpu", data_dir=lab_data_dir, progress=False, max_minutes=1e-9)
    with pytest.raises(carry.CarryError, match="No carried"):
        carry.unpack(tmp_path / "bag", tmp_path / "job2", "carried")
    shards = carry.pack(tmp_path / "job1", tmp_path / "bag", "carried", max_file_bytes=100_000)
    shards[-1].unlink()
    with pytest.raises(carry.CarryError, match="incomplete or corrupt"):
        carry.unpack(tmp_path / "bag", tmp_path / "job2", "carried")
    shards = carry.pack(tmp_path / "job1", tmp_path / "bag", "carried")
    data = bytearray(shards[0].read_bytes())
    data[len(data) // 2] ^= 0xFF
    shards[0].write_bytes(bytes(data))
    with pytest.raises(carry.CarryError, match="checksum|corrupt"):
        carry.unpack(tmp_path / "bag", tmp_path / "job2", "carried")


def test_pack_needs_a_checkpoint(tmp_path):
    with pytest.raises(carry.CarryError, match="no checkpoint"):
        carry.pack(tmp_path / "empty", tmp_path / "bag", "x")


def test_job_trains_packs_and_resumes_from_its_own_pack(tmp_path, lab_data_dir):
    config = tmp_path / "jobrun.json"
    config.write_text(json.dumps(tiny_config_dict("jobrun")))
    common = ["--minutes", "1", "--finish-s", "0", "--device", "cpu", "--data-dir", str(lab_data_dir)]
    assert job.main([str(config), "--out", str(tmp_path / "out0"), "--runs-dir", str(tmp_path / "runs0"), *common]) == 0
    assert not list((tmp_path / "out0").glob("jobrun.carry.*"))  # a finished run is not packed by default
    assert job.main([str(config), "--out", str(tmp_path / "out1"), "--runs-dir", str(tmp_path / "runs1"),
                     "--pack", "all", *common]) == 0
    summary = json.loads((tmp_path / "out1" / "lab_job.json").read_text())
    assert summary["runs"]["jobrun"]["status"] == "finished" and summary["runs"]["jobrun"]["step"] == 6
    from sinkviz._version import __version__, source_digest

    made_by = {"version": __version__, "source_sha256": source_digest()}  # the code that made a result, without git
    assert json.loads((tmp_path / "out1" / "jobrun.json").read_text())["sinkviz"] == made_by
    assert summary["sinkviz"] == made_by
    assert json.loads((tmp_path / "out1" / "jobrun.json").read_text())["name"] == "jobrun"
    assert list((tmp_path / "out1").glob("jobrun.carry.*"))
    # a second job carries the pack in; the finished run is not trained again
    assert job.main([str(config), "--out", str(tmp_path / "out2"), "--runs-dir", str(tmp_path / "runs2"),
                     "--carry-in", str(tmp_path / "out1"), *common]) == 0
    again = json.loads((tmp_path / "out2" / "lab_job.json").read_text())["runs"]["jobrun"]
    assert again["resumed_from"] == "step_000006" and again["status"].startswith("already finished")
    assert (tmp_path / "out2" / "jobrun.json").read_bytes() == (tmp_path / "out1" / "jobrun.json").read_bytes()


def test_a_job_on_a_warm_machine_keeps_its_own_checkpoint_over_a_carried_pack_of_the_same_step(tmp_path, lab_data_dir):
    """The carried pack rounds AdamW's moments to bf16; the machine's own checkpoint of the same step does not."""
    config = tmp_path / "warm.json"
    config.write_text(json.dumps(tiny_config_dict("warm")))
    common = ["--minutes", "1", "--finish-s", "0", "--device", "cpu", "--data-dir", str(lab_data_dir),
              "--runs-dir", str(tmp_path / "runs")]
    assert job.main([str(config), "--out", str(tmp_path / "out1"), "--pack", "all", *common]) == 0
    assert carry.carried_step(tmp_path / "out1", "warm") == 6
    assert job.main([str(config), "--out", str(tmp_path / "out2"), "--carry-in", str(tmp_path / "out1"), *common]) == 0
    entry = json.loads((tmp_path / "out2" / "lab_job.json").read_text())["runs"]["warm"]
    assert entry["resumed_from"] == "step_000006 (this machine's, fp32 moments)"
    assert entry["carried_step_unused"] == 6
    state = json.loads((tmp_path / "runs" / "warm" / "checkpoints" / "step_000006" / "trainer_state.json").read_text())
    assert "optimizer_moments" not in state  # not replaced by the carried, rounded copy
    moments = load_file(str(tmp_path / "runs" / "warm" / "checkpoints" / "step_000006" / "optimizer.safetensors"))
    assert {v.dtype for k, v in moments.items() if k.endswith("exp_avg_sq")} == {torch.float32}


def test_the_repeat_benchmark_trains_a_config_twice_per_setting_and_compares_weights(tmp_path, lab_data_dir):
    """``benchmarks/bench_lab_repeat.py`` (the GPU repeatability check of ``lab_repeat.json``) on the CPU, where
    training is deterministic: each setting's two runs come out identical, weights and evaluations, the deterministic
    runs say they ran under the switch, and the stopped-and-resumed run equals the first."""
    import subprocess
    import sys

    config = tmp_path / "twice.json"
    config.write_text(json.dumps(tiny_config_dict("twice")))
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_lab_repeat.py"
    # a time-based stop at half a 6-step run's time lands on any step, or none, depending on the machine
    done = subprocess.run([sys.executable, str(script), str(config), "--steps", "6", "--device", "cpu", "--data-dir",
                           str(lab_data_dir), "--out", str(tmp_path / "repeat.json"), "--resume-check",
                           "--stop-minutes", "1e-9"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-4000:]
    measured = json.loads((tmp_path / "repeat.json").read_text())
    assert set(measured["pairs"]) == {"default", "deterministic"}
    for setting, pair in measured["pairs"].items():
        assert pair["deterministic"] == (setting == "deterministic")
        assert [run["deterministic"] for run in pair["runs"]] == [setting == "deterministic"] * 2
        assert pair["identical"] and pair["max_weight_difference"] == 0.0
        assert [h["step"] for h in pair["runs"][0]["history"]] == [0, 3, 6]
    assert "resume" not in measured["pairs"]["default"]
    resume = measured["pairs"]["deterministic"]["resume"]
    assert resume["stopped_status"] == "stopped" and resume["stopped_at"] == 1
    assert resume["final_status"] == "finished" and resume["identical_to_run0"]


def test_the_repeat_benchmark_says_when_its_resume_check_did_not_stop(tmp_path, lab_data_dir):
    """A stop that lands after the last step leaves nothing to resume: the benchmark says so and how to fix it."""
    import importlib.util

    script = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_lab_repeat.py"
    spec = importlib.util.spec_from_file_location("bench_lab_repeat", script)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    config = tmp_path / "late.json"
    config.write_text(json.dumps(tiny_config_dict("late")))
    with pytest.raises(SystemExit, match="did not stop before step 6.*--stop-minutes"):
        bench._one_pair(str(config), 6, "cpu", str(lab_data_dir), False, True, stop_minutes=60.0)


def test_job_names_the_device_its_runs_resolve_and_refuses_a_missing_one_before_the_corpus(tmp_path, lab_data_dir):
    """``--device auto`` is recorded as the device the lab's runs resolve it to; a device this machine lacks fails
    at once, saying so, before minutes go into the corpus."""
    from sinkviz.errors import InputError
    from sinkviz.lab.train import device_name
    from sinkviz.models import resolve_device

    config = tmp_path / "anywhere.json"
    config.write_text(json.dumps(tiny_config_dict("anywhere")))
    common = ["--minutes", "1", "--finish-s", "0", "--data-dir", str(lab_data_dir), "--runs-dir", str(tmp_path / "runs")]
    assert job.main([str(config), "--out", str(tmp_path / "out"), "--device", "auto", *common]) == 0
    summary = json.loads((tmp_path / "out" / "lab_job.json").read_text())
    assert summary["device"] == device_name(resolve_device("auto"))
    assert summary["runs"]["anywhere"]["status"] == "finished"
    with pytest.raises(InputError, match="sees no CUDA GPU|CUDA device\\(s\\) are visible"):
        job.main([str(config), "--out", str(tmp_path / "out2"), "--device", "cuda:99", *common])
    assert not (tmp_path / "out2").exists()


def test_a_job_with_a_deterministic_config_sets_cublas_before_naming_its_device(tmp_path, lab_data_dir, monkeypatch):
    """Naming a CUDA device starts CUDA, and cuBLAS reads CUBLAS_WORKSPACE_CONFIG only then: a job whose configs
    ask for ``train.deterministic`` must set it first, or the run refuses the already-started process."""
    import sinkviz.lab.train as lab_train

    seen = []
    real_name = lab_train.device_name
    monkeypatch.setattr(lab_train, "device_name",
                        lambda device: seen.append(os.environ.get("CUBLAS_WORKSPACE_CONFIG")) or real_name(device))
    common = ["--minutes", "1", "--finish-s", "0", "--device", "cpu", "--data-dir", str(lab_data_dir),
              "--runs-dir", str(tmp_path / "runs")]
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps(tiny_config_dict("plain")))
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    assert job.main([str(plain), "--out", str(tmp_path / "out0"), *common]) == 0
    assert seen[0] is None  # a job without the switch leaves cuBLAS's workspace alone
    strict = tmp_path / "strict.json"
    strict.write_text(json.dumps(tiny_config_dict("strict", train={"deterministic": True})))
    seen.clear()
    assert job.main([str(strict), "--out", str(tmp_path / "out1"), *common]) == 0
    assert seen[0] == lab_train.CUBLAS_DETERMINISTIC  # the job's own naming, before any run
    assert json.loads((tmp_path / "out1" / "lab_job.json").read_text())["runs"]["strict"]["status"] == "finished"
