"""The statistics kernel as Triton compiles it for Hopper (sm90), checked on a CPU: its key loads are pipelined."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import triton  # noqa: F401  (installed by `make test`: the test extras pin it)

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "inspect_sm90.py"


def load_inspector():
    spec = importlib.util.spec_from_file_location("inspect_sm90", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_default_stats_candidate_pipelines_its_key_loads_on_sm90():
    from sinkviz.census.tuning import STATS_CANDIDATES

    inspector = load_inspector()
    events = inspector.schedule(inspector.compile_stats(STATS_CANDIDATES[0]).asm["ttgir"])
    loops = [i for i, event in enumerate(events) if event == "scf.for"]
    assert len(loops) == 2  # the masked tiles at the diagonal, then the whole tiles below it
    whole_tiles = events[loops[1]:]
    # the next tiles' keys are copied to shared memory while this tile is processed (num_stages - 1 in flight)
    assert "async_copy_global_to_local" in whole_tiles and "async_wait" in whole_tiles
    assert events[:loops[0]].count("async_copy_global_to_local") == STATS_CANDIDATES[0].num_stages - 1
    assert whole_tiles.index("warp_group_dot") < whole_tiles.index("math.exp2")


def _gluon_reports(inspector) -> dict:
    from sinkviz.census.tuning import STATS_CANDIDATES

    return {c: inspector.ptxas_report(inspector.compile_stats_gluon(c).asm["ptx"])
            for c in STATS_CANDIDATES if c.engine == "gluon"}


def test_gluon_candidates_keep_a_product_in_flight():
    """The Hopper (Gluon) candidates as ptxas assembles them for sm_90a: each waits with one product still in flight
    (wgmma.wait_group 1) while it exponentiates the tile before, and ptxas did not serialise the products (note
    C7514). The unfolded candidates spill nothing; the folded 64 x 64 tiles on one warpgroup spill under 128 bytes."""
    inspector = load_inspector()
    reports = _gluon_reports(inspector)
    assert len(reports) == 7
    for config, report in reports.items():
        spill_limit = 128 if (config.fold_rows and config.block_m == 64) else 0
        assert report["spill_bytes"] <= spill_limit and report["registers"] <= 255, (config, report)
        assert report["serialised"] == [], (config, report)
        assert 1 in report["wait_depths"] and report["wait_depths"][-1] == 0, (config, report)


def test_gluon_register_counts_the_readme_quotes():
    """The README's numbers for the Gluon tiles as ptxas assembles them: the unfolded candidates use 205–219
    registers and a 64 x 64 tile on 4 warps (not a candidate) spills 1.7 kB; folded, that tile spills 88-96 bytes and
    the 32 x 64 tile needs 155 registers."""
    from sinkviz.census.kernels import KernelConfig
    from sinkviz.census.tuning import STATS_CANDIDATES

    inspector = load_inspector()
    reports = _gluon_reports(inspector)
    registers = [r["registers"] for c, r in reports.items() if not c.fold_rows]
    assert (min(registers), max(registers)) == (205, 219)
    spilling = KernelConfig(64, 64, 4, 3, True, blocks_first=True, engine="gluon")
    assert spilling not in STATS_CANDIDATES
    spilled = inspector.ptxas_report(inspector.compile_stats_gluon(spilling).asm["ptx"])["spill_bytes"]
    assert round(spilled / 1000, 1) == 1.7
    folded = {(c.block_m, c.num_stages): r for c, r in reports.items() if c.fold_rows}
    assert 88 <= folded[(64, 3)]["spill_bytes"] <= 96 and 88 <= folded[(64, 4)]["spill_bytes"] <= 96
    assert folded[(32, 3)]["registers"] == 155 and folded[(32, 3)]["spill_bytes"] == 0


def test_folded_candidates_fit_more_programs_per_multiprocessor():
    """Why the folded candidates exist, as ptxas assembles them for sm_90a: the unfolded tile uses 250-255 registers
    (two 128-thread programs per multiprocessor); folded, a cap of 168 registers (three programs) spills little,
    where the unfolded tile under the same cap spills over a kilobyte."""
    from sinkviz.census.kernels import KernelConfig
    from sinkviz.census.tuning import STATS_CANDIDATES

    inspector = load_inspector()

    def report(config):
        return inspector.ptxas_report(inspector.compile_stats(config).asm["ptx"])

    folded = [c for c in STATS_CANDIDATES if c.fold_rows and c.engine == "triton"]
    assert [(c.num_stages, c.max_registers) for c in folded] == [(3, None), (3, 168), (2, 128)]
    capped = report(folded[1])
    assert capped["registers"] <= 168 and capped["spill_bytes"] <= 128, capped
    unfolded = report(KernelConfig(64, 64, 4, 3, True, blocks_first=True, max_registers=168))
    assert unfolded["spill_bytes"] > 1000, unfolded
    assert report(KernelConfig(64, 64, 4, 3, True, blocks_first=True))["registers"] >= 250


def test_the_fold_is_register_arithmetic():
    """The folded axis of the (BLOCK_N // 16, 2, 8, BLOCK_M) view lies in each thread's registers (Triton's linear
    layout for the reshaped product tile), and the key-tile loops convert no more layouts than the unfolded kernel's."""
    import re

    from sinkviz.census.kernels import KernelConfig

    inspector = load_inspector()

    def loop_ops(fold: bool) -> tuple[str, str]:
        ttgir = inspector.compile_stats(KernelConfig(64, 64, 4, 3, True, blocks_first=True, fold_rows=fold)).asm["ttgir"]
        lines = ttgir.splitlines()
        start = next(i for i, line in enumerate(lines) if "scf.for" in line)
        end = max(i for i, line in enumerate(lines) if "scf.yield" in line)
        return ttgir, "\n".join(lines[start:end])

    folded, folded_loops = loop_ops(True)
    _, plain_loops = loop_ops(False)
    assert folded_loops.count("tt.reshape") == 4  # a and p·a, in each of the two key-tile loops
    assert folded_loops.count("convert_layout") == plain_loops.count("convert_layout")
    (layout,) = re.findall(r"^#linear\w* = #ttg\.linear<\{register = (\[.*?\]\]), lane", folded, re.M)
    assert "[0, 1, 0, 0]" in layout  # the fold axis (dimension 1) is one of the register bases
