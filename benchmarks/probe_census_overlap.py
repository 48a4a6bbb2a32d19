"""Would the census gain from launching its statistics kernel on a side stream? A probe, not the census.

At 32k tokens the census costs its statistics kernel on top of the plain forward, one layer after another: the
kernel waits for the layer's attention and the layer's remaining matrix products wait for the kernel. Launched on a
side CUDA stream it could run beside those products instead. This probe times, on one GPU, a Llama-2-7B-shaped
layer's products after attention (o_proj, gate/up/down, the next layer's q/k/v projection; 32k tokens, bf16) and
the statistics kernel (folded 64 x 64 tile capped at 168 registers, the tuner's choice at 32k on an H200): each alone,
one after the other on one stream, and the kernel on a side stream beside the products (the main stream waits for it
at the end of each layer, so at most one layer's kernel is in flight, as the census would need to bound memory).

    python benchmarks/probe_census_overlap.py --out $OUT      # writes census_overlap_probe.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, installed or not
from sinkviz._files import write_json  # noqa: E402
from sinkviz.census import kernels  # noqa: E402

T, HEADS, HEAD_DIM, HIDDEN, FFN = 32768, 32, 128, 4096, 11008
TILE = dict(block_m=64, block_n=64, num_warps=4, num_stages=3, keys_as_rows=True, blocks_first=True, fold_rows=True,
            max_registers=168)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--layers", type=int, default=8, help="layers per timed call")
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    dev = torch.device("cuda")
    gen = torch.Generator(dev).manual_seed(0)

    def randn(*shape: int, scale: float = 1.0) -> torch.Tensor:
        return (torch.randn(*shape, generator=gen, device=dev, dtype=torch.bfloat16) * scale)

    q, k = randn(1, HEADS, T, HEAD_DIM), randn(1, HEADS, T, HEAD_DIM)
    scaling = HEAD_DIM ** -0.5
    lse = kernels.lse_triton(q, k, scaling=scaling, causal=True)
    x = randn(T, HIDDEN)
    w_o, w_qkv = randn(HIDDEN, HIDDEN, scale=0.02), randn(HIDDEN, 3 * HIDDEN, scale=0.02)
    w_gate, w_up, w_down = randn(HIDDEN, FFN, scale=0.02), randn(HIDDEN, FFN, scale=0.02), randn(FFN, HIDDEN, scale=0.02)

    def products() -> None:
        h = x @ w_o
        y = (torch.nn.functional.silu(h @ w_gate) * (h @ w_up)) @ w_down
        _ = (h + y) @ w_qkv

    def stats() -> None:
        kernels.stats_triton(q, k, scaling=scaling, causal=True, lse=lse, q_valid_all=True, **TILE)

    main_stream, side = torch.cuda.current_stream(dev), torch.cuda.Stream(dev)

    def serial() -> None:
        products()
        stats()

    def overlapped() -> None:
        side.wait_stream(main_stream)
        with torch.cuda.stream(side):
            stats()
        products()
        main_stream.wait_stream(side)

    def timed(step) -> float:
        """Median over reps of ms per layer (``args.layers`` layers between two events)."""
        step()
        torch.cuda.synchronize()
        per_layer = []
        for _ in range(args.reps):
            start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(args.layers):
                step()
            stop.record()
            stop.synchronize()
            per_layer.append(start.elapsed_time(stop) / args.layers)
        return statistics.median(per_layer)

    ms = {"products": timed(products), "stats": timed(stats), "serial": timed(serial),
          "overlapped": timed(overlapped)}
    doc = {"device": torch.cuda.get_device_name(dev), "torch": torch.__version__, "T": T,
           "what": __doc__.split("\n\n")[1].replace("\n", " "), "tile": TILE, "layers_per_call": args.layers,
           "reps": args.reps, "ms_per_layer": {k: round(v, 3) for k, v in ms.items()},
           "saved_ms_per_layer": round(ms["serial"] - ms["overlapped"], 3)}
    print(json.dumps(doc["ms_per_layer"]), "saved", doc["saved_ms_per_layer"])
    write_json(Path(args.out) / "census_overlap_probe.json", doc)


if __name__ == "__main__":
    main()
