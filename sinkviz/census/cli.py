r"""`sinkviz census MODEL --texts FILE --seq-len T ... --out result.json`: a sink census over a text file.

One process:
    sinkviz census smollm2-135m --texts sinkviz/data/census_sample.txt --seq-len 512 --out census.json
Several lengths in one call (one JSON, an entry per length; --join makes texts of each length from consecutive ones):
    sinkviz census smollm2-135m --texts sinkviz/data/census_sample.txt --seq-len 256,512,1024,2048 --join \
        --eps 0.2,0.3,0.4,0.5 --out lengths.json
A model too big for one GPU (accelerate spreads the layers):
    sinkviz census meta-llama/Llama-2-70b-hf --device-map auto --texts texts.jsonl --seq-len 4096 --out c.json
Several GPUs, samples split across processes and merged exactly (sums and counts added, per-sample arrays in the
input order) on rank 0:
    torchrun --nproc-per-node 2 -m sinkviz.census MODEL --texts texts.jsonl --seq-len 32768 --out c.json
    (or: accelerate launch --num_processes 2 -m sinkviz.census MODEL ...)
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import time
from typing import Any

import numpy as np

from sinkviz._files import check_writable, write_json
from sinkviz._version import __version__, source_digest
from sinkviz.census.distributed import Launch, gather_results, join_process_group, leave_process_group, shard
from sinkviz.census.engine import run_census
from sinkviz.census.result import CensusResult
from sinkviz.census.texts import join_texts, read_texts
from sinkviz.errors import InputError
from sinkviz.metrics.sink import PAPER_EPS
from sinkviz.models import LoadedModel, load

__all__ = ["register", "main", "parse_layers", "run"]

# the JSON document reports Sink_1..Sink_N
N_REPORTED = 10


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
    p.add_argument("--seq-len", required=True,
                   help="tokens per text (texts are truncated to it); several lengths, e.g. 512,1024,2048, run one "
                        "census each and write one JSON with an entry per length")
    p.add_argument("--eps", default="0.3",
                   help="Sink_k threshold epsilon (paper: 0.3); several, e.g. 0.2,0.3,0.4,0.5: all are in "
                        "'sink_by_eps', and the headline 'sink' is the paper's 0.3 when it is among them (else the "
                        "first)")
    p.add_argument("--join", action="store_true",
                   help="join consecutive texts until each has --seq-len tokens (for lengths longer than the texts)")
    p.add_argument("--layers", nargs="+", default=None, help="layers to measure (default all): 0 5 10, 0,5,10, 0-3")
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--allow-shorter", action="store_true",
                   help="keep texts shorter than --seq-len (right-padded; padding is excluded) instead of skipping them")
    p.add_argument("--limit", type=int, default=None,
                   help="use at most this many texts from the file; with --join, this many joined texts at each length")
    p.add_argument("--out", required=True, help="result JSON (written atomically)")
    p.add_argument("--save-arrays", default=None, help="also write every array (.npz): per-sample alpha, sums, ...")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    p.add_argument("--dtype", default="auto", help="auto (bf16 on cuda, fp32 elsewhere), fp32, bf16, fp16")
    p.add_argument("--device-map", default=None, help="'auto' to spread a large model over the visible GPUs")
    p.add_argument("--backend", default="auto", choices=["auto", "triton", "torch"])
    p.add_argument("--n-keys", type=int, default=16,
                   help=f"keep alpha per sample for the first N keys (>= {N_REPORTED})")
    p.add_argument("--n-first", type=int, default=4, help="'first_mass' is the row mass on keys k < N")
    p.add_argument("--no-progress", action="store_true")


def register(subparsers: Any) -> argparse.ArgumentParser:
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


def _fail(message: str) -> int:
    print(f"sinkviz census: {message}", file=sys.stderr)
    return 2


def _numbers(text: str, kind: type, what: str) -> list:
    try:
        values = [kind(x) for x in str(text).split(",") if x.strip()]
    except ValueError:
        raise ValueError(f"{what} must be a number or a comma-separated list of numbers, not {text!r}") from None
    if not values:
        raise ValueError(f"{what} is empty")
    return values


def headline_eps(eps_list: list[float]) -> float:
    """The epsilon of the JSON's headline ``sink``: the paper's 0.3 (Gu et al. 2025 §3.2) whenever it was asked
    for, so that ``--eps 0.2,0.3`` does not put Sink_k^0.2 where a reader expects the paper's number; otherwise
    the first one given."""
    return PAPER_EPS if PAPER_EPS in eps_list else eps_list[0]


def _texts(args: argparse.Namespace) -> list[str]:
    """The texts to measure; a ValueError saying what is wrong with the arguments or the file."""
    args.seq_lens = _numbers(args.seq_len, int, "--seq-len")
    args.eps_list = _numbers(args.eps, float, "--eps")
    args.headline_eps = headline_eps(args.eps_list)
    if min(args.seq_lens) < 1:
        raise ValueError("--seq-len must be at least 1")
    if not all(0 < eps < 1 for eps in args.eps_list):
        raise ValueError(f"--eps values are thresholds on the importance score α, which lies in [0, 1]: give values "
                         f"strictly between 0 and 1 (the paper's is 0.3); got {args.eps}")
    if args.limit is not None and args.limit < 1:
        raise ValueError(f"--limit must be at least 1 (or left out for every text); got {args.limit}")
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be at least 1; got {args.batch_size}")
    for flag, path in (("--out", args.out), ("--save-arrays", args.save_arrays)):
        if path:  # checked now: the census can take hours, and its results are written at the end
            try:
                check_writable(path)
            except InputError as e:
                raise ValueError(f"{flag}: {e}") from None
    if args.n_keys < N_REPORTED:
        raise ValueError(f"--n-keys must be at least {N_REPORTED} (the JSON reports Sink_1..Sink_{N_REPORTED})")
    try:
        texts = read_texts(args.texts)
        if not args.join:  # joined texts are counted at each length, where they are made
            texts = texts[: args.limit]
    except FileNotFoundError as e:
        raise ValueError(str(e)) from None
    if not texts:
        raise ValueError(f"no texts in {args.texts}")
    return texts


def run(args: argparse.Namespace) -> int:
    """Run the census described by the parsed arguments; returns the exit code."""
    try:
        texts = _texts(args)
    except ValueError as e:
        return _fail(str(e))
    layers = parse_layers(args.layers)
    launch = Launch.from_environment()
    device = join_process_group(args.device, launch.local_rank) if launch.distributed else args.device
    started = time.perf_counter()
    try:
        m = load(args.model, device=device, dtype=args.dtype, device_map=args.device_map,
                 progress=not args.no_progress and launch.rank == 0)
    except Exception as e:  # noqa: BLE001 - the loader's errors already say what to do
        return _fail(f"cannot load {args.model!r}: {e}")
    parts = []
    for seq_len in args.seq_lens:
        chosen = join_texts(m.tokenizer, texts, seq_len, limit=args.limit) if args.join else texts
        if not chosen:
            return _fail(f"the texts hold fewer than {seq_len} tokens in all: give more or longer texts, or a "
                         "shorter --seq-len")
        try:
            part = run_census(
                m, chosen, seq_len=seq_len, layers=layers, batch_size=args.batch_size,
                allow_shorter=args.allow_shorter, n_keys=args.n_keys, n_first=args.n_first, backend=args.backend,
                progress=not args.no_progress and launch.rank == 0,
                indices=shard(len(chosen), launch.rank, launch.world_size) if launch.distributed else None,
            )
        except ValueError as e:
            return _fail(str(e))
        parts.append((seq_len, len(chosen), gather_results(part) if launch.distributed else part))
    if launch.distributed:
        leave_process_group()
    if launch.rank != 0:
        return 0
    for seq_len, _, res in parts:
        if res.n_samples == 0:
            return _fail(f"all {res.n_skipped} texts are shorter than --seq-len {seq_len} tokens; lower --seq-len, "
                         "pass --allow-shorter, or --join consecutive texts")
    return _write(args, parts, m, world_size=launch.world_size, seconds=time.perf_counter() - started)


def _document(args: argparse.Namespace, res: CensusResult, m: LoadedModel, seq_len: int, n_texts: int) -> dict:
    """One length's JSON entry: Sink_k at the headline epsilon, Sink_k at every epsilon asked for, alpha_1, ..."""
    doc = res.summary(eps=args.headline_eps, ks=range(1, N_REPORTED + 1))
    doc.update(
        sink_by_eps={f"{eps:g}": {str(k): v for k, v in res.sink(eps, range(1, N_REPORTED + 1)).items()}
                     for eps in args.eps_list},
        model=args.model, seq_len=seq_len, eps=args.headline_eps, texts=os.path.abspath(args.texts),
        n_texts=n_texts, joined_texts=bool(args.join), batch_size=args.batch_size,
        allow_shorter=bool(args.allow_shorter), dtype=str(m.dtype).replace("torch.", ""),
        device=str(m.device) if not args.device_map else f"device_map={args.device_map}",
        sinkviz_version=__version__, sinkviz_source_sha256=source_digest(),
        mean_alpha_first=float(np.nanmean(res.alpha[..., 0])),
        mean_alpha_first_by_layer=[float(x) for x in np.nanmean(res.alpha[..., 0], axis=(0, 2))],
    )
    return doc


def _write(args: argparse.Namespace, parts: list, m: LoadedModel, *, world_size: int, seconds: float) -> int:
    """Write the JSON document (one length: that length's entry; several: ``runs``, one entry per length) and the
    arrays when asked, and say what was measured."""
    docs = [_document(args, res, m, seq_len, n_texts) for seq_len, n_texts, res in parts]
    if len(docs) == 1:
        out = docs[0] | {"world_size": world_size, "seconds": round(seconds, 3)}
    else:
        out = {"model": args.model, "seq_lens": args.seq_lens, "eps": args.eps_list, "world_size": world_size,
               "seconds": round(seconds, 3), "runs": docs}
    write_json(args.out, out)
    for seq_len, _, res in parts:
        if args.save_arrays:
            path = args.save_arrays if len(parts) == 1 else _with_length(args.save_arrays, seq_len)
            res.save(path)
        print(
            f"census of {args.model}: {res.n_samples} texts x {len(res.layers)} layers x {res.n_heads} heads at "
            f"T={seq_len} ({res.n_skipped} skipped); Sink_1^{args.headline_eps:g} = "
            f"{res.sink(args.headline_eps, [1])[1]:.1f}%"
        )
    print(f"-> {args.out}")
    return 0


def _with_length(path: str, seq_len: int) -> str:
    """``arrays.npz`` -> ``arrays_T1024.npz``: one arrays file per length of a sweep."""
    root, ext = os.path.splitext(path)
    return f"{root}_T{seq_len}{ext or '.npz'}"


def main(argv: list[str] | None = None) -> int:
    """Entry point for `python -m sinkviz.census` (torchrun / accelerate launch)."""
    p = argparse.ArgumentParser(prog="sinkviz census", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_arguments(p)
    return run(p.parse_args(argv))
