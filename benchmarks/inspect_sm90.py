"""Compile the census statistics kernel for Hopper (sm90) on a machine without a GPU and print how Triton scheduled
its key-tile loops: pipelined key loads (async copies), matrix products, and the waits after them.

    python benchmarks/inspect_sm90.py [--block-m 64 --block-n 64 --warps 4 --stages 4 --queries-as-rows] [--ttgir F]

The kernel is specialised as a 32k-token Llama-2-7B launch is (pointers and strides divisible by 16, N_REP = 1):
without those hints Triton vectorises no load and pipelines none, so the listing would not be the one that runs.
A product followed by ``warp_group_dot_wait {pendings = 0}`` is waited for before anything after it runs: its
exponentials cannot overlap it.
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

from sinkviz.census import kernels

T, H, D = 32768, 32, 128
INTS = dict(stride_qb=T * H * D, stride_qh=D, stride_qt=H * D, stride_kb=T * H * D, stride_kh=D, stride_kt=H * D,
            stride_mb=0, stride_mq=0, H=H, N_REP=1, T=T, WINDOW=0, N_FIRST=4, D=D)
POINTERS = {"Q": "*bf16", "K": "*bf16", "LSE": "*fp32", "COLSUM": "*fp32", "ENT": "*fp32", "RMAX": "*fp32",
            "FMASS": "*fp32", "MASK": "*i8", "QVALID": "*i8", "KVLO": "*i32", "KVHI": "*i32"}
EVENTS = ("scf.for", "async_copy_global_to_local", "async_wait", "warp_group_dot_wait", "warp_group_dot ",
          "math.exp2", "atomic_rmw")


def compile_stats(config: kernels.KernelConfig) -> triton.compiler.CompiledKernel:
    """The statistics kernel for a causal bf16 launch with head dim 128, compiled for sm90 (no GPU needed)."""
    constexprs = dict(CAUSAL=True, HAS_WINDOW=False, HAS_MASK=False, HEAD_DIM=D, BLOCK_M=config.block_m,
                      BLOCK_N=config.block_n, ALL_VALID=True, IEEE=False, PAD_D=False,
                      KEYS_AS_ROWS=config.keys_as_rows, BLOCKS_FIRST=config.blocks_first)
    signature, attrs = {}, {}
    for i, name in enumerate(kernels._stats_kernel.arg_names):
        if name in POINTERS:
            signature[name], attrs[(i,)] = POINTERS[name], [["tt.divisibility", 16]]
        elif name == "qk_scale":
            signature[name] = "fp32"
        elif name in constexprs:
            signature[name] = "constexpr"
        elif INTS[name] == 1:  # Triton specialises an int argument equal to 1 as a constant
            signature[name], constexprs[name] = "constexpr", 1
        else:
            signature[name] = "i32"
            if INTS[name] % 16 == 0:
                attrs[(i,)] = [["tt.divisibility", 16]]
    source = ASTSource(fn=kernels._stats_kernel, signature=signature, constexprs=constexprs, attrs=attrs)
    return triton.compile(source, target=GPUTarget("cuda", 90, 32),
                          options=dict(num_warps=config.num_warps, num_stages=config.num_stages))


def schedule(ttgir: str) -> list[str]:
    """The loop events of a TTGIR listing, in order ('wait(0)' is a wait for every product in flight)."""
    events = []
    for line in ttgir.splitlines():
        for key in EVENTS:
            if key in line:
                pendings = re.search(r"pendings = (\d+)", line)
                events.append(key.strip() + (f"({pendings.group(1)})" if pendings else ""))
                break
    return events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--block-m", type=int, default=64)
    parser.add_argument("--block-n", type=int, default=64)
    parser.add_argument("--warps", type=int, default=4)
    parser.add_argument("--stages", type=int, default=4)
    parser.add_argument("--queries-as-rows", action="store_true")
    parser.add_argument("--ttgir", type=Path, help="also write the TTGIR listing here")
    args = parser.parse_args()
    config = kernels.KernelConfig(args.block_m, args.block_n, args.warps, args.stages, not args.queries_as_rows,
                                  blocks_first=True)
    compiled = compile_stats(config)
    ttgir = compiled.asm["ttgir"]
    if args.ttgir:
        args.ttgir.write_text(ttgir)
    print(f"{config}: shared memory {compiled.metadata.shared} bytes")
    print(" -> ".join(schedule(ttgir)))


if __name__ == "__main__":
    main()
