"""The census engine: an attention function that measures each layer during the model's own forward, and its runner.

The census runs the model's own forward pass with an attention function registered with transformers under
:data:`sinkviz.hf_attention.CENSUS_IMPLEMENTATION` (with SDPA's boolean masks). For each selected layer the function
receives the post-RoPE queries (B, H, T, d) and the un-repeated keys (B, Hkv, T, d), computes the attention output as
the model would (SDPA; the model's eager function where soft-capping or learned sink logits need it) and, beside it,
the statistics of :mod:`sinkviz.census.kernels` (column sums, row lse/entropy/max, mass on the first positions),
reduced at once per layer and query head: alpha_k = colsum_k / n_k, with n_k the number of valid queries allowed to
see key k (Gu et al. 2025, §3.2; see :mod:`sinkviz.census.result`).

Exactness: the row lse is exact (flash attention's own, or a first pass), so alpha, entropy and row max equal those
of the dense softmax up to floating-point rounding (float32 on CPU; on CUDA the logits come from the bf16/fp16 q and k
with float32 accumulation, as in the model's own SDPA). Padded queries are excluded from every statistic; padded keys
are masked by the model's mask and get n_k = 0 (alpha NaN).
"""
from __future__ import annotations

import functools
import inspect
import queue
import threading
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import torch

from sinkviz import hf_attention
from sinkviz._version import __version__, source_digest
from sinkviz.census import kernels
from sinkviz.census.result import PROFILE_NAMES, CensusResult
from sinkviz.census.texts import right_pad, tokenize_texts
from sinkviz.models import attention_blocks, check_positions, input_device, max_positions, text_config, unwrap

CENSUS_IMPLEMENTATION = hf_attention.CENSUS_IMPLEMENTATION
#: Per-sample statistics kept for every selected layer.
SAMPLE_STATS = ("alpha", *PROFILE_NAMES)


# ----------------------------------------------------------------------------------------------------------------------
# What a run measures, what one forward shares, what the run adds up
# ----------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CensusSettings:
    """What a census measures and how; fixed for the whole run (see :class:`Census` for each field)."""

    layers: frozenset[int]
    seq_len: int
    n_keys: int
    n_first: int
    n_bins: int
    backend: str  # "triton" or "torch"
    chunk_elems: int | None
    triton_opts: dict
    lse_source: str
    attn_output: str
    on_layer: Callable | None = None
    row_statistics: bool = True
    # the blocks that call attention, in forward order (a hybrid's Mamba blocks do not): the layer of a call
    # whose module carries no layer_idx
    attention_layers: tuple[int, ...] = ()


@dataclass(frozen=True)
class LayerCall:
    """One call of the attention function: its arguments and the attention pattern they describe."""

    module: torch.nn.Module
    query: torch.Tensor
    key: torch.Tensor
    value: torch.Tensor
    attention_mask: torch.Tensor | None
    scaling: float
    dropout: float
    kwargs: dict

    @property
    def length(self) -> int:
        return self.query.shape[2]

    @property
    def is_causal(self) -> bool:
        is_causal = self.kwargs.get("is_causal")
        return bool(getattr(self.module, "is_causal", True)) if is_causal is None else is_causal

    @property
    def window(self) -> int | None:
        return self.kwargs.get("sliding_window")

    @property
    def softcap(self) -> float | None:
        return self.kwargs.get("softcap")

    @property
    def sinks(self) -> torch.Tensor | None:
        return self.kwargs.get("s_aux")

    @property
    def plain(self) -> bool:
        """No soft-capping and no learned sink logits: SDPA and the Triton kernel can run it."""
        return self.softcap is None and self.sinks is None

    @cached_property
    def mask(self) -> torch.Tensor | None:
        """The model's mask cut to the keys of this call (one object per call: its id keys shared results)."""
        mask = self.attention_mask
        if mask is not None and mask.shape[-1] != self.length:
            mask = mask[..., : self.length]
        return mask


@dataclass
class BatchState:
    """What the layers of one forward pass share: the valid queries, and key counts and key ranges by mask."""

    q_valid: torch.Tensor  # (B, T) bool, on the input device
    q_valid_all: bool
    calls: int = 0  # attention calls so far: the layer index of modules that carry none
    q_valid_by_device: dict[str, torch.Tensor] = field(default_factory=dict)
    shared: dict[tuple, Any] = field(default_factory=dict)
    masks_in_use: list[torch.Tensor | None] = field(default_factory=list)  # their id() keys `shared`: keep them alive

    @classmethod
    def start(cls, q_valid: torch.Tensor) -> BatchState:
        return cls(q_valid=q_valid, q_valid_all=bool(q_valid.all()))

    def q_valid_on(self, device: torch.device) -> torch.Tensor:
        key = str(device)
        if key not in self.q_valid_by_device:
            self.q_valid_by_device[key] = self.q_valid.to(device)
        return self.q_valid_by_device[key]

    def _shared(self, what: str, call: LayerCall, compute) -> Any:
        """Layers with the same mask (and pattern) share key counts and key ranges: computed once per forward."""
        mask = call.mask
        key = (what, id(mask) if mask is not None else None, call.is_causal, call.window, call.length,
               str(call.query.device))
        if key not in self.shared:
            self.shared[key] = compute()
            self.masks_in_use.append(mask)
        return self.shared[key]

    def key_counts(self, call: LayerCall) -> torch.Tensor:
        return self._shared("count", call, lambda: kernels.key_counts(
            call.length, causal=call.is_causal, window=call.window, mask=call.mask,
            q_valid=self.q_valid_on(call.query.device)))

    def key_ranges(self, call: LayerCall, block_m: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self._shared(f"kv{block_m}", call, lambda: kernels.mask_key_ranges(call.mask, call.length, block_m))


def position_bin_sums(values: torch.Tensor, n_bins: int, seq_len: int) -> torch.Tensor:
    """Sums of ``values`` (..., T) over query-position bins, bin(t) = t * n_bins // seq_len: (..., n_bins) float32.

    The bins are contiguous ranges (bin b starts at ceil(b * seq_len / n_bins)), so each sum is a difference of a
    float64 running sum at the bin edges: exact to float64 rounding, and without the contended atomics of an
    ``index_add_`` into a few bins (0.35 ms a layer at 32k on an H200)."""
    lower, upper = _bin_edges(n_bins, seq_len, values.shape[-1], values.device)
    running = torch.nn.functional.pad(values.to(torch.float64).cumsum(-1), (1, 0))
    return (running[..., upper] - running[..., lower]).to(torch.float32)


@functools.lru_cache(maxsize=64)
def _bin_edges(n_bins: int, seq_len: int, T: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(lower, upper) edges of the position bins in a running sum padded by one: bin b sums positions
    [lower_b, upper_b). Cached: every layer of every batch of one length uses the same edges."""
    starts = (torch.arange(n_bins + 1, device=device) * seq_len + n_bins - 1) // n_bins
    edges = starts.clamp_max(T)
    return edges[:-1], edges[1:]


@dataclass(frozen=True)
class BatchPattern:
    """What depends only on a batch's key counts and valid queries, shared by the layers that have both."""

    count: torch.Tensor  # (B, T): held, so that its id keys the cache of RunningSums until flush()
    q_valid: torch.Tensor  # (B, T) bool: held likewise
    qv: torch.Tensor  # (B, T) float32
    seen: torch.Tensor  # (B, 1, T): keys some valid query may see
    divisor: torch.Tensor  # (B, 1, T): n_k, at least 1
    n_rows: torch.Tensor  # (B, 1): valid queries, at least 1
    alpha_n: torch.Tensor  # (T,) float32: samples in which each key is seen
    count_sum: torch.Tensor  # (T,)
    profile_n: torch.Tensor  # (n_bins,): valid queries per position bin

    @classmethod
    def of(cls, count: torch.Tensor, q_valid: torch.Tensor, n_bins: int, seq_len: int) -> BatchPattern:
        qv = q_valid.to(torch.float32)
        seen = count > 0
        return cls(count=count, q_valid=q_valid, qv=qv, seen=seen.unsqueeze(1),
                   divisor=count.clamp_min(1.0).unsqueeze(1), n_rows=qv.sum(-1).clamp_min(1.0).unsqueeze(1),
                   alpha_n=seen.sum(0, dtype=torch.float32), count_sum=count.sum(0),
                   profile_n=position_bin_sums(qv.sum(0), n_bins, seq_len))


class RunningSums:
    """The statistics a census adds up over batches, per layer: per-sample arrays and float64 sums, on the CPU.

    Each layer's statistics are reduced on the layer's own device to per-sample values and float32 sums over the
    batch (one (H, T) array per per-key sum), packed into one tensor and copied to the host on a side stream (the
    forward pass does not wait for it), and added into float64 totals by a helper thread while the forward goes on;
    :meth:`flush` waits for them at the end of the forward. So the GPU keeps no per-layer sums: the census's extra
    device memory is one layer's statistics, whatever the number of layers (float64 sums on the GPU took 2 GiB at
    128k tokens on a 32-layer model).

    The totals are held stacked over layers ((L, H, T) float64, in the census's layer order), so that
    :meth:`arrays` hands them to the result without a copy (stacking 32 layers' (H, T) sums copied 2 GiB at 128k
    tokens, half a second of host time per result); a batch added after that copies them once first, so an earlier
    result never changes."""

    def __init__(self, seq_len: int, n_keys: int, n_bins: int, layers: Sequence[int]) -> None:
        self.seq_len, self.n_keys, self.n_bins = seq_len, n_keys, n_bins
        self.layers = list(layers)
        self._row = {layer: i for i, layer in enumerate(self.layers)}
        self.totals: dict[str, np.ndarray] | None = None  # name -> (L, ...) float64 sums, from the first batch on
        self._handed_out = False  # the totals belong to a result: copy before adding into them again
        self.per_sample: dict[int, list[dict[str, np.ndarray]]] = {}  # layer -> one dict of (B, ...) per batch
        self._queue: queue.Queue | None = None
        self._worker: threading.Thread | None = None
        self._failure: BaseException | None = None
        self._sent: dict[int, int] = {}  # layer -> batches sent (main thread only)
        self._copier = HostCopier()
        #: what the layers of one batch share (by their key counts and valid queries); cleared by flush()
        self._pattern: dict[tuple[int, int], BatchPattern] = {}

    def batches_seen(self, layer: int) -> int:
        return self._sent.get(layer, 0)

    @property
    def n_heads(self) -> int | None:
        """Query heads of the measured layers (None before the first batch)."""
        return None if self.totals is None else int(self.totals["alpha_sum"].shape[1])

    def zero_sums(self, n_heads: int) -> dict[str, np.ndarray]:
        """Float64 zeros for every sum, stacked over the census's layers."""
        L, S, nb = len(self.layers), self.seq_len, self.n_bins
        return {
            "alpha_sum": np.zeros((L, n_heads, S)),
            "alpha_n": np.zeros((L, S)),
            "colsum_sum": np.zeros((L, n_heads, S)),
            "count_sum": np.zeros((L, S)),
            "profile_sum": np.zeros((L, len(PROFILE_NAMES), n_heads, nb)),
            "profile_n": np.zeros((L, nb)),
        }

    def add(self, layer: int, st: kernels.LayerStats, q_valid: torch.Tensor) -> None:
        """Reduce one layer's statistics for one batch: alpha_k = colsum_k / n_k (NaN where n_k = 0), per-sample
        means of the row statistics over valid queries, and float32 sums over the batch, sent to the host."""
        T = st.colsum.shape[-1]
        S = self.seq_len
        if T > S:
            raise ValueError(f"a batch of length {T} exceeds the census seq_len {S}")
        pattern = self._pattern_of(st.count, q_valid)
        alpha = torch.where(pattern.seen, st.colsum / pattern.divisor, float("nan"))  # (B, H, T)
        K = self.n_keys
        a_first = alpha[..., :K]
        if T < K:
            a_first = torch.nn.functional.pad(a_first, (0, K - T), value=float("nan"))
        rows = torch.stack([st.entropy, st.rowmax, st.first_mass]) * pattern.qv.unsqueeze(1)  # (3, B, H, T)
        means = rows.sum(-1) / pattern.n_rows  # (3, B, H)
        sample = {"alpha": a_first, **{name: means[i] for i, name in enumerate(PROFILE_NAMES)}}
        sums = {
            "alpha_sum": torch.nan_to_num(alpha, nan=0.0).sum(0),
            "alpha_n": pattern.alpha_n,
            "colsum_sum": st.colsum.sum(0),
            "count_sum": pattern.count_sum,
            "profile_sum": position_bin_sums(rows.sum(1), self.n_bins, S),
            "profile_n": pattern.profile_n,
        }
        layout = [(name, tuple(t.shape)) for name, t in (*sample.items(), *sums.items())]
        packed = torch.cat([t.reshape(-1).to(torch.float32) for t in (*sample.values(), *sums.values())])
        host, copied = self._copier.to_host(packed)
        self._send(layer, T, layout, host, copied)

    def _pattern_of(self, count: torch.Tensor, q_valid: torch.Tensor) -> BatchPattern:
        """The :class:`BatchPattern` of these key counts and valid queries, computed once for the layers of a batch
        that share them (the same count tensor: one per mask pattern) instead of once per layer."""
        key = (id(count), id(q_valid))
        if key not in self._pattern:
            self._pattern[key] = BatchPattern.of(count, q_valid, self.n_bins, self.seq_len)
        return self._pattern[key]

    def _send(self, layer: int, T: int, layout: list, host: torch.Tensor, copied: Any) -> None:
        if self._worker is None:
            self._queue = queue.Queue()
            self._worker = threading.Thread(target=self._accumulate, name="sinkviz-census-sums", daemon=True)
            self._worker.start()
        self._sent[layer] = self._sent.get(layer, 0) + 1
        self._queue.put((layer, T, layout, host, copied))

    def _accumulate(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            try:
                if self._failure is None:
                    self._add_on_host(*item)
            except BaseException as e:  # noqa: BLE001 - handed to the caller by flush()
                self._failure = e

    def _add_on_host(self, layer: int, T: int, layout: list, host: torch.Tensor, copied: Any) -> None:
        if copied is not None:
            copied.synchronize()
        flat = host.numpy()
        parts, at = {}, 0
        for name, shape in layout:
            size = int(np.prod(shape))
            parts[name] = flat[at:at + size].reshape(shape)
            at += size
        self.per_sample.setdefault(layer, []).append({name: parts[name].copy() for name in SAMPLE_STATS})
        if self.totals is None:
            self.totals = self.zero_sums(parts["alpha_sum"].shape[0])
        elif self._handed_out:
            self.totals = {name: total.copy() for name, total in self.totals.items()}
            self._handed_out = False
        row = self._row[layer]
        for name, total in self.totals.items():
            if name in ("profile_sum", "profile_n"):
                total[row] += parts[name]
            else:
                total[row, ..., :T] += parts[name]

    def flush(self) -> None:
        """Wait until every layer sent so far is in the totals and stop the helper thread (the next batch starts
        another); re-raise a failure of the helper thread."""
        self._pattern.clear()
        if self._worker is not None:
            self._queue.put(None)
            self._worker.join()
            self._worker = self._queue = None
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure

    def arrays(self, layers: Sequence[int], n_heads: int) -> dict[str, np.ndarray]:
        """Every array of a :class:`CensusResult` but lengths and sample indices, layers stacked in the order given
        (per-sample arrays (S, L, ...) float32, sums (L, ...) float64; empty before the first batch)."""
        self.flush()
        out = {}
        for name in SAMPLE_STATS:
            per_layer = [[b[name] for b in self.per_sample.get(layer, [])] for layer in layers]
            if per_layer and per_layer[0]:
                out[name] = np.stack([np.concatenate(v) for v in per_layer], axis=1).astype(np.float32)
            else:
                tail = (n_heads, self.n_keys) if name == "alpha" else (n_heads,)
                out[name] = np.zeros((0, len(layers)) + tail, dtype=np.float32)
        totals = self.totals if self.totals is not None else self.zero_sums(n_heads)
        if list(layers) == self.layers:  # no copy: a later batch copies before adding (see the class docstring)
            out.update({name: _read_only(total) for name, total in totals.items()})
            self._handed_out = self.totals is not None
        else:
            rows = [self._row[layer] for layer in layers]
            out.update({name: total[rows] for name, total in totals.items()})
        out["profile_sum"] = np.moveaxis(out["profile_sum"], 1, 0)  # (3, L, H, n_bins)
        return out


def _read_only(array: np.ndarray) -> np.ndarray:
    """A read-only view: a result that shares the running totals must not be able to change them."""
    view = array.view()
    view.flags.writeable = False
    return view


class HostCopier:
    """Copies to the CPU that do not hold up the GPU: on CUDA, each copy waits for the tensor on a side stream and
    lands in pinned memory; the returned event says when it has arrived. On the CPU, nothing to copy."""

    def __init__(self) -> None:
        self._streams: dict[str, torch.cuda.Stream] = {}

    def to_host(self, tensor: torch.Tensor) -> tuple[torch.Tensor, Any]:
        if not tensor.is_cuda:
            return tensor, None
        key = str(tensor.device)
        if key not in self._streams:
            self._streams[key] = torch.cuda.Stream(tensor.device)
        side = self._streams[key]
        side.wait_stream(torch.cuda.current_stream(tensor.device))
        with torch.cuda.stream(side):
            host = tensor.to("cpu", non_blocking=True)
            done = torch.cuda.Event()
            done.record(side)
        tensor.record_stream(side)  # the allocator must not reuse its memory before the copy has read it
        return host, done


#: Whether a fused op's lse was found usable, per (op, device, dtype, head dim, causal, length), for the whole
#: process: the check runs the lse kernel over every head of the first layer (0.16 s at 128k tokens on an H200),
#: and its answer is about the op's convention and layout, not the model's values.
_FUSED_LSE_VERDICTS: dict[tuple, bool] = {}


@dataclass
class KernelChoice:
    """What a run learns about its kernels: which fused ops return a usable lse, and whether Triton failed."""

    lse_verdict: dict[str, bool] = field(default_factory=dict)  # source -> usable (checked once against the kernel)
    lse_used: str | None = None
    triton_error: str | None = None  # set when the kernel failed once; later layers use the torch path

    def fused_forward(self, call: LayerCall, settings: CensusSettings) -> tuple[torch.Tensor | None, Any]:
        """Output and row lse from a fused attention op (cuDNN, then flash): the census then needs only the
        statistics pass. Each source is checked once per process and shape against the kernel's own lse
        (:data:`_FUSED_LSE_VERDICTS`); a source that disagrees, fails or is missing is not used again in this run.
        Returns (out (B, T, H, d), lse) or (None, None)."""
        query, key, value = call.query, call.key, call.value
        sources = ("cudnn", "flash") if settings.lse_source == "auto" else (settings.lse_source,)
        rep = query.shape[1] // key.shape[1]
        for src in sources:
            shape_key = (src, str(query.device), query.dtype, query.shape[-1], call.is_causal, query.shape[2])
            if _FUSED_LSE_VERDICTS.get(shape_key) is False:
                self.lse_verdict[src] = False
            if src == "kernel" or self.lse_verdict.get(src) is False:
                continue
            kk = key if rep == 1 else key.repeat_interleave(rep, 1)
            vv = value if rep == 1 else value.repeat_interleave(rep, 1)
            res = kernels.forward_with_lse(query, kk, vv, scaling=call.scaling, causal=call.is_causal, source=src)
            if res is None:
                self.lse_verdict[src] = False
                continue
            if src not in self.lse_verdict:
                if shape_key not in _FUSED_LSE_VERDICTS:
                    own = kernels.lse_triton(query[:1], key[:1], scaling=call.scaling, causal=call.is_causal,
                                             config=kernels.KernelConfig.from_options(settings.triton_opts))
                    _FUSED_LSE_VERDICTS[shape_key] = bool(float((res[1][:1] - own).abs().max()) < 1e-2)
                self.lse_verdict[src] = _FUSED_LSE_VERDICTS[shape_key]
                if not self.lse_verdict[src]:
                    continue
            self.lse_used = src
            return res[0].transpose(1, 2).contiguous(), res[1]
        return None, None

    def note_failure(self, error: Exception) -> None:
        self.triton_error = f"{type(error).__name__}: {str(error).splitlines()[0][:200] if str(error) else ''}"
        warnings.warn(f"sinkviz census: the Triton kernel failed ({self.triton_error}); using the torch path",
                      RuntimeWarning, stacklevel=4)


# ----------------------------------------------------------------------------------------------------------------------
# The attention function
# ----------------------------------------------------------------------------------------------------------------------


def model_attention(call: LayerCall) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The model's attention output: SDPA, or the model's own eager function where SDPA cannot (softcap, sinks)."""
    if not call.plain:
        return eager_attention(call)
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    return sdpa_attention_forward(call.module, call.query, call.key, call.value, call.attention_mask,
                                  dropout=call.dropout, scaling=call.scaling, **call.kwargs)


def eager_attention(call: LayerCall) -> tuple[torch.Tensor, torch.Tensor]:
    """The model's own eager attention, with SDPA's boolean mask turned into the additive one it expects."""
    mask = hf_attention.additive_mask(call.attention_mask, call.length, call.is_causal, call.window,
                                      call.query.dtype, call.query.device)
    eager = hf_attention.family_eager(call.module, fallback_to_llama=False)
    return eager(call.module, call.query, call.key, call.value, mask, scaling=call.scaling, dropout=call.dropout,
                 **call.kwargs)


def census_attention(
    module: torch.nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
    attention_mask: torch.Tensor | None, scaling: float | None = None, dropout: float = 0.0, **kwargs: Any,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """transformers attention function: the model's output, plus census statistics for the selected layers."""
    if scaling is None:
        scaling = query.shape[-1] ** -0.5
    call = LayerCall(module, query, key, value, attention_mask, scaling, dropout, kwargs)
    forward = hf_attention.active_listener(CENSUS_IMPLEMENTATION)
    layer = forward.measured_layer(module) if forward is not None else None
    if layer is None:
        return model_attention(call)
    return forward.measure(layer, call), None


@dataclass
class ForwardPass:
    """The listener of one census forward: measures the selected layers of one batch into the run's sums."""

    settings: CensusSettings
    kernel: KernelChoice
    sums: RunningSums
    batch: BatchState

    def measured_layer(self, module: torch.nn.Module) -> int | None:
        """The module's layer index (modules without one count in forward order over the blocks that attend), or
        None when not measured."""
        layer = getattr(module, "layer_idx", None)
        if layer is None:
            order = self.settings.attention_layers
            layer = order[self.batch.calls] if self.batch.calls < len(order) else self.batch.calls
        self.batch.calls += 1
        return layer if layer in self.settings.layers else None

    def measure(self, layer: int, call: LayerCall) -> torch.Tensor:
        """The layer's attention output; its statistics go into the sums."""
        if call.query.shape[2] != call.key.shape[2]:
            raise RuntimeError(
                "the census needs a full forward pass (queries and keys of the same length, no KV cache)"
            )
        use_triton = self.triton_usable(call)
        out, lse = self.output(call, use_triton)
        q_valid = self.batch.q_valid_on(call.query.device)
        count = self.batch.key_counts(call)
        stats = self.triton_stats(call, lse, count) if use_triton else None
        if stats is None:
            stats = kernels.stats_torch(
                call.query, call.key, scaling=call.scaling, causal=call.is_causal, window=call.window, mask=call.mask,
                softcap=call.softcap, sinks=call.sinks, q_valid=q_valid, n_first=self.settings.n_first,
                chunk_elems=self.settings.chunk_elems, count=count, row_stats=self.settings.row_statistics,
            )
        if self.settings.on_layer is not None:
            self.settings.on_layer(layer, call, stats)
        self.sums.add(layer, stats, q_valid)
        return out

    def triton_usable(self, call: LayerCall) -> bool:
        return (self.settings.backend == "triton" and call.plain and self.kernel.triton_error is None
                and kernels.triton_available(call.query.device))

    def output(self, call: LayerCall, use_triton: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(attention output, row lse where a fused op gave it): the model's eager function when asked for, else a
        fused op that returns the lse where the Triton path can use it, else the model's usual attention."""
        if self.settings.attn_output == "eager":
            return eager_attention(call)[0], None
        fused = (use_triton and call.mask is None and (call.window is None or call.length <= call.window)
                 and call.dropout == 0.0)
        if fused:
            out, lse = self.kernel.fused_forward(call, self.settings)
            if out is not None:
                return out, lse
        return model_attention(call)[0], None

    def triton_stats(self, call: LayerCall, lse: torch.Tensor | None, count: torch.Tensor) -> kernels.LayerStats | None:
        """The Triton statistics, or None when the kernel failed (it is then not tried again in this run)."""
        options = self.settings.triton_opts  # empty: configurations chosen per device and shape (census.tuning)
        kv_ranges = None
        if call.mask is not None:
            kv_ranges = lambda block_m: self.batch.key_ranges(call, block_m)  # noqa: E731 - shared per forward
        try:
            return kernels.stats_triton(
                call.query, call.key, scaling=call.scaling, causal=call.is_causal, window=call.window, mask=call.mask,
                q_valid=self.batch.q_valid_on(call.query.device), lse=lse, n_first=self.settings.n_first, count=count,
                kv_ranges=kv_ranges, q_valid_all=self.batch.q_valid_all, **options,
            )
        except Exception as e:  # noqa: BLE001 - a kernel that cannot compile here: the exact torch path takes over
            self.kernel.note_failure(e)
            return None


# ----------------------------------------------------------------------------------------------------------------------
# The runner
# ----------------------------------------------------------------------------------------------------------------------


def _check_choice(name: str, value: str, allowed: Sequence[str]) -> None:
    if value not in allowed:
        choices = ", ".join(repr(a) for a in allowed[:-1]) + f" or {allowed[-1]!r}"
        raise ValueError(f"{name} must be {choices}, not {value!r}")


class Census:
    """Streaming census over batches: ``c = Census(model, seq_len=T)``; ``c.add(ids, mask)`` per batch;
    ``c.result()``.

    Args:
        model: a sinkviz ``LoadedModel`` or a transformers model (a multi-GPU ``device_map="auto"`` model works: each
            layer's statistics stay on its own device until :meth:`result`).
        seq_len: the longest batch length (the per-key arrays have this length).
        layers: layer indices to measure (default all).
        n_keys: alpha is kept per sample for the first ``n_keys`` keys (Sink_1..Sink_K).
        n_first: the row mass on keys k < n_first is the ``first_mass`` statistic.
        n_bins: query-position bins of the row-statistic profiles.
        backend: "auto" (Triton on CUDA when available, else torch), "triton" or "torch".
        chunk_elems: memory of one torch-path block (float32 elements); None: chosen for the device
            (:func:`sinkviz.census.kernels.stats_torch`).
        triton_opts: kernel options for :func:`sinkviz.census.kernels.stats_triton` (block_m, block_n, num_warps,
            num_stages, keys_as_rows); by default (None) they are chosen for the device, head dimension, dtype, length
            and mask pattern by timing a few candidates once (:mod:`sinkviz.census.tuning`, cached on disk).
        lse_source: where the Triton path gets each row's lse: "auto" (cuDNN, then flash attention, which return it
            with the attention output; else a first kernel pass), "cudnn", "flash" or "kernel".
        attn_output: "auto" (SDPA / fused op; the model's eager function only where SDPA cannot) or "eager" (the
            model's own eager attention for every layer, so a census forward reproduces an eager forward exactly).
        on_layer: called as ``on_layer(layer, call, stats)`` after each measured layer of each forward, with the
            layer's :class:`LayerCall` (post-rotary queries, un-repeated keys, pattern) and its
            :class:`~sinkviz.census.kernels.LayerStats` (the long-context explorer keeps q/k and lse this way, and
            shows progress).
        row_statistics: False leaves out entropy, row max and first mass on the torch path (NaN in the result):
            about a quarter less work on a CPU, for runs that need only alpha and the row lse.
    """

    def __init__(
        self,
        model: Any,
        *,
        seq_len: int,
        layers: Sequence[int] | None = None,
        n_keys: int = 16,
        n_first: int = 4,
        n_bins: int = 32,
        backend: str = "auto",
        chunk_elems: int | None = None,
        triton_opts: dict | None = None,
        lse_source: str = "auto",
        attn_output: str = "auto",
        on_layer: Callable[[int, LayerCall, kernels.LayerStats], None] | None = None,
        row_statistics: bool = True,
    ) -> None:
        self.hf, self.tokenizer, self.name = unwrap(model)
        config = text_config(self.hf)
        n_layers = int(config.num_hidden_layers)
        attending = attention_blocks(config)  # not a hybrid's Mamba / convolution blocks: nothing to measure there
        layers = attending if layers is None else sorted({int(x) for x in layers})
        bad = [x for x in layers if not 0 <= x < n_layers]
        if bad:
            raise ValueError(f"layers {bad} out of range: the model has {n_layers} layers (0..{n_layers - 1})")
        without = sorted(set(layers) - set(attending))
        if without:
            raise ValueError(f"layers {without} of {self.name!r} hold no attention (a hybrid's Mamba or convolution "
                             f"blocks); its attention layers are {attending}")
        _check_choice("backend", backend, ("auto", "triton", "torch"))
        _check_choice("lse_source", lse_source, ("auto", "cudnn", "flash", "kernel"))
        _check_choice("attn_output", attn_output, ("auto", "eager"))
        self.device = input_device(self.hf)
        if backend == "auto":
            backend = "triton" if kernels.triton_available(self.device) else "torch"
        if backend == "triton" and not kernels.triton_available(self.device):
            raise RuntimeError("backend='triton' needs a CUDA device and the triton package; use backend='torch'")
        self.layers = layers
        self.seq_len = int(seq_len)
        check_positions(self.seq_len, max_positions(config), self.name, advice="Use a shorter seq_len (--seq-len).")
        self.n_bins = max(1, min(int(n_bins), self.seq_len))
        self.backend = backend
        self.settings = CensusSettings(
            layers=frozenset(layers), seq_len=self.seq_len, n_keys=int(n_keys), n_first=int(n_first),
            n_bins=self.n_bins, backend=backend,
            chunk_elems=None if chunk_elems is None else int(chunk_elems), triton_opts=dict(triton_opts or {}),
            lse_source=lse_source, attn_output=attn_output, on_layer=on_layer, row_statistics=bool(row_statistics),
            attention_layers=tuple(attending),
        )
        self.kernel = KernelChoice()
        self.sums = RunningSums(self.seq_len, self.settings.n_keys, self.n_bins, self.layers)
        self._lengths: list[int] = []
        self._index: list[int] = []
        self._n_batches = 0
        self.n_skipped = 0
        base = getattr(self.hf, "base_model", self.hf)
        self._runner = base if isinstance(base, torch.nn.Module) else self.hf
        params = inspect.signature(self._runner.forward).parameters
        self._extra = {"use_cache": False} if "use_cache" in params else {}
        hf_attention.register(CENSUS_IMPLEMENTATION, census_attention, mask="sdpa")

    @torch.inference_mode()
    def add(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
            sample_index: Sequence[int] | None = None) -> None:
        """Run one batch (B, T) through the model, right-padded; ``attention_mask`` 1 = real token."""
        if input_ids.dim() == 1:
            input_ids = input_ids.unsqueeze(0)
        B, T = input_ids.shape
        if T > self.seq_len:
            raise ValueError(f"batch length {T} exceeds seq_len {self.seq_len}")
        if attention_mask is None:
            attention_mask = torch.ones(B, T, dtype=torch.long)
        attention_mask = attention_mask.to(torch.long)
        if sample_index is None:
            start = len(self._index)
            sample_index = range(start, start + B)
        batch = BatchState.start(attention_mask.bool().to(self.device))
        forward = ForwardPass(self.settings, self.kernel, self.sums, batch)
        with hf_attention.listening(self.hf, CENSUS_IMPLEMENTATION, forward):
            model_mask = None if batch.q_valid_all else attention_mask.to(self.device)
            self._runner(input_ids=input_ids.to(self.device), attention_mask=model_mask, **self._extra)
        self.sums.flush()
        missing = [x for x in self.layers if self.sums.batches_seen(x) != self._n_batches + 1]
        if missing:
            raise RuntimeError(
                f"the attention function did not run for layers {missing}: the model does not route its attention "
                "through transformers' AttentionInterface"
            )
        self._n_batches += 1
        self._lengths.extend(int(x) for x in attention_mask.sum(-1).tolist())
        self._index.extend(int(x) for x in sample_index)

    def result(self, meta: dict | None = None) -> CensusResult:
        """Collect everything onto the CPU as a :class:`CensusResult`."""
        n_heads = self.sums.n_heads or int(text_config(self.hf).num_attention_heads)
        S = len(self._lengths)
        return CensusResult(
            **self.sums.arrays(self.layers, n_heads),
            lengths=np.asarray(self._lengths, dtype=np.int64).reshape(S),
            sample_index=np.asarray(self._index, dtype=np.int64).reshape(S),
            layers=list(self.layers), seq_len=self.seq_len, n_keys=self.settings.n_keys,
            n_first=self.settings.n_first, n_bins=self.n_bins, n_skipped=int(self.n_skipped),
            meta=self._meta() | (meta or {}),
        )

    def _kernel_configs(self) -> dict:
        """The Triton configurations this process chose (or was given), by tuning key."""
        if self.settings.triton_opts:
            return {"given": dict(self.settings.triton_opts)}
        from sinkviz.census import tuning

        return {key: record["config"] for key, record in tuning.summary().items()}

    def _meta(self) -> dict:
        lse_source = (self.kernel.lse_used or "kernel") if self.backend == "triton" else "torch"
        return dict(
            model=self.name, backend=self.backend, device=str(self.device), lse_source=lse_source,
            **({"triton_error": self.kernel.triton_error} if self.kernel.triton_error else {}),
            **({"kernel_configs": self._kernel_configs()} if self.backend == "triton" else {}),
            dtype=str(next(self.hf.parameters()).dtype).replace("torch.", ""),
            model_type=getattr(self.hf.config, "model_type", None), sinkviz_version=__version__,
            sinkviz_source_sha256=source_digest(),
            **({} if self.settings.row_statistics else {"row_statistics": False}),
        )


# ----------------------------------------------------------------------------------------------------------------------
# The one-call API
# ----------------------------------------------------------------------------------------------------------------------

Row = tuple[torch.Tensor, torch.Tensor, int]  # (token ids, attention mask, index in the input)


def _rows_from_ids(ids: torch.Tensor, attention_mask: torch.Tensor | None, seq_len: int | None,
                   indices: Sequence[int] | None) -> tuple[list[Row], int]:
    ids = ids if ids.dim() == 2 else ids.unsqueeze(0)
    T = ids.shape[1] if seq_len is None else int(seq_len)
    ids = ids[:, :T]
    mask = torch.ones_like(ids) if attention_mask is None else attention_mask[:, : ids.shape[1]]
    chosen = range(ids.shape[0]) if indices is None else indices
    return [(ids[i], mask[i], i) for i in chosen], T


def _rows_from_texts(tokenizer: Any, texts: Sequence[str], seq_len: int, indices: Sequence[int] | None,
                     allow_shorter: bool, add_special_tokens: bool) -> tuple[list[Row], int]:
    chosen = list(range(len(texts))) if indices is None else list(indices)
    ids, found, skipped = tokenize_texts(tokenizer, [texts[i] for i in chosen], seq_len, allow_shorter=allow_shorter,
                                         add_special_tokens=add_special_tokens)
    rows = [(torch.tensor(x), torch.ones(len(x), dtype=torch.long), chosen[j]) for x, j in zip(ids, found)]
    return rows, skipped


def run_census(
    model: Any,
    texts: Sequence[str] | str | torch.Tensor,
    *,
    seq_len: int | None = None,
    layers: Sequence[int] | None = None,
    batch_size: int = 1,
    allow_shorter: bool = False,
    attention_mask: torch.Tensor | None = None,
    tokenizer: Any = None,
    n_keys: int = 16,
    n_first: int = 4,
    n_bins: int = 32,
    backend: str = "auto",
    progress: bool = False,
    indices: Sequence[int] | None = None,
    add_special_tokens: bool = True,
    meta: dict | None = None,
) -> CensusResult:
    """Run the census over texts (or a (N, T) tensor of token ids) and return a :class:`CensusResult`.

    Texts are tokenised with the default special tokens and truncated to ``seq_len``; shorter texts are skipped and
    counted (``n_skipped``) unless ``allow_shorter`` (then batches are right-padded and padding is excluded).
    ``indices`` restricts the run to those positions of ``texts`` (used to split samples across processes).
    """
    tok = tokenizer or unwrap(model)[1]
    if isinstance(texts, torch.Tensor):
        rows, seq_len = _rows_from_ids(texts, attention_mask, seq_len, indices)
        skipped = 0
    else:
        if tok is None:
            raise ValueError("texts need a tokenizer: pass a sinkviz LoadedModel or tokenizer=")
        if seq_len is None:
            raise ValueError("seq_len is required for texts")
        seq_len = int(seq_len)
        texts = [texts] if isinstance(texts, str) else texts
        rows, skipped = _rows_from_texts(tok, texts, seq_len, indices, allow_shorter, add_special_tokens)
    runner = Census(model, seq_len=seq_len, layers=layers, n_keys=n_keys, n_first=n_first, n_bins=n_bins,
                    backend=backend)
    runner.n_skipped = skipped
    pad_id = getattr(tok, "pad_token_id", None)
    pad_id = 0 if pad_id is None else pad_id
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(rows), desc=f"census {runner.name} T={seq_len}", unit="text")
    try:
        for start in range(0, len(rows), max(1, batch_size)):
            chunk = rows[start : start + batch_size]
            ids, mask = right_pad([(x, m) for x, m, _ in chunk], pad_id)
            runner.add(ids, mask, [i for _, _, i in chunk])
            if bar is not None:
                bar.update(len(chunk))
    finally:
        if bar is not None:
            bar.close()
    return runner.result(meta=meta)
