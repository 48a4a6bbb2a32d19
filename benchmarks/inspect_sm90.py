"""Compile the census statistics kernel for Hopper (sm90) on a machine without a GPU and print how Triton scheduled
its key-tile loops: pipelined key loads (async copies), matrix products, and the waits after them.

    python benchmarks/inspect_sm90.py [--block-m 64 --block-n 64 --warps 4 --stages 4 --queries-as-rows]
                                      [--fold-rows --max-registers 168] [--ttgir F]
    python benchmarks/inspect_sm90.py --gluon [--block-m 32 --block-n 64 --warps 4 --stages 3]

``--gluon`` compiles the Gluon kernel (``sinkviz.census.kernels_sm90``) instead, down to machine code with the
ptxas that Triton ships, and prints its registers, spills, the ``wgmma.wait_group`` depths of its PTX, and any
ptxas note that it serialised the products (what would undo the overlap).

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


def launch_signature(fn, constexprs: dict, descriptors: dict[str, str] | None = None) -> tuple[dict, dict]:
    """(signature, attributes) of ``fn`` as a 32k launch specialises it: pointers and integers divisible by 16 are
    marked so, an integer equal to 1 becomes a constant (added to ``constexprs``), TMA descriptors as given."""
    signature, attrs = {}, {}
    for i, name in enumerate(fn.arg_names):
        if descriptors and name in descriptors:
            signature[name] = descriptors[name]
        elif name in POINTERS:
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
    return signature, attrs


def compile_stats(config: kernels.KernelConfig) -> triton.compiler.CompiledKernel:
    """The statistics kernel for a causal bf16 launch with head dim 128, compiled for sm90 (no GPU needed)."""
    constexprs = dict(CAUSAL=True, HAS_WINDOW=False, HAS_MASK=False, HEAD_DIM=D, BLOCK_M=config.block_m,
                      BLOCK_N=config.block_n, ALL_VALID=True, IEEE=False, PAD_D=False,
                      KEYS_AS_ROWS=config.keys_as_rows, BLOCKS_FIRST=config.blocks_first, FOLD_ROWS=config.fold_rows)
    signature, attrs = launch_signature(kernels._stats_kernel, constexprs)
    source = ASTSource(fn=kernels._stats_kernel, signature=signature, constexprs=constexprs, attrs=attrs)
    options = dict(num_warps=config.num_warps, num_stages=config.num_stages)
    if config.max_registers is not None:
        options["maxnreg"] = config.max_registers
    return triton.compile(source, target=GPUTarget("cuda", 90, 32), options=options)


def compile_stats_gluon(config: kernels.KernelConfig) -> triton.compiler.CompiledKernel:
    """The Gluon statistics kernel as the 32k launch specialises it (token-major bf16, head dim 128), for sm90."""
    from triton.experimental.gluon import language as gl
    from triton.experimental.gluon._runtime import GluonASTSource

    from sinkviz.census import kernels_sm90

    def descriptor(rows: int) -> str:
        return f"tensordesc<bf16[{rows}, {D}],{gl.NVMMASharedLayout.get_default_for([rows, D], gl.bfloat16)}>"

    fn = kernels_sm90._stats_kernel_sm90
    constexprs = dict(TOKEN_MAJOR=True, BLOCK_M=config.block_m, BLOCK_N=config.block_n, HEAD_DIM=D,
                      NUM_STAGES=config.num_stages, FOLD=config.fold_rows, num_warps=config.num_warps)
    signature, attrs = launch_signature(fn, constexprs, {"q_desc": descriptor(config.block_m),
                                                         "k_desc": descriptor(config.block_n)})
    source = GluonASTSource(fn=fn, signature=signature, constexprs=constexprs, attrs=attrs)
    return triton.compile(source, target=GPUTarget("cuda", 90, 32), options=dict(num_warps=config.num_warps))


def ptxas_report(ptx: str) -> dict:
    """Registers, spilled bytes and serialisation notes of ``ptx`` assembled for sm_90a by Triton's own ptxas."""
    import subprocess
    import tempfile

    from triton.backends.nvidia.compiler import get_ptxas

    ptxas = get_ptxas(90)
    ptxas = getattr(ptxas, "path", ptxas)
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "kernel.ptx"
        source.write_text(ptx)
        done = subprocess.run([ptxas, "-arch=sm_90a", "-v", str(source), "-o", str(Path(tmp) / "kernel.cubin")],
                              capture_output=True, text=True, check=True)
    log = done.stdout + done.stderr
    registers = int(re.search(r"Used (\d+) registers", log).group(1))
    spills = sum(int(n) for n in re.findall(r"(\d+) bytes spill (?:stores|loads)", log))
    return {"registers": registers, "spill_bytes": spills,
            "serialised": [line.strip() for line in log.splitlines() if "C7514" in line or "C7517" in line],
            "wait_depths": [int(n) for n in re.findall(r"wgmma\.wait_group\.sync\.aligned (\d+)", ptx)]}


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
    parser.add_argument("--fold-rows", action="store_true", help="accumulators of half a tile (keys as rows)")
    parser.add_argument("--max-registers", type=int, help="register cap per thread (Triton's maxnreg)")
    parser.add_argument("--ttgir", type=Path, help="also write the TTGIR listing here")
    parser.add_argument("--gluon", action="store_true", help="the Gluon (Hopper) kernel instead")
    args = parser.parse_args()
    if args.gluon:
        config = kernels.KernelConfig(args.block_m, args.block_n, args.warps, args.stages, True, blocks_first=True,
                                      engine="gluon", fold_rows=args.fold_rows)
        compiled = compile_stats_gluon(config)
        print(f"{config}: shared memory {compiled.metadata.shared} bytes; {ptxas_report(compiled.asm['ptx'])}")
        return
    config = kernels.KernelConfig(args.block_m, args.block_n, args.warps, args.stages, not args.queries_as_rows,
                                  blocks_first=True, fold_rows=args.fold_rows, max_registers=args.max_registers)
    compiled = compile_stats(config)
    ttgir = compiled.asm["ttgir"]
    if args.ttgir:
        args.ttgir.write_text(ttgir)
    print(f"{config}: shared memory {compiled.metadata.shared} bytes; {ptxas_report(compiled.asm['ptx'])}")
    print(" -> ".join(schedule(ttgir)))


if __name__ == "__main__":
    main()
