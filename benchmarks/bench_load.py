"""First vs cached load of the default model, each in a fresh process.

Prints a table and writes benchmarks/results/load.json. The first load dequantises the GGUF file and
writes the safetensors cache; the second reads the cache. `load_s` is the time of `sinkviz.load(...)`
itself; `process_s` adds interpreter start-up and imports (torch, transformers).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import time, json
t0 = time.perf_counter()
import sinkviz
{preimport}
t1 = time.perf_counter()
m = sinkviz.load("{model}", progress=False)
t2 = time.perf_counter()
print(json.dumps({{"import_s": t1 - t0, "load_s": t2 - t1}}))
"""

# The second flavour imports transformers' own modules before timing the load: it separates what sinkviz's
# cache controls (reading weights, tokenizer, the probe pass) from transformers' import cost, paid once per process.
PREIMPORT = "from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer\nimport transformers.models.llama.modeling_llama"


def machine() -> str:
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor()
    return f"{platform.node() or 'host'}: {os.cpu_count()} cores, {cpu}, torch CPU"


def run_once(model: str, cache: str, preimport: str = "") -> dict:
    env = dict(os.environ, SINKVIZ_CACHE=cache, HF_HUB_OFFLINE="1")
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", CHILD.format(model=model, preimport=preimport)], env=env, capture_output=True, text=True,
                         check=True)
    row = json.loads(out.stdout.strip().splitlines()[-1])
    row["process_s"] = time.perf_counter() - started
    return row


def main() -> None:
    model = sys.argv[1] if len(sys.argv) > 1 else "smollm2-135m"
    with tempfile.TemporaryDirectory() as cache:
        first = run_once(model, cache)
        cached = [run_once(model, cache) for _ in range(3)]
        preimported = [run_once(model, cache, PREIMPORT) for _ in range(3)]
    best = min(cached, key=lambda r: r["load_s"])
    result = {
        "model": model,
        "machine": machine(),
        "first": first,
        "cached_runs": cached,
        "cached_best_load_s": best["load_s"],
        "cached_median_process_s": sorted(r["process_s"] for r in cached)[1],
        "cached_after_transformers_import_runs": preimported,
        "cached_after_transformers_import_median_load_s": sorted(r["load_s"] for r in preimported)[1],
        "note": "load_s of the cached runs includes importing transformers' model modules (about 3 s here); "
                "cached_after_transformers_import_* times the same load once those are imported",
    }
    print(f"{'':8} {'import_s':>9} {'load_s':>8} {'process_s':>10}")
    rows = [("first", first)] + [(f"cached{i}", r) for i, r in enumerate(cached)]
    rows += [(f"preimp{i}", r) for i, r in enumerate(preimported)]
    for label, row in rows:
        print(f"{label:8} {row['import_s']:9.2f} {row['load_s']:8.2f} {row['process_s']:10.2f}")
    out = Path(__file__).parent / "results" / "load.json"
    out.parent.mkdir(exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp, out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
