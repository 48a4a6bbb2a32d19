"""Long-context explorer benchmark on the CPU (issue 16): opening an 8k-token text on the embedded SmolLM2-135M with
``sinkviz.explore(model, text)`` (defaults), then head switches and window moves, timed in Python (compute + the view's
update message; no browser).

    python benchmarks/bench_long_context.py --out benchmarks/results/long_context.json [--tokens 8192]

The baseline, in the same process after the explorer has opened: the model's own forward over the same token ids
(SDPA attention, no census; ``plain_forward_s``), the floor of the census forward. The text: consecutive texts of
sinkviz/data/census_sample.txt joined, cut to at most --tokens tokens. Times are the median of several moves; the
machine's load average is recorded beside them (this benchmark may share its CPU).
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


def others_cpu_seconds() -> float | None:
    """CPU seconds that other processes have used on this machine so far (all busy time in /proc/stat less this
    process's own): the difference across a timed step says how much it shared the cores. None off Linux."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    busy = sum(fields[:3]) + sum(fields[5:8])  # user nice system, irq softirq steal (not idle, iowait)
    return busy / os.sysconf("SC_CLK_TCK") - time.process_time()


def shared_cpu(step):
    """(step's result, CPU seconds other processes used while it ran, or None)."""
    before = others_cpu_seconds()
    result = step()
    after = others_cpu_seconds()
    return result, (None if before is None or after is None else round(max(0.0, after - before), 1))


def cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def plain_forward_seconds(loaded, input_ids: torch.Tensor) -> float:
    """The model's own forward over ``input_ids`` as the census runs it (the base model, no KV cache), without the
    census's attention function: the floor of the census forward."""
    from sinkviz.models import unwrap

    hf = unwrap(loaded)[0]
    base = getattr(hf, "base_model", hf)
    with torch.inference_mode():
        started = time.perf_counter()
        base(input_ids=input_ids, use_cache=False)
        return time.perf_counter() - started


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
           "model": "smollm2-135m (fp32, CPU)", "torch": torch.__version__,
           "what": "Python-side time: compute + the view's update message (canvas view), no browser; "
           "plain_forward_s: the model's own forward over the same tokens in the same process, after the explorer "
           "opened (the floor of census_forward_s); others_cpu_s: CPU seconds other processes used on the machine "
           "during that step (0 = the cores were this benchmark's)", "target_open_s": 120}
    started = time.perf_counter()
    ex, doc["open_others_cpu_s"] = shared_cpu(lambda: sinkviz.explore(m, text))
    doc["open_s"] = time.perf_counter() - started
    if not isinstance(ex, LongContextExplorer):
        raise SystemExit(f"sinkviz.explore opened {type(ex).__name__}, not the long-context explorer")
    doc["census_forward_s"] = ex.open_seconds
    doc["load_average_after_open"] = os.getloadavg()
    doc["plain_forward_s"], doc["plain_forward_others_cpu_s"] = shared_cpu(
        lambda: plain_forward_seconds(m, ex.trace.input_ids))
    doc["census_over_plain"] = doc["census_forward_s"] / doc["plain_forward_s"]
    doc["n_tokens"] = ex.n_tokens
    doc["kept_layers"] = len(ex.trace.qk)
    doc["memory_gib"] = ex.trace.memory_bytes() / (1 << 30)
    layer = ex.layer

    def timed(action, n=args.moves):
        def run():
            ts = []
            for i in range(n):
                t0 = time.perf_counter()
                action(i)
                ts.append(time.perf_counter() - t0)
            return ts

        ts, others = shared_cpu(run)
        return {"median_s": statistics.median(ts), "max_s": max(ts), "n": n, "others_cpu_s": others}

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
