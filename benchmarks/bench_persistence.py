"""Persistence speed for the explorer (issue 5, "Speed"): all heads of one layer at T = 256.

    python benchmarks/bench_persistence.py [--out benchmarks/results/persistence.json] [--repeats 3]

For each T in (64, 128, 256) it times, per layer, the corrected Vietoris–Rips persistence (H0 + H1) of every
head's map — with ripser (the reference) and giotto-ph (``gph.ripser_parallel``, same diagrams, threads) when
installed — plus the published persistence of the head average (≤ 30 tokens, always cheap). Maps come from
SmolLM2 (embedded) on a long text built from the shipped STEM sentences, layers 0, 14 and 29; if the model is
not installed, from seeded random causal softmax maps with a sink. Also checks that both backends give the
same diagrams. Timings are printed and written to JSON with the machine named; nothing is asserted.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from _timing import median_seconds  # noqa: E402  (benchmarks/, the script's own folder)
from sinkviz.metrics import topology  # noqa: E402
from sinkviz.metrics import toy_attention as toy  # noqa: E402


def _maps(T: int) -> tuple[str, dict[int, np.ndarray]]:
    try:
        import sinkviz
        from sinkviz import ruscio

        m = sinkviz.load("smollm2-135m", progress=False)
        text = " ".join(ruscio.stem_texts())
        ids = m.tokenizer(text, return_tensors="pt")["input_ids"][:, :T]
        tr = sinkviz.trace(m, ids, layers=[0, 14, 29], capture=("attn",))
        return "smollm2-135m", {l: tr.attention_stack(0)[i].astype(np.float64) for i, l in enumerate(tr.layers)}
    except Exception as exc:  # model not installed: synthetic maps
        print(f"(SmolLM2 unavailable: {exc}; using random causal maps)")
        return "random-causal", {l: np.stack([toy.random_causal_attention(T, seed=100 * l + h, sink_logit=3.0, scale=2.0)
                                              for h in range(9)]) for l in (0, 14, 29)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="benchmarks/results/persistence.json")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    giotto = topology.giotto_available()
    rows = []
    for T in (64, 128, 256):
        source, maps = _maps(T)
        for layer, stack in maps.items():
            heads = stack.shape[0]
            row = {"T": int(stack.shape[-1]), "layer": layer, "heads": heads, "source": source}
            row["ripser_all_heads_s"] = median_seconds(
                lambda: [topology.persistence_corrected(a) for a in stack], args.repeats)
            row["published_head_average_s"] = median_seconds(
                lambda: topology.persistence_published(stack.mean(0)), args.repeats)
            if giotto:
                row["giotto_all_heads_s"] = median_seconds(
                    lambda: [topology.persistence_corrected(a, backend="giotto", n_threads=args.threads) for a in stack],
                    args.repeats)
                same = True
                for a in stack:
                    r = topology.persistence_corrected(a)
                    g = topology.persistence_corrected(a, backend="giotto", n_threads=args.threads)
                    for dr, dg in zip(r.dgms, g.dgms):
                        same &= dr.shape == dg.shape and np.allclose(np.sort(dr, axis=0), np.sort(dg, axis=0), atol=1e-6)
                row["giotto_same_diagrams"] = bool(same)
            print(json.dumps(row))
            rows.append(row)
    result = {"machine": {"node": platform.node(), "processor": platform.processor() or platform.machine(),
                          "cpus": os.cpu_count(), "python": platform.python_version(), "load_avg": os.getloadavg()},
              "giotto_threads": args.threads if giotto else None, "rows": rows}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2))
    os.replace(tmp, out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
