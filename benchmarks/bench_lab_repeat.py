"""Does one lab config and seed train to the same weights twice? With and without deterministic kernels. One call.

    python benchmarks/bench_lab_repeat.py --steps 2000 --out $OUT/lab_repeat.json control_k_bias_seed1

Two H200 runs of ``control_k_bias_seed1`` (and two of the sink token's and sigmoid's seed 1) differed from the first
evaluation after step 0 (``benchmarks/results/lab_repeat_*.json``). This trains CONFIG from scratch for ``--steps``
steps, twice in the default setting and twice with deterministic kernels (``torch.use_deterministic_algorithms``,
``CUBLAS_WORKSPACE_CONFIG=:4096:8``, cuDNN deterministic, inductor's deterministic mode where this torch has it),
each pair in its own process (the setting must hold before CUDA starts), through ``sinkviz.lab.run`` as a job runs
it; it records each run's evaluations, the largest weight difference between the two runs of a pair, and the
training tokens/s of each.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DETERMINISTIC_ENV = {"CUBLAS_WORKSPACE_CONFIG": ":4096:8", "SINKVIZ_BENCH_DETERMINISTIC": "1"}


def _one_pair(config: str, steps: int, device: str, data_dir: str) -> dict:
    """Two runs of ``config`` in this process, from scratch; their histories, weight gap and rates."""
    import torch
    from safetensors.torch import load_file

    from sinkviz.lab.train import run, saved_checkpoints

    deterministic = os.environ.get("SINKVIZ_BENCH_DETERMINISTIC") == "1"
    if deterministic:
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
        import torch._inductor.config as inductor_config

        if hasattr(inductor_config, "deterministic"):
            inductor_config.deterministic = True
    runs, weights = [], []
    with tempfile.TemporaryDirectory() as scratch:
        for i in range(2):
            out = Path(scratch) / f"run{i}"
            results = run(config, out, device=device, steps=steps, data_dir=data_dir, progress=False)
            runs.append({"history": [{k: h.get(k) for k in ("step", "train_loss", "valid_loss", "sink_1", "sink_star")}
                                     for h in results["history"]],
                         "train_tokens_per_second": results["train_tokens_per_second"]})
            _, folder = saved_checkpoints(out)[-1]
            weights.append(load_file(str(folder / "model.safetensors")))
    gap = max(float((weights[0][k].float() - weights[1][k].float()).abs().max()) for k in weights[0])
    return {"deterministic": deterministic, "runs": runs, "max_weight_difference": gap,
            "identical": gap == 0.0 and runs[0]["history"] == runs[1]["history"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--out", required=True)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--data-dir", default="/tmp/lab_data")
    parser.add_argument("--pair", action="store_true", help=argparse.SUPPRESS)  # the child process's entry
    args = parser.parse_args(argv)
    if args.pair:
        Path(args.out).write_text(json.dumps(_one_pair(args.config, args.steps, args.device, args.data_dir)))
        return 0
    import torch

    started = time.time()
    pairs = {}
    for setting, extra_env in (("default", {}), ("deterministic", DETERMINISTIC_ENV)):
        with tempfile.NamedTemporaryFile(suffix=".json") as part:
            subprocess.run([sys.executable, __file__, args.config, "--pair", "--steps", str(args.steps), "--out",
                            part.name, "--device", args.device, "--data-dir", args.data_dir],
                           env={**os.environ, **extra_env}, check=True)
            pairs[setting] = json.loads(Path(part.name).read_text())
        print(f"{setting}: identical {pairs[setting]['identical']}, largest weight difference "
              f"{pairs[setting]['max_weight_difference']:.3g}", flush=True)
    from sinkviz._files import write_json
    from sinkviz._version import made_by

    write_json(Path(args.out), {
        "what": __doc__.splitlines()[0], "config": args.config, "steps": args.steps, "pairs": pairs,
        "device": torch.cuda.get_device_name(0) if args.device == "cuda" else args.device, "torch": torch.__version__,
        "sinkviz": made_by(),
        "command": "python " + " ".join([Path(sys.argv[0]).as_posix(), *(argv or sys.argv[1:])]),
        "wall_seconds": round(time.time() - started, 1)})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
