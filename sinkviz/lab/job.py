"""One time-limited GPU job of the lab: build the corpus, resume carried runs, train until the budget, pack them again.

    python -m sinkviz.lab.job --out $OUT --minutes 9 --carry-in lab_carry control [control_seed1 ...]

For machines that start bare, run for minutes and send back a handful of files (see ``sinkviz.lab.carry``):

1. builds the corpus of the first config (every config of a job must train on the same data; the corpus is
   rebuilt on every job from what the machine holds, and a resumed run refuses a corpus whose tokens differ);
2. for each config in turn: unpacks ``CARRY_IN/PREFIX.carry.*`` if there is one (PREFIX = the config file's
   name, e.g. ``control_seed1``) and the machine does not still hold a checkpoint at least as new (a warm machine's
   own keeps fp32 AdamW moments), trains with ``max_minutes`` = the time left (so it stops after a checkpoint
   and an evaluation), packs the newest checkpoint of a run that has not finished into ``OUT/PREFIX.carry.*``
   (``--pack all`` packs finished runs too; at most eight files come back from a job, and a pack takes three)
   and copies its results to ``OUT/PREFIX.json`` (the name the committed results take in ``sinkviz/data/lab_results``);
3. writes ``OUT/lab_job.json``: device, corpus, timings and per-run status and rates.

Configs run one after another: two runs sharing one GPU trained slower together than one alone
(``benchmarks/results/lab_throughput.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from sinkviz._files import write_json
from sinkviz._version import made_by


def _config_files(names: list[str]) -> list[tuple[str, Any]]:
    from sinkviz.lab.train import load_config

    return [(Path(n).stem, load_config(n)) for n in names]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sinkviz.lab.job", description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="+", help="config names or JSON paths, run in this order")
    parser.add_argument("--out", required=True, help="folder whose files come back from the job")
    parser.add_argument("--minutes", type=float, required=True, help="wall-clock budget of the whole job")
    parser.add_argument("--finish-s", type=float, default=45.0,
                        help="seconds kept back for the last evaluation, checkpoint and packing")
    parser.add_argument("--carry-in", help="folder of carried packs (PREFIX.carry.*) to resume from")
    parser.add_argument("--runs-dir", default="/tmp/lab_runs")
    parser.add_argument("--data-dir", default="/tmp/lab_data")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--compile", default="auto")
    parser.add_argument("--profile", action="store_true", help="profile 10 steps of the first run (OUT/profile.json)")
    parser.add_argument("--pack", choices=("unfinished", "all", "none"), default="unfinished",
                        help="which runs' checkpoints to pack into OUT (default: those that stopped before their end)")
    return parser


class _Job:
    """The job's clock, its record (``OUT/lab_job.json``, rewritten after every step) and its log lines."""

    def __init__(self, args: argparse.Namespace, configs: list[tuple[str, Any]]) -> None:
        import torch

        from sinkviz.lab.train import device_name
        from sinkviz.models import resolve_device

        device = device_name(resolve_device(args.device))  # a device this machine lacks fails before any work
        self.args = args
        self.started = time.time()
        self.deadline = self.started + 60 * args.minutes
        self.out = Path(args.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.summary: dict[str, Any] = {
            "device": device, "torch": torch.__version__,
            "cpus": os.cpu_count(), "python": sys.version.split()[0], "configs": [p for p, _ in configs],
            "sinkviz": made_by(), "budget_minutes": args.minutes, "runs": {}}

    def say(self, msg: str) -> None:
        print(f"[{time.time() - self.started:6.1f}s] {msg}", flush=True)

    def save(self) -> None:
        self.summary["wall_seconds"] = round(time.time() - self.started, 1)
        write_json(self.out / "lab_job.json", self.summary)

    def minutes_left(self) -> float:
        """Training minutes left, with ``--finish-s`` kept back for the last evaluation and packing."""
        return (self.deadline - time.time() - self.args.finish_s) / 60

    def build_corpus(self, data: dict[str, Any]) -> None:
        """Build (or find) the corpus every config of the job trains on; record its size and time."""
        from sinkviz.lab.data import DataSpec, prepare_corpus

        spec = DataSpec.from_dict(data)
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
        t0 = time.time()
        corpus = prepare_corpus(spec.source, spec.tokenizer, self.args.data_dir, max_documents=spec.max_documents,
                                max_bytes=spec.max_bytes, quiet=True)
        self.summary["corpus_seconds"] = round(time.time() - t0, 1)
        self.summary["corpus"] = {k: v for k, v in corpus.meta.items() if k != "files"}
        self.summary["corpus"]["files"] = {k: v for k, v in corpus.meta.get("files", {}).items() if k != "skipped"}
        self.say(f"corpus in {self.summary['corpus_seconds']} s: {corpus.meta['train_tokens']:,} train tokens")
        # torch.compile starts worker processes next; the tokenizer's threads used above must be off by then
        os.environ["TOKENIZERS_PARALLELISM"] = "false"
        self.save()

    def _resume_from_pack(self, prefix: str, run_dir: Path, entry: dict[str, Any]) -> None:
        """Unpack the carried checkpoint of ``prefix``, unless this machine still holds one at least as new: a warm
        machine's own checkpoint keeps AdamW's fp32 moments, which a pack rounds to bf16 (so a deterministic run
        resumed from it repeats an uninterrupted run to the bit)."""
        from sinkviz.lab import carry
        from sinkviz.lab.train import saved_checkpoints

        local = saved_checkpoints(run_dir)
        step = carry.carried_step(self.args.carry_in, prefix)
        if local and local[-1][0] >= step:
            entry["resumed_from"] = f"{local[-1][1].name} (this machine's, fp32 moments)"
            entry["carried_step_unused"] = step
            self.say(f"{prefix}: kept this machine's {local[-1][1].name}; the carried step {step} is not newer")
            return
        folder = carry.unpack(self.args.carry_in, run_dir, prefix)
        entry["resumed_from"] = folder.name
        self.say(f"{prefix}: unpacked {folder.name}")

    def train(self, prefix: str, config: Any, profile: bool) -> None:
        """Resume ``prefix`` from a carried pack if there is one, train it until the budget, copy its results
        to OUT and pack it as ``--pack`` says; an error is recorded and the job goes on."""
        from sinkviz.lab import carry
        from sinkviz.lab.train import run

        args, out = self.args, self.out
        left_min = self.minutes_left()
        if left_min < 0.5:
            self.summary["runs"][prefix] = {"status": "not started (no time left)"}
            return
        run_dir = Path(args.runs_dir) / prefix
        entry: dict[str, Any] = {"name": config.name, "seed": config.seed}
        self.summary["runs"][prefix] = entry
        if args.carry_in and list(Path(args.carry_in).glob(f"{prefix}.carry.*")):
            self._resume_from_pack(prefix, run_dir, entry)
        done = run_dir / "results.json"
        if done.is_file() and json.loads(done.read_text()).get("status") == "finished":
            shutil.copyfile(done, out / f"{prefix}.json")
            entry["status"] = "already finished (not trained again)"
            self.say(f"{prefix}: already finished")
            return
        self.say(f"{prefix}: training for at most {left_min:.1f} min")
        t_run = time.time()
        try:
            results = run(config, run_dir, device=args.device, data_dir=args.data_dir, progress=False,
                          max_minutes=left_min, compile=args.compile,
                          profile_file=out / "profile.json" if profile else None)
        except Exception as exc:  # record and go on with the next config
            entry.update(status="error", error=f"{type(exc).__name__}: {exc}")
            self.say(f"{prefix}: {entry['error']}")
            return
        last = results["history"][-1]
        entry.update(status=results["status"], step=results["step"], tokens_seen=last["tokens_seen"],
                     sink_1=last["sink_1"], valid_loss=last["valid_loss"], seconds=round(time.time() - t_run, 1),
                     tokens_per_second=results["tokens_per_second"],
                     train_tokens_per_second=results["train_tokens_per_second"], compile=results["compile"])
        shutil.copyfile(run_dir / "results.json", out / f"{prefix}.json")
        if args.pack == "all" or (args.pack == "unfinished" and results["status"] != "finished"):
            shards = carry.pack(run_dir, out, prefix)
            entry["carry"] = {s.name: s.stat().st_size for s in shards}
        self.say(f"{prefix}: {results['status']} at step {results['step']}, Sink_1 {last['sink_1']}%, "
                 f"{results['train_tokens_per_second']:,} train tokens/s")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configs = _config_files(args.configs)
    data = configs[0][1].data
    if any(c.data != data for _, c in configs):
        raise SystemExit("every config of one job must train on the same data (one corpus per job)")
    if any(c.train.get("deterministic", False) for _, c in configs):
        from sinkviz.lab.train import set_cublas_deterministic

        set_cublas_deterministic()  # before naming the device starts CUDA
    job = _Job(args, configs)
    job.build_corpus(data)
    for i, (prefix, config) in enumerate(configs):
        job.train(prefix, config, profile=args.profile and i == 0)
        job.save()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
