"""GPU correctness of the census on tiny random models of several families (CUDA, Triton backend).

    python benchmarks/gpu_check_census.py --out benchmarks/results/census_gpu_check.json

For each family (GQA + right padding, sliding windows, q/k-norm, bidirectional) and dtype (fp32, bf16):
* same trajectory: a census forward with the model's eager attention (attn_output="eager"), Triton statistics vs the
  float32 torch statistics and vs the eager forward's own attention probabilities;
* default path: SDPA/cuDNN output with the fused op's lse (where it applies) vs the eager probabilities.
Prints and writes max abs errors; asserts nothing (the CPU tests assert; this records the GPU numbers).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "integration"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import test_census_families as tf  # noqa: E402
from sinkviz.census import Census  # noqa: E402


def err(a, b):
    return float(np.nanmax(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="benchmarks/results/census_gpu_check.json")
    ap.add_argument("--device", default="cuda", help="cpu for a dry run (the Triton rows then need TRITON_INTERPRET=1)")
    args = ap.parse_args()
    dev = torch.device(args.device)
    out = {"device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu", "torch": torch.__version__, "families": {}}
    for fam in ("llama", "mistral", "qwen3", "gemma3", "bert"):
        for dtype in (torch.float32, torch.bfloat16):
            model = tf.build(fam).to(dev, dtype)
            ids, mask = tf.batch()
            ids, mask = ids.to(dev), mask.to(dev)
            ref, _ = tf.eager_reference(model, ids, mask)
            row = {}
            for name, kw in {"triton_eager_out": dict(backend="triton", attn_output="eager"),
                             "torch_eager_out": dict(backend="torch", attn_output="eager"),
                             "triton_default": dict(backend="triton")}.items():
                c = Census(model, seq_len=tf.T, n_keys=tf.N_KEYS, **kw)
                c.add(ids, mask)
                r = c.result()
                row[name] = {
                    "lse_source": r.meta["lse_source"],
                    "alpha_vs_eager": err(r.alpha, ref["alpha"][..., : tf.N_KEYS]),
                    "entropy_vs_eager": err(r.entropy, ref["entropy"]),
                    "row_max_vs_eager": err(r.row_max, ref["row_max"]),
                    "first_mass_vs_eager": err(r.first_mass, ref["first_mass"]),
                    "_alpha": r.alpha,
                    "_entropy": r.entropy,
                }
            row["triton_vs_torch_same_trajectory"] = {
                "alpha": err(row["triton_eager_out"]["_alpha"], row["torch_eager_out"]["_alpha"]),
                "entropy": err(row["triton_eager_out"]["_entropy"], row["torch_eager_out"]["_entropy"]),
            }
            for v in row.values():
                v.pop("_alpha", None)
                v.pop("_entropy", None)
            key = f"{fam}/{str(dtype).replace('torch.', '')}"
            out["families"][key] = row
            print(key, json.dumps(row), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
