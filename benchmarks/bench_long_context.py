"""Long-context explorer benchmark on the CPU (issue 16): opening an 8k-token text on the embedded SmolLM2-135M, then
head switches and window moves, timed in Python (compute + the view's update message; no browser).

    python benchmarks/bench_long_context.py --out benchmarks/results/long_context.json [--tokens 8192]

The text: consecutive texts of sinkviz/data/census_sample.txt joined, cut to at most --tokens tokens. Times are the
median of several moves; the machine's load average is recorded beside them (this benchmark may share its CPU).
The GPU side (32k tokens, compute only) is in benchmarks/bench_census.py (benchmarks/results/long_context_gpu.json).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

import sinkviz  # noqa: E402
from sinkviz.census.texts import join_texts, read_texts  # noqa: E402
from sinkviz.widgets.long_context import LongContextExplorer  # noqa: E402


def text_of(tokenizer, n_tokens: int) -> str:
    """The longest prefix (in characters) of the joined sample texts with at most ``n_tokens`` tokens."""
    texts = read_texts(Path(sinkviz.__file__).parent / "data" / "census_sample.txt")
    joined = join_texts(tokenizer, texts, n_tokens, limit=1)[0]
    lo, hi = 0, len(joined)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if len(tokenizer(joined[:mid])["input_ids"]) <= n_tokens:
            lo = mid
        else:
            hi = mid - 1
    return joined[:lo]


def cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="benchmarks/results/long_context.json")
    ap.add_argument("--tokens", type=int, default=8192)
    ap.add_argument("--moves", type=int, default=5)
    args = ap.parse_args()
    m = sinkviz.load("smollm2-135m", device="cpu", progress=False)
    text = text_of(m.tokenizer, args.tokens)
    doc = {"machine": {"cpu": cpu_name(), "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                       "load_average_before": os.getloadavg()},
           "model": "smollm2-135m (fp32, CPU)", "what": "Python-side time: compute + the view's update message "
           "(canvas view), no browser"}
    started = time.perf_counter()
    ex = LongContextExplorer(m, text, render="canvas")
    doc["open_s"] = time.perf_counter() - started
    doc["census_forward_s"] = ex.open_seconds
    doc["n_tokens"] = ex.n_tokens
    doc["kept_layers"] = len(ex.trace.qk)
    doc["memory_gib"] = ex.trace.memory_bytes() / (1 << 30)
    layer = ex.layer

    def timed(action, n=args.moves):
        ts = []
        for i in range(n):
            t0 = time.perf_counter()
            action(i)
            ts.append(time.perf_counter() - t0)
        return {"median_s": statistics.median(ts), "max_s": max(ts), "n": n}

    heads = ex.heads
    doc["head_switch_whole_text"] = timed(lambda i: ex.select(layer, heads[(ex.head + 1) % len(heads)]))
    ex.show_window(size=512, start=0)
    doc["window_move_512"] = timed(lambda i: ex.show_window(start=(i + 1) * 997 % (ex.n_tokens - 512)))
    doc["head_switch_512_window"] = timed(lambda i: ex.select(layer, heads[(ex.head + 1) % len(heads)]))
    ex.show_window(size=64, start=100)
    doc["window_move_64"] = timed(lambda i: ex.show_window(start=(i + 1) * 1231 % (ex.n_tokens - 64)))
    kept = [x for x in ex.trace.layers if x in ex.trace.qk and x != layer]
    doc["layer_switch_kept"] = timed(lambda i: ex.select(kept[i % len(kept)], ex.head), n=min(3, len(kept))) \
        if kept else None
    doc["load_average_after"] = os.getloadavg()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(doc, indent=1) + "\n")
    print(json.dumps(doc, indent=1))


if __name__ == "__main__":
    main()
