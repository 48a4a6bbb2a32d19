"""Does one lab config and seed train to the same weights twice? With and without deterministic kernels. One call.

    python benchmarks/bench_lab_repeat.py --steps 2000 --out $OUT/lab_repeat.json control_k_bias_seed1

Two H200 runs of ``control_k_bias_seed1`` (and two of the sink token's and sigmoid's seed 1) differed from the first
evaluation after step 0 (``benchmarks/results/lab_repeat_*.json``). This trains CONFIG from scratch for ``--steps``
steps, twice in the default setting and twice with the config's ``train.deterministic`` switch
(:func:`sinkviz.lab.train.deterministic_kernels`), each pair in its own process (cuBLAS's setting must hold before
CUDA starts), through ``sinkviz.lab.run`` as a job runs it; it records each run's evaluations, the largest weight
difference between the two runs of a pair, and the training tokens/s of each (the first run of a process includes
compilation; the second is the rate a long run sees). With ``--resume-check`` the deterministic process trains a third
run that stops at half the second run's time, or after ``--stop-minutes`` (after a checkpoint, as a time-limited job
stops), resumes from that checkpoint in the same process, and compares its final weights with the first run's. Where a
run is too short for a time-based stop to land before its last step (a few steps on a CPU), ``--stop-minutes 1e-9``
stops it after its first step on every machine.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SETTINGS = ("default", "deterministic")
HISTORY_FIELDS = ("step", "train_loss", "valid_loss", "sink_1", "sink_star")


def _scheduled(results: dict) -> list[dict]:
    """The evaluations a run was scheduled to make (a time-stopped run adds one more, marked unscheduled)."""
    return [{k: h.get(k) for k in HISTORY_FIELDS} for h in results["history"] if not h.get("unscheduled")]


def _weight_gap(a: dict, b: dict) -> float:
    return max(float((a[k].float() - b[k].float()).abs().max()) for k in a)


def _one_pair(config_name: str, steps: int, device: str, data_dir: str, deterministic: bool,
              resume_check: bool, stop_minutes: float | None = None) -> dict:
    """Two runs of ``config_name`` in this process, from scratch; their histories, weight gap and rates. With
    ``resume_check``, a third run stopped after ``stop_minutes`` (default: half the second run's time) and resumed,
    against the first."""
    from safetensors.torch import load_file

    from sinkviz.lab.train import load_config, run, saved_checkpoints

    config = load_config(config_name)
    config.train["deterministic"] = deterministic
    runs, weights = [], []
    with tempfile.TemporaryDirectory() as scratch:
        for i in range(2):
            out = Path(scratch) / f"run{i}"
            results = run(config, out, device=device, steps=steps, data_dir=data_dir, progress=False)
            runs.append({"history": _scheduled(results), "seconds": results["seconds"],
                         "train_tokens_per_second": results["train_tokens_per_second"],
                         "deterministic": results["deterministic"]})
            weights.append(load_file(str(saved_checkpoints(out)[-1][1] / "model.safetensors")))
        gap = _weight_gap(*weights)
        pair = {"deterministic": deterministic, "runs": runs, "max_weight_difference": gap,
                "identical": gap == 0.0 and runs[0]["history"] == runs[1]["history"]}
        if resume_check:
            out = Path(scratch) / "stopped"
            stopped = run(config, out, device=device, steps=steps, data_dir=data_dir, progress=False,
                          max_minutes=stop_minutes or runs[1]["seconds"] / 120)
            if stopped["status"] != "stopped":
                raise SystemExit(f"The resume check's run did not stop before step {steps} ({stopped['status']}): "
                                 "give a shorter --stop-minutes (1e-9 stops after the first step).")
            resumed = run(config, out, device=device, steps=steps, data_dir=data_dir, progress=False)
            gap = _weight_gap(weights[0], load_file(str(saved_checkpoints(out)[-1][1] / "model.safetensors")))
            pair["resume"] = {"stopped_at": stopped["step"], "stopped_status": stopped["status"],
                              "final_status": resumed["status"], "history": _scheduled(resumed),
                              "max_weight_difference_to_run0": gap,
                              "identical_to_run0": gap == 0.0 and _scheduled(resumed) == runs[0]["history"]}
    return pair


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--out", required=True)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--data-dir", default="/tmp/lab_data")
    parser.add_argument("--settings", default=",".join(SETTINGS),
                        help="which pairs to train, comma-separated (default: both)")
    parser.add_argument("--resume-check", action="store_true",
                        help="also stop and resume a third deterministic run and compare it with the first")
    parser.add_argument("--stop-minutes", type=float,
                        help="when the resume check's run stops (default: half the second run's time)")
    parser.add_argument("--pair", choices=SETTINGS, help=argparse.SUPPRESS)  # the child process's entry
    args = parser.parse_args(argv)
    if args.pair:
        pair = _one_pair(args.config, args.steps, args.device, args.data_dir, args.pair == "deterministic",
                         args.resume_check and args.pair == "deterministic", args.stop_minutes)
        Path(args.out).write_text(json.dumps(pair))
        return 0
    settings = [s for s in args.settings.split(",") if s]
    unknown = set(settings) - set(SETTINGS)
    if unknown:
        parser.error(f"--settings: unknown {sorted(unknown)}; choose from {list(SETTINGS)}")
    import torch

    from sinkviz.lab.train import device_name
    from sinkviz.models import resolve_device

    device = device_name(resolve_device(args.device))  # named now: a device this machine lacks fails before training
    started = time.time()
    pairs = {}
    for setting in settings:
        with tempfile.NamedTemporaryFile(suffix=".json") as part:
            subprocess.run([sys.executable, __file__, args.config, "--pair", setting, "--steps", str(args.steps),
                            "--out", part.name, "--device", args.device, "--data-dir", args.data_dir,
                            *(["--resume-check"] if args.resume_check else []),
                            *(["--stop-minutes", str(args.stop_minutes)] if args.stop_minutes else [])], check=True)
            pairs[setting] = json.loads(Path(part.name).read_text())
        print(f"{setting}: identical {pairs[setting]['identical']}, largest weight difference "
              f"{pairs[setting]['max_weight_difference']:.3g}"
              + (f"; stopped at step {pairs[setting]['resume']['stopped_at']} and resumed: identical to run 0 "
                 f"{pairs[setting]['resume']['identical_to_run0']}" if "resume" in pairs[setting] else ""),
              flush=True)
    from sinkviz._files import write_json
    from sinkviz._version import made_by

    write_json(Path(args.out), {
        "what": __doc__.splitlines()[0], "config": args.config, "steps": args.steps, "pairs": pairs,
        "device": device, "torch": torch.__version__,
        "sinkviz": made_by(),
        "command": "python " + " ".join([Path(sys.argv[0]).as_posix(), *(argv or sys.argv[1:])]),
        "wall_seconds": round(time.time() - started, 1)})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
