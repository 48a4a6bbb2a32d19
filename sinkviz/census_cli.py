"""`sinkviz census MODEL --texts FILE --seq-len T ... --out result.json`: a sink census over a text file.

One process:
    sinkviz census smollm2-135m --texts sinkviz/data/census_sample.txt --seq-len 512 --out census.json
A model too big for one GPU (accelerate spreads the layers):
    sinkviz census meta-llama/Llama-2-70b-hf --device-map auto --texts texts.jsonl --seq-len 4096 --out c.json
Several GPUs, samples split across processes and merged exactly (sums and counts added, per-sample arrays in the
input order) on rank 0:
    torchrun --nproc-per-node 2 -m sinkviz.census_cli MODEL --texts texts.jsonl --seq-len 32768 --out c.json
    (or: accelerate launch --num_processes 2 -m sinkviz.census_cli MODEL ...)
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import time

__all__ = ["register", "main", "parse_layers", "run"]


def parse_layers(items: list[str] | None) -> list[int] | None:
    """'--layers 0 5 10', '--layers 0,5,10' or '--layers 0-3 8' -> sorted unique layer indices (None = all)."""
    if not items:
        return None
    out: set[int] = set()
    for item in items:
        for part in str(item).split(","):
            part = part.strip()
            if not part:
                continue
            m = re.fullmatch(r"(\d+)-(\d+)", part)
            if m and int(m.group(1)) <= int(m.group(2)):
                out.update(range(int(m.group(1)), int(m.group(2)) + 1))
            elif part.isdigit():
                out.add(int(part))
            else:
                raise SystemExit(f"sinkviz census: bad --layers item {part!r}; use e.g. 0 5 10, 0,5,10 or 0-3")
    return sorted(out)


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="registry name (sinkviz models), Hugging Face hub id or local directory")
    p.add_argument("--texts", required=True, help=".txt (one text per line) or .jsonl (a 'text' field per line)")
    p.add_argument("--seq-len", type=int, required=True, help="tokens per text (texts are truncated to it)")
    p.add_argument("--eps", type=float, default=0.3, help="Sink_k threshold epsilon (paper: 0.3)")
    p.add_argument("--layers", nargs="+", default=None, help="layers to measure (default all): 0 5 10, 0,5,10, 0-3")
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--allow-shorter", action="store_true",
                   help="keep texts shorter than --seq-len (right-padded; padding is excluded) instead of skipping them")
    p.add_argument("--limit", type=int, default=None, help="use at most this many texts from the file")
    p.add_argument("--out", required=True, help="result JSON (written atomically)")
    p.add_argument("--save-arrays", default=None, help="also write every array (.npz): per-sample alpha, sums, ...")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    p.add_argument("--dtype", default="auto", help="auto (bf16 on cuda, fp32 elsewhere), fp32, bf16, fp16")
    p.add_argument("--device-map", default=None, help="'auto' to spread a large model over the visible GPUs")
    p.add_argument("--backend", default="auto", choices=["auto", "triton", "torch"])
    p.add_argument("--n-keys", type=int, default=16, help="keep alpha per sample for the first N keys (>= 10)")
    p.add_argument("--n-first", type=int, default=4, help="'first_mass' is the row mass on keys k < N")
    p.add_argument("--no-progress", action="store_true")


def register(subparsers) -> argparse.ArgumentParser:
    """Add the `census` subcommand to the sinkviz CLI (sinkviz/cli.py)."""
    p = subparsers.add_parser(
        "census",
        help="long-context sink census: Sink_k^eps and alpha over a text file, streaming (no T x T matrices)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_arguments(p)
    p.set_defaults(func=run)
    return p


def _dist_env() -> tuple[int, int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", str(rank)))
    return world, rank, local


def run(args: argparse.Namespace) -> int:
    """Run the census described by the parsed arguments; returns the exit code."""
    import numpy as np
    import torch

    import sinkviz
    from sinkviz import census as cz

    if args.seq_len < 1:
        print("sinkviz census: --seq-len must be at least 1", file=sys.stderr)
        return 2
    if args.n_keys < 10:
        print("sinkviz census: --n-keys must be at least 10 (the JSON reports Sink_1..Sink_10)", file=sys.stderr)
        return 2
    layers = parse_layers(args.layers)
    try:
        texts = cz.read_texts(args.texts)
    except (FileNotFoundError, ValueError) as e:
        print(f"sinkviz census: {e}", file=sys.stderr)
        return 2
    if args.limit is not None:
        texts = texts[: args.limit]
    if not texts:
        print(f"sinkviz census: no texts in {args.texts}", file=sys.stderr)
        return 2

    world, rank, local = _dist_env()
    distributed = world > 1
    device = args.device
    if distributed:
        import torch.distributed as dist

        backend = "nccl" if torch.cuda.is_available() and device in ("auto", "cuda") else "gloo"
        if not dist.is_initialized():
            dist.init_process_group(backend=backend)
        if backend == "nccl":
            device = f"cuda:{local}"
            torch.cuda.set_device(local)
        elif device == "auto":
            device = "cpu"
    started = time.perf_counter()
    try:
        m = sinkviz.load(args.model, device=device, dtype=args.dtype, device_map=args.device_map,
                         progress=not args.no_progress and rank == 0)
    except Exception as e:  # noqa: BLE001 - the loader's errors already say what to do
        print(f"sinkviz census: cannot load {args.model!r}: {e}", file=sys.stderr)
        return 2
    indices = cz.shard(len(texts), rank, world) if distributed else None
    try:
        part = cz.census(
            m, texts, seq_len=args.seq_len, layers=layers, batch_size=args.batch_size,
            allow_shorter=args.allow_shorter, n_keys=args.n_keys, n_first=args.n_first, backend=args.backend,
            progress=not args.no_progress and rank == 0, indices=indices,
        )
    except ValueError as e:
        print(f"sinkviz census: {e}", file=sys.stderr)
        return 2
    res = cz.gather_results(part) if distributed else part
    if distributed:
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()
    if rank != 0:
        return 0
    if res.n_samples == 0:
        print(
            f"sinkviz census: all {res.n_skipped} texts are shorter than --seq-len {args.seq_len} tokens; "
            "lower --seq-len or pass --allow-shorter",
            file=sys.stderr,
        )
        return 2
    # Sink_1..Sink_10 (CensusResult.sink compares float32 alpha with eps as the official code does; it equals
    # sinkviz.metrics.sink.sink_rate(res.alpha, eps) except on exact float32 ties)
    doc = res.summary(eps=args.eps, ks=range(1, 11))
    doc.update(
        model=args.model, seq_len=args.seq_len, eps=args.eps, texts=os.path.abspath(args.texts),
        n_texts=len(texts), batch_size=args.batch_size, allow_shorter=bool(args.allow_shorter),
        dtype=str(m.dtype).replace("torch.", ""), device=str(m.device) if not args.device_map else f"device_map={args.device_map}",
        world_size=world, sinkviz_version=sinkviz.__version__, seconds=round(time.perf_counter() - started, 3),
        mean_alpha_first=float(np.nanmean(res.alpha[..., 0])),
    )
    cz.write_json(args.out, doc)
    if args.save_arrays:
        res.save(args.save_arrays)
    print(
        f"census of {args.model}: {res.n_samples} texts x {len(res.layers)} layers x {res.n_heads} heads at "
        f"T={args.seq_len} ({res.n_skipped} skipped); Sink_1^{args.eps:g} = {doc['sink']['1']:.1f}% -> {args.out}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point for `python -m sinkviz.census_cli` (torchrun / accelerate launch)."""
    p = argparse.ArgumentParser(prog="sinkviz census", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_arguments(p)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
