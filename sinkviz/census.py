"""Long-context sink census: exact streaming attention statistics over many texts, without T x T matrices.

The census runs the model's own forward pass with a registered transformers attention function
(``AttentionInterface`` + ``AttentionMaskInterface`` under the name ``"sinkviz_census"``). For each selected layer the
function receives the post-RoPE queries (B, H, T, d) and the un-repeated keys (B, Hkv, T, d), computes the attention
output as the model would (SDPA; the model's eager function where soft-capping or learned sink logits need it) and,
beside it, the statistics of :mod:`sinkviz.census_kernels` (column sums, row lse/entropy/max, mass on the first
positions), which are reduced at once per layer and query head.

Definitions (paper A, Gu et al. 2025, "When attention sink emerges in language models", §3.2; see
shared/reference/papers.md §A.1):

* importance score of key k:  alpha_k = 1 / n_k * sum_{i sees k} A_{i,k}, with n_k the number of (valid) queries allowed
  to see k (T - k for a causal model with 0-indexed k; fewer under a sliding window; T for an encoder);
* Sink_k^eps = mean over samples, layers and query heads of 1(alpha_k > eps), in % (strict >, as the official code).

Exactness: the row lse is exact (flash attention's own, or a first pass), so alpha, entropy and row max equal those
of the dense softmax up to floating-point rounding (float32 on CPU; on CUDA the logits come from the bf16/fp16 q and k
with float32 accumulation, as in the model's own SDPA). Padded queries are excluded from every statistic; padded keys
are masked by the model's mask and get n_k = 0 (alpha NaN).

Usage::

    import sinkviz
    from sinkviz.census import census
    res = census(m, texts, seq_len=4096, layers=None, batch_size=1)
    res.sink(eps=0.3)          # {1: Sink_1 %, ..., K: Sink_K %}
    res.alpha                  # (samples, layers, heads, K) alpha of the first K keys, as the sink metrics take
    res.alpha_mean()           # (layers, heads, T) mean alpha of every key

Several processes (``torchrun``/``accelerate launch``) each run :func:`census` on their share of the samples
(:func:`shard`); :func:`gather_results` merges the partial results exactly (per-sample arrays concatenated in the
original sample order, sums added in float64).
"""
from __future__ import annotations

import contextlib
import contextvars
import inspect
import json
import math
import os
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np
import torch

from sinkviz import census_kernels as ck

ATTN_NAME = "sinkviz_census"
_PROFILE_NAMES = ("entropy", "row_max", "first_mass")

__all__ = [
    "ATTN_NAME",
    "Census",
    "CensusResult",
    "census",
    "register_attention",
    "shard",
    "gather_results",
    "tokenize_texts",
    "read_texts",
]


# ----------------------------------------------------------------------------------------------------------------------
# Registration with transformers
# ----------------------------------------------------------------------------------------------------------------------

_ACTIVE: contextvars.ContextVar["_Context | None"] = contextvars.ContextVar("sinkviz_census_active", default=None)
_REGISTERED = False


def register_attention() -> str:
    """Register the census attention function and its mask function (sdpa's boolean masks) under ``ATTN_NAME``.

    Both must be registered: without a mask function transformers passes ``attention_mask=None`` and the causal
    pattern would be silently lost. Idempotent; returns the name.
    """
    global _REGISTERED
    if not _REGISTERED:
        from transformers import AttentionInterface
        from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

        AttentionInterface.register(ATTN_NAME, _census_attention)
        AttentionMaskInterface.register(ATTN_NAME, sdpa_mask)
        _REGISTERED = True
    return ATTN_NAME


def _module_eager(module: torch.nn.Module):
    fn = getattr(sys.modules.get(type(module).__module__), "eager_attention_forward", None)
    if fn is None:
        raise RuntimeError(
            f"{type(module).__name__} needs its model's eager attention (soft-capping or sink logits), but its module "
            "defines no eager_attention_forward"
        )
    return fn


def _eager_mask(mask: torch.Tensor | None, T: int, causal: bool, window: int | None, dtype, device) -> torch.Tensor | None:
    """The additive float mask an eager attention function expects, from the boolean/None masks of ``sdpa_mask``
    (None means 'plain causal' for a causal layer and 'no mask' for a bidirectional one)."""
    if mask is not None:
        if mask.dtype == torch.bool:
            return torch.where(mask, torch.zeros((), dtype=dtype, device=mask.device), torch.finfo(dtype).min)
        return mask
    if not causal:
        return None
    i = torch.arange(T, device=device)
    allowed = i[None, :] <= i[:, None]
    if window is not None:
        allowed &= i[None, :] > i[:, None] - window
    return torch.where(allowed, torch.zeros((), dtype=dtype, device=device), torch.finfo(dtype).min)[None, None]


def _eager_attention(module, query, key, value, attention_mask, scaling, dropout, kwargs):
    """The model's own eager attention, with the mask converted to the additive form it expects."""
    is_causal = kwargs.get("is_causal")
    if is_causal is None:
        is_causal = bool(getattr(module, "is_causal", True))
    mask = _eager_mask(attention_mask, query.shape[2], is_causal, kwargs.get("sliding_window"), query.dtype,
                       query.device)
    return _module_eager(module)(module, query, key, value, mask, scaling=scaling, dropout=dropout, **kwargs)


def _plain_attention(module, query, key, value, attention_mask, scaling, dropout, kwargs):
    """The model's attention output: SDPA, or the model's own eager function where SDPA cannot (softcap, sinks)."""
    if kwargs.get("softcap") is not None or kwargs.get("s_aux") is not None:
        return _eager_attention(module, query, key, value, attention_mask, scaling, dropout, kwargs)
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs)


def _census_attention(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float | None = None,
    dropout: float = 0.0,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """transformers attention function: the model's output, plus census statistics for the selected layers."""
    ctx = _ACTIVE.get()
    if scaling is None:
        scaling = query.shape[-1] ** -0.5
    layer = getattr(module, "layer_idx", None)
    if ctx is None:
        return _plain_attention(module, query, key, value, attention_mask, scaling, dropout, kwargs)
    if layer is None:  # modules without a layer index: count calls in forward order
        layer = ctx.call_counter
    ctx.call_counter += 1
    if layer not in ctx.layers:
        return _plain_attention(module, query, key, value, attention_mask, scaling, dropout, kwargs)
    if query.shape[2] != key.shape[2]:
        raise RuntimeError("the census needs a full forward pass (queries and keys of the same length, no KV cache)")

    is_causal = kwargs.get("is_causal")
    if is_causal is None:
        is_causal = bool(getattr(module, "is_causal", True))
    window = kwargs.get("sliding_window")
    softcap = kwargs.get("softcap")
    sinks = kwargs.get("s_aux")
    T = query.shape[2]
    q_valid = ctx.q_valid_on(query.device)
    mask = attention_mask
    if mask is not None and mask.shape[-1] != T:
        mask = mask[..., :T]
    plain = softcap is None and sinks is None
    use_triton = (ctx.backend == "triton" and plain and ctx.triton_error is None
                  and ck.triton_available(query.device))

    out = None
    lse = None
    eager_out = ctx.attn_output == "eager"
    if eager_out:
        out, _ = _eager_attention(module, query, key, value, attention_mask, scaling, dropout, kwargs)
    elif use_triton and mask is None and (window is None or T <= window) and dropout == 0.0:
        out, lse = ctx.fused_forward(query, key, value, scaling, is_causal)
    if out is None:
        out, _ = _plain_attention(module, query, key, value, attention_mask, scaling, dropout, kwargs)

    # layers that share a mask (and pattern) share the key counts and key ranges: compute them once per forward
    ck_key = (id(mask) if mask is not None else None, is_causal, window, T, str(query.device))
    count = ctx.cache.get(("count",) + ck_key)
    if count is None:
        count = ck.key_counts(T, causal=is_causal, window=window, mask=mask, q_valid=q_valid)
        ctx.cache[("count",) + ck_key] = count
        ctx.keep_alive.append(mask)
    if use_triton:
        kv_ranges = None
        if mask is not None:
            bm = ctx.triton_opts.get("block_m", 128)
            kv_ranges = ctx.cache.get(("kv",) + ck_key)
            if kv_ranges is None:
                kv_ranges = ck.mask_key_ranges(mask if mask.dtype == torch.bool else mask > torch.finfo(mask.dtype).min / 2,
                                               T, bm)
                B = query.shape[0]
                if kv_ranges[0].shape[0] == 1 and B > 1:
                    kv_ranges = tuple(x.expand(B, -1).contiguous() for x in kv_ranges)
                ctx.cache[("kv",) + ck_key] = kv_ranges
        try:
            st = ck.stats_triton(
                query, key, scaling=scaling, causal=is_causal, window=window, mask=mask, q_valid=q_valid, lse=lse,
                n_first=ctx.n_first, count=count, kv_ranges=kv_ranges, q_valid_all=ctx.q_valid_all,
                **ctx.triton_opts,
            )
        except Exception as e:  # noqa: BLE001 - a kernel that cannot compile here: the exact torch path takes over
            import warnings

            ctx.triton_error = f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
            warnings.warn(f"sinkviz census: the Triton kernel failed ({ctx.triton_error}); using the torch path",
                          RuntimeWarning, stacklevel=2)
            use_triton = False
    if not use_triton:
        st = ck.stats_torch(
            query, key, scaling=scaling, causal=is_causal, window=window, mask=mask, softcap=softcap, sinks=sinks,
            q_valid=q_valid, n_first=ctx.n_first, chunk_elems=ctx.chunk_elems, count=count,
        )
    ctx.accumulate(layer, st, q_valid)
    return out, None


# ----------------------------------------------------------------------------------------------------------------------
# Per-forward context and reduction
# ----------------------------------------------------------------------------------------------------------------------


@dataclass
class _Context:
    layers: set[int]
    seq_len: int
    n_keys: int
    n_first: int
    n_bins: int
    backend: str
    chunk_elems: int
    triton_opts: dict
    lse_source: str = "auto"
    attn_output: str = "auto"
    q_valid: torch.Tensor | None = None  # (B, T) bool, CPU or input device
    q_valid_all: bool = True
    call_counter: int = 0
    lse_verdict: dict = field(default_factory=dict)  # source -> usable (checked once against the kernel's lse)
    lse_used: str | None = None
    triton_error: str | None = None  # set when the kernel failed once; later layers use the torch path
    _qv_cache: dict = field(default_factory=dict)
    cache: dict = field(default_factory=dict)  # per forward: key counts / key ranges by mask identity
    keep_alive: list = field(default_factory=list)  # masks whose id() keys the cache, held until the batch ends
    acc: dict = field(default_factory=dict)  # layer -> dict of device tensors (sums)
    per_sample: dict = field(default_factory=dict)  # layer -> list of dict of (B, ...) tensors

    def q_valid_on(self, device: torch.device) -> torch.Tensor:
        key = str(device)
        if key not in self._qv_cache:
            self._qv_cache[key] = self.q_valid.to(device)
        return self._qv_cache[key]

    def fused_forward(self, query, key, value, scaling, is_causal):
        """Output and row lse from a fused attention op (cuDNN, then flash): the census then needs only the
        statistics pass. Each source is checked once against the kernel's own lse; a source that disagrees, fails or
        is missing is not used again. Returns (out (B, T, H, d), lse) or (None, None)."""
        sources = ("cudnn", "flash") if self.lse_source == "auto" else (self.lse_source,)
        rep = query.shape[1] // key.shape[1]
        for src in sources:
            if src == "kernel" or self.lse_verdict.get(src) is False:
                continue
            kk = key if rep == 1 else key.repeat_interleave(rep, 1)
            vv = value if rep == 1 else value.repeat_interleave(rep, 1)
            res = ck.forward_with_lse(query, kk, vv, scaling=scaling, causal=is_causal, source=src)
            if res is None:
                self.lse_verdict[src] = False
                continue
            if src not in self.lse_verdict:
                own = ck.stats_triton(query[:1], key[:1], scaling=scaling, causal=is_causal, lse=None,
                                      **self.triton_opts).lse
                err = float((res[1][:1] - own).abs().max())
                self.lse_verdict[src] = bool(err < 1e-2)
                if not self.lse_verdict[src]:
                    continue
            self.lse_used = src
            return res[0].transpose(1, 2).contiguous(), res[1]
        return None, None

    def start_batch(self, q_valid: torch.Tensor) -> None:
        self.q_valid = q_valid
        self.q_valid_all = bool(q_valid.all())
        self._qv_cache = {}
        self.cache = {}
        self.keep_alive = []
        self.call_counter = 0

    def accumulate(self, layer: int, st: ck.LayerStats, q_valid: torch.Tensor) -> None:
        B, H, T = st.colsum.shape
        dev = st.colsum.device
        S = self.seq_len
        if T > S:
            raise ValueError(f"a batch of length {T} exceeds the census seq_len {S}")
        qv = q_valid.to(torch.float32)  # (B, T)
        n_rows = qv.sum(-1).clamp_min(1.0)  # (B,)
        count = st.count  # (B, T)
        seen = count > 0
        alpha = torch.where(seen.unsqueeze(1), st.colsum / count.clamp_min(1.0).unsqueeze(1), float("nan"))  # (B,H,T)
        K = self.n_keys
        a_first = torch.full((B, H, K), float("nan"), device=dev)
        a_first[..., : min(K, T)] = alpha[..., :K]
        rows = torch.stack([st.entropy, st.rowmax, st.first_mass]) * qv.unsqueeze(1)  # (3, B, H, T)
        means = rows.sum(-1) / n_rows.unsqueeze(1)  # (3, B, H)
        self.per_sample.setdefault(layer, []).append(
            {"alpha": a_first, **{name: means[i] for i, name in enumerate(_PROFILE_NAMES)}}
        )
        acc = self.acc.get(layer)
        if acc is None:
            f64 = dict(dtype=torch.float64, device=dev)
            acc = {
                "alpha_sum": torch.zeros(H, S, **f64),
                "alpha_n": torch.zeros(S, **f64),
                "colsum_sum": torch.zeros(H, S, **f64),
                "count_sum": torch.zeros(S, **f64),
                "profile_sum": torch.zeros(len(_PROFILE_NAMES), H, self.n_bins, **f64),
                "profile_n": torch.zeros(self.n_bins, **f64),
            }
            self.acc[layer] = acc
        acc["alpha_sum"][:, :T] += torch.nan_to_num(alpha, nan=0.0).sum(0).to(torch.float64)
        acc["alpha_n"][:T] += seen.sum(0).to(torch.float64)
        acc["colsum_sum"][:, :T] += st.colsum.sum(0).to(torch.float64)
        acc["count_sum"][:T] += count.sum(0).to(torch.float64)
        bins = (torch.arange(T, device=dev) * self.n_bins) // S
        acc["profile_sum"].index_add_(2, bins, rows.sum(1).to(torch.float64))
        acc["profile_n"].index_add_(0, bins, qv.sum(0).to(torch.float64))


# ----------------------------------------------------------------------------------------------------------------------
# Result
# ----------------------------------------------------------------------------------------------------------------------

_SUM_FIELDS = ("alpha_sum", "alpha_n", "colsum_sum", "count_sum", "profile_sum", "profile_n")
_SAMPLE_FIELDS = ("alpha", "entropy", "row_max", "first_mass", "lengths", "sample_index")


@dataclass
class CensusResult:
    """Census statistics, reduced per layer and query head.

    Per sample (S = samples, L = selected layers, H = query heads, K = ``n_keys``):
      ``alpha`` (S, L, H, K): alpha_k of the first K keys (NaN for keys beyond a sample's length);
      ``entropy``, ``row_max``, ``first_mass`` (S, L, H): mean over the sample's queries of the row entropy (nats), the
      row maximum probability, and the row mass on keys k < ``n_first``;
      ``lengths`` (S,), ``sample_index`` (S,): token count and index of each sample in the input.
    Summed over samples (exact to merge; T = ``seq_len``):
      ``alpha_sum`` (L, H, T) sum of alpha_k, ``alpha_n`` (L, T) samples in which key k was seen;
      ``colsum_sum`` (L, H, T) sum of column sums, ``count_sum`` (L, T) sum of the numbers of queries seeing k;
      ``profile_sum`` (3, L, H, n_bins) sums over rows of entropy / row_max / first_mass in query-position bins
      (bin = position * n_bins // T), ``profile_n`` (L, n_bins) rows in each bin.
    """

    alpha: np.ndarray
    entropy: np.ndarray
    row_max: np.ndarray
    first_mass: np.ndarray
    lengths: np.ndarray
    sample_index: np.ndarray
    alpha_sum: np.ndarray
    alpha_n: np.ndarray
    colsum_sum: np.ndarray
    count_sum: np.ndarray
    profile_sum: np.ndarray
    profile_n: np.ndarray
    layers: list[int]
    seq_len: int
    n_keys: int
    n_first: int
    n_bins: int
    n_skipped: int = 0
    meta: dict = field(default_factory=dict)

    # -- derived ---------------------------------------------------------------------------------------------------
    @property
    def n_samples(self) -> int:
        return int(self.alpha.shape[0])

    @property
    def n_heads(self) -> int:
        return int(self.alpha.shape[2])

    def alpha_mean(self) -> np.ndarray:
        """Mean over samples of alpha_k for every key: (L, H, T); NaN where no sample has key k."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.alpha_sum / self.alpha_n[:, None, :]

    def alpha_pooled(self) -> np.ndarray:
        """Pooled alpha_k = sum of column sums / sum of query counts over samples: (L, H, T) (equals
        :meth:`alpha_mean` when every sample has the same length and mask)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.colsum_sum / self.count_sum[:, None, :]

    def alpha_first(self) -> np.ndarray:
        """Mean alpha_1 (the first key) over samples: (L, H)."""
        return np.nanmean(self.alpha[..., 0], axis=0) if self.n_samples else np.full(self.alpha.shape[1:3], np.nan)

    def sink(self, eps: float = 0.3, ks: Iterable[int] | None = None) -> dict[int, float]:
        """Sink_k^eps in % for k = 1..K (1-indexed as in the paper): the share of (sample, layer, query head) with
        alpha_k > eps, strict (paper A §3.2; official code ``(importance_scores > epsilon).float().mean(...)*100``).
        Samples too short to have key k are left out of that k's mean."""
        ks = list(range(1, self.n_keys + 1)) if ks is None else list(ks)
        out = {}
        for k in ks:
            if not 1 <= k <= self.n_keys:
                raise ValueError(f"k must be in 1..{self.n_keys} (the census kept n_keys={self.n_keys})")
            a = self.alpha[..., k - 1]
            ok = ~np.isnan(a)
            out[k] = float((a[ok] > eps).mean() * 100.0) if ok.any() else float("nan")
        return out

    def first_mass_mean(self) -> np.ndarray:
        """Mean over samples of the per-row mass on the first ``n_first`` keys: (L, H)."""
        return self.first_mass.mean(0) if self.n_samples else np.full(self.alpha.shape[1:3], np.nan)

    def profile(self, name: str) -> np.ndarray:
        """Mean of a row statistic ('entropy', 'row_max' or 'first_mass') per query-position bin: (L, H, n_bins)."""
        i = _PROFILE_NAMES.index(name)
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.profile_sum[i] / self.profile_n[:, None, :]

    # -- merge / io ------------------------------------------------------------------------------------------------
    @classmethod
    def merge(cls, parts: Sequence["CensusResult"]) -> "CensusResult":
        """Exact merge of partial results over disjoint samples: per-sample arrays concatenated in ``sample_index``
        order, sums added, skipped counts added."""
        parts = [p for p in parts if p is not None]
        if not parts:
            raise ValueError("nothing to merge")
        p0 = parts[0]
        for p in parts[1:]:
            for attr in ("layers", "seq_len", "n_keys", "n_first", "n_bins"):
                if getattr(p, attr) != getattr(p0, attr):
                    raise ValueError(f"cannot merge census results with different {attr}: {getattr(p, attr)} vs {getattr(p0, attr)}")
        idx = np.concatenate([p.sample_index for p in parts])
        if len(np.unique(idx)) != len(idx):
            raise ValueError("partial census results share samples (sample_index overlaps); they must be disjoint")
        order = np.argsort(idx, kind="stable")
        kw = {f: np.concatenate([getattr(p, f) for p in parts])[order] for f in _SAMPLE_FIELDS}
        for f in _SUM_FIELDS:
            kw[f] = np.sum([getattr(p, f) for p in parts], axis=0)
        return cls(
            **kw, layers=list(p0.layers), seq_len=p0.seq_len, n_keys=p0.n_keys, n_first=p0.n_first, n_bins=p0.n_bins,
            n_skipped=sum(p.n_skipped for p in parts), meta=dict(p0.meta),
        )

    def summary(self, eps: float = 0.3, ks: Iterable[int] = range(1, 11)) -> dict:
        """The JSON document of the CLI: Sink_k^eps, mean alpha_1 per [layer][head], counts and settings."""
        ks = [k for k in ks if k <= self.n_keys]
        return {
            "sink": {str(k): v for k, v in self.sink(eps, ks).items()},
            "alpha_first": _nan_to_none(self.alpha_first()),
            "first_mass": _nan_to_none(self.first_mass_mean()),
            "entropy": _nan_to_none(self.entropy.mean(0) if self.n_samples else np.full(self.alpha.shape[1:3], np.nan)),
            "n_samples": self.n_samples,
            "n_skipped": int(self.n_skipped),
            "layers": list(self.layers),
            "n_heads": self.n_heads,
            "seq_len": int(self.seq_len),
            "eps": float(eps),
            "n_first": int(self.n_first),
            **{k: v for k, v in self.meta.items() if k not in {"layers"}},
        }

    def save(self, path: str | os.PathLike) -> None:
        """Write all arrays and settings to an .npz file, atomically."""
        arrays = {f: getattr(self, f) for f in _SAMPLE_FIELDS + _SUM_FIELDS}
        header = dict(layers=self.layers, seq_len=self.seq_len, n_keys=self.n_keys, n_first=self.n_first,
                      n_bins=self.n_bins, n_skipped=self.n_skipped, meta=self.meta)
        arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)

        def write(tmp):
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, **arrays)

        _atomic_write(path, write)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "CensusResult":
        with np.load(path) as z:
            header = json.loads(bytes(z["header"]).decode())
            kw = {f: z[f] for f in _SAMPLE_FIELDS + _SUM_FIELDS}
        return cls(**kw, **header)


def _nan_to_none(a: np.ndarray):
    return [[None if not np.isfinite(x) else float(x) for x in row] for row in np.asarray(a, dtype=float)]


def _atomic_write(path: str | os.PathLike, write) -> None:
    path = os.fspath(path)
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-", suffix=os.path.basename(path))
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_json(path: str | os.PathLike, doc: dict) -> None:
    """Write a JSON document atomically (temp file in the same folder, then os.replace)."""

    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=1)
            fh.write("\n")

    _atomic_write(path, write)


# ----------------------------------------------------------------------------------------------------------------------
# Runner
# ----------------------------------------------------------------------------------------------------------------------


def _unwrap(model) -> tuple[torch.nn.Module, Any, str]:
    """(HF model, tokenizer or None, name) from a sinkviz LoadedModel or an HF model."""
    if hasattr(model, "model") and hasattr(model, "tokenizer") and isinstance(getattr(model, "model"), torch.nn.Module):
        return model.model, model.tokenizer, str(getattr(model, "name", type(model.model).__name__))
    if isinstance(model, torch.nn.Module):
        name = getattr(getattr(model, "config", None), "_name_or_path", "") or type(model).__name__
        return model, None, str(name)
    raise TypeError(f"expected a sinkviz LoadedModel or a transformers model, got {type(model).__name__}")


def _n_layers(hf) -> int:
    cfg = hf.config
    cfg = getattr(cfg, "get_text_config", lambda: cfg)()
    for attr in ("num_hidden_layers", "n_layer", "num_layers"):
        if getattr(cfg, attr, None):
            return int(getattr(cfg, attr))
    raise ValueError("cannot tell the number of layers from the model config")


@contextlib.contextmanager
def _attn_implementation(hf: torch.nn.Module, name: str):
    old = hf.config._attn_implementation
    if old != name:
        hf.set_attn_implementation(name)
        if hf.config._attn_implementation != name:
            raise RuntimeError(
                f"{type(hf).__name__} does not let its attention implementation be set (transformers "
                "AttentionInterface); the census cannot run on it"
            )
    try:
        yield
    finally:
        if old != name:
            hf.set_attn_implementation(old)


def _input_device(hf: torch.nn.Module) -> torch.device:
    emb = hf.get_input_embeddings() if hasattr(hf, "get_input_embeddings") else None
    if emb is not None and getattr(emb, "weight", None) is not None:
        return emb.weight.device
    return next(hf.parameters()).device


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
        chunk_elems: memory of one torch-path block (float32 elements).
        triton_opts: block sizes for :func:`sinkviz.census_kernels.stats_triton` (block_m, block_n, num_warps,
            num_stages).
        lse_source: where the Triton path gets each row's lse: "auto" (cuDNN, then flash attention, which return it
            with the attention output; else a first kernel pass), "cudnn", "flash" or "kernel".
        attn_output: "auto" (SDPA / fused op; the model's eager function only where SDPA cannot) or "eager" (the
            model's own eager attention for every layer, so a census forward reproduces an eager forward exactly).
    """

    def __init__(
        self,
        model,
        *,
        seq_len: int,
        layers: Sequence[int] | None = None,
        n_keys: int = 16,
        n_first: int = 4,
        n_bins: int = 32,
        backend: str = "auto",
        chunk_elems: int = 1 << 24,
        triton_opts: dict | None = None,
        lse_source: str = "auto",
        attn_output: str = "auto",
    ) -> None:
        self.hf, self.tokenizer, self.name = _unwrap(model)
        n_layers = _n_layers(self.hf)
        layers = list(range(n_layers)) if layers is None else sorted({int(x) for x in layers})
        bad = [x for x in layers if not 0 <= x < n_layers]
        if bad:
            raise ValueError(f"layers {bad} out of range: the model has {n_layers} layers (0..{n_layers - 1})")
        if backend not in ("auto", "triton", "torch"):
            raise ValueError(f"backend must be 'auto', 'triton' or 'torch', not {backend!r}")
        self.device = _input_device(self.hf)
        if backend == "auto":
            backend = "triton" if ck.triton_available(self.device) else "torch"
        if backend == "triton" and not ck.triton_available(self.device):
            raise RuntimeError("backend='triton' needs a CUDA device and the triton package; use backend='torch'")
        self.layers = layers
        self.seq_len = int(seq_len)
        self.n_bins = max(1, min(int(n_bins), self.seq_len))
        self._ctx = _Context(
            layers=set(layers), seq_len=self.seq_len, n_keys=int(n_keys), n_first=int(n_first), n_bins=self.n_bins,
            backend=backend, chunk_elems=int(chunk_elems), triton_opts=dict(triton_opts or {}),
            lse_source=lse_source, attn_output=attn_output,
        )
        if lse_source not in ("auto", "cudnn", "flash", "kernel"):
            raise ValueError(f"lse_source must be 'auto', 'cudnn', 'flash' or 'kernel', not {lse_source!r}")
        if attn_output not in ("auto", "eager"):
            raise ValueError(f"attn_output must be 'auto' or 'eager', not {attn_output!r}")
        self.backend = backend
        self._lengths: list[int] = []
        self._index: list[int] = []
        self._n_batches = 0
        self.n_skipped = 0
        base = getattr(self.hf, "base_model", self.hf)
        self._runner = base if isinstance(base, torch.nn.Module) else self.hf
        params = inspect.signature(self._runner.forward).parameters
        self._extra = {"use_cache": False} if "use_cache" in params else {}
        register_attention()

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
        q_valid = attention_mask.bool().to(self.device)
        self._ctx.start_batch(q_valid)
        token = _ACTIVE.set(self._ctx)
        try:
            with _attn_implementation(self.hf, ATTN_NAME):
                am = None if self._ctx.q_valid_all else attention_mask.to(self.device)
                self._runner(input_ids=input_ids.to(self.device), attention_mask=am, **self._extra)
        finally:
            _ACTIVE.reset(token)
            self._ctx.cache = {}
            self._ctx.keep_alive = []
        missing = [x for x in self.layers if x not in self._ctx.per_sample
                   or len(self._ctx.per_sample[x]) != self._n_batches + 1]
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
        ctx = self._ctx
        L = len(self.layers)
        H = None
        per = {}
        sums = {}
        for li, layer in enumerate(self.layers):
            batches = ctx.per_sample.get(layer, [])
            for name in ("alpha", "entropy", "row_max", "first_mass"):
                vals = [b[name].float().cpu() for b in batches]
                per.setdefault(name, []).append(torch.cat(vals).numpy() if vals else None)
            acc = ctx.acc.get(layer)
            if acc is not None:
                H = acc["alpha_sum"].shape[0]
                for k, v in acc.items():
                    sums.setdefault(k, []).append(v.cpu().numpy())
        S = len(self._lengths)
        if H is None:
            H = _n_heads(self.hf)
        K, T, nb = ctx.n_keys, self.seq_len, self.n_bins

        def stack_samples(name, shape_tail):
            arrs = per.get(name)
            if not arrs or arrs[0] is None:
                return np.zeros((0, L) + shape_tail, dtype=np.float32)
            return np.stack(arrs, axis=1).astype(np.float32)

        def stack_sums(name, shape):
            arrs = sums.get(name)
            if not arrs:
                return np.zeros(shape)
            return np.stack(arrs, axis=0)

        profile = stack_sums("profile_sum", (L, len(_PROFILE_NAMES), H, nb))
        profile = np.moveaxis(profile, 1, 0) if profile.ndim == 4 else profile
        info = dict(model=self.name, backend=self.backend, device=str(self.device),
                    lse_source=(ctx.lse_used or "kernel") if self.backend == "triton" else "torch",
                    **({"triton_error": ctx.triton_error} if ctx.triton_error else {}),
                    dtype=str(next(self.hf.parameters()).dtype).replace("torch.", ""),
                    model_type=getattr(self.hf.config, "model_type", None))
        from sinkviz import __version__

        info["sinkviz_version"] = __version__
        info.update(meta or {})
        return CensusResult(
            alpha=stack_samples("alpha", (H, K)),
            entropy=stack_samples("entropy", (H,)),
            row_max=stack_samples("row_max", (H,)),
            first_mass=stack_samples("first_mass", (H,)),
            lengths=np.asarray(self._lengths, dtype=np.int64).reshape(S),
            sample_index=np.asarray(self._index, dtype=np.int64).reshape(S),
            alpha_sum=stack_sums("alpha_sum", (L, H, T)),
            alpha_n=stack_sums("alpha_n", (L, T)),
            colsum_sum=stack_sums("colsum_sum", (L, H, T)),
            count_sum=stack_sums("count_sum", (L, T)),
            profile_sum=profile,
            profile_n=stack_sums("profile_n", (L, nb)),
            layers=list(self.layers), seq_len=T, n_keys=K, n_first=ctx.n_first, n_bins=nb,
            n_skipped=int(self.n_skipped), meta=info,
        )


def _n_heads(hf) -> int:
    cfg = hf.config
    cfg = getattr(cfg, "get_text_config", lambda: cfg)()
    return int(getattr(cfg, "num_attention_heads", 0) or getattr(cfg, "n_head", 0))


# ----------------------------------------------------------------------------------------------------------------------
# Texts, tokenisation, the one-call API, sharding
# ----------------------------------------------------------------------------------------------------------------------


def read_texts(path: str | os.PathLike) -> list[str]:
    """Texts from a ``.txt`` file (one text per non-empty line) or a ``.jsonl`` file (a "text" field per line)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"texts file not found: {path}")
    texts: list[str] = []
    with open(path, encoding="utf-8") as fh:
        if path.endswith(".jsonl"):
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as e:
                    raise ValueError(f"{path}:{n}: not valid JSON ({e.msg})") from None
                if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
                    raise ValueError(f'{path}:{n}: each .jsonl line must be an object with a string "text" field')
                texts.append(obj["text"])
        elif path.endswith(".txt"):
            texts = [line.rstrip("\n") for line in fh if line.strip()]
        else:
            raise ValueError(f"texts file must be .txt (one text per line) or .jsonl (a 'text' field), got {path}")
    return texts


def tokenize_texts(
    tokenizer, texts: Sequence[str], seq_len: int, *, allow_shorter: bool = False, add_special_tokens: bool = True
) -> tuple[list[list[int]], list[int], int]:
    """Tokenise with the tokenizer's default special tokens and truncate to ``seq_len`` (as the official code does).

    Returns (token id lists, their indices in ``texts``, number skipped). Texts shorter than ``seq_len`` tokens are
    skipped unless ``allow_shorter``; empty ones always are."""
    ids_out, idx_out, skipped = [], [], 0
    for i, text in enumerate(texts):
        ids = tokenizer(text, add_special_tokens=add_special_tokens)["input_ids"]
        ids = list(ids[:seq_len])
        if not ids or (len(ids) < seq_len and not allow_shorter):
            skipped += 1
            continue
        ids_out.append(ids)
        idx_out.append(i)
    return ids_out, idx_out, skipped


def shard(n: int, rank: int, world: int) -> list[int]:
    """Indices of ``n`` items that process ``rank`` of ``world`` takes (round robin)."""
    if not 0 <= rank < world:
        raise ValueError(f"rank {rank} out of range for world size {world}")
    return list(range(rank, n, world))


def census(
    model,
    texts: Sequence[str] | torch.Tensor,
    *,
    seq_len: int | None = None,
    layers: Sequence[int] | None = None,
    batch_size: int = 1,
    allow_shorter: bool = False,
    attention_mask: torch.Tensor | None = None,
    tokenizer=None,
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
    hf, tok, _ = _unwrap(model)
    tok = tokenizer or tok
    if isinstance(texts, torch.Tensor):
        ids_t = texts if texts.dim() == 2 else texts.unsqueeze(0)
        T = ids_t.shape[1] if seq_len is None else int(seq_len)
        if ids_t.shape[1] > T:
            ids_t = ids_t[:, :T]
        am = torch.ones_like(ids_t) if attention_mask is None else attention_mask[:, : ids_t.shape[1]]
        all_idx = list(range(ids_t.shape[0])) if indices is None else list(indices)
        items = [(ids_t[i], am[i], i) for i in all_idx]
        skipped = 0
    else:
        if isinstance(texts, str):
            texts = [texts]
        if tok is None:
            raise ValueError("texts need a tokenizer: pass a sinkviz LoadedModel or tokenizer=")
        if seq_len is None:
            raise ValueError("seq_len is required for texts")
        T = int(seq_len)
        sel = list(range(len(texts))) if indices is None else list(indices)
        ids, idx, skipped = tokenize_texts(tok, [texts[i] for i in sel], T, allow_shorter=allow_shorter,
                                           add_special_tokens=add_special_tokens)
        items = [(torch.tensor(x), torch.ones(len(x), dtype=torch.long), sel[j]) for x, j in zip(ids, idx)]
    runner = Census(model, seq_len=T, layers=layers, n_keys=n_keys, n_first=n_first, n_bins=n_bins, backend=backend)
    runner.n_skipped = skipped
    pad_id = 0
    if tok is not None and getattr(tok, "pad_token_id", None) is not None:
        pad_id = tok.pad_token_id
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(items), desc=f"census {runner.name} T={T}", unit="text")
    try:
        for s in range(0, len(items), max(1, batch_size)):
            chunk = items[s : s + batch_size]
            Tb = max(int(x[1].sum()) for x in chunk)
            ids_b = torch.full((len(chunk), Tb), pad_id, dtype=torch.long)
            am_b = torch.zeros(len(chunk), Tb, dtype=torch.long)
            for r, (x, m, _) in enumerate(chunk):
                n = int(m.sum())
                ids_b[r, :n] = x[:n]
                am_b[r, :n] = 1
            runner.add(ids_b, am_b, [x[2] for x in chunk])
            if bar is not None:
                bar.update(len(chunk))
    finally:
        if bar is not None:
            bar.close()
    return runner.result(meta=meta)


def gather_results(result: CensusResult, dst: int = 0) -> CensusResult | None:
    """Merge per-process results over torch.distributed: returns the merged result on rank ``dst`` (None elsewhere).
    Without an initialised process group, returns ``result`` unchanged."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return result
    world = dist.get_world_size()
    parts = [None] * world if dist.get_rank() == dst else None
    dist.gather_object(result, parts, dst=dst)
    if dist.get_rank() != dst:
        return None
    return CensusResult.merge(parts)
