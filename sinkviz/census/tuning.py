"""Kernel configurations for the census's Triton kernels: timed once per device, head dim, dtype, length and mask.

The fastest tile shape depends on the GPU, the head dimension, the dtype and the length (a sweep on an H200 found
the default of the first census release 55 % slower per kernel at 32k than the best shape). So the first launch
for each key times a few candidates on the real inputs (the first sample, every head: a slice of the heads misses
how programs of different heads share the L2 cache at long lengths), keeps the fastest, and caches it in memory and in ``census_kernels.json`` under the
sinkviz cache folder (``$SINKVIZ_CACHE``), so later processes on the same machine skip the timing.

Keys: device name and compute capability, Triton version, kernel ("stats" or "lse"), padded head dimension, dtype,
length rounded up to a power of two, and the mask pattern (causal, sliding window, dense mask, all queries valid).
``SINKVIZ_CENSUS_TUNE=0`` skips the timing and uses the first candidate; under Triton's interpreter (CPU tests) the
interpreter's small tiles are used.
"""
from __future__ import annotations

import json
import math
import os
import statistics
import threading
from typing import Any

import torch

from sinkviz.census.kernels import KernelConfig, TritonCall

#: Candidates for the statistics kernel (block_m, block_n, warps, stages, keys_as_rows); the first is the default.
STATS_CANDIDATES = (
    KernelConfig(64, 64, 4, 3, True),
    KernelConfig(64, 64, 4, 3, True, blocks_first=True),
    KernelConfig(128, 64, 4, 4, False),
    KernelConfig(128, 64, 4, 4, False, blocks_first=True),
    KernelConfig(64, 128, 8, 3, True),
    KernelConfig(128, 64, 8, 3, True),
    KernelConfig(64, 64, 4, 4, True, blocks_first=True),
    # accumulators folded to half a tile and a register cap: compiled for sm90, these fit 3 (168 registers, 120 bytes
    # spilled) or 4 (128, 580 bytes with two stages) programs on a multiprocessor where the tiles above fit 2 (250-255
    # registers); on one H200 the capped-at-168 tile was the fastest at 32k and 128k (census_sm90.json)
    KernelConfig(64, 64, 4, 3, True, blocks_first=True, fold_rows=True),
    KernelConfig(64, 64, 4, 3, True, blocks_first=True, fold_rows=True, max_registers=168),
    KernelConfig(64, 64, 4, 2, True, blocks_first=True, fold_rows=True, max_registers=128),
    # the Hopper kernel (kernels_sm90), tried only where it takes the call and only when gluon_enabled(); tiles
    # that ptxas fits in registers
    KernelConfig(64, 64, 8, 3, True, blocks_first=True, engine="gluon"),
    KernelConfig(64, 64, 8, 4, True, blocks_first=True, engine="gluon"),
    KernelConfig(32, 64, 4, 3, True, blocks_first=True, engine="gluon"),
    KernelConfig(32, 64, 4, 4, True, blocks_first=True, engine="gluon"),
    # folded (see fold_rows): a 64 x 64 tile on one warpgroup spills 88-96 bytes instead of 1.7 kB; the 32 x 64 tile
    # needs 155 registers instead of 205 (three programs per multiprocessor instead of two)
    KernelConfig(64, 64, 4, 3, True, blocks_first=True, engine="gluon", fold_rows=True),
    KernelConfig(64, 64, 4, 4, True, blocks_first=True, engine="gluon", fold_rows=True),
    KernelConfig(32, 64, 4, 3, True, blocks_first=True, engine="gluon", fold_rows=True),
)
#: A candidate whose outputs differ from the first candidate's by more than this (largest difference over the
#: largest value, per output) is not chosen: a kernel is only as fast as it is right.
AGREEMENT = 1e-4
#: Part of the cache key: a new candidate list is timed again instead of read from an older cache.
CANDIDATES_VERSION = 3
#: Candidates for the lse kernel (used where the attention op returns no lse).
LSE_CANDIDATES = (
    KernelConfig(128, 64, 4, 4),
    KernelConfig(128, 64, 8, 3),
    KernelConfig(64, 64, 4, 3),
)
#: Tiles for Triton's interpreter (CPU tests): small, so that test inputs span several tiles.
INTERPRETER = KernelConfig(16, 16, 1, 1)
_REPEATS = 3
CACHE_FILE = "census_kernels.json"

_lock = threading.Lock()
_memory: dict[str, dict] = {}
_disk_loaded = False
#: What the last choices were (key -> record), for benchmarks and result metadata.
chosen: dict[str, dict] = {}


def gluon_enabled() -> bool:
    """Whether the Hopper (Gluon) candidates are timed: only with ``SINKVIZ_CENSUS_GLUON=1``. On one H200 they were
    exact but slower than the fastest Triton tile (13.0 against 11.1 ms a layer at 32k, 207 against 194 ms at 128k;
    ``benchmarks/results/census_sm90.json``), so timing them by default would lengthen every first census call for
    nothing."""
    return os.environ.get("SINKVIZ_CENSUS_GLUON") == "1"


def candidates(kind: str) -> tuple[KernelConfig, ...]:
    if kind != "stats":
        return LSE_CANDIDATES
    return STATS_CANDIDATES if gluon_enabled() else tuple(c for c in STATS_CANDIDATES if c.engine != "gluon")


def cache_key(call: TritonCall, kind: str) -> str:
    """The key a tuned configuration is stored under."""
    import triton

    B, H, Hkv, T, d = call.shape
    dev = call.q.device
    name = torch.cuda.get_device_name(dev).replace("|", "/")
    major, minor = torch.cuda.get_device_capability(dev)
    flags = call.flags()
    pattern = "".join(k[0] if v else "-" for k, v in (("causal", flags["CAUSAL"]), ("window", flags["HAS_WINDOW"]),
                                                      ("mask", flags["HAS_MASK"]), ("valid", call.q_valid_all)))
    bucket = 1 << max(9, math.ceil(math.log2(max(T, 2))))
    dtype = str(call.q.dtype).replace("torch.", "")
    return f"{name}|sm{major}{minor}|triton{triton.__version__}|{kind}|d{max(16, 1 << (d - 1).bit_length())}|" \
           f"{dtype}|T{bucket}|{pattern}|v{CANDIDATES_VERSION}{'g' if gluon_enabled() else ''}"


def choose(call: TritonCall, kind: str, lse: torch.Tensor | None = None) -> KernelConfig:
    """The configuration for ``call``'s ``kind`` kernel ("stats" or "lse"): cached, or timed now."""
    if os.environ.get("TRITON_INTERPRET") == "1":
        return INTERPRETER
    if os.environ.get("SINKVIZ_CENSUS_TUNE", "1") == "0":
        return candidates(kind)[0]
    key = cache_key(call, kind)
    with _lock:
        _load_disk()
        record = _memory.get(key)
    if record is None:
        record = _time_candidates(call, kind, lse)
        with _lock:
            _memory[key] = record
            _save_disk()
    chosen[key] = record
    return KernelConfig(**record["config"])


def _time_candidates(call: TritonCall, kind: str, lse: torch.Tensor | None) -> dict:
    """Time every candidate on the first sample of ``call``; the fastest wins.
    Candidates the compiler rejects (shared memory, registers) or that do not take the call are skipped, and so is
    a statistics candidate whose outputs disagree with those of the first candidate that ran (:data:`AGREEMENT`)."""
    part = _slice(call)
    B, H, _, T, _ = part.shape
    dev = part.q.device
    lse_part = torch.zeros(B, H, T, dtype=torch.float32, device=dev) if lse is None else lse[:1, :H].contiguous()
    outs = (torch.zeros(B, H, T, dtype=torch.float32, device=dev),
            *(torch.empty(B, H, T, dtype=torch.float32, device=dev) for _ in range(3)))
    times: dict[str, float] = {}
    errors: dict[str, str] = {}
    best: tuple[float, KernelConfig] | None = None
    reference: tuple[torch.Tensor, ...] | None = None  # the outputs of the first candidate that ran
    reference_name = ""
    for cfg in candidates(kind):
        name = _name(cfg)
        try:
            run = (lambda c=cfg: part.launch_lse(lse_part, c)) if kind == "lse" else \
                (lambda c=cfg: part.launch_stats(lse_part, outs, c))
            if kind == "stats":  # one clean run (zeroed column sums) to check against the first candidate
                outs[0].zero_()
                run()
                result = tuple(o.clone() for o in outs)
                if reference is None:
                    reference, reference_name = result, name
                else:
                    off = disagreement(result, reference)
                    if off > AGREEMENT:
                        errors[name] = f"outputs differ from {reference_name}'s by {off:.2e} (relative)"
                        continue
            run()  # compile and warm up
            torch.cuda.synchronize(dev)
            ms = []
            for _ in range(_REPEATS):
                start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                run()
                stop.record()
                stop.synchronize()
                ms.append(start.elapsed_time(stop))
        except Exception as e:  # noqa: BLE001 - a config this GPU or compiler cannot run: try the next
            errors[name] = f"{type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''}"
            continue
        times[name] = statistics.median(ms)
        if best is None or times[name] < best[0]:
            best = (times[name], cfg)
    if best is None:
        raise RuntimeError(f"no census kernel configuration runs here: {errors}")
    return {"config": best[1].as_dict(), "ms": times, "errors": errors, "timed_on": list(part.shape)}


def disagreement(outputs: tuple[torch.Tensor, ...], reference: tuple[torch.Tensor, ...]) -> float:
    """The largest, over outputs, of max |output - reference| / max(max |reference|, 1e-30); NaN counts as
    infinitely far."""
    worst = 0.0
    for out, ref in zip(outputs, reference):
        diff = (out.double() - ref.double()).abs().nan_to_num(nan=float("inf")).max().item()
        worst = max(worst, diff / max(ref.double().abs().max().item(), 1e-30))
    return worst


def _slice(call: TritonCall) -> TritonCall:
    """The first sample of ``call`` (every head): what the candidates are timed on."""
    ranges = call.kv_ranges
    sliced_ranges = None if ranges is None else (lambda bm: tuple(x[:1] for x in ranges(bm)))
    return TritonCall(call.q[:1], call.k[:1], call.scaling, call.causal, call.window,
                      None if call.mask_i8 is None else call.mask_i8[:1], call.qv8[:1], call.q_valid_all,
                      call.n_first, sliced_ranges)


def _name(cfg: KernelConfig) -> str:
    return (f"{'gluon-' if cfg.engine == 'gluon' else ''}{cfg.block_m}x{cfg.block_n}w{cfg.num_warps}"
            f"s{cfg.num_stages}{'k' if cfg.keys_as_rows else 'q'}{'b' if cfg.blocks_first else ''}"
            f"{'f' if cfg.fold_rows else ''}{'' if cfg.max_registers is None else f'r{cfg.max_registers}'}")


def _cache_path():
    from sinkviz.models import cache_dir

    return cache_dir() / CACHE_FILE


def _load_disk() -> None:
    global _disk_loaded
    if _disk_loaded:
        return
    _disk_loaded = True
    try:
        stored = json.loads(_cache_path().read_text())
    except (OSError, ValueError):
        return
    if isinstance(stored, dict):
        for key, record in stored.items():
            if isinstance(record, dict) and isinstance(record.get("config"), dict):
                _memory.setdefault(key, record)


def _save_disk() -> None:
    """Write the cache; a read-only or missing cache folder only costs the timing again in the next process."""
    from sinkviz._files import write_json

    path = _cache_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json(path, dict(_memory), overwrite=True)
    except (OSError, TypeError, ValueError):
        pass


def forget() -> None:
    """Drop the configurations kept in memory (the file stays); the next launch per key is timed again unless the
    file has it."""
    global _disk_loaded
    with _lock:
        _memory.clear()
        chosen.clear()
        _disk_loaded = False


def summary() -> dict[str, Any]:
    """The configurations chosen in this process so far: key -> {config, ms per candidate, errors}."""
    return {key: dict(record) for key, record in chosen.items()}
