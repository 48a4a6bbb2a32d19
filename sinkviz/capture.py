"""One capture engine: (model, text) -> Trace.

Attention probabilities, post-rotary queries/keys and values come from the registered sinkviz attention
function (:mod:`sinkviz.hf_attention`), which runs the model family's own eager attention; pre-rotary queries
and keys come from forward hooks on the projections (after q/k-norm where the model has one); hidden
states come from hooks on each block, so the last one is taken *before* the final norm (Gu et al.
App. C.3), unlike `output_hidden_states`, whose last entry is post-norm.

Everything stored in a Trace is float32 on the CPU, so metrics are computed in full precision whatever
dtype the model runs in.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from sinkviz import hf_attention
from sinkviz.errors import (
    AttentionTooLargeError,
    InputError,
    NoAttentionLayersError,
    NonFiniteAttentionError,
)
from sinkviz.metrics import visibility_mask
from sinkviz.models import (LoadedModel, ModelInfo, attention_modules, check_positions, layer_modules, load,
                            text_config)

CAPTURE_ALL = ("attn", "qk", "v", "hidden")
# Share of free memory a dense capture may take before we refuse and suggest a narrower request.
MEMORY_FRACTION = 0.7


@dataclass
class Trace:
    """What happened inside attention for one batch of texts (shapes beside each field)."""

    info: ModelInfo
    input_ids: torch.Tensor  # (B, T) long
    attention_mask: torch.Tensor  # (B, T) bool, True = real token
    tokens: list[list[str]]
    bos_added: bool
    special_positions: list[list[int]]
    layers: list[int]
    heads: list[int]
    attentions: dict[int, torch.Tensor] = field(default_factory=dict)  # (B, H_sel, T, T)
    queries: dict[int, torch.Tensor] = field(default_factory=dict)  # (B, H_sel, T, d) post-rotary
    keys: dict[int, torch.Tensor] = field(default_factory=dict)  # (B, H_kv, T, d) post-rotary
    queries_pre: dict[int, torch.Tensor] = field(default_factory=dict)  # (B, H_sel, T, d) pre-rotary
    keys_pre: dict[int, torch.Tensor] = field(default_factory=dict)  # (B, H_kv, T, d) pre-rotary
    values: dict[int, torch.Tensor] = field(default_factory=dict)  # (B, H_kv, T, d)
    hidden_states: torch.Tensor | None = None  # (L+1, B, T, D), last block before the final norm
    final_hidden: torch.Tensor | None = None  # (B, T, D) after the final norm
    virtual_sink: dict[int, torch.Tensor] = field(default_factory=dict)  # (B, H_sel, T)
    model_name: str = ""
    notes: list[str] = field(default_factory=list)

    # -- sizes --------------------------------------------------------------------------------
    @property
    def lengths(self) -> list[int]:
        return [int(n) for n in self.attention_mask.sum(dim=1)]

    @property
    def batch_size(self) -> int:
        return int(self.input_ids.shape[0])

    def n_tokens(self, sample: int = 0) -> int:
        return self.lengths[sample]

    # -- index checks -------------------------------------------------------------------------
    def _layer(self, layer: int, store: dict[int, torch.Tensor], what: str) -> torch.Tensor:
        if not 0 <= layer < self.info.n_layers:
            raise IndexError(f"Layer {layer} is out of range: the model has layers 0..{self.info.n_layers - 1}.")
        if layer not in store:
            raise KeyError(
                f"Layer {layer} has no captured {what}: this trace holds {what} for layers {sorted(store)}. "
                f"Trace again with layers=[..., {layer}] (and capture including {what!r})."
            )
        return store[layer]

    def _head_slot(self, head: int) -> int:
        if not 0 <= head < self.info.n_heads:
            raise IndexError(f"Head {head} is out of range: the model has query heads 0..{self.info.n_heads - 1}.")
        if head not in self.heads:
            raise KeyError(f"Head {head} was not captured (captured: {self.heads}). Trace again with heads=None.")
        return self.heads.index(head)

    def _sample(self, sample: int) -> int:
        if not 0 <= sample < self.batch_size:
            raise IndexError(f"Sample {sample} is out of range: the trace holds {self.batch_size} text(s).")
        return sample

    # -- slices for metrics, plots and widgets -----------------------------------------------
    def attention(self, layer: int, head: int, sample: int = 0) -> np.ndarray:
        """(n, n) attention probabilities of one head, padding removed."""
        weights = self._layer(layer, self.attentions, "attn")
        n = self.n_tokens(self._sample(sample))
        return weights[sample, self._head_slot(head), :n, :n].numpy()

    def query(self, layer: int, head: int, sample: int = 0, rotated: bool = True) -> np.ndarray:
        """(n, d) queries of one query head, after (default) or before rotary."""
        store = self.queries if rotated else self.queries_pre
        n = self.n_tokens(self._sample(sample))
        return self._layer(layer, store, "qk")[sample, self._head_slot(head), :n].numpy()

    def key(self, layer: int, kv_head: int, sample: int = 0, rotated: bool = True) -> np.ndarray:
        """(n, d) keys of one KV head (under GQA each KV head serves several query heads)."""
        store = self.keys if rotated else self.keys_pre
        if not 0 <= kv_head < self.info.n_kv_heads:
            raise IndexError(f"KV head {kv_head} is out of range: the model has KV heads 0..{self.info.n_kv_heads - 1}.")
        n = self.n_tokens(self._sample(sample))
        return self._layer(layer, store, "qk")[sample, kv_head, :n].numpy()

    def value(self, layer: int, kv_head: int, sample: int = 0) -> np.ndarray:
        """(n, d) values of one KV head."""
        if not 0 <= kv_head < self.info.n_kv_heads:
            raise IndexError(f"KV head {kv_head} is out of range: the model has KV heads 0..{self.info.n_kv_heads - 1}.")
        n = self.n_tokens(self._sample(sample))
        return self._layer(layer, self.values, "v")[sample, kv_head, :n].numpy()

    def logits(self, layer: int, head: int, sample: int = 0) -> np.ndarray:
        """(n, n) pre-softmax logits recomputed in float64 from post-rotary q and k.

        logit_ij = scale * q_i . k_j (soft-capped where the model soft-caps); masked entries are -inf.
        """
        q = self.query(layer, head, sample).astype(np.float64)
        k = self.key(layer, self.info.kv_head_of[head], sample).astype(np.float64)
        scores = self.info.scaling[layer] * (q @ k.T)
        if self.info.softcap:
            scores = self.info.softcap * np.tanh(scores / self.info.softcap)
        visible = visibility_mask(len(q), self.info.causal, self.info.sliding_window[layer])
        return np.where(visible, scores, -np.inf)

    def hidden(self, layer: int, sample: int = 0) -> np.ndarray:
        """(n, D) hidden state after block `layer` (0 = embeddings; n_layers = last block, before final norm)."""
        if self.hidden_states is None:
            raise KeyError("This trace holds no hidden states; trace again with capture including 'hidden'.")
        last = self.hidden_states.shape[0] - 1
        if not 0 <= layer <= last:
            raise IndexError(f"Hidden state {layer} is out of range: this trace has hidden states 0..{last} "
                             f"(0 = the embeddings, {last} = after the last block, before the final norm).")
        n = self.n_tokens(self._sample(sample))
        return self.hidden_states[layer, sample, :n].numpy()

    def attention_stack(self, sample: int | None = None) -> np.ndarray:
        """Attention of every captured layer: (B, L_sel, H_sel, T, T), or (L_sel, H_sel, n, n) for one sample."""
        if not self.attentions:
            raise KeyError("This trace holds no attention; trace again with capture including 'attn'.")
        if sample is None:
            return torch.stack([self.attentions[layer] for layer in self.layers], dim=1).numpy()
        n = self.n_tokens(self._sample(sample))
        return torch.stack([self.attentions[layer][sample, :, :n, :n] for layer in self.layers]).numpy()

    def valid_mask(self) -> np.ndarray:
        """(B, T) bool: True for real tokens (metrics use it to drop padding)."""
        return self.attention_mask.numpy().astype(bool)

    def __repr__(self) -> str:
        parts = [k for k in ("attentions", "queries", "keys", "values") if getattr(self, k)]
        if self.hidden_states is not None:
            parts.append("hidden_states")
        return (
            f"Trace({self.model_name!r}, {self.batch_size} text(s), lengths {self.lengths}, "
            f"layers {index_span(self.layers)}, heads {index_span(self.heads)}, "
            f"holds {', '.join(parts) or 'nothing'}, bos_added={self.bos_added})"
        )


def index_span(items: Sequence[int]) -> str:
    """Layer or head numbers as messages say them: "0..29" when more than two run without a gap, else the list
    ("[1, 3]": a hybrid's attention blocks, or the layers a trace kept)."""
    items = list(items)
    if items and items == list(range(items[0], items[-1] + 1)) and len(items) > 2:
        return f"{items[0]}..{items[-1]}"
    return str(items)


# ---------------------------------------------------------------------------------------------
# tokenisation


def _encode(
    loaded: LoadedModel, text_or_ids: Any, add_special_tokens: bool, prepend_bos: bool | None
) -> tuple[torch.Tensor, torch.Tensor, list[list[int]]]:
    tokenizer = loaded.tokenizer
    if isinstance(text_or_ids, torch.Tensor) or (
        isinstance(text_or_ids, (list, tuple)) and text_or_ids and isinstance(text_or_ids[0], int)
    ):
        ids = torch.as_tensor(text_or_ids, dtype=torch.long)
        if ids.ndim == 1:
            ids = ids[None]
        if ids.ndim != 2 or ids.shape[1] == 0:
            raise InputError(f"Token ids must have shape (T,) or (B, T) with T > 0; got {tuple(ids.shape)}.")
        vocab = getattr(text_config(loaded), "vocab_size", None)
        if vocab is not None and (int(ids.max()) >= vocab or int(ids.min()) < 0):
            raise InputError(f"Token ids must lie in 0..{vocab - 1} for this model; got {int(ids.min())}..{int(ids.max())}.")
        return ids, torch.ones_like(ids, dtype=torch.bool), [[] for _ in range(ids.shape[0])]

    if text_or_ids is None:
        raise InputError("No text given (None): pass a non-empty string, a list of strings, or token ids.")
    texts = [text_or_ids] if isinstance(text_or_ids, str) else list(text_or_ids)
    if not texts:
        raise InputError("No text given: pass a non-empty string or a list of strings.")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise InputError(f"Text {i} is a {type(text).__name__}, not a string.")
        if not text.strip():
            raise InputError(
                f"Text {i} is empty: give at least one word (a sink needs tokens to attend from)."
                if len(texts) > 1 else "The text is empty: give at least one word to trace."
            )
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    tokenizer.padding_side = "right"  # positions start at 0 for every text; padding sits at the end
    enc = tokenizer(texts, add_special_tokens=add_special_tokens, return_special_tokens_mask=True)
    rows = [list(ids) for ids in enc["input_ids"]]
    special_rows = [list(mask) for mask in enc["special_tokens_mask"]]
    bos_id = tokenizer.bos_token_id
    if prepend_bos is not None and bos_id is not None:
        for row, special in zip(rows, special_rows):
            has_bos = bool(row) and row[0] == bos_id
            if prepend_bos and not has_bos:
                row.insert(0, bos_id)
                special.insert(0, 1)
            elif not prepend_bos and has_bos:
                row.pop(0)
                special.pop(0)
    elif prepend_bos and bos_id is None:
        raise InputError(f"prepend_bos=True, but the tokenizer of {loaded.name!r} defines no BOS token.")
    width = max(len(r) for r in rows)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.bool)
    for b, row in enumerate(rows):
        ids[b, : len(row)] = torch.tensor(row, dtype=torch.long)
        mask[b, : len(row)] = True
    specials = [[t for t, flag in enumerate(special) if flag] for special in special_rows]
    return ids, mask, specials


def _token_strings(tokenizer, ids: torch.Tensor, mask: torch.Tensor) -> list[list[str]]:
    out = []
    for row, valid in zip(ids.tolist(), mask.tolist()):
        out.append([tokenizer.decode([i]) for i, v in zip(row, valid) if v])
    return out


# ---------------------------------------------------------------------------------------------
# memory


def available_memory_bytes(device: torch.device) -> int:
    """Free memory on the device (CUDA: mem_get_info; CPU: MemAvailable, else a conservative 4 GiB)."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 4 * 2**30


def estimate_attention_bytes(batch: int, length: int, n_layers: int, n_heads: int, model_heads: int,
                             model_dtype_bytes: int) -> int:
    """Bytes a dense capture needs: stored fp32 maps (B x T^2 x layers x heads x 4) plus one layer's
    transient eager scores (B x H x T^2 x (4 + dtype bytes))."""
    stored = batch * length**2 * n_layers * n_heads * 4
    transient = batch * model_heads * length**2 * (4 + model_dtype_bytes)
    return stored + transient


def _gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB"


# ---------------------------------------------------------------------------------------------
# trace


def _as_loaded(model: LoadedModel | str | Any) -> LoadedModel:
    if isinstance(model, LoadedModel):
        return model
    if isinstance(model, (str, os.PathLike)):
        return load(model)
    raise TypeError(
        f"trace() takes a model loaded with sinkviz.load(...) or a model name; got {type(model).__name__}. "
        "Wrap a transformers model with sinkviz.wrap(model, tokenizer)."
    )


def _normalise_selection(selection: int | Sequence[int] | None, size: int, what: str) -> list[int]:
    if selection is None:
        return list(range(size))
    chosen = [selection] if isinstance(selection, int) else list(selection)
    if not chosen:
        raise InputError(f"Empty {what} selection: pass None for all {what}s or a list of indices.")
    out = []
    for index in chosen:
        index = int(index)
        if index < 0:
            index += size
        if not 0 <= index < size:
            raise InputError(f"{what.capitalize()} {index} is out of range: the model has {what}s 0..{size - 1}.")
        if index not in out:
            out.append(index)
    return sorted(out)


def _attention_layers(info: ModelInfo, layers: int | Sequence[int] | None) -> list[int]:
    """The selected layers, by block number: all the attention blocks by default; a hybrid's block without
    attention (Mamba, convolution) cannot be selected."""
    if layers is None:
        return info.attention_layers
    chosen = _normalise_selection(layers, info.n_layers, "layer")
    without = sorted(set(chosen) & set(info.blocks_without_attention))
    if without:
        raise InputError(f"Layer(s) {without} of {info.name!r} hold no attention (a hybrid's Mamba or convolution "
                         f"blocks); its attention layers are {info.attention_layers}.")
    return chosen


def trace(
    model: LoadedModel | str,
    text_or_ids: str | Sequence[str] | torch.Tensor,
    layers: int | Sequence[int] | None = None,
    heads: int | Sequence[int] | None = None,
    capture: Sequence[str] = CAPTURE_ALL,
    *,
    add_special_tokens: bool = True,
    prepend_bos: bool | None = None,
    check_memory: bool = True,
) -> Trace:
    """Run one forward pass and capture what happens inside attention.

    Args:
        model: a `LoadedModel` from `sinkviz.load`, or a name/path to load.
        text_or_ids: a string, a list of strings (padded on the right; padding is masked out), or token ids.
        layers / heads: which layers and query heads to keep (None = all). Keys and values are kept for
            every KV head of the selected layers (under GQA several query heads share one KV head).
        capture: any of "attn" (probabilities), "qk" (queries and keys, pre and post rotary), "v" (values),
            "hidden" (hidden states of every block and after the final norm).
        add_special_tokens: let the tokenizer add its special tokens, as the papers' code does.
        prepend_bos: True/False forces a BOS token on/off; None keeps the tokenizer's default
            (SmolLM2's tokenizer adds none: `Trace.bos_added` records it).
        check_memory: refuse requests whose dense attention would not fit in memory.
    """
    loaded = _as_loaded(model)
    info = loaded.info
    unknown = set(capture) - set(CAPTURE_ALL)
    if unknown:
        raise InputError(f"Unknown capture item(s) {sorted(unknown)}; choose from {list(CAPTURE_ALL)}.")
    layer_list = _attention_layers(info, layers)
    head_list = _normalise_selection(heads, info.n_heads, "head")
    ids, mask, specials = _encode(loaded, text_or_ids, add_special_tokens, prepend_bos)
    want = set(capture)
    _check_size(loaded, ids.shape, layer_list, head_list, check_memory and "attn" in want)
    result = Trace(
        info=info, input_ids=ids, attention_mask=mask, tokens=_token_strings(loaded.tokenizer, ids, mask),
        bos_added=_bos_added(specials), special_positions=specials, layers=layer_list, heads=head_list,
        model_name=loaded.name, notes=list(loaded.notes),
    )
    if not info.uses_attention_interface:
        result.notes.append("eager fallback (model does not use the attention interface): no queries/keys/values")
        want -= {"qk", "v"}
    _run_forward(loaded, result, want)
    if "attn" in want and len(result.attentions) != len(layer_list):
        raise NoAttentionLayersError(
            f"Only {len(result.attentions)} of {len(layer_list)} selected attention layers were seen in "
            f"{type(loaded.model).__name__}; sinkviz cannot capture this model's attention."
        )
    if not info.rope:  # without rotary embeddings the pre- and post-rotary vectors are the same
        result.queries_pre = dict(result.queries)
        result.keys_pre = dict(result.keys)
    return result


def _check_size(loaded: LoadedModel, shape: tuple[int, int], layers: list[int], heads: list[int],
                check_memory: bool) -> None:
    """Refuse inputs longer than the model's positions, and dense captures that would not fit in memory."""
    batch, length = shape
    info = loaded.info
    check_positions(length, info.max_positions, loaded.name)
    if not check_memory:
        return
    dtype_bytes = torch.finfo(loaded.dtype).bits // 8 if loaded.dtype.is_floating_point else 4
    needed = estimate_attention_bytes(batch, length, len(layers), len(heads), info.n_heads, dtype_bytes)
    free = available_memory_bytes(loaded.device)
    if needed > MEMORY_FRACTION * free:
        raise AttentionTooLargeError(
            f"Dense attention for {batch} text(s) x {length} tokens x {len(layers)} layers x {len(heads)} "
            f"heads needs about {_gib(needed)}, but only {_gib(free)} is free on {loaded.device}. Select fewer "
            "layers/heads (layers=[...], heads=[...]), trace a shorter text, or use the streaming census "
            "(`sinkviz census` / sinkviz.run_census), which never holds a T x T matrix."
        )


class _Recorder:
    """Stores what each selected layer's attention call saw into a Trace (float32, on the CPU)."""

    def __init__(self, loaded: LoadedModel, result: Trace, want: set[str], modules: list[torch.nn.Module]):
        self.result = result
        self.want = want
        self.selected = set(result.layers)
        self.head_index = torch.tensor(result.heads)
        self.length = result.input_ids.shape[1]
        self.padded = ~result.attention_mask.to(loaded.device)
        self.layer_of = {id(m): i for i, m in modules.items()}

    def layer_index(self, module: torch.nn.Module) -> int:
        index = getattr(module, "layer_idx", None)
        return int(index) if index is not None else self.layer_of[id(module)]

    def __call__(self, call: hf_attention.AttentionCall, layer: int | None = None) -> None:
        layer = self.layer_index(call.module) if layer is None else layer
        weights = call.weights
        if not torch.isfinite(weights).all():
            raise NonFiniteAttentionError(
                f"Layer {layer} produced NaN/inf attention (dtype {weights.dtype}); this is usually fp16 overflow. "
                "Load the model with dtype='bf16' or 'fp32'."
            )
        if layer not in self.selected:
            return
        heads = self.head_index.to(weights.device)
        if "attn" in self.want:
            self._store_attention(layer, call, weights[:, heads])
        if "qk" in self.want:
            self.result.queries[layer] = _drop_slots(call.query[:, heads.to(call.query.device)], self.length).float().cpu()
            self.result.keys[layer] = _drop_slots(call.key, self.length).float().cpu()
        if "v" in self.want:
            self.result.values[layer] = _drop_slots(call.value, self.length).float().cpu()

    def _store_attention(self, layer: int, call: hf_attention.AttentionCall, weights: torch.Tensor) -> None:
        # Models with extra key slots before the tokens (K/KV biases, a learnable sink token: Gu et al. §7.3)
        # give (T+s) x (T+s) maps. The token map is kept as usual; the mass on the slots is a virtual sink.
        slots = weights.shape[-1] - self.length
        pad = self.padded  # zero padded queries and keys so no statistic sees them
        token_map = weights[..., slots:, slots:].float()
        self.result.attentions[layer] = (
            token_map.masked_fill(pad[:, None, :, None], 0.0).masked_fill(pad[:, None, None, :], 0.0).cpu()
        )
        if slots or getattr(call.module, "sinks", None) is not None:
            # GPT-OSS drops its learned sink column after the softmax: the mass is what the rows lack.
            self.result.virtual_sink[layer] = (1.0 - token_map.sum(-1)).masked_fill(pad[:, None, :], 0.0).cpu()


def _run_forward(loaded: LoadedModel, result: Trace, want: set[str]) -> None:
    """The one forward pass: hooks for pre-rotary q/k and block outputs, the recorder on attention."""
    modules = attention_modules(loaded.model)
    record = _Recorder(loaded, result, want, modules)
    length = result.input_ids.shape[1]
    handles = _pre_rotary_hooks(loaded, modules, set(result.layers), result.heads, result) if "qk" in want else []
    block_outputs: dict[int, torch.Tensor] = {}
    if "hidden" in want:
        for i, block in enumerate(layer_modules(loaded.model)):
            handles.append(block.register_forward_hook(_store_output(block_outputs, i, length)))
    base = getattr(loaded.model, "base_model", loaded.model)
    inputs = dict(input_ids=result.input_ids.to(loaded.device), attention_mask=result.attention_mask.long().to(loaded.device),
                  output_hidden_states="hidden" in want, use_cache=False)
    try:
        with torch.no_grad():
            if loaded.info.uses_attention_interface:
                with hf_attention.recording(loaded.model, record):
                    outputs = base(**inputs)
            else:
                outputs = _eager_forward(loaded.model, base, inputs)
                maps = [weights for weights in outputs.attentions if weights is not None]
                # one map per attention block, in block order (a hybrid returns none for its other blocks)
                for layer, weights in zip(loaded.info.attention_layers, maps):
                    module = modules.get(layer, base)
                    record(hf_attention.AttentionCall(module, None, None, None, weights, None, None, None, None), layer)
    finally:
        for handle in handles:
            handle.remove()
    if "hidden" in want:
        _store_hidden(result, outputs, block_outputs)


def _store_hidden(result: Trace, outputs: Any, block_outputs: dict[int, torch.Tensor]) -> None:
    """Embeddings plus every block's output (the last before the final norm), and the post-norm state."""
    length = result.input_ids.shape[1]
    embeddings = _drop_slots(outputs.hidden_states[0], length, axis=1).float().cpu()
    stacked = torch.stack([embeddings] + [block_outputs[i] for i in range(result.info.n_layers)])
    result.hidden_states = stacked * result.attention_mask[None, :, :, None]
    final = _drop_slots(outputs.last_hidden_state, length, axis=1).float().cpu()
    result.final_hidden = final * result.attention_mask[:, :, None]


def _bos_added(specials: list[list[int]]) -> bool:
    """True when every sequence starts with a token the tokenizer added (BOS, or BERT's [CLS])."""
    return all(0 in positions for positions in specials) and bool(specials)


def _drop_slots(states: torch.Tensor, length: int, axis: int = -2) -> torch.Tensor:
    """Drop leading slot positions (sink token / bias slot) so a sequence axis holds the `length` tokens."""
    extra = states.shape[axis] - length
    return states.narrow(axis, extra, length) if extra > 0 else states


def _store_output(store: dict[int, torch.Tensor], index: int, length: int):
    def hook(module, args, output):
        hidden = output[0] if isinstance(output, (tuple, list)) else output
        store[index] = _drop_slots(hidden.detach(), length, axis=1).float().cpu()

    return hook


def _pre_rotary_hooks(loaded: LoadedModel, modules, selected: set[int], head_list: list[int], result: Trace):
    """Hooks that store queries/keys before rotary (after q/k-norm when the model has one).

    Without rotary embeddings the pre- and post-rotary vectors are the same tensors, so we copy them
    after the forward instead of hooking.
    """
    info = loaded.info
    handles = []
    if not info.rope:
        return handles
    head_index = torch.tensor(head_list)
    for layer, module in modules.items():
        if layer not in selected:
            continue
        for kind, names, store, n in (
            ("q", ("q_norm", "q_proj"), result.queries_pre, info.n_heads),
            ("k", ("k_norm", "k_proj"), result.keys_pre, info.n_kv_heads),
        ):
            source = next((getattr(module, nm) for nm in names if getattr(module, nm, None) is not None), None)
            if source is None:
                continue

            heads_first = source is getattr(module, f"{kind}_norm", None) and bool(info.qk_norm_heads_first)

            def hook(mod, args, output, layer=layer, store=store, kind=kind, n=n, heads_first=heads_first):
                if heads_first:  # (B, H, T, d) already
                    shaped = output.float()
                else:  # (B, T, H*d) or (B, T, H, d)
                    b, t = output.shape[0], output.shape[1]
                    shaped = output.reshape(b, t, n, info.head_dim).transpose(1, 2).float()
                if kind == "q":
                    shaped = shaped[:, head_index.to(shaped.device)]
                store[layer] = _drop_slots(shaped, result.input_ids.shape[1]).cpu()

            handles.append(source.register_forward_hook(hook))
    return handles


def _eager_forward(model, base, inputs: dict[str, Any]):
    """Forward with eager attention and output_attentions, for models outside the attention interface."""
    with hf_attention.eager_with_weights(model):
        outputs = base(**inputs, output_attentions=True)
    if not outputs.attentions:
        raise NoAttentionLayersError(f"{type(model).__name__} returned no attention weights, even in eager mode.")
    return outputs
