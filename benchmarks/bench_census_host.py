"""Host time of a census result at long lengths: ``RunningSums.arrays`` (what ``Census.result()`` calls) beside the
stacking of per-layer float64 sums that it replaced, in one process on a Llama-2-7B-shaped census (32 layers x 32
heads); prints and saves benchmarks/results/census_host.json. CPU only: no GPU is involved in this step."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import numpy as np

from _timing import median_seconds  # benchmarks/, the script's own folder
from sinkviz._files import write_json
from sinkviz.census.engine import RunningSums

LAYERS, HEADS = 32, 32


def main() -> None:
    rows = []
    for T in (32768, 131072):
        sums = RunningSums(T, 10, 32, range(LAYERS))
        sums.totals = sums.zero_sums(HEADS)
        for total in sums.totals.values():
            total += 1.0  # touch every page, as the helper thread's additions do
        per_layer = {name: [total[i].copy() for i in range(LAYERS)] for name, total in sums.totals.items()}
        stacked_s = median_seconds(lambda: {name: np.stack(arrays) for name, arrays in per_layer.items()})
        arrays_s = median_seconds(lambda: sums.arrays(list(range(LAYERS)), HEADS))
        rows.append({"T": T, "per_key_sums_gib": 2 * sums.totals["alpha_sum"].nbytes / 2**30,
                     "stack_per_layer_sums_s": round(stacked_s, 4), "arrays_s": round(arrays_s, 4)})
        print(json.dumps(rows[-1]), flush=True)
        del per_layer, sums
    write_json(Path(__file__).parent / "results" / "census_host.json",
               {"machine": f"{platform.machine()} {platform.processor() or ''}".strip(), "cpus": os.cpu_count(),
                "load_average_before": os.getloadavg(),
                "what": "median of 3 calls: the old way (np.stack of 32 layers' float64 (H, T) and (T,) sums, as "
                        "Census.result() did before) beside RunningSums.arrays on totals held stacked (a view)",
                "shape": {"layers": LAYERS, "heads": HEADS}, "rows": rows})


if __name__ == "__main__":
    main()
