"""One GPU call for the lab's large-corpus runs: build the site-packages corpus on the device, train the
default config on it for as long as the budget allows, and add a second run only if it does not starve
the first.

    python benchmarks/lab_gpu_site.py --out $OUT --minutes 8.5 site_default site_k_bias

1. Builds the corpus of the first config's ``data`` block (``prepare_corpus``; BPE and encoding use all
   cores) and writes OUT/corpus_meta.json.
2. Starts the first config (the main run) with ``--max-minutes`` = the time left, so it stops after a
   checkpoint and a final evaluation before the budget ends.
3. Measures the main run's training rate alone (steps/s, evaluation time excluded) over ``--probe-s``
   seconds, then starts each further config and measures the main run again once the newcomer trains
   (step 100, or 60 s after its start).
   If the main run drops below ``--keep-fraction`` of its rate alone, the newcomer is terminated (SIGTERM
   to the process this script started) and the decision is written down. Otherwise both run to the end.
4. Copies every run's results.json to OUT/NAME.json every few seconds (a time-out still returns them)
   and writes OUT/lab_site_batch.json (device, timings, rates, decisions) and OUT/lab_site_batch.log.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("configs", nargs="+", help="config names or JSON paths; the first is the main run")
    parser.add_argument("--out", required=True)
    parser.add_argument("--runs-dir", default="/tmp/lab_site_runs")
    parser.add_argument("--data-dir", default="/tmp/lab_site_data")
    parser.add_argument("--minutes", type=float, required=True, help="wall-clock budget for everything")
    parser.add_argument("--finish-s", type=float, default=30.0,
                        help="seconds kept back for the runs' final evaluation, checkpoint and packing")
    parser.add_argument("--probe-s", type=float, default=20.0, help="seconds over which a training rate is measured")
    parser.add_argument("--probe-after-step", type=int, default=300,
                        help="measure the main run alone from this step on (past start-up and early evaluations)")
    parser.add_argument("--keep-fraction", type=float, default=0.75,
                        help="a second run stays only if the main run keeps this fraction of its rate alone")
    parser.add_argument("--device", default="cuda")
    args = parser.parse_args()

    started = time.time()
    deadline = started + 60 * args.minutes
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    runs_dir = Path(args.runs_dir)
    summary: dict = {"configs": args.configs, "budget_minutes": args.minutes, "decisions": [], "rates": {}}

    def now() -> float:
        return round(time.time() - started, 1)

    def say(msg: str) -> None:
        print(f"[{now():6.1f}s] {msg}", flush=True)

    def save_summary() -> None:
        summary["wall_seconds"] = now()
        tmp = out / ".lab_site_batch.json"
        tmp.write_text(json.dumps(summary, indent=1))
        os.replace(tmp, out / "lab_site_batch.json")

    import torch

    from sinkviz.lab.data import DataSpec, prepare_corpus
    from sinkviz.lab.train import load_config

    summary["device"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    summary["torch"] = torch.__version__
    summary["cpus"] = os.cpu_count()
    summary["python"] = sys.version.split()[0]
    configs = [load_config(c) for c in args.configs]
    spec = DataSpec.from_dict(configs[0].data)
    for c in configs[1:]:
        if c.data != configs[0].data:
            raise SystemExit(f"config {c.name} trains on other data than {configs[0].name}; one corpus per call")

    # 1. corpus ------------------------------------------------------------------------------------
    say(f"building corpus {spec.source} / {spec.tokenizer} / max_bytes={spec.max_bytes}")
    os.environ["TOKENIZERS_PARALLELISM"] = "true"
    t0 = time.time()
    corpus = prepare_corpus(spec.source, spec.tokenizer, args.data_dir, max_documents=spec.max_documents,
                            max_bytes=spec.max_bytes, quiet=False)
    summary["corpus_seconds"] = round(time.time() - t0, 1)
    meta = dict(corpus.meta)
    (out / "corpus_meta.json").write_text(json.dumps(meta, indent=1))
    say(f"corpus ready in {summary['corpus_seconds']}s: {meta['train_tokens']:,} train tokens, "
        f"{meta['distinct_tokens']['train']:,} distinct, {meta.get('files', {}).get('files')} files")
    del corpus
    save_summary()

    # 2./3. runs -----------------------------------------------------------------------------------
    env = {**os.environ, "OMP_NUM_THREADS": "4", "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false",
           "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    procs: dict[str, subprocess.Popen] = {}
    logs: dict[str, Path] = {}
    summary["return_codes"] = {}

    def start(config) -> None:
        name = config.name
        left_min = (deadline - time.time() - args.finish_s) / 60
        src = next(c for c in args.configs if Path(c).stem == name or c == name)
        cmd = [sys.executable, "-m", "sinkviz.lab.cli", "run", src, "--out", str(runs_dir / name),
               "--device", args.device, "--max-minutes", f"{max(left_min, 0.1):.2f}", "--quiet",
               "--data-dir", args.data_dir, "--progress-file", str(runs_dir / f"{name}.progress.json")]
        logs[name] = out / f"{name}.log"
        procs[name] = subprocess.Popen(cmd, stdout=open(logs[name], "w"), stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        summary.setdefault("started_at_s", {})[name] = now()
        say(f"start {name} (max {left_min:.2f} min)")

    def collect() -> None:
        for name in procs:
            res = runs_dir / name / "results.json"
            if res.is_file():
                shutil.copyfile(res, out / f".{name}.json")
                os.replace(out / f".{name}.json", out / f"{name}.json")
        for name, proc in procs.items():
            if proc.poll() is not None and name not in summary["return_codes"]:
                summary["return_codes"][name] = proc.returncode
                say(f"{name} exited rc={proc.returncode}")
        save_summary()

    def progress(name: str) -> dict | None:
        return _read_json(runs_dir / f"{name}.progress.json")

    def wait_until(cond, limit: float) -> bool:
        while time.time() < limit:
            if cond():
                return True
            collect()
            time.sleep(2)
        return cond()

    def rate(name: str) -> float | None:
        """Training steps per second of ``name`` over about probe_s seconds, evaluation time excluded."""
        a = progress(name)
        time.sleep(args.probe_s)
        b = progress(name)
        give_up = time.time() + 2 * args.probe_s
        while a and (not b or b["step"] < a["step"] + 100) and time.time() < give_up:  # written every 50 steps
            time.sleep(1)
            b = progress(name)
        if not a or not b or b["step"] <= a["step"]:
            return None
        train_s = (b["seconds"] - a["seconds"]) - (b["eval_seconds"] - a["eval_seconds"])
        return (b["step"] - a["step"]) / train_s if train_s > 0 else None

    main_cfg = configs[0]
    start(main_cfg)
    main_name = main_cfg.name

    def main_alive() -> bool:
        return procs[main_name].poll() is None

    for extra in configs[1:]:
        if time.time() > deadline - args.finish_s - 90:
            summary["decisions"].append(f"{extra.name}: not started, under 90 s of budget left")
            break
        ok = wait_until(lambda: (progress(main_name) or {}).get("step", 0) >= args.probe_after_step or not main_alive(),
                        deadline - args.finish_s - 90)
        if not ok or not main_alive():
            summary["decisions"].append(f"{extra.name}: not started (main run not training / budget)")
            break
        key = f"{main_name} alone (steps/s)"
        if key not in summary["rates"]:  # measured once, before any second run starts
            summary["rates"][key] = rate(main_name)
            say(f"{main_name} alone: {summary['rates'][key]} steps/s")
        alone = summary["rates"][key]
        if not alone:
            summary["decisions"].append(f"{extra.name}: not started: the main run's rate alone could not be measured")
            break
        start(extra)
        wait_until(lambda: (progress(extra.name) or {}).get("step", 0) >= 100 or procs[extra.name].poll() is not None,
                   min(time.time() + 60, deadline - args.finish_s - 30))
        if procs[extra.name].poll() is not None:
            summary["decisions"].append(f"{extra.name}: exited before the main run could be measured beside it")
            continue
        shared = rate(main_name)
        summary["rates"][f"{main_name} with {extra.name} (steps/s)"] = shared
        summary["rates"][f"{extra.name} step when measured"] = (progress(extra.name) or {}).get("step")
        say(f"{main_name} with {extra.name}: {shared} steps/s")
        if alone and (shared is None or shared < args.keep_fraction * alone):
            procs[extra.name].send_signal(signal.SIGTERM)
            summary["decisions"].append(
                f"{extra.name}: stopped by the driver at {now()} s: {main_name} fell from {alone:.2f} to "
                f"{shared} steps/s (< {args.keep_fraction} of its rate alone)")
            procs[extra.name].wait(timeout=60)
        else:
            summary["decisions"].append(
                f"{extra.name}: kept: {main_name} at {shared} steps/s with it vs {alone} alone")
        say(summary["decisions"][-1])
        collect()

    # 4. wait for the end --------------------------------------------------------------------------
    while any(p.poll() is None for p in procs.values()):
        if time.time() > deadline + 20:
            for name, p in procs.items():
                if p.poll() is None:
                    say(f"{name} overran the budget: SIGTERM")
                    p.send_signal(signal.SIGTERM)
                    summary["decisions"].append(f"{name}: terminated after the budget")
            for p in procs.values():
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
            break
        collect()
        time.sleep(3)
    collect()
    with open(out / "lab_site_batch.log", "w") as log:
        for name, path in logs.items():
            log.write(f"===== {name} (rc {summary['return_codes'].get(name)})\n{path.read_text()[-6000:]}\n")
            path.unlink()
    for name in procs:
        p = progress(name)
        if p:
            summary.setdefault("last_progress", {})[name] = p
    save_summary()
    print(json.dumps(summary, indent=1), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
