"""The README's benchmark tables quote the committed benchmark JSON: every census row, as printed."""
from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def census_table() -> dict[int, list[str]]:
    """README rows '| 32k | 1.344 | 1.763 | **1.31** | 0.00 |' -> {32768: ['1.344', '1.763', '1.31', '0.00']}."""
    rows = {}
    for line in (ROOT / "README.md").read_text().splitlines():
        match = re.match(r"\| (\d+)k \| ([\d.]+) \| ([\d.]+) \| \**([\d.]+)\** \| \**([\d.]+)\**", line)
        if match:
            rows[int(match.group(1)) * 1024] = list(match.groups()[1:])
    return rows


def test_readme_census_table_is_the_committed_public_api_run():
    doc = json.loads((ROOT / "benchmarks/results/census.json").read_text())
    assert doc["path"] == "public-api" and doc["device"] == "NVIDIA H200"
    table = census_table()
    assert sorted(table) == [r["T"] for r in doc["rows"]]
    for row in doc["rows"]:
        printed = [f"{row['plain_s']:.3f}", f"{row['census_s']:.3f}", f"{row['census_ratio']:.2f}",
                   f"{max(row['census_extra_gib'], 0.0):.2f}"]
        assert table[row["T"]] == printed, row["T"]
    ratio = {row["T"]: row["census_ratio"] for row in doc["rows"]}
    assert ratio[32768] > 1.3 and ratio[131072] <= 1.6  # the README's "not met" at 32k and "met" at 128k
    assert all(r["census_ratio"] > 1.3 for r in doc["repeat_32k"]["rows"])
