"""The Hopper (Gluon) census kernel on an sm90 GPU: its numbers against the torch path, and its time beside the
Triton candidates.

    python benchmarks/check_census_sm90.py --out $OUT/census_sm90.json

1. Exactness: on random bf16 q/k (token-major and head-major, GQA, head dims 64 and 128, several lengths), every
   Gluon candidate's statistics (colsum, entropy, row max, first mass) against :func:`stats_torch` in float32 and
   against the first Triton candidate; largest relative difference per output (max |diff| / max |reference|).
2. Time: the tuner's own timing of every statistics candidate at T = 32k and 128k (Llama-2-7B attention shape:
   H = 32, d = 128, token-major), beside cuDNN's attention forward with lse on the same q/k/v; what the tuner
   would choose.

Records numbers and asserts nothing (the CPU tests assert what a CPU can check); a Gluon candidate that disagrees is
listed under its tuner ``errors`` and never chosen.
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from sinkviz.census import kernels, tuning  # noqa: E402


def qk(B: int, H: int, Hkv: int, T: int, d: int, layout: str, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random bf16 q (B, H, T, d) and k (B, Hkv, T, d) laid out as a projection leaves them (or head-major)."""
    g = torch.Generator(device="cuda").manual_seed(seed)

    def make(heads: int) -> torch.Tensor:
        if layout == "tokens":
            return torch.randn(B, T, heads, d, device="cuda", generator=g).to(torch.bfloat16).transpose(1, 2)
        return torch.randn(B, heads, T, d, device="cuda", generator=g).to(torch.bfloat16)

    return make(H), make(Hkv)


def relative(out: kernels.LayerStats, ref: kernels.LayerStats) -> dict[str, float]:
    fields = ("colsum", "entropy", "rowmax", "first_mass")
    return {f: tuning.disagreement((getattr(out, f),), (getattr(ref, f),)) for f in fields}


def exactness() -> list[dict]:
    rows = []
    triton_default = tuning.STATS_CANDIDATES[0]
    for (B, H, Hkv, T, d, layout) in [(1, 4, 4, 128, 64, "tokens"), (2, 4, 2, 1024, 128, "tokens"),
                                      (1, 8, 2, 4096, 128, "heads"), (1, 4, 4, 2048, 64, "heads"),
                                      (1, 32, 32, 8192, 128, "tokens")]:
        q, k = qk(B, H, Hkv, T, d, layout, seed=T + d)
        scaling = 1 / math.sqrt(d)
        ref = kernels.stats_torch(q.float(), k.float(), scaling=scaling, causal=True)
        lse = ref.lse
        tri = kernels.stats_triton(q, k, scaling=scaling, causal=True, lse=lse, config=triton_default)
        row = {"shape": [B, H, Hkv, T, d], "layout": layout,
               "triton_default_vs_torch": relative(tri, ref), "gluon": {}}
        for config in (c for c in tuning.STATS_CANDIDATES if c.engine == "gluon"):
            name = tuning._name(config)
            try:
                out = kernels.stats_triton(q, k, scaling=scaling, causal=True, lse=lse, config=config)
                row["gluon"][name] = {"vs_torch": relative(out, ref), "vs_triton": relative(out, tri)}
            except Exception as e:  # noqa: BLE001 - record and go on: this is what the check is for
                row["gluon"][name] = {"error": f"{type(e).__name__}: {str(e)[:300]}"}
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def cudnn_forward_ms(q: torch.Tensor, k: torch.Tensor) -> float:
    from torch.nn.attention import SDPBackend, sdpa_kernel

    v = k.clone()
    times = []
    with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
        for _ in range(4):
            start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            torch.ops.aten._scaled_dot_product_cudnn_attention(q, k, v, None, True, 0.0, True, False)
            stop.record()
            stop.synchronize()
            times.append(start.elapsed_time(stop))
    return statistics.median(times[1:])


def timing() -> dict:
    import os

    os.environ["SINKVIZ_CENSUS_GLUON"] = "1"  # the tuner times the Gluon candidates only when asked to
    out = {}
    for T in (32768, 131072):
        q, k = qk(1, 32, 32, T, 128, "tokens", seed=1)
        lse = kernels.lse_triton(q, k, scaling=1 / math.sqrt(128), causal=True)
        call = kernels.TritonCall(q, k, 1 / math.sqrt(128), True, None, None,
                                  torch.ones(1, T, dtype=torch.int8, device="cuda"), True, 4, None)
        record = tuning._time_candidates(call, "stats", lse)
        record["cudnn_attention_forward_ms"] = cudnn_forward_ms(q, k)
        out[str(T)] = record
        print(T, json.dumps(record), flush=True)
        del q, k, lse
        torch.cuda.empty_cache()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    import triton

    doc = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "triton": triton.__version__,
           "what": __doc__.split("\n\n")[1].strip()}
    doc["exactness"] = exactness()
    doc["timing"] = timing()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
