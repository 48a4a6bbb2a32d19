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
* :func:`stats_triton` -- CUDA. Flash-attention-style kernels without the PV product: each program owns a block of
  query rows and walks the key tiles those rows may see (never the tiles above the diagonal or outside a window). Per
  visible score it does one matrix-product term and one exp2: a = s * scale * log2(e) - lse_i * log2(e) is one fused
  multiply-add, p = exp2(a), and the row statistics come from a (row max of a, row sum of p * a); column sums go
  into ``colsum`` with one float32 atomic add per key per tile. The tile layout is a kernel option
  (``keys_as_rows``: keys along the rows of the tile, so that the column sums are cheap row reductions and the
  per-query statistics stay element-wise until the last tile). The lse comes from the attention forward (cuDNN and
  flash attention return it) or from a first kernel; kernel configurations are chosen per device, head dimension,
  dtype, length and mask pattern by :mod:`sinkviz.census.tuning`.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

import torch

LOG2E = 1.4426950408889634
#: Float32 elements of one logit block of the torch path (:func:`stats_torch`, the explorer's windows) off the CPU:
#: fewer, larger launches.
CHUNK_ELEMS = 1 << 24
#: The same on a CPU: 16 MiB blocks stay in the last-level cache through a chunk's element-wise passes
#: (SmolLM2-135M at 8k tokens on a 2-core EPYC: :func:`stats_torch` 1.5 s a layer against 2.2 s with 64 MiB blocks;
#: a whole-text explorer map 0.15 s against 0.26 s).
CHUNK_ELEMS_CPU = 1 << 22

__all__ = [
    "LayerStats",
    "stats_torch",
    "chunk_elems_for",
    "stats_triton",
    "key_counts",
    "triton_available",
    "mask_key_ranges",
    "KernelConfig",
    "lse_triton",
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


def key_range(a: int, e: int, T: int, causal: bool, window: int | None, has_mask: bool) -> tuple[int, int]:
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


def hidden_block(mask: torch.Tensor | None, b: int, a: int, e: int, lo: int, hi: int, pos: torch.Tensor,
                 causal: bool, window: int | None) -> torch.Tensor | None:
    """Which entries of the logit block (queries [a, e), keys [lo, hi)) are hidden, as a bool tensor over the last
    keys of the block only (the keys before it are visible to every query of the block); None when none is hidden.
    With a dense mask the whole block is covered ((Hm, C, hi - lo)); under a structural pattern only the keys past
    the first query's (the diagonal) and those before the window's start for the last query."""
    if mask is not None:
        return ~_mask_allows(_mask_block(mask, b, a, e, lo, hi))
    first = lo
    if causal and window is None:
        first = max(lo, a)  # keys < a are seen by every query of the block
    if first >= hi:
        return None
    allowed = _structural_allowed(pos[a:e], pos[first:hi], causal, window)
    if bool(allowed.all()):
        return None
    return ~allowed.unsqueeze(0)


def chunk_elems_for(device: torch.device | str) -> int:
    """Float32 elements of one logit block of the torch path on ``device``: :data:`CHUNK_ELEMS_CPU` on a CPU, else
    :data:`CHUNK_ELEMS`."""
    return CHUNK_ELEMS_CPU if torch.device(device).type == "cpu" else CHUNK_ELEMS


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
    q_valid: torch.Tensor | None = None, n_first: int = 4, chunk_elems: int | None = None,
    count: torch.Tensor | None = None, row_stats: bool = True,
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
        chunk_elems: the size of one (H, chunk, keys) float32 block; lower it to save memory. None:
            :func:`chunk_elems_for` the device.
        count: precomputed :func:`key_counts` (the same for every layer that shares a mask).
        row_stats: False skips entropy, row max and first mass (returned as NaN): column sums and lse only, about a
            quarter less work (what the long-context explorer needs).
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
    if chunk_elems is None:
        chunk_elems = chunk_elems_for(dev)
    rows = max(1, min(T, chunk_elems // max(1, H * T)))
    all_valid = bool(q_valid.all())
    # two scratch blocks reused by every chunk: fresh large allocations cost more than the arithmetic on a CPU
    # (each new block is page-faulted in again)
    s_buf = torch.empty(H * rows * T, dtype=torch.float32, device=dev)
    p_buf = torch.empty_like(s_buf)
    for b in range(B):
        k_t = k[b].to(torch.float32).transpose(-1, -2)  # (Hkv, d, T)
        qb = q[b].to(torch.float32)  # (H, T, d)
        for a in range(0, T, rows):
            e = min(T, a + rows)
            lo, hi = key_range(a, e, T, causal, window, mask is not None)
            C, K = e - a, hi - lo
            s = s_buf[: H * C * K].view(H, C, K)
            # one product per KV head, its query heads' rows stacked: (Hkv, rep * C, K) is (H, C, K) in memory (a
            # broadcast over query heads would copy the keys once per head and chunk); alpha applies the scale
            s_kv = s.view(Hkv, rep * C, K)
            torch.baddbmm(s_kv, qb[:, a:e].reshape(Hkv, rep * C, d), k_t[:, :, lo:hi], beta=0.0, alpha=scaling,
                          out=s_kv)
            if softcap is not None:
                s.div_(softcap).tanh_().mul_(softcap)
            hidden = hidden_block(mask, b, a, e, lo, hi, pos, causal, window)  # (1 or Hm, C, cols) or None
            if hidden is not None:
                cols = slice(K - hidden.shape[-1], K)  # the block's hidden entries lie in these keys
                if mask is not None and mask.dtype != torch.bool:
                    s[..., cols] += _mask_block(mask, b, a, e, lo, hi).to(torch.float32)
                s[..., cols].masked_fill_(hidden, float("-inf"))
            smax = s.amax(-1)  # (H, C): the largest token logit of each row
            top = smax if sink_logit is None else torch.maximum(smax, sink_logit.expand_as(smax))
            top = torch.where(torch.isfinite(top), top, torch.zeros_like(top))
            s.sub_(top.unsqueeze(-1))  # s' = s - top: <= 0 where visible
            p = torch.exp(s, out=p_buf[: H * C * K].view(H, C, K))
            z = p.sum(-1)
            if sink_logit is not None:
                z = z + torch.exp(sink_logit - top)
            log_z = torch.log(z)
            lse = top + log_z  # (H, C); -inf for rows that see nothing
            p.div_(z.unsqueeze(-1))  # p_ij = exp(s_ij - lse_i)
            if not bool((z > 0).all()):
                p.nan_to_num_(nan=0.0)  # rows that see nothing: 0 / 0
            lse_out[b, :, a:e] = lse
            if row_stats:
                # entropy as sum p * (lse - s) = sum p * (log z - s'): every term >= 0, no cancellation for peaked
                # rows (with sink logits, entropy and max run over the token columns only, as in the model's rows)
                s.neg_().add_(log_z.unsqueeze(-1))
                if hidden is not None:
                    s[..., cols].masked_fill_(hidden, 0.0)
                if not bool(torch.isfinite(lse).all()):
                    s.nan_to_num_(nan=0.0, posinf=0.0, neginf=0.0)
                ent[b, :, a:e] = torch.einsum("hck,hck->hc", p, s)  # one batched dot product a row
                rmax[b, :, a:e] = torch.exp(smax - lse)
                if lo < n_first:
                    fmass[b, :, a:e] = p[..., : max(0, min(n_first, hi) - lo)].sum(-1)
            if all_valid:
                colsum[b, :, lo:hi] += p.sum(1)
            else:
                colsum[b, :, lo:hi] += torch.einsum("hck,c->hk", p, q_valid[b, a:e].to(torch.float32))
    if count is None:
        count = key_counts(T, causal=causal, window=window, mask=mask, q_valid=q_valid)
    if not row_stats:
        return LayerStats(colsum, count, ent.fill_(float("nan")), rmax.fill_(float("nan")),
                          fmass.fill_(float("nan")), lse_out)
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


def _interpreter_accepts_numpy_2_3() -> None:
    """Triton 3.6's interpreter turns a loop bound (a one-element array) into an int with ``int()``, which numpy
    >= 2.3 refuses; give its tensors an ``__index__`` that reads the element, so the kernels run on the CPU."""
    import numpy as np
    import triton.runtime.interpreter as interpreter

    try:
        int(np.array([1]))
        return
    except TypeError:
        pass
    patch = interpreter._patch_lang_tensor
    if getattr(patch, "sinkviz_index", False):
        return

    def patched(tensor, scope):
        patch(tensor, scope)
        scope.set_attr(tensor, "__index__", lambda self: int(np.asarray(self.handle.data).reshape(-1)[0]))

    patched.sinkviz_index = True
    interpreter._patch_lang_tensor = patched


if _HAVE_TRITON and os.environ.get("TRITON_INTERPRET") == "1":
    _interpreter_accepts_numpy_2_3()


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
    def _load_keys(k_base, stride_kt, offs_n, offs_d, T, D, MASKED: tl.constexpr, PAD_D: tl.constexpr):
        """A (BLOCK_N, HEAD_DIM) key tile; rows past T (masked tiles) and lanes past D (padded head dim) read 0."""
        ptrs = k_base + offs_n[:, None] * stride_kt + offs_d[None, :]
        if MASKED:
            if PAD_D:
                return tl.load(ptrs, mask=(offs_n[:, None] < T) & (offs_d[None, :] < D), other=0.0)
            return tl.load(ptrs, mask=offs_n[:, None] < T, other=0.0)
        if PAD_D:
            return tl.load(ptrs, mask=offs_d[None, :] < D, other=0.0)
        return tl.load(ptrs)

    @triton.jit
    def _visible(offs_m, offs_n, T, WINDOW, mask_row_ptr, stride_mq, CAUSAL: tl.constexpr,
                 HAS_WINDOW: tl.constexpr, HAS_MASK: tl.constexpr):
        """(len(offs_m), len(offs_n)) bool: key n is visible from query m (rows and columns past T are not)."""
        row_ok = offs_m < T
        col_ok = offs_n < T
        valid = row_ok[:, None] & col_ok[None, :]
        if CAUSAL:
            valid = valid & (offs_n[None, :] <= offs_m[:, None])
        if HAS_WINDOW:
            if CAUSAL:
                valid = valid & (offs_n[None, :] > offs_m[:, None] - WINDOW)
            else:
                valid = valid & (tl.abs(offs_m[:, None] - offs_n[None, :]) < WINDOW)
        if HAS_MASK:
            mv = tl.load(mask_row_ptr + offs_m[:, None] * stride_mq + offs_n[None, :],
                         mask=row_ok[:, None] & col_ok[None, :], other=0)
            valid = valid & (mv != 0)
        return valid

    @triton.jit
    def _visible_keys_rows(offs_m, offs_n, T, WINDOW, mask_row_ptr, stride_mq, CAUSAL: tl.constexpr,
                           HAS_WINDOW: tl.constexpr, HAS_MASK: tl.constexpr):
        """:func:`_visible` laid out (len(offs_n), len(offs_m)): keys as rows."""
        row_ok = offs_m < T
        col_ok = offs_n < T
        valid = col_ok[:, None] & row_ok[None, :]
        if CAUSAL:
            valid = valid & (offs_n[:, None] <= offs_m[None, :])
        if HAS_WINDOW:
            if CAUSAL:
                valid = valid & (offs_n[:, None] > offs_m[None, :] - WINDOW)
            else:
                valid = valid & (tl.abs(offs_m[None, :] - offs_n[:, None]) < WINDOW)
        if HAS_MASK:
            mv = tl.load(mask_row_ptr + offs_m[None, :] * stride_mq + offs_n[:, None],
                         mask=col_ok[:, None] & row_ok[None, :], other=0)
            valid = valid & (mv != 0)
        return valid

    @triton.jit
    def _key_blocks(start_m, T, KVLO, KVHI, b, pid_m, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
                    CAUSAL: tl.constexpr, HAS_WINDOW: tl.constexpr, HAS_MASK: tl.constexpr, WINDOW):
        """Keys [lo, hi) the query block [start_m, start_m + BLOCK_M) may see, and [lo, hi_full): the key tiles in
        which no row needs masking (whole tiles below the diagonal of a plain causal or bidirectional layer).
        Tiles wholly above the diagonal or outside the window are never visited."""
        if HAS_MASK:
            nqb = tl.cdiv(T, BLOCK_M)
            lo = tl.load(KVLO + b * nqb + pid_m)
            hi = tl.load(KVHI + b * nqb + pid_m)
            lo = (lo // BLOCK_N) * BLOCK_N
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
                hi_full = lo
            elif CAUSAL:
                hi_full = (start_m // BLOCK_N) * BLOCK_N
            else:
                hi_full = (T // BLOCK_N) * BLOCK_N
        return lo, hi, hi_full

    @triton.jit
    def _program_start(Q, K, MASK, stride_qb, stride_qh, stride_qt, stride_kb, stride_kh, stride_mb, H, N_REP, T, D,
                       BLOCK_M: tl.constexpr, HEAD_DIM: tl.constexpr, PAD_D: tl.constexpr,
                       BLOCKS_FIRST: tl.constexpr):
        """This program's (sample x head, query block), its query tile (rows past T and lanes past D read 0) and
        the bases of its keys and mask rows. Grid (B*H, query blocks), or (query blocks, B*H) with BLOCKS_FIRST
        (programs running together then share one head's keys in L2); the longest (last) query blocks first."""
        if BLOCKS_FIRST:
            bh = tl.program_id(1)
            pid_m = tl.num_programs(0) - 1 - tl.program_id(0)
        else:
            bh = tl.program_id(0)
            pid_m = tl.num_programs(1) - 1 - tl.program_id(1)
        b = bh // H
        h = bh % H
        start_m = pid_m * BLOCK_M
        offs_m = start_m + tl.arange(0, BLOCK_M)
        offs_d = tl.arange(0, HEAD_DIM)
        row_ok = offs_m < T
        q_ptrs = Q + b * stride_qb + h * stride_qh + offs_m[:, None] * stride_qt + offs_d[None, :]
        if PAD_D:
            q = tl.load(q_ptrs, mask=row_ok[:, None] & (offs_d[None, :] < D), other=0.0)
        else:
            q = tl.load(q_ptrs, mask=row_ok[:, None], other=0.0)
        return bh, b, pid_m, start_m, offs_m, offs_d, row_ok, q, K + b * stride_kb + (h // N_REP) * stride_kh, \
            MASK + b * stride_mb

    @triton.jit
    def _lse_tile(q, k_base, stride_kt, start_n, offs_m, offs_d, T, qk_scale, WINDOW, mask_row_ptr, stride_mq, m_i, l_i,
                  MASKED: tl.constexpr, CAUSAL: tl.constexpr, HAS_WINDOW: tl.constexpr, HAS_MASK: tl.constexpr,
                  BLOCK_N: tl.constexpr, IEEE: tl.constexpr, D, PAD_D: tl.constexpr):
        """Online max and sum of exp2 over one key tile (log2 domain)."""
        offs_n = start_n + tl.arange(0, BLOCK_N)
        k = _load_keys(k_base, stride_kt, offs_n, offs_d, T, D, MASKED, PAD_D)
        if IEEE:
            s = tl.dot(q, tl.trans(k), input_precision="ieee") * qk_scale
        else:
            s = tl.dot(q, tl.trans(k)) * qk_scale
        if MASKED:
            valid = _visible(offs_m, offs_n, T, WINDOW, mask_row_ptr, stride_mq, CAUSAL, HAS_WINDOW, HAS_MASK)
            s = tl.where(valid, s, float("-inf"))
        m_new = tl.maximum(m_i, tl.max(s, 1))
        m_safe = tl.where(m_new == float("-inf"), 0.0, m_new)
        l_i = l_i * tl.exp2(m_i - m_safe) + tl.sum(tl.exp2(s - m_safe[:, None]), 1)
        return m_new, l_i

    @triton.jit
    def _lse_kernel(
        Q, K, LSE, MASK, KVLO, KVHI,
        stride_qb, stride_qh, stride_qt, stride_kb, stride_kh, stride_kt, stride_mb, stride_mq,
        H, N_REP, T, qk_scale, WINDOW, D,
        CAUSAL: tl.constexpr, HAS_WINDOW: tl.constexpr, HAS_MASK: tl.constexpr, HEAD_DIM: tl.constexpr,
        BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, IEEE: tl.constexpr, PAD_D: tl.constexpr,
        BLOCKS_FIRST: tl.constexpr,
    ):
        """Row log-sum-exp (natural log) by online max and sum in the log2 domain, as flash attention does; for
        calls whose attention op returns none (padding masks, windows, CPU-built inputs)."""
        bh, b, pid_m, start_m, offs_m, offs_d, row_ok, q, k_base, mask_row_ptr = _program_start(
            Q, K, MASK, stride_qb, stride_qh, stride_qt, stride_kb, stride_kh, stride_mb, H, N_REP, T, D,
            BLOCK_M, HEAD_DIM, PAD_D, BLOCKS_FIRST)
        lo, hi, hi_full = _key_blocks(start_m, T, KVLO, KVHI, b, pid_m, BLOCK_M, BLOCK_N, CAUSAL, HAS_WINDOW,
                                      HAS_MASK, WINDOW)
        m_i = tl.full([BLOCK_M], float("-inf"), tl.float32)
        l_i = tl.zeros([BLOCK_M], tl.float32)
        for start_n in range(hi_full, hi, BLOCK_N):
            m_i, l_i = _lse_tile(q, k_base, stride_kt, start_n, offs_m, offs_d, T, qk_scale, WINDOW, mask_row_ptr,
                                 stride_mq, m_i, l_i, True, CAUSAL, HAS_WINDOW, HAS_MASK, BLOCK_N, IEEE, D, PAD_D)
        for start_n in range(lo, hi_full, BLOCK_N):
            m_i, l_i = _lse_tile(q, k_base, stride_kt, start_n, offs_m, offs_d, T, qk_scale, WINDOW, mask_row_ptr,
                                 stride_mq, m_i, l_i, False, CAUSAL, HAS_WINDOW, HAS_MASK, BLOCK_N, IEEE, D, PAD_D)
        lse = (m_i + tl.log2(l_i)) * 0.6931471805599453
        tl.store(LSE + bh.to(tl.int64) * T + offs_m, lse, mask=row_ok)

    @triton.jit
    def _stats_tile(
        q, k_base, stride_kt, start_n, offs_m, offs_d, T, qk_scale, WINDOW, N_FIRST, mask_row_ptr, stride_mq,
        lse2, qv, colsum_ptr, m2, ps, fm,
        MASKED: tl.constexpr, CAUSAL: tl.constexpr, HAS_WINDOW: tl.constexpr, HAS_MASK: tl.constexpr,
        BLOCK_N: tl.constexpr, ALL_VALID: tl.constexpr, IEEE: tl.constexpr, D, PAD_D: tl.constexpr,
        KEYS_AS_ROWS: tl.constexpr, FOLD_ROWS: tl.constexpr,
    ):
        """One tile of BLOCK_M queries x BLOCK_N keys: a = log2 p = s * scale * log2(e) - lse2 (one fused
        multiply-add), p = exp2(a); the row max of a, the row sum of p * a (entropy times -1/ln 2, every term <= 0,
        no cancellation), the first-keys mass, and the column sums of p added into ``colsum``.

        Queries as rows (KEYS_AS_ROWS False): ``m2``, ``ps`` are (BLOCK_M,) and reduced per tile; the column sums
        are a reduction across the tile's rows, the costly direction. Keys as rows (s^T = k q^T): the column sums
        are row sums, and ``m2``, ``ps`` are (BLOCK_N, BLOCK_M) accumulators updated element-wise and reduced over
        keys once, after the last tile. With FOLD_ROWS, ``m2`` and ``ps`` are (BLOCK_N // 16, 8, BLOCK_M): each tile
        is folded to half its rows first (rows 16i + j and 16i + 8 + j, which Hopper's matrix-product layout gives to
        the same thread, so the fold is a register add and a register max), halving the registers these two
        accumulators hold. ``fm`` is (BLOCK_M,) in all layouts."""
        offs_n = start_n + tl.arange(0, BLOCK_N)
        k = _load_keys(k_base, stride_kt, offs_n, offs_d, T, D, MASKED, PAD_D)
        if KEYS_AS_ROWS:
            if IEEE:
                s = tl.dot(k, tl.trans(q), input_precision="ieee")
            else:
                s = tl.dot(k, tl.trans(q))
            a = s * qk_scale - lse2[None, :]
            if MASKED:
                valid = _visible_keys_rows(offs_m, offs_n, T, WINDOW, mask_row_ptr, stride_mq, CAUSAL, HAS_WINDOW,
                                           HAS_MASK)
        else:
            if IEEE:
                s = tl.dot(q, tl.trans(k), input_precision="ieee")
            else:
                s = tl.dot(q, tl.trans(k))
            a = s * qk_scale - lse2[:, None]
            if MASKED:
                valid = _visible(offs_m, offs_n, T, WINDOW, mask_row_ptr, stride_mq, CAUSAL, HAS_WINDOW, HAS_MASK)
        if MASKED:
            a = tl.where(valid, a, float("-inf"))
        p = tl.exp2(a)
        pa = p * a
        if MASKED:
            pa = tl.where(valid, pa, 0.0)
        if KEYS_AS_ROWS:
            if FOLD_ROWS:
                m2 = tl.maximum(m2, tl.max(tl.reshape(a, (BLOCK_N // 16, 2, 8, a.shape[1])), 1))
                ps += tl.sum(tl.reshape(pa, (BLOCK_N // 16, 2, 8, pa.shape[1])), 1)
            else:
                m2 = tl.maximum(m2, a)
                ps += pa
            if start_n < N_FIRST:
                fm += tl.sum(tl.where(offs_n[:, None] < N_FIRST, p, 0.0), 0)
            if ALL_VALID:
                col = tl.sum(p, 1)
            else:
                col = tl.sum(p * qv[None, :], 1)
        else:
            m2 = tl.maximum(m2, tl.max(a, 1))
            ps += tl.sum(pa, 1)
            if start_n < N_FIRST:
                fm += tl.sum(tl.where(offs_n[None, :] < N_FIRST, p, 0.0), 1)
            if ALL_VALID:
                col = tl.sum(p, 0)
            else:
                col = tl.sum(p * qv[:, None], 0)
        if MASKED:
            tl.atomic_add(colsum_ptr + offs_n, col, mask=offs_n < T, sem="relaxed")
        else:
            tl.atomic_add(colsum_ptr + offs_n, col, sem="relaxed")
        return m2, ps, fm

    @triton.jit
    def _stats_kernel(
        Q, K, LSE, COLSUM, ENT, RMAX, FMASS, MASK, QVALID, KVLO, KVHI,
        stride_qb, stride_qh, stride_qt, stride_kb, stride_kh, stride_kt, stride_mb, stride_mq,
        H, N_REP, T, qk_scale, WINDOW, N_FIRST, D,
        CAUSAL: tl.constexpr, HAS_WINDOW: tl.constexpr, HAS_MASK: tl.constexpr, HEAD_DIM: tl.constexpr,
        BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, ALL_VALID: tl.constexpr, IEEE: tl.constexpr,
        PAD_D: tl.constexpr,  # HEAD_DIM (a power of two >= 16, as tl.dot needs) > D: the extra lanes load as 0
        KEYS_AS_ROWS: tl.constexpr,  # the tile layout: see _stats_tile
        BLOCKS_FIRST: tl.constexpr,  # the grid order: see _program_start
        FOLD_ROWS: tl.constexpr,  # keys as rows: accumulators of half a tile (see _stats_tile)
    ):
        """The statistics given each row's lse: one matrix product and one exp2 per visible score, no PV product.

        Grid (B*H, query blocks): concurrent programs mostly work on different heads (different colsum rows), the
        longest (last) query blocks start first, and key tiles run from the diagonal backwards, so programs rarely
        add into the same column sums at the same time."""
        bh, b, pid_m, start_m, offs_m, offs_d, row_ok, q, k_base, mask_row_ptr = _program_start(
            Q, K, MASK, stride_qb, stride_qh, stride_qt, stride_kb, stride_kh, stride_mb, H, N_REP, T, D,
            BLOCK_M, HEAD_DIM, PAD_D, BLOCKS_FIRST)
        row_base = bh.to(tl.int64) * T
        colsum_ptr = COLSUM + row_base
        lo, hi, hi_full = _key_blocks(start_m, T, KVLO, KVHI, b, pid_m, BLOCK_M, BLOCK_N, CAUSAL, HAS_WINDOW,
                                      HAS_MASK, WINDOW)
        # log2-domain lse; +inf for rows that see nothing (and rows past T), so that their p is 0
        lse2 = tl.load(LSE + row_base + offs_m, mask=row_ok, other=float("inf")) * 1.4426950408889634
        lse2 = tl.where(lse2 == float("-inf"), float("inf"), lse2)
        qv = tl.load(QVALID + b * T + offs_m, mask=row_ok, other=0).to(tl.float32)
        fm = tl.zeros([BLOCK_M], tl.float32)
        if KEYS_AS_ROWS and FOLD_ROWS:
            m2 = tl.full([BLOCK_N // 16, 8, BLOCK_M], float("-inf"), tl.float32)
            ps = tl.zeros([BLOCK_N // 16, 8, BLOCK_M], tl.float32)
        elif KEYS_AS_ROWS:
            m2 = tl.full([BLOCK_N, BLOCK_M], float("-inf"), tl.float32)
            ps = tl.zeros([BLOCK_N, BLOCK_M], tl.float32)
        else:
            m2 = tl.full([BLOCK_M], float("-inf"), tl.float32)
            ps = tl.zeros([BLOCK_M], tl.float32)
        # the tiles that need masking (from the diagonal backwards), then the whole tiles below them
        n_masked = tl.cdiv(hi - hi_full, BLOCK_N)
        for i in range(0, n_masked):
            m2, ps, fm = _stats_tile(
                q, k_base, stride_kt, hi_full + (n_masked - 1 - i) * BLOCK_N, offs_m, offs_d, T, qk_scale, WINDOW,
                N_FIRST, mask_row_ptr, stride_mq, lse2, qv, colsum_ptr, m2, ps, fm,
                True, CAUSAL, HAS_WINDOW, HAS_MASK, BLOCK_N, ALL_VALID, IEEE, D, PAD_D, KEYS_AS_ROWS, FOLD_ROWS)
        for i in range(0, (hi_full - lo) // BLOCK_N):
            m2, ps, fm = _stats_tile(
                q, k_base, stride_kt, hi_full - (i + 1) * BLOCK_N, offs_m, offs_d, T, qk_scale, WINDOW,
                N_FIRST, mask_row_ptr, stride_mq, lse2, qv, colsum_ptr, m2, ps, fm,
                False, CAUSAL, HAS_WINDOW, HAS_MASK, BLOCK_N, ALL_VALID, IEEE, D, PAD_D, KEYS_AS_ROWS, FOLD_ROWS)
        if KEYS_AS_ROWS and FOLD_ROWS:
            row_max2 = tl.max(tl.max(m2, 0), 0)
            row_pa = tl.sum(tl.sum(ps, 0), 0)
        elif KEYS_AS_ROWS:
            row_max2 = tl.max(m2, 0)
            row_pa = tl.sum(ps, 0)
        else:
            row_max2 = m2
            row_pa = ps
        ent = tl.where(lse2 == float("inf"), 0.0, row_pa * -0.6931471805599453)
        tl.store(ENT + row_base + offs_m, ent, mask=row_ok)
        tl.store(RMAX + row_base + offs_m, tl.exp2(row_max2), mask=row_ok)
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


@dataclass(frozen=True)
class KernelConfig:
    """How one Triton launch is cut: query rows and keys per tile, warps, pipeline stages, the grid order
    (``blocks_first``: query blocks on the grid's first axis, so that programs running together work on one head)
    and (statistics kernel only) the tile layout, ``keys_as_rows``, and the ``engine``: "triton" (:func:`_stats_kernel`)
    or "gluon" (the Hopper kernel of :mod:`sinkviz.census.kernels_sm90`: keys as rows, query blocks first, TMA ring of
    ``num_stages`` key tiles). ``fold_rows`` (keys as rows only): the per-query running max and entropy sums are
    kept for half a tile (see :func:`_stats_tile`); ``max_registers``: a register cap per thread (Triton's
    ``maxnreg``), so that more programs fit on one multiprocessor."""

    block_m: int = 128
    block_n: int = 64
    num_warps: int = 4
    num_stages: int = 3
    keys_as_rows: bool = False
    blocks_first: bool = False
    engine: str = "triton"
    fold_rows: bool = False
    max_registers: int | None = None

    def __post_init__(self) -> None:
        if self.fold_rows and not (self.keys_as_rows and self.block_n % 16 == 0):
            raise ValueError(f"fold_rows needs keys as rows and block_n a multiple of 16; got keys_as_rows="
                             f"{self.keys_as_rows}, block_n={self.block_n}.")

    def as_dict(self) -> dict:
        return dict(block_m=self.block_m, block_n=self.block_n, num_warps=self.num_warps,
                    num_stages=self.num_stages, keys_as_rows=self.keys_as_rows, blocks_first=self.blocks_first,
                    engine=self.engine, fold_rows=self.fold_rows, max_registers=self.max_registers)

    @classmethod
    def from_options(cls, options: dict | None) -> KernelConfig | None:
        """A config from user options (missing fields take the defaults); None when no option is given."""
        if not options:
            return None
        unknown = set(options) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown Triton options {sorted(unknown)}; known: {sorted(cls.__dataclass_fields__)}")
        return cls(**options)


@dataclass
class TritonCall:
    """Everything one statistics launch needs but the config: the inputs cut and typed for the kernels."""

    q: torch.Tensor
    k: torch.Tensor
    scaling: float
    causal: bool
    window: int | None
    mask_i8: torch.Tensor | None
    qv8: torch.Tensor
    q_valid_all: bool
    n_first: int
    kv_ranges: object  # callable block_m -> (kvlo, kvhi), for masked calls

    @property
    def shape(self) -> tuple[int, int, int, int, int]:
        B, H, T, d = self.q.shape
        return B, H, self.k.shape[1], T, d

    def flags(self) -> dict:
        has_mask = self.mask_i8 is not None
        return dict(CAUSAL=bool(self.causal and not has_mask), HAS_WINDOW=bool(self.window is not None and not has_mask),
                    HAS_MASK=has_mask)

    def _common(self, config: KernelConfig) -> tuple[tuple, dict, tuple]:
        B, H, Hkv, T, d = self.shape
        q, k = self.q, self.k
        block_d = max(16, 1 << (d - 1).bit_length())  # tl.dot needs a power of two >= 16; extra lanes are masked
        if self.mask_i8 is not None:
            mask = self.mask_i8
            kvlo, kvhi = self.kv_ranges(config.block_m)
            if kvlo.shape[0] == 1 and B > 1:
                kvlo, kvhi = kvlo.expand(B, -1).contiguous(), kvhi.expand(B, -1).contiguous()
            smb = mask.stride(0) if mask.shape[0] > 1 else 0
            smq = mask.stride(2)
        else:
            mask = self.qv8  # dummy pointer
            kvlo = kvhi = torch.zeros(1, dtype=torch.int32, device=q.device)
            smb = smq = 0
        strides = (q.stride(0), q.stride(1), q.stride(2), k.stride(0), k.stride(1), k.stride(2), smb, smq)
        meta = dict(HEAD_DIM=block_d, PAD_D=block_d != d, BLOCK_M=config.block_m, BLOCK_N=config.block_n,
                    IEEE=q.dtype == torch.float32, BLOCKS_FIRST=bool(config.blocks_first), num_warps=config.num_warps,
                    num_stages=config.num_stages, **self.flags())
        if config.max_registers is not None:
            meta["maxnreg"] = config.max_registers
        return (mask, kvlo, kvhi), meta, strides

    def grid(self, config: KernelConfig) -> tuple[int, int]:
        B, H, _, T, _ = self.shape
        blocks = triton.cdiv(T, config.block_m)
        return (blocks, B * H) if config.blocks_first else (B * H, blocks)

    def launch_lse(self, lse: torch.Tensor, config: KernelConfig) -> None:
        B, H, Hkv, T, d = self.shape
        (mask, kvlo, kvhi), meta, strides = self._common(config)
        _lse_kernel[self.grid(config)](
            self.q, self.k, lse, mask, kvlo, kvhi, *strides, H, H // Hkv, T, float(self.scaling) * LOG2E,
            int(self.window or 0), d, **meta)

    def launch_stats(self, lse: torch.Tensor, out: tuple[torch.Tensor, ...], config: KernelConfig) -> None:
        """``out`` = (colsum (zeroed), entropy, row max, first mass), each (B, H, T) float32. A "gluon" config
        raises ValueError for a call its kernel does not take (the tuner then skips it)."""
        if config.engine == "gluon":
            self._launch_stats_sm90(lse, out, config)
            return
        B, H, Hkv, T, d = self.shape
        (mask, kvlo, kvhi), meta, strides = self._common(config)
        _stats_kernel[self.grid(config)](
            self.q, self.k, lse, *out, mask, self.qv8, kvlo, kvhi, *strides, H, H // Hkv, T,
            float(self.scaling) * LOG2E, int(self.window or 0), int(self.n_first), d,
            ALL_VALID=bool(self.q_valid_all), KEYS_AS_ROWS=bool(config.keys_as_rows),
            FOLD_ROWS=bool(config.fold_rows), **meta)

    def _launch_stats_sm90(self, lse: torch.Tensor, out: tuple[torch.Tensor, ...], config: KernelConfig) -> None:
        from sinkviz.census import kernels_sm90  # Gluon is imported only by the calls that may use it

        why_not = kernels_sm90.supports(self.q, self.k, causal=self.causal, window=self.window,
                                        has_mask=self.mask_i8 is not None, q_valid_all=self.q_valid_all,
                                        block_m=config.block_m, block_n=config.block_n)
        if why_not:
            raise ValueError(f"the Hopper (Gluon) statistics kernel does not take this call: {why_not}")
        kernels_sm90.launch(self.q, self.k, lse, out, qk_scale=float(self.scaling) * LOG2E, n_first=self.n_first,
                            block_m=config.block_m, block_n=config.block_n, num_warps=config.num_warps,
                            num_stages=config.num_stages, fold_rows=config.fold_rows)


def stats_triton(
    q: torch.Tensor, k: torch.Tensor, *, scaling: float,
    causal: bool = True, window: int | None = None, mask: torch.Tensor | None = None,
    q_valid: torch.Tensor | None = None, lse: torch.Tensor | None = None, n_first: int = 4,
    count: torch.Tensor | None = None, kv_ranges=None, q_valid_all: bool | None = None,
    config: KernelConfig | None = None, lse_config: KernelConfig | None = None, **options,
) -> LayerStats:
    """The Triton version of :func:`stats_torch` (no soft-capping or sink logits: use the torch path for those).

    ``lse`` (B, H, T) float32 natural-log row log-sum-exp from the forward (cuDNN and flash attention return it);
    when None it is computed by a first kernel (:func:`_lse_kernel`). ``mask`` must be bool (HF's sdpa masks are)
    with the query and key axes contiguous. ``kv_ranges``: the key range of each query block under ``mask``, a
    callable ``block_m -> (kvlo, kvhi)`` (:func:`mask_key_ranges`; computed here when None).

    Kernel configurations: ``config`` (statistics kernel) and ``lse_config`` (lse kernel), or the options
    ``block_m``, ``block_n``, ``num_warps``, ``num_stages``, ``keys_as_rows``, ``blocks_first``, ``fold_rows``,
    ``max_registers`` (the fields of :class:`KernelConfig`) for both; by default each is chosen for this device, head
    dimension, dtype, length and mask pattern by :mod:`sinkviz.census.tuning` (timed once, then cached).
    """
    if not _HAVE_TRITON:
        raise RuntimeError("stats_triton needs the 'triton' package (CUDA builds of PyTorch ship it)")
    B, H, T, d = q.shape
    Hkv = k.shape[1]
    if H % Hkv:
        raise ValueError(f"query heads ({H}) must be a multiple of key heads ({Hkv})")
    if d > 256:
        raise ValueError(f"head_dim {d} > 256 is not supported by the Triton path; use the torch path")
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
    mask_i8 = None
    if mask is not None:
        if mask.dtype != torch.bool:
            mask = _mask_allows(mask)
        if mask.shape[1] != 1:
            mask = mask.any(1, keepdim=True) if bool((mask == mask[:, :1]).all()) else None
            if mask is None:
                raise ValueError("per-head masks are not supported by the Triton path; use the torch path")
        mask_i8 = mask.view(torch.int8) if mask.stride(-1) == 1 else mask.contiguous().view(torch.int8)
    ranges = _ranges_for(mask, T, kv_ranges)
    call = TritonCall(q, k, float(scaling), bool(causal), window, mask_i8, qv8, bool(q_valid_all), int(n_first), ranges)
    given = KernelConfig.from_options(options)
    from sinkviz.census import tuning  # the tuner times these kernels: imported here, not at module level
    if lse is None:
        lse = torch.empty(B, H, T, dtype=torch.float32, device=dev)
        cfg = lse_config or given or tuning.choose(call, "lse")
        call.launch_lse(lse, cfg)
    else:
        lse = lse.to(torch.float32).contiguous()
    out = (torch.zeros(B, H, T, dtype=torch.float32, device=dev),
           *(torch.empty(B, H, T, dtype=torch.float32, device=dev) for _ in range(3)))
    call.launch_stats(lse, out, config or given or tuning.choose(call, "stats", lse=lse))
    if count is None:
        count = key_counts(T, causal=causal, window=window, mask=mask, q_valid=q_valid)
    colsum, ent, rmax, fmass = out
    return LayerStats(colsum, count, ent, rmax, fmass, lse)


def lse_triton(q: torch.Tensor, k: torch.Tensor, *, scaling: float, causal: bool = True,
               config: KernelConfig | None = None) -> torch.Tensor:
    """The natural-log row lse (B, H, T) of a plain causal or bidirectional call by the lse kernel alone (the census
    checks a fused op's lse against it once). ``config`` None: the first lse candidate of :mod:`~.tuning`."""
    from sinkviz.census import tuning

    B, H, T, _ = q.shape
    q = q if q.stride(-1) == 1 else q.contiguous()
    k = k if k.stride(-1) == 1 else k.contiguous()
    qv8 = torch.ones(B, T, dtype=torch.int8, device=q.device)
    call = TritonCall(q, k, float(scaling), bool(causal), None, None, qv8, True, 0, None)
    lse = torch.empty(B, H, T, dtype=torch.float32, device=q.device)
    call.launch_lse(lse, config or (tuning.INTERPRETER if os.environ.get("TRITON_INTERPRET") == "1"
                                    else tuning.LSE_CANDIDATES[0]))
    return lse


def _ranges_for(mask: torch.Tensor | None, T: int, kv_ranges):
    """``block_m -> (kvlo, kvhi)`` for a masked call: ``kv_ranges`` when given (a callable, e.g. the engine's
    per-forward cache), else computed from the mask once per block size; None without a mask."""
    if mask is None:
        return None
    if kv_ranges is not None:
        return kv_ranges
    cache: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def ranges(block_m: int) -> tuple[torch.Tensor, torch.Tensor]:
        if block_m not in cache:
            cache[block_m] = mask_key_ranges(mask, T, block_m)
        return cache[block_m]

    return ranges


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
