"""One head's attention, one window at a time, from a layer's post-rotary q/k and the census's row lse (no T x T map).

A long text's attention cannot be held densely (T x T per head and layer), but every entry of it is one dot product
away: with the post-rotary query q_i and key k_j of a layer and the row log-sum-exp lse_i that the census forward
computed anyway, p_ij = exp(s_ij - lse_i) with s_ij = scale * q_i . k_j (soft-capped where the model caps), and
-inf where the layer's pattern hides key j from query i. So a window of the map costs one small matrix product, and
a whole-context view max-pooled to a few hundred cells a side costs one pass over the visible half of the map,
chunk by chunk, in memory proportional to the chunk.

:class:`LongContextTrace` runs one census forward over a text (:class:`~sinkviz.census.engine.Census`, progress per
layer), keeps the census result (alpha_1 for every layer and head, alpha of every key), the row lse of every layer
((L, H, T) float32) and the q/k of as many layers as a memory budget allows; a layer it did not keep is captured
again by a forward pass that stops after that layer.
"""
from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from sinkviz.census.engine import Census, LayerCall
from sinkviz.census.kernels import LayerStats, chunk_elems_for, hidden_block, key_range
from sinkviz.census.result import CensusResult
from sinkviz.models import attention_blocks, text_config, unwrap

#: Default memory for the q/k kept between head switches and layer changes.
QK_BUDGET_BYTES = 1 << 30


@dataclass
class LayerQK:
    """One layer of one text: post-rotary queries (H, T, d), un-repeated keys (Hkv, T, d), row lse (H, T, natural
    log, float32, on the same device) and the layer's pattern and logit transform."""

    query: torch.Tensor
    key: torch.Tensor
    lse: torch.Tensor
    scaling: float
    causal: bool
    window: int | None
    softcap: float | None

    @classmethod
    def from_call(cls, call: LayerCall, lse: torch.Tensor, sample: int = 0) -> LayerQK:
        """From the census's view of one layer (its attention call) and that layer's row lse (B, H, T)."""
        return cls(call.query[sample].detach(), call.key[sample].detach(), lse[sample].detach().float(),
                   float(call.scaling), bool(call.is_causal), call.window, call.softcap)

    @property
    def length(self) -> int:
        return int(self.query.shape[1])

    @property
    def n_heads(self) -> int:
        return int(self.query.shape[0])

    def kv_head(self, head: int) -> int:
        return head // (self.query.shape[0] // self.key.shape[0])

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (self.query, self.key, self.lse))

    def logits(self, head: int, rows: tuple[int, int], cols: tuple[int, int],
               out: torch.Tensor | None = None) -> torch.Tensor:
        """s_ij = scale * q_i . k_j (soft-capped) for queries [rows) and keys [cols), float32, -inf where hidden.
        ``out``: a float32 scratch buffer of at least that many elements to compute into (no new allocation)."""
        q = self.query[head, rows[0]:rows[1]].float()
        k = self.key[self.kv_head(head), cols[0]:cols[1]].float()
        n_r, n_c = rows[1] - rows[0], cols[1] - cols[0]
        s = torch.matmul(q, k.T) if out is None else torch.matmul(q, k.T, out=out[: n_r * n_c].view(n_r, n_c))
        s.mul_(self.scaling)
        if self.softcap is not None:
            s.div_(self.softcap).tanh_().mul_(self.softcap)
        pos = torch.arange(max(rows[1], cols[1]), device=s.device)
        hidden = hidden_block(None, 0, rows[0], rows[1], cols[0], cols[1], pos, self.causal, self.window)
        if hidden is not None:  # only the last keys of the block can be hidden (the diagonal, a window's edge)
            s[:, s.shape[1] - hidden.shape[-1]:].masked_fill_(hidden[0], float("-inf"))
        return s

    def probabilities(self, head: int, rows: tuple[int, int], cols: tuple[int, int]) -> torch.Tensor:
        """p_ij = exp(s_ij - lse_i) for queries [rows) and keys [cols): exactly the model's attention entries."""
        s = self.logits(head, rows, cols)
        return s.sub_(self.lse[head, rows[0]:rows[1], None]).exp_()

    def visible_keys(self, rows: tuple[int, int], cols: tuple[int, int]) -> tuple[int, int]:
        """The part of keys [cols) that any query of [rows) may see under the layer's pattern (may be empty)."""
        lo, hi = key_range(rows[0], rows[1], cols[1], self.causal, self.window, has_mask=False)
        lo = max(lo, cols[0])
        return lo, max(lo, min(hi, cols[1]))


def pooled_map(qk: LayerQK, head: int, rows: tuple[int, int], cols: tuple[int, int], factor: int = 1,
               values: str = "probabilities") -> np.ndarray:
    """One head's map over queries [rows) x keys [cols), max-pooled over ``factor`` x ``factor`` blocks (blocks
    counted from the window's corner): (ceil(n_rows / f), ceil(n_cols / f)) float32, NaN where a block has no
    visible entry. ``values``: "probabilities" (p_ij) or "logits" (s_ij).

    The max over a block of p_ij = exp(s_ij - lse_i) is exp(max_i (max_j s_ij - lse_i)): the exponential is taken
    on the pooled cells only. Work runs in chunks of query rows (:func:`~sinkviz.census.kernels.chunk_elems_for`
    logits each), and key ranges that no query of a chunk may see are skipped (half the map for a causal layer)."""
    if values not in ("probabilities", "logits"):
        raise ValueError(f"values must be 'probabilities' or 'logits', not {values!r}")
    T = qk.length
    r0, r1 = max(0, rows[0]), min(T, rows[1])
    c0, c1 = max(0, cols[0]), min(T, cols[1])
    if r1 <= r0 or c1 <= c0:
        raise ValueError(f"empty window: queries {rows}, keys {cols} of {T} tokens")
    f = max(1, int(factor))
    n_out_r, n_out_c = math.ceil((r1 - r0) / f), math.ceil((c1 - c0) / f)
    out = torch.full((n_out_r, n_out_c), float("-inf"), device=qk.query.device)
    chunk = max(f, (chunk_elems_for(qk.query.device) // max(1, c1 - c0)) // f * f)
    scratch = torch.empty(min(r1 - r0, chunk) * (c1 - c0 + f), dtype=torch.float32, device=qk.query.device)
    for a in range(r0, r1, chunk):
        e = min(r1, a + chunk)
        lo, hi = qk.visible_keys((a, e), (c0, c1))
        if hi <= lo:
            continue
        # widen the key range to whole pooling blocks so the column blocks line up with the window's
        blo = c0 + (lo - c0) // f * f
        bhi = min(c1, c0 + math.ceil((hi - c0) / f) * f)
        s = _block_max(qk.logits(head, (a, e), (blo, bhi), out=scratch), f, dim=1)  # (rows, column blocks)
        if values == "probabilities":
            s.sub_(qk.lse[head, a:e, None])
        blocks = _block_max(s, f, dim=0)  # (row blocks, column blocks)
        i0 = (a - r0) // f
        j0 = (blo - c0) // f
        target = out[i0:i0 + blocks.shape[0], j0:j0 + blocks.shape[1]]
        torch.maximum(target, blocks, out=target)
    empty = torch.isneginf(out)  # blocks with no visible entry
    if values == "probabilities":
        out.exp_()
    out[empty] = float("nan")
    return out.cpu().numpy().astype(np.float32)


def _block_max(s: torch.Tensor, f: int, dim: int) -> torch.Tensor:
    """Max over consecutive runs of ``f`` along ``dim`` (0 or 1) of a 2-d tensor; the last run may be shorter."""
    if f == 1:
        return s
    n = s.shape[dim]
    full = n // f * f
    parts = []
    if full:
        head = s[:, :full] if dim == 1 else s[:full]
        parts.append(head.reshape(s.shape[0], -1, f).amax(-1) if dim == 1 else head.reshape(-1, f, s.shape[1]).amax(1))
    if full < n:
        parts.append((s[:, full:] if dim == 1 else s[full:]).amax(dim, keepdim=True))
    return torch.cat(parts, dim) if len(parts) > 1 else parts[0]


class _Stop(Exception):
    """Raised inside a forward pass once the wanted layer's q/k are kept: the rest of the model is not run."""


class LongContextTrace:
    """One text through one census forward, kept for a long-context explorer: the census result, every layer's row
    lse, and post-rotary q/k of as many layers as ``qk_budget_bytes`` allows (memory proportional to T).

    Args:
        model: a sinkviz ``LoadedModel`` (or a transformers model with ``tokenizer=``).
        text_or_ids: a string (tokenised with the tokenizer's default special tokens, as the census does) or token
            ids (T,) / (1, T).
        progress: called as ``progress(done, total)`` after each layer of the forward pass.
        qk_budget_bytes: memory for kept q/k: during the forward the layer with the largest alpha_1 so far is always
            kept, others while they fit (least recently used dropped first); a layer captured again is kept.
        census_options: passed to :class:`~sinkviz.census.engine.Census` (backend, n_keys, ...).
    """

    def __init__(self, model: Any, text_or_ids: str | torch.Tensor | list[int], *, tokenizer: Any = None,
                 progress: Callable[[int, int], None] | None = None, qk_budget_bytes: int = QK_BUDGET_BYTES,
                 **census_options: Any) -> None:
        self.model = model
        hf, tok, self.model_name = unwrap(model)
        self.tokenizer = tokenizer or tok
        self.input_ids = self._encode(text_or_ids)
        self.n_tokens = int(self.input_ids.shape[1])
        self.n_layers = len(attention_blocks(text_config(hf)))  # the layers the forward pass measures
        self.qk_budget_bytes = int(qk_budget_bytes)
        self.census_options = dict(census_options)
        self.census_options.setdefault("n_keys", min(16, self.n_tokens))
        self.census_options.setdefault("row_statistics", False)  # alpha and lse are all the maps need
        self.qk: OrderedDict[int, LayerQK] = OrderedDict()
        self._lse: dict[int, torch.Tensor] = {}
        self._best: tuple[float, int] | None = None  # (largest alpha_1 of a head, its layer)
        self._progress = progress
        census = Census(model, seq_len=self.n_tokens, on_layer=self._keep, **self.census_options)
        census.add(self.input_ids)
        self.result: CensusResult = census.result(meta={"text_tokens": self.n_tokens})
        self.layers = list(self.result.layers)
        self.alpha_keys = np.asarray(self.result.alpha_mean(), dtype=np.float32)  # (L, H, T): one sample
        self.alpha_first = self.alpha_keys[..., 0]  # (L, H)

    # -- input ---------------------------------------------------------------------------------------------------
    def _encode(self, text_or_ids: Any) -> torch.Tensor:
        if isinstance(text_or_ids, str):
            if self.tokenizer is None:
                raise ValueError("a text needs a tokenizer: pass a sinkviz LoadedModel or tokenizer=")
            if not text_or_ids.strip():
                raise ValueError("the text is empty: give at least one word")
            ids = torch.tensor(self.tokenizer(text_or_ids)["input_ids"], dtype=torch.long)
        else:
            ids = torch.as_tensor(text_or_ids, dtype=torch.long)
        ids = ids.reshape(1, -1) if ids.dim() == 1 else ids
        if ids.dim() != 2 or ids.shape[0] != 1 or ids.shape[1] == 0:
            raise ValueError(f"one text of at least one token is needed; got ids of shape {tuple(ids.shape)}")
        return ids

    def tokens(self) -> list[str]:
        """Each token as text (the tokenizer's decoding of that token alone), or its id when there is no tokenizer."""
        ids = self.input_ids[0].tolist()
        if self.tokenizer is None:
            return [str(i) for i in ids]
        return list(self.tokenizer.batch_decode([[i] for i in ids]))

    # -- what the forward pass keeps -----------------------------------------------------------------------------
    def _keep(self, layer: int, call: LayerCall, stats: LayerStats) -> None:
        self._lse[layer] = stats.lse[0].detach().float()
        alpha1 = float((stats.colsum[0, :, 0] / stats.count[0, 0].clamp_min(1.0)).max())
        if self._best is None or alpha1 > self._best[0]:
            self._best = (alpha1, layer)
        self._store(layer, LayerQK.from_call(call, stats.lse), keep=self._best[1])
        if self._progress is not None:
            self._progress(len(self._lse), self.n_layers)

    def _store(self, layer: int, qk: LayerQK, keep: int) -> None:
        """Keep ``qk`` (copied off the forward's buffers), then drop the least recently used layers while the kept
        q/k exceed the budget, never layer ``keep``."""
        qk = LayerQK(qk.query.clone(), qk.key.clone(), qk.lse, qk.scaling, qk.causal, qk.window, qk.softcap)
        self.qk[layer] = qk
        self.qk.move_to_end(layer)
        protected = {keep}
        while sum(x.nbytes for x in self.qk.values()) > self.qk_budget_bytes:
            victim = next((x for x in self.qk if x not in protected), None)
            if victim is None:
                break
            del self.qk[victim]

    def layer(self, layer: int) -> LayerQK:
        """The q/k and lse of ``layer``: kept, or captured again by a forward pass that stops after that layer."""
        if layer not in self._lse:
            raise KeyError(f"layer {layer} was not measured (layers {self.layers[0]}..{self.layers[-1]})")
        if layer in self.qk:
            self.qk.move_to_end(layer)
            return self.qk[layer]
        captured: dict[str, LayerQK] = {}

        def grab(index: int, call: LayerCall, stats: LayerStats) -> None:
            captured["qk"] = LayerQK.from_call(call, self._lse[layer][None])
            raise _Stop

        options = {k: v for k, v in self.census_options.items() if k not in ("layers",)}
        census = Census(self.model, seq_len=self.n_tokens, layers=[layer], on_layer=grab, **options)
        try:
            census.add(self.input_ids)
        except _Stop:
            pass
        self._store(layer, captured["qk"], keep=layer)
        return self.qk[layer]

    @property
    def best_head(self) -> tuple[int, int]:
        """(layer, head) with the largest alpha_1."""
        finite = np.where(np.isfinite(self.alpha_first), self.alpha_first, -np.inf)
        li, hi = np.unravel_index(int(np.argmax(finite)), finite.shape)
        return self.layers[li], int(hi)

    def map(self, layer: int, head: int, rows: tuple[int, int], cols: tuple[int, int], factor: int = 1,
            values: str = "probabilities") -> np.ndarray:
        """:func:`pooled_map` of ``head`` in ``layer`` (see there)."""
        qk = self.layer(layer)
        if not 0 <= head < qk.n_heads:
            raise IndexError(f"head {head} out of range: the layer has heads 0..{qk.n_heads - 1}")
        return pooled_map(qk, head, rows, cols, factor, values)

    def memory_bytes(self) -> int:
        """Bytes held for maps: kept q/k plus every layer's lse (the census result is on the CPU beside them)."""
        return sum(x.nbytes for x in self.qk.values()) + sum(t.numel() * 4 for t in self._lse.values())
