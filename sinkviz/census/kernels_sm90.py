"""The census statistics kernel for Hopper (sm90) in Gluon: each tile's exponentials overlap the next tile's QKᵀ.

Triton 3.6 waits for every Hopper matrix product before the exponentials that read it (its pipeliner keeps a product
in flight only when another product's accumulator is all that reads it), so the tensor cores and the exponential
unit of :func:`sinkviz.census.kernels._stats_kernel` take turns. Here the loop issues the product of key tile j + 1
(asynchronous ``wgmma``), then waits until only that one is in flight (``warpgroup_mma_wait(num_outstanding=1)``) and
exponentiates tile j meanwhile, as FlashAttention-3 overlaps its softmax within a warpgroup. Key tiles arrive by TMA
into a ring of shared-memory slots, ``NUM_STAGES`` ahead.

It computes what the Triton kernel computes, in the same arithmetic (scores as float32 products of the bf16/fp16
inputs, a = s·scale·log2(e) − lse₂, p = exp2(a)), for the case the census runs on long texts: causal, no window, no
padding mask, every query valid, length a multiple of the tiles, head dimension 64 or 128, inputs laid out as a
model's projections are (token-major or head-major). :func:`supports` says whether a call is one; with
``SINKVIZ_CENSUS_GLUON=1`` the tuner times this kernel beside the Triton candidates and keeps it only when its outputs
match theirs (:func:`sinkviz.census.tuning.gluon_enabled`).
"""
from __future__ import annotations

import torch

try:  # pragma: no cover - exercised on a Hopper GPU and by the sm90 compile test
    from triton.experimental import gluon
    from triton.experimental.gluon import language as gl
    from triton.experimental.gluon.language.nvidia.hopper import mbarrier, tma, warpgroup_mma, warpgroup_mma_wait
    from triton.experimental.gluon.nvidia.hopper import TensorDescriptor
    _HAVE_GLUON = True
except Exception:  # noqa: BLE001 - pragma: no cover - CPU-only installs ship no triton (or an older one)
    _HAVE_GLUON = False

#: Head dimensions the kernel is built for (one TMA box and one wgmma K extent each).
HEAD_DIMS = (64, 128)


def layout_of(x: torch.Tensor) -> str | None:
    """How a (B, heads, T, d) tensor lies in memory: "tokens" ((B, T, heads, d) contiguous, as a projection's output
    is before its transpose), "heads" ((B, heads, T, d) contiguous), or None (neither: the kernel does not take it)."""
    B, heads, T, d = x.shape
    if x.stride() == (T * heads * d, d, heads * d, 1):
        return "tokens"
    if x.stride() == (heads * T * d, T * d, d, 1):
        return "heads"
    return None


def supports(q: torch.Tensor, k: torch.Tensor, *, causal: bool, window: int | None, has_mask: bool,
             q_valid_all: bool, block_m: int, block_n: int) -> str | None:
    """None when the kernel can compute this call; otherwise why not (the tuner records it)."""
    if not _HAVE_GLUON:
        return "triton.experimental.gluon is not importable"
    if q.device.type != "cuda" or torch.cuda.get_device_capability(q.device) != (9, 0):
        return "needs an sm90 (Hopper) GPU"
    if q.dtype not in (torch.bfloat16, torch.float16) or k.dtype != q.dtype:
        return f"needs bf16 or fp16 inputs, not {q.dtype}"
    if not causal or window is not None or has_mask or not q_valid_all:
        return "needs a plain causal call (no window, no padding mask, every query valid)"
    T, d = q.shape[2], q.shape[3]
    if d not in HEAD_DIMS:
        return f"head dimension {d} is not one of {HEAD_DIMS}"
    if T % block_m or T % block_n:
        return f"length {T} is not a multiple of the tiles ({block_m} x {block_n})"
    if layout_of(q) is None or layout_of(k) != layout_of(q):
        return "q and k must both be token-major or both head-major and contiguous in d"
    if q.data_ptr() % 16 or k.data_ptr() % 16:
        return "q and k must be 16-byte aligned"
    return None


def _descriptor(x: torch.Tensor, block_rows: int) -> TensorDescriptor:
    """A 2D TMA descriptor over ``x``'s rows of d elements: (B·T, heads·d) token-major, (B·heads·T, d) head-major."""
    B, heads, T, d = x.shape
    rows = x.transpose(1, 2).reshape(B * T, heads * d) if layout_of(x) == "tokens" else x.reshape(B * heads * T, d)
    layout = gl.NVMMASharedLayout.get_default_for([block_rows, d], gl.bfloat16 if x.dtype == torch.bfloat16
                                                  else gl.float16)
    return TensorDescriptor(rows, list(rows.shape), list(rows.stride()), [block_rows, d], layout)


def launch(q: torch.Tensor, k: torch.Tensor, lse: torch.Tensor, out: tuple[torch.Tensor, ...], *, qk_scale: float,
           n_first: int, block_m: int, block_n: int, num_warps: int, num_stages: int, fold_rows: bool = False) -> None:
    """Fill ``out`` = (colsum (zeroed), entropy, row max, first-keys mass), each (B, H, T) float32, for a call that
    :func:`supports` accepts; ``qk_scale`` is the softmax scale times log2(e), ``lse`` the natural-log row lse;
    ``fold_rows``: the running max and entropy sums kept for half a tile, as in the Triton kernel."""
    B, H, T, d = q.shape
    Hkv = k.shape[1]
    _stats_kernel_sm90[(T // block_m, B * H)](
        _descriptor(q, block_m), _descriptor(k, block_n), lse, *out, H, H // Hkv, T, qk_scale, n_first,
        TOKEN_MAJOR=layout_of(q) == "tokens", BLOCK_M=block_m, BLOCK_N=block_n, HEAD_DIM=d, NUM_STAGES=num_stages,
        FOLD=fold_rows, num_warps=num_warps)


if _HAVE_GLUON:

    @gluon.jit
    def _tile_stats(s, start_n, start_m, lse2, qk_scale, N_FIRST, colsum_ptr, m2, ps, fm,
                    BLOCK_M: gl.constexpr, BLOCK_N: gl.constexpr, layout: gl.constexpr, FOLD: gl.constexpr):
        """One (BLOCK_N keys x BLOCK_M queries) tile of scores sᵀ: a = log2 p, p = exp2(a); the element-wise
        running max of a and sum of p·a, the first-keys mass, and the per-key sums of p added into ``colsum``."""
        offs_n = start_n + gl.arange(0, BLOCK_N, layout=gl.SliceLayout(1, layout))
        offs_m = start_m + gl.arange(0, BLOCK_M, layout=gl.SliceLayout(0, layout))
        a = s * qk_scale - gl.expand_dims(lse2, 0)
        if start_n + BLOCK_N > start_m + 1:  # the tile crosses the diagonal: keys after a query are not seen
            valid = gl.expand_dims(offs_n, 1) <= gl.expand_dims(offs_m, 0)
            a = gl.where(valid, a, float("-inf"))
            p = gl.exp2(a)
            pa = gl.where(valid, p * a, 0.0)
        else:
            p = gl.exp2(a)
            pa = p * a
        if FOLD:  # rows r and r + 8 of the product tile are one thread's: fold them before accumulating
            m2 = gl.maximum(m2, gl.max(gl.reshape(a, (BLOCK_N // 16, 2, 8, BLOCK_M)), axis=1))
            ps = ps + gl.sum(gl.reshape(pa, (BLOCK_N // 16, 2, 8, BLOCK_M)), axis=1)
        else:
            m2 = gl.maximum(m2, a)
            ps = ps + pa
        if start_n < N_FIRST:
            fm = fm + gl.sum(gl.where(gl.expand_dims(offs_n, 1) < N_FIRST, p, 0.0), axis=0)
        gl.atomic_add(colsum_ptr + offs_n, gl.sum(p, axis=1), sem="relaxed")
        return m2, ps, fm

    @gluon.jit
    def _refill(k_desc, k_smem, k_bars, t, n_tiles, k_row, k_col, BLOCK_N: gl.constexpr, NUM_STAGES: gl.constexpr):
        """Tile t's product is done, so its slot takes tile t + NUM_STAGES (if there is one) by TMA."""
        refill = t + NUM_STAGES
        slot = t % NUM_STAGES
        mbarrier.expect(k_bars.index(slot), k_desc.block_type.nbytes, pred=refill < n_tiles)
        tma.async_copy_global_to_shared(k_desc, [k_row + (n_tiles - 1 - refill) * BLOCK_N, k_col], k_bars.index(slot),
                                        k_smem.index(slot), pred=refill < n_tiles)

    @gluon.jit
    def _stats_kernel_sm90(q_desc, k_desc, LSE, COLSUM, ENT, RMAX, FMASS, H, N_REP, T, qk_scale, N_FIRST,
                           TOKEN_MAJOR: gl.constexpr, BLOCK_M: gl.constexpr, BLOCK_N: gl.constexpr,
                           HEAD_DIM: gl.constexpr, NUM_STAGES: gl.constexpr, FOLD: gl.constexpr,
                           num_warps: gl.constexpr):
        """Grid (query blocks, B·H), the longest (last) query blocks first; key tiles from the diagonal backwards."""
        pid_m = gl.num_programs(0) - 1 - gl.program_id(0)
        bh = gl.program_id(1)
        b = bh // H
        h = bh % H
        hk = h // N_REP
        start_m = pid_m * BLOCK_M
        if TOKEN_MAJOR:
            q_row = b * T + start_m
            q_col = h * HEAD_DIM
            k_row = b * T
            k_col = hk * HEAD_DIM
        else:
            q_row = bh * T + start_m
            q_col = 0
            k_row = (b * (H // N_REP) + hk) * T
            k_col = 0

        # keys as the rows of each product (sᵀ = k qᵀ): the per-key sums are row sums, within a warp; a second
        # warpgroup (8 warps) takes the other half of the queries
        layout: gl.constexpr = gl.NVMMADistributedLayout(version=[3, 0], warps_per_cta=[4, num_warps // 4],
                                                         instr_shape=[16, BLOCK_M // (num_warps // 4), 16])
        q_smem = gl.allocate_shared_memory(q_desc.dtype, q_desc.block_type.shape, q_desc.layout)
        k_smem = gl.allocate_shared_memory(k_desc.dtype, [NUM_STAGES] + k_desc.block_type.shape, k_desc.layout)
        q_bar = gl.allocate_shared_memory(gl.int64, [1], mbarrier.MBarrierLayout())
        k_bars = gl.allocate_shared_memory(gl.int64, [NUM_STAGES, 1], mbarrier.MBarrierLayout())
        mbarrier.init(q_bar, count=1)
        for i in gl.static_range(NUM_STAGES):
            mbarrier.init(k_bars.index(i), count=1)

        n_tiles = gl.cdiv(start_m + BLOCK_M, BLOCK_N)  # keys past the block's last query are masked
        mbarrier.expect(q_bar, q_desc.block_type.nbytes)
        tma.async_copy_global_to_shared(q_desc, [q_row, q_col], q_bar, q_smem)
        for i in gl.static_range(NUM_STAGES):  # tile i is key block n_tiles - 1 - i
            mbarrier.expect(k_bars.index(i), k_desc.block_type.nbytes, pred=i < n_tiles)
            tma.async_copy_global_to_shared(k_desc, [k_row + (n_tiles - 1 - i) * BLOCK_N, k_col], k_bars.index(i),
                                            k_smem.index(i), pred=i < n_tiles)

        row_base = bh.to(gl.int64) * T
        colsum_ptr = COLSUM + row_base
        offs_m = start_m + gl.arange(0, BLOCK_M, layout=gl.SliceLayout(0, layout))
        lse2 = gl.load(LSE + row_base + offs_m) * 1.4426950408889634
        lse2 = gl.where(lse2 == float("-inf"), float("inf"), lse2)  # a row that sees nothing has p = 0
        m2 = gl.full([BLOCK_N, BLOCK_M], float("-inf"), gl.float32, layout)
        ps = gl.zeros([BLOCK_N, BLOCK_M], gl.float32, layout)
        if FOLD:  # the folded accumulators take the layout the fold of a product tile has
            m2 = gl.max(gl.reshape(m2, (BLOCK_N // 16, 2, 8, BLOCK_M)), axis=1)
            ps = gl.sum(gl.reshape(ps, (BLOCK_N // 16, 2, 8, BLOCK_M)), axis=1)
        fm = gl.zeros([BLOCK_M], gl.float32, gl.SliceLayout(0, layout))

        mbarrier.wait(q_bar, 0)
        q_t = q_smem.permute((1, 0))
        # Two accumulators take turns (unrolled by two), so that no register copy reads a product still in flight
        # (ptxas would then serialise the products). Tile t is key block n_tiles - 1 - t, in slot t % NUM_STAGES.
        mbarrier.wait(k_bars.index(0), 0)
        s_a = warpgroup_mma(k_smem.index(0), q_t, gl.zeros([BLOCK_N, BLOCK_M], gl.float32, layout), use_acc=False,
                            is_async=True)
        for pair in range(0, (n_tiles - 1) // 2):
            t = 2 * pair
            mbarrier.wait(k_bars.index((t + 1) % NUM_STAGES), ((t + 1) // NUM_STAGES) & 1)
            s_b = warpgroup_mma(k_smem.index((t + 1) % NUM_STAGES), q_t,
                                gl.zeros([BLOCK_N, BLOCK_M], gl.float32, layout), use_acc=False, is_async=True)
            ready = warpgroup_mma_wait(num_outstanding=1, deps=(s_a,))
            _refill(k_desc, k_smem, k_bars, t, n_tiles, k_row, k_col, BLOCK_N, NUM_STAGES)
            m2, ps, fm = _tile_stats(ready, (n_tiles - 1 - t) * BLOCK_N, start_m, lse2, qk_scale, N_FIRST, colsum_ptr,
                                     m2, ps, fm, BLOCK_M, BLOCK_N, layout, FOLD)
            mbarrier.wait(k_bars.index((t + 2) % NUM_STAGES), ((t + 2) // NUM_STAGES) & 1)
            s_a = warpgroup_mma(k_smem.index((t + 2) % NUM_STAGES), q_t,
                                gl.zeros([BLOCK_N, BLOCK_M], gl.float32, layout), use_acc=False, is_async=True)
            ready = warpgroup_mma_wait(num_outstanding=1, deps=(s_b,))
            _refill(k_desc, k_smem, k_bars, t + 1, n_tiles, k_row, k_col, BLOCK_N, NUM_STAGES)
            m2, ps, fm = _tile_stats(ready, (n_tiles - 2 - t) * BLOCK_N, start_m, lse2, qk_scale, N_FIRST, colsum_ptr,
                                     m2, ps, fm, BLOCK_M, BLOCK_N, layout, FOLD)
        # one or two tiles are left; the first of them is in flight in s_a
        t = 2 * ((n_tiles - 1) // 2)
        if n_tiles - t == 2:
            mbarrier.wait(k_bars.index((t + 1) % NUM_STAGES), ((t + 1) // NUM_STAGES) & 1)
            last = warpgroup_mma(k_smem.index((t + 1) % NUM_STAGES), q_t,
                                 gl.zeros([BLOCK_N, BLOCK_M], gl.float32, layout), use_acc=False, is_async=True)
            ready = warpgroup_mma_wait(num_outstanding=1, deps=(s_a,))
            m2, ps, fm = _tile_stats(ready, BLOCK_N, start_m, lse2, qk_scale, N_FIRST, colsum_ptr, m2, ps, fm,
                                     BLOCK_M, BLOCK_N, layout, FOLD)
            ready = warpgroup_mma_wait(num_outstanding=0, deps=(last,))
            m2, ps, fm = _tile_stats(ready, 0, start_m, lse2, qk_scale, N_FIRST, colsum_ptr, m2, ps, fm,
                                     BLOCK_M, BLOCK_N, layout, FOLD)
        else:
            ready = warpgroup_mma_wait(num_outstanding=0, deps=(s_a,))
            m2, ps, fm = _tile_stats(ready, 0, start_m, lse2, qk_scale, N_FIRST, colsum_ptr, m2, ps, fm,
                                     BLOCK_M, BLOCK_N, layout, FOLD)

        mbarrier.invalidate(q_bar)
        for i in gl.static_range(NUM_STAGES):
            mbarrier.invalidate(k_bars.index(i))
        if FOLD:  # once per program: back to the layout of the query offsets
            row_max2 = gl.convert_layout(gl.max(gl.max(m2, axis=0), axis=0), gl.SliceLayout(0, layout))
            row_pa = gl.convert_layout(gl.sum(gl.sum(ps, axis=0), axis=0), gl.SliceLayout(0, layout))
        else:
            row_max2 = gl.max(m2, axis=0)
            row_pa = gl.sum(ps, axis=0)
        gl.store(ENT + row_base + offs_m, gl.where(lse2 == float("inf"), 0.0, row_pa * -0.6931471805599453))
        gl.store(RMAX + row_base + offs_m, gl.exp2(row_max2))
        gl.store(FMASS + row_base + offs_m, fm)
