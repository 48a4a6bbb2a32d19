"""Streaming attention statistics without a T x T matrix: a chunked torch path and Triton kernels.

For one attention layer with post-RoPE queries ``q`` (B, H, T, d) and un-repeated keys ``k`` (B, Hkv, T, d), query head
``h`` using KV head ``h // (H // Hkv)``, the logits are ``s_ij = scale * q_i . k_j`` (optionally soft-capped,
``cap * tanh(s / cap)``), plus the mask (-inf where key j is hidden from query i). With the row log-sum-exp
``lse_i = log sum_j exp(s_ij)`` the probabilities are ``p_ij = exp(s_ij - lse_i)``, and every function here returns

* ``colsum``  (B, H, T): sum over *valid* queries i of p_ij (padded queries excluded) -- alpha_j = colsum_j / count_j;
* ``count``   (B, T): number of valid queries that may see key j (same for every head);
* ``entropy`` (B, H, T): row entropy -sum_j p_ij log p_ij = sum_j p_ij (lse_i - s_ij) (nats);
* ``rowmax``  (B, H, T): max_j p_ij = exp(max_j s_ij - lse_i);
* ``first_mass`` (B, H, T): sum_{j < n_first} p_ij, the mass a row puts on the first positions;
* ``lse``     (B, H, T): the natural-log row log-sum-exp.

Row statistics of padded query rows are returned as computed and must be ignored by the caller (``q_valid``).

Two implementations:

* :func:`stats_torch` -- chunks of query rows against all the keys they may see, in float32. Exact (the whole row is in
  the chunk, so the row lse is known before the probabilities are formed); works on any device and for any mask,
  soft-capping and learned sink logits. Memory: one (H, chunk, T) float32 block at a time.
* :func:`stats_triton` -- CUDA. A row-direction kernel in the style of flash attention without the PV product: each
  program owns a block of query rows, walks the key blocks those rows may see, forms exp(s - lse) tile by tile, keeps
  the row statistics in registers and adds the column sums into ``colsum`` with atomics. The lse comes either from the
  attention forward (flash attention returns it) or from a first pass of the same kernel in lse mode.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

import torch

LOG2E = 1.4426950408889634

__all__ = [
    "LayerStats",
    "stats_torch",
    "stats_triton",
    "key_counts",
    "triton_available",
    "mask_key_ranges",
    "forward_with_lse",
    "math_reference_lse",
]


@dataclass
class LayerStats:
    """Per-layer streaming statistics for one batch (see the module docstring for each field)."""

    colsum: torch.Tensor  # (B, H, T) float32
    count: torch.Tensor  # (B, T) float32
    entropy: torch.Tensor  # (B, H, T) float32
    rowmax: torch.Tensor  # (B, H, T) float32
    first_mass: torch.Tensor  # (B, H, T) float32
    lse: torch.Tensor  # (B, H, T) float32


def _mask_allows(mask: torch.Tensor) -> torch.Tensor:
    """Boolean 'key visible' view of an HF mask (bool: True = visible; float additive: > finfo.min / 2)."""
    if mask.dtype == torch.bool:
        return mask
    return mask > torch.finfo(mask.dtype).min / 2


def _structural_allowed(qpos: torch.Tensor, kpos: torch.Tensor, causal: bool, window: int | None) -> torch.Tensor:
    """(C, Tk) bool: key kpos visible from query qpos under a causal and/or sliding-window pattern (HF conventions:
    causal j <= i; sliding window j > i - window for causal layers, |i - j| < window for bidirectional ones)."""
    i = qpos[:, None]
    j = kpos[None, :]
    allowed = torch.ones(i.shape[0], j.shape[1], dtype=torch.bool, device=qpos.device)
    if causal:
        allowed &= j <= i
        if window is not None:
            allowed &= j > i - window
    elif window is not None:
        allowed &= (i - j).abs() < window
    return allowed


def _key_range(a: int, e: int, T: int, causal: bool, window: int | None, has_mask: bool) -> tuple[int, int]:
    """Keys [lo, hi) that queries [a, e) may see under the structural pattern (the whole row when a dense mask rules)."""
    if has_mask:
        return 0, T
    if causal:
        lo = 0 if window is None else max(0, a - window + 1)
        return lo, e
    if window is not None:
        return max(0, a - window + 1), min(T, e + window - 1)
    return 0, T


def _mask_block(mask: torch.Tensor, b: int, a: int, e: int, lo: int, hi: int) -> torch.Tensor:
    """Slice of an HF mask (Bm, Hm, Tq, Tk) for sample b, queries [a, e), keys [lo, hi) -> (Hm, C, hi - lo)."""
    mb = mask[b if mask.shape[0] > 1 else 0]
    return mb[:, a:e, lo:hi]


def key_counts(
    T: int,
    *,
    causal: bool,
    window: int | None = None,
    mask: torch.Tensor | None = None,
    q_valid: torch.Tensor | None = None,
    batch: int = 1,
    device: torch.device | str = "cpu",
    chunk: int = 1024,
) -> torch.Tensor:
    """Number of valid queries that see each key: (B, T) float32.

    count_j = sum_i q_valid_i * allowed(i, j), where ``allowed`` comes from the dense mask when one is given (HF masks
    already hold the causal/window/padding pattern), else from ``causal``/``window``.
    """
    if q_valid is None:
        q_valid = torch.ones(batch, T, dtype=torch.bool, device=device)
    B = q_valid.shape[0]
    device = q_valid.device
    if mask is None:
        # prefix sums: count_j = sum of q_valid over the queries i whose pattern shows key j
        qv = q_valid.to(torch.float64)
        c = torch.nn.functional.pad(qv.cumsum(-1), (1, 0))  # c[:, n] = sum_{i < n} qv_i
        j = torch.arange(T, device=device)

        def span(first, last):  # sum over i in [first, last] (inclusive, clipped)
            first = first.clamp(0, T)
            last = (last + 1).clamp(0, T)
            return (c[:, last] - c[:, first]).clamp_min(0)

        if causal:
            last = j + (window - 1) if window is not None else torch.full_like(j, T - 1)
            counts = span(j, last)
        elif window is not None:
            counts = span(j - (window - 1), j + (window - 1))
        else:
            counts = c[:, T:].expand(B, T)
        return counts.to(torch.float32).contiguous()
    counts = torch.zeros(B, T, dtype=torch.float32, device=device)
    for b in range(B):
        for a in range(0, T, chunk):
            e = min(T, a + chunk)
            allowed = _mask_allows(_mask_block(mask, b, a, e, 0, T)).any(0)  # (C, T), any over mask heads
            counts[b] += q_valid[b, a:e].to(torch.float32) @ allowed.to(torch.float32)
    return counts


def stats_torch(
    q: torch.Tensor, k: torch.Tensor, *, scaling: float,
    causal: bool = True, window: int | None = None, mask: torch.Tensor | None = None,
    softcap: float | None = None, sinks: torch.Tensor | None = None,
    q_valid: torch.Tensor | None = None, n_first: int = 4, chunk_elems: int = 1 << 24,
    count: torch.Tensor | None = None,
) -> LayerStats:
    """Exact streaming statistics by chunks of query rows, in float32 (any device, any mask).

    Args:
        q: (B, H, T, d) post-RoPE queries. k: (B, Hkv, T, d) post-RoPE keys, H % Hkv == 0.
        scaling: the logit scale the model uses (``module.scaling``).
        causal, window: the structural pattern, used when ``mask`` is None (HF passes None when the pattern is plain
            causal or full). ``window`` follows HF: a causal query i sees keys i - window < j <= i.
        mask: an HF attention mask (B or 1, 1 or H, T, T), bool (True = visible) or float additive. When given, it is
            the whole pattern (``causal``/``window`` only narrow nothing).
        softcap: logits become softcap * tanh(logits / softcap) before masking (Gemma 2).
        sinks: (H,) learned sink logits that join each row's softmax and are then dropped (GPT-OSS); the rows of p
            then sum to 1 - exp(sink - lse), and entropy / row max are those of the returned (token) rows,
            -sum_j p_ij log p_ij and max_j p_ij, as a dense computation on the model's attention would give.
        q_valid: (B, T) bool, False for padded query rows (excluded from ``colsum`` and ``count``).
        n_first: the row mass on keys j < n_first goes to ``first_mass``.
        chunk_elems: the size of one (H, chunk, keys) float32 block; lower it to save memory.
        count: precomputed :func:`key_counts` (the same for every layer that shares a mask).
    """
    B, H, T, d = q.shape
    Hkv = k.shape[1]
    if H % Hkv:
        raise ValueError(f"query heads ({H}) must be a multiple of key heads ({Hkv})")
    rep = H // Hkv
    dev = q.device
    if q_valid is None:
        q_valid = torch.ones(B, T, dtype=torch.bool, device=dev)
    q_valid = q_valid.to(dev)
    colsum = torch.zeros(B, H, T, dtype=torch.float32, device=dev)
    ent = torch.zeros(B, H, T, dtype=torch.float32, device=dev)
    rmax = torch.zeros(B, H, T, dtype=torch.float32, device=dev)
    fmass = torch.zeros(B, H, T, dtype=torch.float32, device=dev)
    lse_out = torch.zeros(B, H, T, dtype=torch.float32, device=dev)
    pos = torch.arange(T, device=dev)
    sink_logit = None if sinks is None else sinks.to(dev, torch.float32).view(H, 1)
    rows = max(1, min(T, chunk_elems // max(1, H * T)))
    for b in range(B):
        kb = k[b].to(torch.float32)  # (Hkv, T, d)
        qb = q[b].to(torch.float32)  # (H, T, d)
        for a in range(0, T, rows):
            e = min(T, a + rows)
            lo, hi = _key_range(a, e, T, causal, window, mask is not None)
            qc = qb[:, a:e].reshape(Hkv, rep, e - a, d)
            s = torch.matmul(qc, kb[:, lo:hi].transpose(-1, -2).unsqueeze(1)).reshape(H, e - a, hi - lo)
            s = s * scaling
            if softcap is not None:
                s = torch.tanh(s / softcap) * softcap
            if mask is None:
                allowed = _structural_allowed(pos[a:e], pos[lo:hi], causal, window).unsqueeze(0)  # (1, C, Tk)
                s = s.masked_fill(~allowed, float("-inf"))
            else:
                mblk = _mask_block(mask, b, a, e, lo, hi)
                if mblk.dtype == torch.bool:
                    s = s.masked_fill(~mblk, float("-inf"))
                else:
                    s = s + mblk.to(torch.float32)
                    s = s.masked_fill(~_mask_allows(mblk), float("-inf"))
            smax = s.amax(-1)  # (H, C)
            if sink_logit is not None:
                smax = torch.maximum(smax, sink_logit.expand_as(smax))
            safe_max = torch.where(torch.isfinite(smax), smax, torch.zeros_like(smax))
            z = torch.exp(s - safe_max.unsqueeze(-1)).sum(-1)
            if sink_logit is not None:
                z = z + torch.exp(sink_logit - safe_max)
            lse = safe_max + torch.log(z)  # (H, C); -inf for rows that see nothing
            p = torch.exp(s - lse.unsqueeze(-1))
            p = torch.nan_to_num(p, nan=0.0)
            # entropy as sum p * (lse - s): every term >= 0, no cancellation for peaked rows
            # (with sink logits, entropy and max run over the token columns only, as in the rows the model returns)
            h = torch.where(p > 0, p * (lse.unsqueeze(-1) - s), torch.zeros_like(p)).sum(-1)
            lse_out[b, :, a:e] = lse
            ent[b, :, a:e] = h
            rmax[b, :, a:e] = torch.exp(s.amax(-1) - lse)
            if lo < n_first:
                fmass[b, :, a:e] = p[..., : max(0, min(n_first, hi) - lo)].sum(-1)
            qv = q_valid[b, a:e].to(torch.float32)
            colsum[b, :, lo:hi] += torch.einsum("hck,c->hk", p, qv)
    if count is None:
        count = key_counts(T, causal=causal, window=window, mask=mask, q_valid=q_valid)
    return LayerStats(colsum, count, torch.nan_to_num(ent), torch.nan_to_num(rmax), fmass, lse_out)


# ----------------------------------------------------------------------------------------------------------------------
# Triton (CUDA)
# ----------------------------------------------------------------------------------------------------------------------

try:  # pragma: no cover - exercised on the GPU machine and under TRITON_INTERPRET=1
    import triton
    import triton.language as tl

    _HAVE_TRITON = True
except Exception:  # noqa: BLE001 - triton is optional (CPU-only installs)
    triton = None
    tl = None
    _HAVE_TRITON = False


def triton_available(device: torch.device | str | None = None) -> bool:
    """True when the Triton kernels can run for tensors on ``device`` (CUDA and triton importable)."""
    if not _HAVE_TRITON:
        return False
    if os.environ.get("TRITON_INTERPRET") == "1":
        return True
    dev = torch.device(device) if device is not None else None
    return torch.cuda.is_available() and (dev is None or dev.type == "cuda")


if _HAVE_TRITON:

    @triton.jit
    def _tile(
        q, k_base, stride_kt, start_n, offs_m, offs_d, T, qk_scale, WINDOW, N_FIRST,
        mask_row_ptr, stride_mq, row_ok, lse2, qv, colsum_ptr,
        m_i, l_i, m2, ps, fm,
        MODE: tl.constexpr, MASKED: tl.constexpr, CAUSAL: tl.constexpr, HAS_WINDOW: tl.constexpr,
        HAS_MASK: tl.constexpr, BLOCK_N: tl.constexpr, ALL_VALID: tl.constexpr, IEEE: tl.constexpr,
        D, PAD_D: tl.constexpr,
    ):
        """One (BLOCK_M x BLOCK_N) tile: logits in the log2 domain, then lse accumulation (MODE 0) or statistics
        (MODE 1). Unmasked tiles (MASKED False) lie wholly inside every row's visible range."""
        offs_n = start_n + tl.arange(0, BLOCK_N)
        if MASKED:
            col_ok = offs_n < T
            if PAD_D:
                k = tl.load(k_base + offs_n[:, None] * stride_kt + offs_d[None, :],
                            mask=col_ok[:, None] & (offs_d[None, :] < D), other=0.0)
            else:
                k = tl.load(k_base + offs_n[:, None] * stride_kt + offs_d[None, :], mask=col_ok[:, None], other=0.0)
        elif PAD_D:
            k = tl.load(k_base + offs_n[:, None] * stride_kt + offs_d[None, :], mask=offs_d[None, :] < D, other=0.0)
        else:
            k = tl.load(k_base + offs_n[:, None] * stride_kt + offs_d[None, :])
        if IEEE:
            s = tl.dot(q, tl.trans(k), input_precision="ieee") * qk_scale
        else:
            s = tl.dot(q, tl.trans(k)) * qk_scale
        if MASKED:
            valid = col_ok[None, :] & row_ok[:, None]
            if CAUSAL:
                valid = valid & (offs_n[None, :] <= offs_m[:, None])
            if HAS_WINDOW:
                if CAUSAL:
                    valid = valid & (offs_n[None, :] > offs_m[:, None] - WINDOW)
                else:
                    valid = valid & (tl.abs(offs_m[:, None] - offs_n[None, :]) < WINDOW)
            if HAS_MASK:
                mv = tl.load(
                    mask_row_ptr + offs_m[:, None] * stride_mq + offs_n[None, :],
                    mask=row_ok[:, None] & col_ok[None, :],
                    other=0,
                )
                valid = valid & (mv != 0)
            s = tl.where(valid, s, float("-inf"))
        if MODE == 0:
            m_new = tl.maximum(m_i, tl.max(s, 1))
            m_safe = tl.where(m_new == float("-inf"), 0.0, m_new)
            l_i = l_i * tl.exp2(m_i - m_safe) + tl.sum(tl.exp2(s - m_safe[:, None]), 1)
            m_i = m_new
        else:
            p = tl.exp2(s - lse2[:, None])
            m2 = tl.maximum(m2, tl.max(s, 1))
            h = p * (lse2[:, None] - s)  # entropy terms, all >= 0 (no cancellation)
            if MASKED:
                h = tl.where(valid, h, 0.0)
            ps += tl.sum(h, 1)
            if start_n < N_FIRST:
                fm += tl.sum(tl.where(offs_n[None, :] < N_FIRST, p, 0.0), 1)
            if ALL_VALID:
                col = tl.sum(p, 0)
            else:
                col = tl.sum(p * qv[:, None], 0)
            if MASKED:
                tl.atomic_add(colsum_ptr + offs_n, col, mask=col_ok, sem="relaxed")
            else:
                tl.atomic_add(colsum_ptr + offs_n, col, sem="relaxed")
        return m_i, l_i, m2, ps, fm

    @triton.jit
    def _census_kernel(
        Q, K, LSE, COLSUM, ENT, RMAX, FMASS, MASK, QVALID, KVLO, KVHI,
        stride_qb, stride_qh, stride_qt,
        stride_kb, stride_kh, stride_kt,
        stride_mb, stride_mh, stride_mq,
        H, N_REP, T, qk_scale, WINDOW, N_FIRST, D,
        MODE: tl.constexpr,  # 0: compute lse; 1: statistics given lse
        CAUSAL: tl.constexpr,
        HAS_WINDOW: tl.constexpr,
        HAS_MASK: tl.constexpr,
        HEAD_DIM: tl.constexpr,
        BLOCK_M: tl.constexpr,
        BLOCK_N: tl.constexpr,
        ALL_VALID: tl.constexpr,
        IEEE: tl.constexpr,
        PAD_D: tl.constexpr,  # HEAD_DIM (a power of two >= 16, as tl.dot needs) > D: the extra lanes load as 0
    ):
        # grid (B*H, query blocks): concurrent programs mostly work on different heads (different colsum rows), the
        # longest (last) query blocks start first, and key tiles run from the diagonal backwards, so programs rarely
        # add into the same column sums at the same time
        bh = tl.program_id(0)
        pid_m = tl.num_programs(1) - 1 - tl.program_id(1)
        b = bh // H
        h = bh % H
        kvh = h // N_REP
        start_m = pid_m * BLOCK_M
        offs_m = start_m + tl.arange(0, BLOCK_M)
        offs_d = tl.arange(0, HEAD_DIM)
        row_ok = offs_m < T
        q_ptrs = Q + b * stride_qb + h * stride_qh + offs_m[:, None] * stride_qt + offs_d[None, :]
        if PAD_D:
            q = tl.load(q_ptrs, mask=row_ok[:, None] & (offs_d[None, :] < D), other=0.0)
        else:
            q = tl.load(q_ptrs, mask=row_ok[:, None], other=0.0)
        k_base = K + b * stride_kb + kvh * stride_kh
        mask_row_ptr = MASK + b * stride_mb
        row_base = bh.to(tl.int64) * T
        colsum_ptr = COLSUM + row_base
        # key range [lo, hi) of this query block, and [lo_full, hi_full) of tiles no row needs masking in
        if HAS_MASK:
            nqb = tl.cdiv(T, BLOCK_M)
            lo = tl.load(KVLO + b * nqb + pid_m)
            hi = tl.load(KVHI + b * nqb + pid_m)
            lo = (lo // BLOCK_N) * BLOCK_N
            lo_full = lo
            hi_full = lo
        else:
            lo = 0
            hi = T
            if CAUSAL:
                hi = tl.minimum(T, start_m + BLOCK_M)
                if HAS_WINDOW:
                    lo = tl.maximum(0, start_m - WINDOW + 1)
            lo = (lo // BLOCK_N) * BLOCK_N
            if HAS_WINDOW:
                lo_full = lo
                hi_full = lo
            elif CAUSAL:
                lo_full = lo
                hi_full = (start_m // BLOCK_N) * BLOCK_N
            else:
                lo_full = lo
                hi_full = (T // BLOCK_N) * BLOCK_N
        m_i = tl.full([BLOCK_M], float("-inf"), tl.float32)
        l_i = tl.zeros([BLOCK_M], tl.float32)
        m2 = tl.full([BLOCK_M], float("-inf"), tl.float32)
        ps = tl.zeros([BLOCK_M], tl.float32)
        fm = tl.zeros([BLOCK_M], tl.float32)
        if MODE == 0:
            lse2 = tl.zeros([BLOCK_M], tl.float32)
            qv = tl.zeros([BLOCK_M], tl.float32)
        else:
            lse2 = tl.load(LSE + row_base + offs_m, mask=row_ok, other=float("inf")) * 1.4426950408889634
            lse2 = tl.where(lse2 == float("-inf"), float("inf"), lse2)  # rows that see nothing: p = 0
            qv = tl.load(QVALID + b * T + offs_m, mask=row_ok, other=0).to(tl.float32)
        n_masked = tl.cdiv(hi - hi_full, BLOCK_N)
        for i in range(0, n_masked):
            start_n = hi_full + (n_masked - 1 - i) * BLOCK_N
            m_i, l_i, m2, ps, fm = _tile(
                q, k_base, stride_kt, start_n, offs_m, offs_d, T, qk_scale, WINDOW, N_FIRST,
                mask_row_ptr, stride_mq, row_ok, lse2, qv, colsum_ptr, m_i, l_i, m2, ps, fm,
                MODE, True, CAUSAL, HAS_WINDOW, HAS_MASK, BLOCK_N, ALL_VALID, IEEE, D, PAD_D,
            )
        n_full = (hi_full - lo_full) // BLOCK_N
        for i in range(0, n_full):
            start_n = hi_full - (i + 1) * BLOCK_N
            m_i, l_i, m2, ps, fm = _tile(
                q, k_base, stride_kt, start_n, offs_m, offs_d, T, qk_scale, WINDOW, N_FIRST,
                mask_row_ptr, stride_mq, row_ok, lse2, qv, colsum_ptr, m_i, l_i, m2, ps, fm,
                MODE, False, CAUSAL, HAS_WINDOW, HAS_MASK, BLOCK_N, ALL_VALID, IEEE, D, PAD_D,
            )
        if MODE == 0:
            lse = (m_i + tl.log2(l_i)) * 0.6931471805599453
            tl.store(LSE + row_base + offs_m, lse, mask=row_ok)
        else:
            ent = ps * 0.6931471805599453
            ent = tl.where(lse2 == float("inf"), 0.0, ent)
            rmax = tl.exp2(m2 - lse2)
            tl.store(ENT + row_base + offs_m, ent, mask=row_ok)
            tl.store(RMAX + row_base + offs_m, rmax, mask=row_ok)
            tl.store(FMASS + row_base + offs_m, fm, mask=row_ok)


def mask_key_ranges(mask: torch.Tensor, T: int, block_m: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per query block, the first and one-past-last key any of its rows may see under a dense mask: 2 x (Bm, nQB)
    int32. Blocks whose rows see nothing get an empty range."""
    allowed = _mask_allows(mask).any(1)  # (Bm, T, T) over mask heads
    Bm = allowed.shape[0]
    nqb = -(-T // block_m)
    pad = nqb * block_m - T
    if pad:
        allowed = torch.nn.functional.pad(allowed, (0, 0, 0, pad))
    seen = allowed.view(Bm, nqb, block_m, T).any(2)  # (Bm, nQB, T)
    any_seen = seen.any(-1)
    idx = torch.arange(T, device=mask.device)
    first = torch.where(seen, idx, T).amin(-1)
    last = torch.where(seen, idx, -1).amax(-1) + 1
    first = torch.where(any_seen, first, torch.zeros_like(first))
    last = torch.where(any_seen, last, torch.zeros_like(last))
    return first.to(torch.int32).contiguous(), last.to(torch.int32).contiguous()


def stats_triton(
    q: torch.Tensor, k: torch.Tensor, *, scaling: float,
    causal: bool = True, window: int | None = None, mask: torch.Tensor | None = None,
    q_valid: torch.Tensor | None = None, lse: torch.Tensor | None = None, n_first: int = 4,
    block_m: int = 128, block_n: int = 64, num_warps: int = 8, num_stages: int = 3,
    count: torch.Tensor | None = None, kv_ranges: tuple[torch.Tensor, torch.Tensor] | None = None,
    q_valid_all: bool | None = None,
) -> LayerStats:
    """The Triton version of :func:`stats_torch` (no soft-capping or sink logits: use the torch path for those).

    ``lse`` (B, H, T) float32 natural-log row log-sum-exp from the forward (flash attention returns it); when None it
    is computed by a first pass of the kernel. ``mask`` must be bool (HF's sdpa masks are) with the query and key
    axes contiguous.
    """
    if not _HAVE_TRITON:
        raise RuntimeError("stats_triton needs the 'triton' package (CUDA builds of PyTorch ship it)")
    B, H, T, d = q.shape
    Hkv = k.shape[1]
    if H % Hkv:
        raise ValueError(f"query heads ({H}) must be a multiple of key heads ({Hkv})")
    if d > 256:
        raise ValueError(f"head_dim {d} > 256 is not supported by the Triton path; use the torch path")
    block_d = max(16, 1 << (d - 1).bit_length())  # tl.dot needs a power of two >= 16; extra lanes are masked
    dev = q.device
    if q.stride(-1) != 1:
        q = q.contiguous()
    if k.stride(-1) != 1:
        k = k.contiguous()
    if q_valid is None:
        q_valid = torch.ones(B, T, dtype=torch.bool, device=dev)
        q_valid_all = True
    if q_valid_all is None:
        q_valid_all = bool(q_valid.all())
    qv8 = q_valid.to(device=dev, dtype=torch.int8).contiguous()
    colsum = torch.zeros(B, H, T, dtype=torch.float32, device=dev)
    ent = torch.empty(B, H, T, dtype=torch.float32, device=dev)
    rmax = torch.empty(B, H, T, dtype=torch.float32, device=dev)
    fmass = torch.empty(B, H, T, dtype=torch.float32, device=dev)
    has_mask = mask is not None
    if has_mask:
        if mask.dtype != torch.bool:
            mask = _mask_allows(mask)
        if mask.shape[1] != 1:
            mask = mask.any(1, keepdim=True) if bool((mask == mask[:, :1]).all()) else None
            if mask is None:
                raise ValueError("per-head masks are not supported by the Triton path; use the torch path")
        mask_i8 = mask.view(torch.int8) if mask.stride(-1) == 1 else mask.contiguous().view(torch.int8)
        kvlo, kvhi = kv_ranges if kv_ranges is not None else mask_key_ranges(mask, T, block_m)
        if kvlo.shape[0] == 1 and B > 1:
            kvlo, kvhi = kvlo.expand(B, -1).contiguous(), kvhi.expand(B, -1).contiguous()
        smb = mask_i8.stride(0) if mask_i8.shape[0] > 1 else 0
        smh, smq = mask_i8.stride(1), mask_i8.stride(2)
    else:
        mask_i8 = qv8  # dummy pointer
        kvlo = kvhi = torch.zeros(1, dtype=torch.int32, device=dev)
        smb = smh = smq = 0
    grid = (B * H, triton.cdiv(T, block_m))
    common = dict(
        HEAD_DIM=block_d, PAD_D=block_d != d, BLOCK_M=block_m, BLOCK_N=block_n, CAUSAL=bool(causal and not has_mask),
        HAS_WINDOW=bool(window is not None and not has_mask), HAS_MASK=has_mask,
        ALL_VALID=bool(q_valid_all), IEEE=q.dtype == torch.float32,
        num_warps=num_warps, num_stages=num_stages,
    )
    args_strides = (
        q.stride(0), q.stride(1), q.stride(2),
        k.stride(0), k.stride(1), k.stride(2),
        smb, smh, smq,
        H, H // Hkv, T, float(scaling) * LOG2E, int(window or 0), int(n_first), d,
    )
    if lse is None:
        lse = torch.empty(B, H, T, dtype=torch.float32, device=dev)
        _census_kernel[grid](q, k, lse, colsum, ent, rmax, fmass, mask_i8, qv8, kvlo, kvhi, *args_strides, MODE=0, **common)
    else:
        lse = lse.to(torch.float32).contiguous()
    _census_kernel[grid](q, k, lse, colsum, ent, rmax, fmass, mask_i8, qv8, kvlo, kvhi, *args_strides, MODE=1, **common)
    if count is None:
        count = key_counts(T, causal=causal, window=window, mask=mask, q_valid=q_valid)
    return LayerStats(colsum, count, ent, rmax, fmass, lse)


def forward_with_lse(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, *, scaling: float, causal: bool, source: str = "flash"
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Attention output and natural-log row lse from one of PyTorch's fused attention ops, or None where it cannot run.

    ``source``: "flash" (``_scaled_dot_product_flash_attention``) or "cudnn" (``_scaled_dot_product_cudnn_attention``,
    the op SDPA prefers on Hopper). Inputs (B, H, T, d) with key/value already repeated to H heads; returns
    (out (B, H, T, d), lse (B, H, T) float32).
    """
    if query.device.type != "cuda" or query.dtype not in (torch.float16, torch.bfloat16):
        return None
    try:
        if source == "flash":
            res = torch.ops.aten._scaled_dot_product_flash_attention(query, key, value, 0.0, causal, False, scale=scaling)
        elif source == "cudnn":
            res = torch.ops.aten._scaled_dot_product_cudnn_attention(
                query, key, value, None, True, 0.0, causal, False, scale=scaling
            )
        else:
            raise ValueError(f"unknown lse source {source!r}")
    except (RuntimeError, AttributeError, NotImplementedError, TypeError):  # op missing or shape unsupported
        return None
    out, lse = res[0], res[1]
    T = query.shape[2]
    if lse is None or lse.numel() == 0:
        return None
    if lse.dim() == 4 and lse.shape[-1] == 1:
        lse = lse[..., 0]
    if lse.dim() != 3 or lse.shape[-1] < T or out.shape != query.shape[:3] + (value.shape[-1],):
        return None
    return out, lse[..., :T].float()


def math_reference_lse(q: torch.Tensor, k: torch.Tensor, scaling: float, causal: bool) -> torch.Tensor:
    """Dense fp32 lse for small checks: (B, H, T)."""
    rep = q.shape[1] // k.shape[1]
    kk = k.repeat_interleave(rep, 1).to(torch.float32)
    s = torch.matmul(q.to(torch.float32), kk.transpose(-1, -2)) * scaling
    if causal:
        T = q.shape[2]
        s = s.masked_fill(torch.ones(T, T, dtype=torch.bool, device=q.device).triu(1), -math.inf)
    return torch.logsumexp(s, -1)
