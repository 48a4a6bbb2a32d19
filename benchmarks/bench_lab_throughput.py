"""Training throughput of the lab's own training step on one GPU, per configuration, in one call.

    python benchmarks/bench_lab_throughput.py --out $OUT --budget-s 220

Each configuration runs in its own worker process through the lab's real path (``sinkviz.lab.train._Training``:
the model built from a run config, fused AdamW, bf16 autocast, the batch gathered from a GPU-resident corpus of
random tokens, the loss accumulated on the device, gradient clipping) with one ``compile`` mode. Workers compile
in parallel (on CPU cores 2–15, ``--parallel`` at a time); once all of them are ready, each is timed alone, pinned
to cores 0–1 (a pair of workers that measures two runs sharing the GPU is timed together), and no worker compiles
while another is timed: compiling runs kernels on the GPU too (first steps, Triton's autotuning), and a row timed
beside a compiling worker measured up to 2× slow. A worker times ``--windows`` windows of about ``--window-s`` seconds between
CUDA synchronisations and reports the median tokens/s.

Model FLOP utilisation: FLOPs per token = 6·N + 6·L·T·d (the matrix multiplications of forward and backward;
N = parameters in matrix multiplications, i.e. all but the input embedding; causal attention's QKᵀ and AV
count half of the full 12·L·T·d), over the bf16 rate measured on this card (8192³ bf16 products, also in
this call). ``mfu_issue_convention`` counts N = all parameters (input embedding included) over 790 TFLOP/s.

Writes OUT/lab_throughput.json (and OUT/bench_lab_throughput.log); configurations still compiling at the
budget are listed as not measured. Also surveys the text files the training machine holds (for the lab's
corpus) into OUT/lab_machine_text.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MODEL_8M = {"hidden_size": 256, "num_layers": 6, "num_heads": 4, "intermediate_size": 512}
MODEL_60M = {"hidden_size": 768, "num_layers": 10, "num_heads": 8, "intermediate_size": 1536}
VOCAB = 8192

#: (label, model, batch, seq_len, compile mode, bf16 weights, group, options). Workers of one group are timed
#: together; options are sinkviz.lab.train._Training's throughput switches ("fused_loss", "eager_rotary").
CONFIGS = [
    ("8M eager 256x256", MODEL_8M, 256, 256, "none", False, None, ()),
    ("8M compile 256x256", MODEL_8M, 256, 256, "default", False, None, ()),
    ("8M reduce-overhead 256x256", MODEL_8M, 256, 256, "reduce-overhead", False, None, ()),
    ("60M compile 64x1024", MODEL_60M, 64, 1024, "default", False, None, ()),
    ("8M compile 512x256", MODEL_8M, 512, 256, "default", False, None, ()),
    ("8M max-autotune-no-cudagraphs 256x256", MODEL_8M, 256, 256, "max-autotune-no-cudagraphs", False, None, ()),
    ("60M max-autotune-no-cudagraphs 64x1024", MODEL_60M, 64, 1024, "max-autotune-no-cudagraphs", False, None, ()),
    ("8M compile 64x1024", MODEL_8M, 64, 1024, "default", False, None, ()),
    ("60M compile 32x2048", MODEL_60M, 32, 2048, "default", False, None, ()),
    ("60M compile 64x1024 bf16 weights", MODEL_60M, 64, 1024, "default", True, None, ()),
    ("60M eager 64x1024", MODEL_60M, 64, 1024, "none", False, None, ()),
    ("8M compile 256x256 run A of 2", MODEL_8M, 256, 256, "default", False, "two runs", ()),
    ("8M compile 256x256 run B of 2", MODEL_8M, 256, 256, "default", False, "two runs", ()),
    ("8M compile 64x1024 fused loss", MODEL_8M, 64, 1024, "default", False, None, ("fused_loss",)),
    ("8M compile 256x256 fused loss", MODEL_8M, 256, 256, "default", False, None, ("fused_loss",)),
    ("60M compile 64x1024 fused loss", MODEL_60M, 64, 1024, "default", False, None, ("fused_loss",)),
    ("8M compile 64x1024 eager rotary", MODEL_8M, 64, 1024, "default", False, None, ("eager_rotary",)),
    ("8M compile 64x1024 fused loss + eager rotary", MODEL_8M, 64, 1024, "default", False, None,
     ("fused_loss", "eager_rotary")),
    ("60M compile 64x1024 fused loss + eager rotary", MODEL_60M, 64, 1024, "default", False, None,
     ("fused_loss", "eager_rotary")),
    ("60M compile 64x1024 eager rotary", MODEL_60M, 64, 1024, "default", False, None, ("eager_rotary",)),
    ("60M compile 64x1024 bf16 weights + eager rotary", MODEL_60M, 64, 1024, "default", True, None, ("eager_rotary",)),
    ("60M compile 64x1024 bf16 weights + fused loss + eager rotary", MODEL_60M, 64, 1024, "default", True, None,
     ("fused_loss", "eager_rotary")),
    ("8M compile 64x1024 bf16 weights", MODEL_8M, 64, 1024, "default", True, None, ()),
    ("8M compile 64x1024 bf16 weights + eager rotary", MODEL_8M, 64, 1024, "default", True, None, ("eager_rotary",)),
    ("8M compile 512x256 bf16 weights + eager rotary", MODEL_8M, 512, 256, "default", True, None, ("eager_rotary",)),
    # the 8.1M model's fastest path (5.77M tokens/s) with larger steps and with CUDA graphs, toward 6M
    ("8M compile 1024x256 bf16 weights + eager rotary", MODEL_8M, 1024, 256, "default", True, None, ("eager_rotary",)),
    ("8M reduce-overhead 512x256 bf16 weights + eager rotary", MODEL_8M, 512, 256, "reduce-overhead", True, None,
     ("eager_rotary",)),
]


def flops_per_token(model: dict, seq_len: int, params_matmul: int) -> float:
    """6·N (forward + backward of the matrix multiplications) + 6·L·T·d (causal attention)."""
    return 6.0 * params_matmul + 6.0 * model["num_layers"] * seq_len * model["hidden_size"]


# ------------------------------------------------------------------------------------------------
# worker


def worker(spec: dict, control: Path) -> None:
    import numpy as np
    import torch

    from sinkviz.lab.data import Corpus
    from sinkviz.lab.model import count_parameters
    from sinkviz.lab.train import RunConfig, _Training

    os.sched_setaffinity(0, set(range(2, os.cpu_count() or 16)))
    name = spec["id"]
    device = torch.device("cuda")
    rng = np.random.default_rng(0)
    corpus = Corpus(folder=Path(tempfile.mkdtemp()), train=rng.integers(0, VOCAB, 16_000_000),
                    valid=rng.integers(0, VOCAB, 100_000), meta={"vocab_size": VOCAB, "eos_id": None})
    config = RunConfig.from_dict({
        "name": "bench", "model": spec["model"], "data": {"source": "pydoc"},
        "train": {"steps": 10**9, "batch_size": spec["batch"], "seq_len": spec["seq_len"], "lr": 1e-3, "warmup": 10,
                  "weights": "bf16" if spec["bf16_weights"] else "fp32"},
        "eval": {"steps": [10**9]}, "checkpoint": {"every": 10**9}})
    training = _Training(config, control / f"run-{name}", device, corpus, spec["compile"],
                         **{option: True for option in spec["options"]})
    training.resume(None)
    counts = count_parameters(training.model)
    t0 = time.perf_counter()
    training.train_step(0)
    torch.cuda.synchronize()
    first_s = time.perf_counter() - t0
    step = 1
    for _ in range(6):  # reduce-overhead: warm-up run, graph recording, replays
        training.train_step(step)
        step += 1
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(5):
        training.train_step(step)
        step += 1
    torch.cuda.synchronize()
    step_s = (time.perf_counter() - t0) / 5
    peak = torch.cuda.max_memory_allocated()
    torch.cuda.empty_cache()
    (control / f"{name}.ready").write_text(json.dumps({"first_step_s": first_s, "step_s": step_s}))
    while not (control / f"{name}.go").exists():
        time.sleep(0.05)
    os.sched_setaffinity(0, set(json.loads((control / f"{name}.go").read_text())["cpus"]))
    per_window = max(int(spec["window_s"] / max(step_s, 1e-4)), 3)
    rates = []
    for _ in range(spec["windows"]):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(per_window):
            loss = training.train_step(step)
            step += 1
        torch.cuda.synchronize()
        rates.append(per_window * training.tokens_per_step / (time.perf_counter() - t0))
    tokens_per_s = statistics.median(rates)
    matmul = counts["total"] - training.model.model.embed_tokens.weight.numel()
    fpt = flops_per_token(spec["model"], spec["seq_len"], matmul)
    result = {
        "label": spec["label"], "model": spec["model"], "vocab_size": VOCAB, "batch_size": spec["batch"],
        "seq_len": spec["seq_len"], "tokens_per_step": training.tokens_per_step, "compile": training.compile_mode,
        "weights": "bf16 (bf16 AdamW state)" if spec["bf16_weights"] else "fp32 master weights, bf16 autocast",
        "options": list(spec["options"]),
        "parameters": counts, "params_matmul": matmul, "first_step_seconds": round(first_s, 1),
        "steps_per_window": per_window, "window_tokens_per_second": [round(r) for r in rates],
        "tokens_per_second": round(tokens_per_s), "steps_per_second": round(tokens_per_s / training.tokens_per_step, 2),
        "flops_per_token": fpt, "model_tflops": round(fpt * tokens_per_s / 1e12, 1),
        "peak_memory_gib": round(peak / 2**30, 2), "final_loss": round(float(loss), 4),
    }
    (control / f"{name}.result.json").write_text(json.dumps(result))


# ------------------------------------------------------------------------------------------------
# driver


def matmul_tflops() -> float:
    """bf16 8192³ matrix products on random data: the card's measured ceiling (median of 10 after warm-up)."""
    import torch

    a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    times = []
    for _ in range(10):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        a @ b
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    return 2 * 8192**3 / statistics.median(times) / 1e12


def survey_text(out: Path) -> None:
    """Bytes and files per suffix under the folders that could feed the lab's corpus on this machine."""
    from sinkviz.lab.data import site_packages_roots

    roots = [str(r) for r in site_packages_roots()] + ["/usr/share/doc", "/usr/include", "/usr/local/cuda/include",
                                                        "/usr/share/man", "/usr/share/common-licenses",
                                                        "/usr/local/lib/python3.12/dist-packages",
                                                        "/usr/lib/python3/dist-packages"]
    report = {}
    for root in roots:
        path = Path(root)
        if not path.is_dir():
            report[root] = "absent"
            continue
        by_suffix: dict[str, list[int]] = {}
        for dirpath, _, files in os.walk(path):
            for f in files:
                p = Path(dirpath) / f
                try:
                    if p.is_symlink() or not p.is_file():
                        continue
                    size = p.stat().st_size
                except OSError:
                    continue
                entry = by_suffix.setdefault(p.suffix.lower() or "(none)", [0, 0])
                entry[0] += 1
                entry[1] += size
        top = sorted(by_suffix.items(), key=lambda kv: -kv[1][1])[:25]
        report[root] = {k: {"files": v[0], "bytes": v[1]} for k, v in top}
    (out / "lab_machine_text.json").write_text(json.dumps(report, indent=1))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--budget-s", type=float, default=220)
    parser.add_argument("--parallel", type=int, default=5, help="workers compiling at once")
    parser.add_argument("--windows", type=int, default=5)
    parser.add_argument("--window-s", type=float, default=0.8)
    parser.add_argument("--only", nargs="*", help="labels to run (default: all)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--control", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(json.loads(args.worker), Path(args.control))
        return 0

    import torch

    started = time.time()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    control = Path(tempfile.mkdtemp(prefix="lab-throughput-"))
    log = open(out / "bench_lab_throughput.log", "w")

    def say(msg: str) -> None:
        line = f"[{time.time() - started:6.1f}s] {msg}"
        print(line, flush=True)
        log.write(line + "\n")
        log.flush()

    cpus = os.cpu_count() or 16
    os.sched_setaffinity(0, set(range(2, cpus)))
    peak = matmul_tflops()
    say(f"{torch.cuda.get_device_name(0)}: bf16 8192^3 matmul {peak:.0f} TFLOP/s")
    specs = []
    for i, (label, model, batch, seq_len, mode, bf16, group, options) in enumerate(CONFIGS):
        if args.only and label not in args.only:
            continue
        specs.append({"id": f"w{i:02d}", "label": label, "model": model, "batch": batch, "seq_len": seq_len,
                      "compile": mode, "bf16_weights": bf16, "group": group, "options": options,
                      "windows": args.windows,
                      "window_s": args.window_s})
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TORCHINDUCTOR_COMPILE_THREADS": "4",
           "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    waiting, running, done = list(specs), {}, {}
    timing: list[str] = []
    deadline = started + args.budget_s
    surveyed = False

    def is_ready(wid: str) -> bool:
        return (control / f"{wid}.ready").exists()

    while (waiting or running) and time.time() < deadline:
        # A compiling worker also runs kernels on the GPU (its first steps, Triton's autotuning), so none starts
        # while another is timed, and timing waits until every started worker is ready.
        while not timing and waiting and sum(1 for w in running if not is_ready(w)) < args.parallel:
            spec = waiting.pop(0)
            proc = subprocess.Popen([sys.executable, __file__, "--out", str(out), "--worker", json.dumps(spec),
                                     "--control", str(control)], env=env, stdout=log, stderr=subprocess.STDOUT)
            running[spec["id"]] = {**spec, "proc": proc, "started": time.time()}
            say(f"started {spec['label']}")
        for wid, spec in list(running.items()):
            rc = spec["proc"].poll()
            if rc is not None:
                result_path = control / f"{wid}.result.json"
                done[wid] = json.loads(result_path.read_text()) if result_path.exists() else {
                    "label": spec["label"], "error": f"worker exited with {rc} (see bench_lab_throughput.log)"}
                done[wid]["wall_seconds"] = round(time.time() - spec["started"], 1)
                say(f"done {spec['label']}: {done[wid].get('tokens_per_second', done[wid].get('error'))}")
                del running[wid]
                if wid in timing:
                    timing.remove(wid)
        ready = [w for w in running if is_ready(w)]
        if not timing and len(ready) == len(running):
            for wid in ready:
                group = running[wid]["group"]
                members = [w for w in running if group and running[w]["group"] == group] or [wid]
                pending = [s for s in waiting if group and s["group"] == group]
                if pending or not all(is_ready(m) for m in members):
                    continue
                cores = [[0, 1]] if len(members) == 1 else [[0], [1]]
                for m, c in zip(members, cores):
                    (control / f"{m}.go").write_text(json.dumps({"cpus": c}))
                timing = members
                say(f"timing {[running[m]['label'] for m in members]}")
                break
        if not surveyed and not timing and time.time() - started > 5:
            survey_text(out)
            surveyed = True
            say("surveyed the machine's text files")
        time.sleep(0.1)
    for wid, spec in running.items():
        spec["proc"].kill()
        done[wid] = {"label": spec["label"], "not_measured": f"still compiling or waiting at the {args.budget_s:.0f} s budget"}
    for r in done.values():
        if "tokens_per_second" in r:
            r["mfu"] = round(r["model_tflops"] / peak, 3)
            all_params = r["flops_per_token"] + 6.0 * (r["parameters"]["total"] - r["params_matmul"])
            r["mfu_issue_convention"] = round(all_params * r["tokens_per_second"] / 790e12, 3)
    pair = [r for r in done.values() if "run A of 2" in r["label"] or "run B of 2" in r["label"]]
    summary = {
        "what": "training steps/s of the lab's _Training.train_step (fused AdamW, bf16 autocast, GPU-resident corpus of "
                "random tokens, grad clip 1.0), median of windows between CUDA syncs, each configuration alone "
                "(pinned to 2 CPU cores) except the 'two runs' pair timed together",
        "device": torch.cuda.get_device_name(0), "torch": torch.__version__, "cpus": cpus,
        "matmul_bf16_tflops_measured": round(peak, 1),
        "mfu_definition": "(6*N_matmul + 6*L*T*d) * tokens/s / measured bf16 matmul rate; N_matmul excludes the "
                          "input embedding. mfu_issue_convention: N = all parameters, over 790 TFLOP/s",
        "two_runs_total_tokens_per_second": sum(r.get("tokens_per_second", 0) for r in pair) if pair else None,
        "budget_seconds": args.budget_s, "wall_seconds": round(time.time() - started, 1),
        "configurations": sorted(done.values(), key=lambda r: r["label"]),
    }
    (out / "lab_throughput.json").write_text(json.dumps(summary, indent=1))
    say("label | tokens/s | MFU | MFU (issue) | first step s | peak GiB")
    for r in summary["configurations"]:
        say(f"{r['label']} | {r.get('tokens_per_second')} | {r.get('mfu')} | {r.get('mfu_issue_convention')} | "
            f"{r.get('first_step_seconds')} | {r.get('peak_memory_gib')} {r.get('error', r.get('not_measured', ''))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
