"""Is a lab run's validation loss a property of the model or of its seed's validation windows? One GPU call.

    python benchmarks/bench_lab_valid_windows.py --carry-in lab_carry --out $OUT/lab_valid_windows.json CONFIG

The lab draws its validation windows from a generator seeded by the run's seed (``sinkviz.lab.data.Batcher``), so
seed 0 and seed 1 of one config are scored on different text. This loads a carried checkpoint of CONFIG and scores
it, exactly as an evaluation does (``sinkviz.lab.evaluate.mean_loss``: the config's ``valid_batches`` windows of
``seq_len`` tokens, bf16 autocast), on the windows of seeds 0, 1 and 2: what the same model gets on each.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from sinkviz._files import write_json
from sinkviz.lab import carry
from sinkviz.lab.data import Batcher, DataSpec, prepare_corpus
from sinkviz.lab.evaluate import EvalSpec, mean_loss
from sinkviz.lab.model import SinkLabForCausalLM
from sinkviz.lab.train import device_name, load_config, saved_checkpoints
from sinkviz.models import resolve_device


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", help="config name whose carried pack is in --carry-in")
    parser.add_argument("--carry-in", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--data-dir", default="/tmp/lab_data")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--device", default="cuda")
    args = parser.parse_args(argv)
    started = time.time()
    config = load_config(args.config)
    spec = DataSpec.from_dict(config.data)
    corpus = prepare_corpus(spec.source, spec.tokenizer, args.data_dir, max_documents=spec.max_documents,
                            max_bytes=spec.max_bytes, quiet=True)
    prefix = Path(args.config).stem  # a pack is named after its config file
    run_dir = Path("/tmp/valid_windows") / prefix
    carry.unpack(args.carry_in, run_dir, prefix)
    step, folder = saved_checkpoints(run_dir)[-1]
    device = resolve_device(args.device)
    autocast = torch.bfloat16 if device.type == "cuda" else None  # as the training's evaluations
    model = SinkLabForCausalLM.from_pretrained(folder, dtype=torch.float32).to(device)
    committed = {h["step"]: h for h in json.loads((run_dir / "results.json").read_text())["history"]}
    eval_spec = EvalSpec.from_dict(config.eval)
    batches, batch_size = eval_spec.valid_batches, eval_spec.valid_batch_size or config.train["batch_size"]
    losses = {}
    for seed in (int(s) for s in args.seeds.split(",")):
        batcher = Batcher(corpus, spec, config.train["seq_len"], device, seed)
        losses[str(seed)] = mean_loss(model, batcher, "valid", batches, batch_size, autocast)
        print(f"windows of seed {seed}: {losses[str(seed)]:.4f}", flush=True)
    write_json(Path(args.out), {
        "what": __doc__.splitlines()[0], "config": prefix, "run_seed": config.seed, "step": step,
        "committed_valid_loss_at_step": committed.get(step, {}).get("valid_loss"),
        "valid_loss_by_window_seed": losses, "valid_batches": batches, "batch_size": batch_size,
        "seq_len": config.train["seq_len"], "device": device_name(device), "torch": torch.__version__,
        "command": "python " + " ".join([Path(sys.argv[0]).as_posix(), *(argv or sys.argv[1:])]),
        "wall_seconds": round(time.time() - started, 1)})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
