"""Tiny CPU runs: every committed config's switches end to end, checkpoints, resume, refusal to
overwrite, and loading a checkpoint through sinkviz.load / sinkviz.trace."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from lab_helpers import TINY_DATA, TINY_MODEL, tiny_config_dict
from sinkviz.lab import cli
from sinkviz.lab.train import (
    CUDA_COMPILE_MODE,
    RunConfig,
    RunExistsError,
    deterministic_kernels,
    learning_rate,
    list_configs,
    load_config,
    resolve_compile,
    run,
)
from sinkviz.lab.data import DataError, DataSpec


def _run(tmp_path, lab_data_dir, name="tiny", **overrides):
    return run(RunConfig.from_dict(tiny_config_dict(name, **overrides)), tmp_path / name, device="cpu",
               data_dir=lab_data_dir, progress=False)


@pytest.mark.parametrize("name", [n for n in list_configs() if n != "tiny_cpu"])
def test_every_committed_config_runs_tiny(tmp_path, lab_data_dir, name):
    """Each experiment's switches (model and data) on a tiny model for 2 steps, with the full evaluation."""
    cfg = load_config(name).to_dict()
    switches = {k: v for k, v in cfg["model"].items() if k not in TINY_MODEL}
    data = {k: v for k, v in cfg["data"].items() if k not in ("source", "tokenizer")}
    train = {k: cfg["train"][k] for k in ("lr", "weight_decay")}
    results = _run(tmp_path, lab_data_dir, name, model={**TINY_MODEL, **switches}, data={**TINY_DATA, **data},
                   train={**train, "steps": 2}, eval={"steps": [0, 2]}, checkpoint={"every": 2})
    assert results["status"] == "finished" and results["step"] == 2
    last = results["history"][-1]
    assert len(last["sink_k"]) == 4 and all(0 <= s <= 100 for s in last["sink_k"])
    assert (last["sink_star"] is not None) == (switches.get("bias_mode") in ("k", "kv", "sink_token"))
    assert len(last["massive_ratio"]) == TINY_MODEL["num_layers"] + 1
    assert ("massive_ratio_pre_ln" in last) == (switches.get("norm_position") == "post")
    assert np.isfinite(last["valid_loss"])
    assert results["data"]["distinct_tokens"]["train"] > 0


def test_untrained_model_has_no_sink_and_results_are_complete(tmp_path, lab_data_dir):
    results = _run(tmp_path, lab_data_dir)
    first = results["history"][0]
    assert first["step"] == 0 and first["train_loss"] is None
    # at initialisation attention is near uniform: alpha_1 ~ mean_t 1/t over 16 tokens ~ 0.2 < 0.3
    assert first["sink_1"] == 0.0
    assert [h["step"] for h in results["history"]] == [0, 3, 6]
    saved = json.loads((tmp_path / "tiny" / "results.json").read_text())
    assert saved["status"] == "finished" and saved["history"] == results["history"]
    assert saved["device"] and saved["parameters"]["total"] > 0
    ckpts = sorted(p.name for p in (tmp_path / "tiny" / "checkpoints").iterdir())
    assert ckpts == ["step_000003", "step_000006"]
    files = {p.name for p in (tmp_path / "tiny" / "checkpoints" / "step_000006").iterdir()}
    assert {"model.safetensors", "config.json", "optimizer.safetensors", "trainer_state.json", "tokenizer.json"} <= files


TIMING = ("eval_seconds", "wall_seconds")


def scheduled_history(results):
    """The history without timings and without the unscheduled evaluation a stopped run adds."""
    return [{k: v for k, v in h.items() if k not in TIMING} for h in results["history"] if not h.get("unscheduled")]


def test_resume_gives_the_same_run_as_training_straight_through(tmp_path, lab_data_dir):
    """Weights, optimiser state, data position, running loss sum and RNG come back exactly: the resumed run's
    scheduled evaluations and final weights are bit-identical to an uninterrupted run's."""
    straight = _run(tmp_path, lab_data_dir, "straight")
    cfg = RunConfig.from_dict(tiny_config_dict("interrupted"))
    out = tmp_path / "interrupted"
    first = run(cfg, out, device="cpu", data_dir=lab_data_dir, progress=False, max_minutes=1e-9)
    assert first["status"] == "stopped" and first["step"] == 1  # stopped after one step, checkpointed
    assert [p.name for p in (out / "checkpoints").iterdir()] == ["step_000001"]
    assert first["history"][-1]["unscheduled"] is True
    resumed = run(cfg, out, device="cpu", data_dir=lab_data_dir, progress=False)
    assert resumed["status"] == "finished" and resumed["resumed_from"] == 1
    assert resumed["resumes"] == [{"step": 1, "optimizer_moments": "float32", "device": resumed["device"]}]
    a = load_file(str(tmp_path / "straight" / "checkpoints" / "step_000006" / "model.safetensors"))
    b = load_file(str(out / "checkpoints" / "step_000006" / "model.safetensors"))
    assert all(torch.equal(a[key], b[key]) for key in a)
    assert scheduled_history(resumed) == scheduled_history(straight)
    assert [h["step"] for h in resumed["history"]] == [0, 1, 3, 6]


def test_bf16_weights_train_keep_fp32_rotary_and_resume_exactly(tmp_path, lab_data_dir):
    """``train.weights = "bf16"``: parameters and AdamW moments in bf16 (no fp32 copy), the rotary frequencies left
    in fp32, the results say so, and a stopped run resumes to the same weights as one trained straight through."""
    from sinkviz.lab.data import prepare_corpus
    from sinkviz.lab.train import _Training

    cfg = RunConfig.from_dict(tiny_config_dict("bf16", train={"weights": "bf16"}))
    spec = DataSpec.from_dict(cfg.data)
    corpus = prepare_corpus(spec.source, spec.tokenizer, lab_data_dir, max_documents=spec.max_documents, quiet=True)
    training = _Training(cfg, tmp_path / "probe", torch.device("cpu"), corpus, compile="none")
    training.train_step(0)
    assert {p.dtype for p in training.model.parameters()} == {torch.bfloat16}
    assert {b.dtype for b in training.model.buffers()} == {torch.float32}  # inv_freq stays fp32
    moments = [v for state in training.optimizer.state.values() for k, v in state.items() if k.startswith("exp_avg")]
    assert moments and {m.dtype for m in moments} == {torch.bfloat16}
    straight = run(cfg, tmp_path / "straight", device="cpu", data_dir=lab_data_dir, progress=False)
    assert straight["precision"] == "bf16 weights and AdamW state" and straight["status"] == "finished"
    first = run(cfg, tmp_path / "resumed", device="cpu", data_dir=lab_data_dir, progress=False, max_minutes=1e-9)
    assert first["status"] == "stopped" and first["step"] == 1
    resumed = run(cfg, tmp_path / "resumed", device="cpu", data_dir=lab_data_dir, progress=False)
    a = load_file(str(tmp_path / "straight" / "checkpoints" / "step_000006" / "model.safetensors"))
    b = load_file(str(tmp_path / "resumed" / "checkpoints" / "step_000006" / "model.safetensors"))
    assert {t.dtype for t in a.values()} == {torch.bfloat16} and all(torch.equal(a[k], b[k]) for k in a)
    assert resumed["history"][-1]["valid_loss"] == straight["history"][-1]["valid_loss"]
    from sinkviz.lab import carry

    carry.pack(tmp_path / "resumed", tmp_path / "bag", "bf16")  # a carried bf16 run loses nothing: moments are bf16
    folder = carry.unpack(tmp_path / "bag", tmp_path / "carried", "bf16")
    original = tmp_path / "resumed" / "checkpoints" / "step_000006"
    for name in ("model.safetensors", "optimizer.safetensors"):
        before, after = load_file(str(original / name)), load_file(str(folder / name))
        assert all(before[k].dtype == after[k].dtype and torch.equal(before[k], after[k]) for k in before), name


def test_config_refuses_an_unknown_weight_dtype():
    with pytest.raises(ValueError, match="train.weights must be one of"):
        RunConfig.from_dict(tiny_config_dict("bad", train={"weights": "fp16"}))
    assert "weights" not in RunConfig.from_dict(tiny_config_dict("plain")).train  # older configs' dicts unchanged


def test_the_deterministic_switch_trains_under_deterministic_kernels_and_restores_the_setting(tmp_path, lab_data_dir):
    """``train.deterministic``: the run trains under torch's deterministic algorithms, says so in its results, gives
    the same run as without the switch on the CPU (where both are deterministic), and leaves the process's setting
    as it found it."""
    assert not torch.are_deterministic_algorithms_enabled()
    plain = _run(tmp_path, lab_data_dir, "plain")
    switched = _run(tmp_path, lab_data_dir, "switched", train={"deterministic": True})
    assert switched["deterministic"] is True and plain["deterministic"] is False
    assert scheduled_history(switched) == scheduled_history(plain)
    assert not torch.are_deterministic_algorithms_enabled()
    assert "deterministic" not in RunConfig.from_dict(tiny_config_dict("older")).train  # older configs' dicts unchanged
    with pytest.raises(ValueError, match="train.deterministic must be true or false"):
        RunConfig.from_dict(tiny_config_dict("bad", train={"deterministic": "yes"}))


def test_the_deterministic_switch_refuses_a_cuda_process_started_without_the_cublas_setting(monkeypatch):
    """cuBLAS reads CUBLAS_WORKSPACE_CONFIG once: a process that already used CUDA without it gets a message that
    says what to do, instead of runs that silently differ; one that has not started CUDA gets the setting."""
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    with pytest.raises(RuntimeError, match="export CUBLAS_WORKSPACE_CONFIG=:4096:8"):
        with deterministic_kernels(True, torch.device("cuda")):
            pass
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: False)
    with deterministic_kernels(True, torch.device("cuda")):
        assert torch.are_deterministic_algorithms_enabled() and torch.backends.cudnn.deterministic
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    assert not torch.are_deterministic_algorithms_enabled() and not torch.backends.cudnn.deterministic


def test_resume_refuses_a_checkpoint_of_other_data(tmp_path, lab_data_dir):
    cfg = RunConfig.from_dict(tiny_config_dict("moved"))
    out = tmp_path / "moved"
    run(cfg, out, device="cpu", data_dir=lab_data_dir, progress=False, max_minutes=1e-9)
    state_path = out / "checkpoints" / "step_000001" / "trainer_state.json"
    state = json.loads(state_path.read_text())
    state["corpus_sha256"] = "0" * 64
    state_path.write_text(json.dumps(state))
    with pytest.raises(RunExistsError, match="another corpus"):
        run(cfg, out, device="cpu", data_dir=lab_data_dir, progress=False)


def test_compile_modes_resolve_per_device():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert resolve_compile("auto", cpu) == "none"
    assert resolve_compile("auto", cuda) == CUDA_COMPILE_MODE != "none"
    assert resolve_compile("reduce-overhead", cpu) == "reduce-overhead"
    with pytest.raises(ValueError, match="compile must be"):
        resolve_compile("fastest", cpu)


def test_finished_run_is_never_overwritten(tmp_path, lab_data_dir, capsys):
    _run(tmp_path, lab_data_dir)
    before = (tmp_path / "tiny" / "results.json").read_bytes()
    with pytest.raises(RunExistsError, match="finished run"):
        _run(tmp_path, lab_data_dir)
    cfg_path = tmp_path / "tiny.json"
    cfg_path.write_text(json.dumps(tiny_config_dict("tiny")))
    code = cli.main(["run", str(cfg_path), "--out", str(tmp_path / "tiny"), "--device", "cpu",
                     "--data-dir", str(lab_data_dir), "--quiet"])
    assert code == 3 and "refusing to overwrite" in capsys.readouterr().err
    assert (tmp_path / "tiny" / "results.json").read_bytes() == before


def test_a_different_config_cannot_reuse_a_run_folder(tmp_path, lab_data_dir):
    cfg = RunConfig.from_dict(tiny_config_dict("tiny"))
    run(cfg, tmp_path / "x", device="cpu", data_dir=lab_data_dir, progress=False, max_minutes=1e-9)
    other = RunConfig.from_dict(tiny_config_dict("tiny", train={"lr": 1e-4}))
    with pytest.raises(RunExistsError, match="different config"):
        run(other, tmp_path / "x", device="cpu", data_dir=lab_data_dir, progress=False)


def test_cli_run_writes_results(tmp_path, lab_data_dir, capsys):
    cfg_path = tmp_path / "c.json"
    cfg_path.write_text(json.dumps(tiny_config_dict("clirun", train={"steps": 2}, eval={"steps": [0, 2]})))
    code = cli.main(["run", str(cfg_path), "--out", str(tmp_path / "o"), "--device", "cpu",
                     "--data-dir", str(lab_data_dir), "--quiet"])
    assert code == 0
    assert "clirun: finished at step 2" in capsys.readouterr().out
    assert json.loads((tmp_path / "o" / "results.json").read_text())["step"] == 2
    assert cli.main(["run", "no-such-config"]) == 2


def test_cli_run_deterministic_sets_the_switch_in_the_runs_config(tmp_path, lab_data_dir, capsys):
    cfg_path = tmp_path / "c.json"
    cfg_path.write_text(json.dumps(tiny_config_dict("clidet", train={"steps": 2}, eval={"steps": [0, 2]})))
    common = ["--device", "cpu", "--data-dir", str(lab_data_dir), "--quiet", "--max-minutes", "1e-9"]
    assert cli.main(["run", str(cfg_path), "--out", str(tmp_path / "o"), "--deterministic", *common]) == 0
    results = json.loads((tmp_path / "o" / "results.json").read_text())
    assert results["deterministic"] is True and results["config"]["train"]["deterministic"] is True
    # resuming without the flag is another config: refused, with the reason
    assert cli.main(["run", str(cfg_path), "--out", str(tmp_path / "o"), *common]) == 3
    assert "different config" in capsys.readouterr().err


def test_checkpoint_loads_with_sinkviz_load_and_traces(tmp_path, lab_data_dir):
    import sinkviz

    _run(tmp_path, lab_data_dir)
    folder = tmp_path / "tiny" / "checkpoints" / "step_000006"
    loaded = sinkviz.load(str(folder), device="cpu")
    assert loaded.info.model_type == "sinkviz_lab" and loaded.info.n_layers == 2 and loaded.info.rope
    ids = torch.tensor([[5, 9, 17, 3, 22, 40, 8]])
    tr = sinkviz.trace(loaded, ids, capture=("attn",))
    eager = loaded.model.eval()
    eager.set_attn_implementation("eager")
    with torch.no_grad():
        reference = eager(ids, output_attentions=True).attentions
    for layer in range(2):
        torch.testing.assert_close(tr.attentions[layer], reference[layer].float())
    text = loaded.tokenizer.decode(loaded.tokenizer("def f(x): return x")["input_ids"])
    assert text == "def f(x): return x"


def test_learning_rate_schedule():
    train = {"lr": 1e-3, "warmup": 10, "steps": 110, "schedule": "constant", "min_lr": None}
    assert learning_rate(0, train) == pytest.approx(1e-4)
    assert learning_rate(9, train) == pytest.approx(1e-3)
    assert learning_rate(100, train) == 1e-3
    cosine = {**train, "schedule": "cosine", "min_lr": 1e-4}
    assert learning_rate(10, cosine) == pytest.approx(1e-3)
    assert learning_rate(60, cosine) == pytest.approx(5.5e-4)
    assert learning_rate(110, cosine) == pytest.approx(1e-4)


def test_config_errors_name_the_field():
    with pytest.raises(ValueError, match="batchsize"):
        RunConfig.from_dict(tiny_config_dict("x", train={"batchsize": 3}))
    with pytest.raises(ValueError, match="kind"):
        RunConfig.from_dict(tiny_config_dict("x", data={"kind": "poetry"}))
    with pytest.raises(FileNotFoundError, match="default"):
        load_config("nope-not-a-config")


def test_a_corpus_too_small_for_the_probes_fails_before_the_run_folder_is_written(tmp_path, lab_data_dir):
    """The error comes before training and leaves no run behind, so the same name can be rerun with a fixed config
    (it used to leave a config.json that refused the fixed config as "a run of a different config")."""
    with pytest.raises(DataError, match="fewer than eval.n_sequences = 100000"):
        _run(tmp_path, lab_data_dir, "short", eval={"n_sequences": 100_000, "probe_split": "valid"})
    assert not (tmp_path / "short").exists()
    assert _run(tmp_path, lab_data_dir, "short")["status"] == "finished"
