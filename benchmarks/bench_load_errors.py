"""Time sinkviz.load's failures as a user meets them (a misspelt registry name, a hub id with no network),
through the public API with its defaults; prints and saves benchmarks/results/load_errors.json."""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import sinkviz
from sinkviz._files import write_json

CASES = {"near-miss registry name": "smollm3-135m", "hub id, no network": "gpt2"}


def main() -> None:
    rows = []
    for what, name in CASES.items():
        started = time.perf_counter()
        try:
            sinkviz.load(name)
            outcome = "loaded"
        except sinkviz.SinkvizError as exc:
            outcome = f"{type(exc).__name__}: {str(exc)[:160]}"
        rows.append({"case": what, "name": name, "seconds": round(time.perf_counter() - started, 3), "outcome": outcome})
        print(json.dumps(rows[-1]))
    write_json(Path(__file__).parent / "results" / "load_errors.json",
               {"machine": f"{platform.machine()} {platform.processor() or ''}".strip(), "cpus": __import__("os").cpu_count(),
                "api": "sinkviz.load(name) with its defaults", "rows": rows})


if __name__ == "__main__":
    main()
