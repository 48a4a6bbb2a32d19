"""Run several lab configs side by side on one GPU within a time budget, and pack their results.

    python benchmarks/lab_gpu_batch.py --out $OUT --minutes 8 --parallel 8 default wd_5 sigmoid_nonorm k_bias ...

Configs start in the order given, at most ``--parallel`` at a time. A queued config starts only while
the time left exceeds the longest finished run so far (before any has finished, only the first wave
starts), and every run gets ``--max-minutes`` = the time left, so the batch never overruns: a run cut
short stops after a checkpoint with status "stopped" and says so in its results. Writes
OUT/lab_results.tgz (each run's results.json as NAME.json), OUT/lab_batch.json (timings, device) and
OUT/lab_batch.log (every run's output).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("configs", nargs="+")
    parser.add_argument("--out", required=True)
    parser.add_argument("--runs-dir", default="/tmp/lab_runs")
    parser.add_argument("--minutes", type=float, required=True, help="wall-clock budget for the whole batch")
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--device", default="cuda")
    args = parser.parse_args()

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    runs_dir = Path(args.runs_dir)
    started = time.time()
    deadline = started + 60 * args.minutes
    queue = list(args.configs)
    running: dict[str, tuple[subprocess.Popen, float]] = {}
    durations: dict[str, float] = {}
    codes: dict[str, int] = {}
    log = open(out / "lab_batch.log", "w")
    env = {**os.environ, "OMP_NUM_THREADS": "2", "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false",
           "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    skipped: list[str] = []
    first_wave = True
    while queue or running:
        left = deadline - time.time()
        can_start = first_wave or (durations and left > 1.1 * max(durations.values()))
        while queue and len(running) < args.parallel and can_start and left > 0.5 * 60:
            config = queue.pop(0)
            name = Path(config).stem if config.endswith(".json") else config  # "wd_0.5" is a name, not a suffix
            cmd = [sys.executable, "-m", "sinkviz.lab.cli", "run", config, "--out", str(runs_dir / name),
                   "--device", args.device, "--max-minutes", f"{max(left / 60 - 0.6, 0.2):.2f}", "--quiet"]
            handle = open(out / f".{name}.log", "w")
            running[name] = (subprocess.Popen(cmd, stdout=handle, stderr=subprocess.STDOUT, env=env, cwd=ROOT),
                             time.time())
            print(f"[{time.time() - started:6.1f}s] start {name} ({len(running)} running)", flush=True)
        first_wave = False
        if not running:
            skipped.extend(queue)
            queue.clear()
            break
        time.sleep(2)
        for name, (proc, t0) in list(running.items()):
            if proc.poll() is not None:
                durations[name] = time.time() - t0
                codes[name] = proc.returncode
                del running[name]
                print(f"[{time.time() - started:6.1f}s] done {name} rc={proc.returncode} in {durations[name]:.0f}s",
                      flush=True)

    with tarfile.open(out / "lab_results.tgz", "w:gz") as tar:
        for name in durations:
            res = runs_dir / name / "results.json"
            if res.is_file():
                tar.add(res, arcname=f"{name}.json")
    for name in durations:
        log.write(f"===== {name} (rc {codes[name]}, {durations[name]:.0f}s)\n")
        log.write((out / f".{name}.log").read_text()[-4000:] + "\n")
        (out / f".{name}.log").unlink()
    log.close()
    device = "unknown"
    try:
        import torch

        device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    except Exception:  # noqa: BLE001 - only for the label
        pass
    summary = {"device": device, "parallel": args.parallel, "budget_minutes": args.minutes,
               "wall_seconds": round(time.time() - started, 1), "durations_s": {k: round(v, 1) for k, v in durations.items()},
               "return_codes": codes, "not_started": skipped}
    (out / "lab_batch.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
