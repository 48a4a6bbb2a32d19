"""The lab's small LLaMA-style decoder, as a transformers model (model_type ``"sinkviz_lab"``).

A pre-norm RMSNorm / SwiGLU / RoPE decoder like Gu et al.'s 60M model (Gu et al. 2025, §4), with the
switches of their §§5–7 as config fields:

* ``attn_op`` (§7.4, Table 6): ``"softmax"``; ``"sigmoid"``: sim = sigmoid(q·k/√d);
  ``"elu1"``: sim = elu(q·k/√d) + 1; ``"elu_kernel"``: sim = φ(q)·φ(k)/√d with φ = elu + 1;
  ``"identity"`` (linear attention): sim = q·k/√d.
* ``attn_norm`` (the normaliser Z_i): True -> Z_i = Σ_j sim_ij + 1e-8 (sigmoid / elu1 / elu_kernel) or
  Z_i = max(|Σ_j sim_ij|, 1) (identity, signed); False -> Z_i = 1. Softmax always normalises.
  Attention weights are sim_ij / Z_i; the lab's evaluation turns them into the paper's proxy scores.
* ``bias_mode`` (§7.3, Table 4): ``"k"``: a learnable key k* at an extra slot 0 with v* = 0;
  ``"kv"``: learnable k* and v*; both are prepended *after* RoPE (unrotated) with a zero query row, so
  attention maps are (T+1)×(T+1) and index 0 is the slot (Sink_*), index 1 the first token (as in the
  authors' released code, sail-sg/Attention-Sink, ``lit_gpt/model_kv_bias.py``). ``"v"``: a learnable v*
  added to every attention output (no slot; the official code's "V biases"). ``"sink_token"``: a learnable input embedding x* prepended before the
  first token in every sequence, processed by all layers like a token, with no loss on it; maps are
  again (T+1)×(T+1) with the sink token at index 0. ``bias_per_head`` chooses per-head or shared k*/v*.
* ``pos_encoding`` (§6, Table 3): ``"rope"``, ``"nope"``, ``"learned"`` (absolute, added to the input
  embedding), ``"alibi"`` (linear bias −m_h (i − j) added to the logits).
* ``norm_position`` (§7.2): ``"pre"`` (default) or ``"post"`` (h = LN(h + f(h))).
* ``sliding_window`` w (§5, Fig. 6): query i sees keys i−w+1..i. ``prefix_length`` p (§5, Fig. 5):
  the first p tokens see each other bidirectionally (prefix-LM mask).

Attention goes through transformers' attention interface
(``ALL_ATTENTION_FUNCTIONS.get_interface(config._attn_implementation, eager_attention_forward)``), so
sinkviz's capture (which delegates to the ``eager_attention_forward`` of this module) sees post-rotary
queries and keys. ``"sdpa"`` is honoured only for softmax; every other op always runs the eager function
here, because fused kernels hard-code softmax.

:func:`register` adds the classes to ``AutoConfig`` and ``AutoModelForCausalLM`` (no ``trust_remote_code``),
so ``save_pretrained`` checkpoints load with ``sinkviz.load(path)``. The loader calls it through the entry
point ``sinkviz.model_types: sinkviz_lab`` when it meets a ``"sinkviz_lab"`` checkpoint; importing this module
calls it too, so code that builds lab models directly needs nothing else.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, LlamaConfig, PreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import BaseModelOutputWithPast, CausalLMOutputWithPast
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
from transformers.models.llama.modeling_llama import (
    LlamaMLP,
    LlamaRMSNorm,
    LlamaRotaryEmbedding,
    apply_rotary_pos_emb,
)

from sinkviz.lab.loss import IGNORE_INDEX, linear_cross_entropy
from sinkviz.metrics import visibility_mask

MODEL_TYPE = "sinkviz_lab"
ATTN_OPS = ("softmax", "sigmoid", "elu1", "elu_kernel", "identity")
BIAS_MODES = (None, "k", "kv", "v", "sink_token")
POS_ENCODINGS = ("rope", "nope", "learned", "alibi")
NORM_POSITIONS = ("pre", "post")
# Kernels that compute softmax internally: only valid for attn_op == "softmax".
_SOFTMAX_ONLY_IMPLEMENTATIONS = ("sdpa", "flash_attention_2", "flash_attention_3", "flex_attention")


class SinkLabConfig(LlamaConfig):
    """LlamaConfig plus the lab's switches (see the module docstring for their meaning)."""

    model_type = MODEL_TYPE

    attn_op: str = "softmax"
    attn_norm: bool = True
    bias_mode: str | None = None
    bias_per_head: bool = True
    pos_encoding: str = "rope"
    norm_position: str = "pre"
    sliding_window: int | None = None
    prefix_length: int = 0

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        self.validate_lab()

    def validate_lab(self) -> None:
        """Raise ValueError naming the bad switch and the allowed values."""
        def bad(name, value, allowed):
            raise ValueError(f"sinkviz lab config: {name}={value!r} is not allowed; use one of {list(allowed)}.")

        if self.attn_op not in ATTN_OPS:
            bad("attn_op", self.attn_op, ATTN_OPS)
        if self.bias_mode not in BIAS_MODES:
            bad("bias_mode", self.bias_mode, BIAS_MODES)
        if self.pos_encoding not in POS_ENCODINGS:
            bad("pos_encoding", self.pos_encoding, POS_ENCODINGS)
        if self.norm_position not in NORM_POSITIONS:
            bad("norm_position", self.norm_position, NORM_POSITIONS)
        if self.pos_encoding == "alibi" and self.attn_op in ("elu_kernel", "identity"):
            raise ValueError(
                f"sinkviz lab config: ALiBi adds a bias to logits, but attn_op={self.attn_op!r} has no logits "
                "(a kernel or linear similarity). Use softmax, sigmoid or elu1 with ALiBi."
            )
        if self.sliding_window is not None and int(self.sliding_window) < 1:
            raise ValueError(f"sinkviz lab config: sliding_window must be >= 1 or None, got {self.sliding_window}.")
        if int(self.prefix_length) < 0:
            raise ValueError(f"sinkviz lab config: prefix_length must be >= 0, got {self.prefix_length}.")
        if self.num_key_value_heads != self.num_attention_heads:
            raise ValueError("sinkviz lab config: the lab models use multi-head attention "
                             "(num_key_value_heads == num_attention_heads).")

    @property
    def attention_slot(self) -> bool:
        """True when attention maps carry an extra slot at index 0 (K/KV biases, sink token)."""
        return self.bias_mode in ("k", "kv", "sink_token")


def alibi_slopes(n_heads: int) -> torch.Tensor:
    """ALiBi head slopes m_h = 2^(−8h/H), h = 1..H (Press et al. 2022; exact for powers of two)."""
    return torch.tensor([2.0 ** (-8.0 * (h + 1) / n_heads) for h in range(n_heads)])


def build_attention_mask(
    config: SinkLabConfig,
    length: int,
    *,
    padding: torch.Tensor | None = None,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Additive attention mask (B or 1, H or 1, T', T') for a sequence of ``length`` real tokens.

    T' = length + 1 when the config has a slot at index 0 (K/KV biases, sink token); the slot is visible
    to every query. Entries are 0 where query i may see key j and the dtype's minimum elsewhere; ALiBi
    adds −m_h·(i − j) between real tokens. ``padding`` (B, length) marks real tokens with True/1.
    """
    slot = 1 if config.attention_slot else 0
    n = length + slot
    window = int(config.sliding_window) if config.sliding_window is not None else None
    tokens = torch.from_numpy(visibility_mask(length, True, window)).to(device)
    prefix = min(int(config.prefix_length), length)
    tokens[:prefix, :prefix] = True  # the prefix-LM's bidirectional block
    allowed = torch.zeros(n, n, dtype=torch.bool, device=device)
    allowed[slot:, slot:] = tokens
    if slot:
        allowed[:, 0] = True  # the slot is visible to every query; its own row sees only itself
    allowed = allowed[None, None]  # (1, 1, n, n)
    if padding is not None:
        pad = padding.to(device=device, dtype=torch.bool)
        if slot:
            pad = torch.cat([torch.ones_like(pad[:, :1]), pad], dim=1)
        allowed = allowed & pad[:, None, None, :]
    mask = torch.zeros(allowed.shape, device=device, dtype=dtype)
    if config.pos_encoding == "alibi":
        slopes = alibi_slopes(config.num_attention_heads).to(device=device, dtype=dtype)
        position = torch.arange(n, device=device) - slot  # token indices; the slot is -1
        distance = (position[:, None] - position[None, :]).clamp(min=0).to(dtype)
        distance[:, :slot] = 0  # the slot carries no distance
        mask = mask - slopes[None, :, None, None] * distance[None, None]
    return mask.masked_fill(~allowed, torch.finfo(dtype).min)


def _is_plain_causal(config: SinkLabConfig, padding: torch.Tensor | None) -> bool:
    return (
        config.sliding_window is None and not config.prefix_length and config.pos_encoding != "alibi"
        and (padding is None or bool(padding.all()))
    )


def eager_attention_forward(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float | None = None,
    dropout: float = 0.0,
    **kwargs,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Eager attention for every lab op. query/key/value: (B, H, T, d); mask additive (…, T, T) or None
    (plain causal). Returns (output (B, T, H, d), weights (B, H, T, T)); weights = sim / Z as trained."""
    config = module.config
    op, normalise = config.attn_op, config.attn_norm
    scaling = module.scaling if scaling is None else scaling
    t_q, t_k = query.shape[-2], key.shape[-2]
    if attention_mask is None:
        allowed = torch.ones(t_q, t_k, dtype=torch.bool, device=query.device).tril(t_k - t_q)
        additive = None
    else:
        allowed = attention_mask > torch.finfo(attention_mask.dtype).min / 2
        additive = attention_mask.to(torch.float32).masked_fill(~allowed, 0.0)
    if op == "elu_kernel":
        phi_q = nn.functional.elu(query.float()) + 1.0
        phi_k = nn.functional.elu(key.float()) + 1.0
        logits = torch.matmul(phi_q, phi_k.transpose(-1, -2)) * scaling
    else:
        logits = torch.matmul(query.float(), key.float().transpose(-1, -2)) * scaling
        if additive is not None:
            logits = logits + additive
    if op == "softmax":
        weights = torch.softmax(logits.masked_fill(~allowed, float("-inf")), dim=-1)
        weights = torch.nan_to_num(weights, nan=0.0)  # fully masked rows (padding)
    else:
        if op == "sigmoid":
            sim = torch.sigmoid(logits)
        elif op == "elu1":
            sim = nn.functional.elu(logits) + 1.0
        else:  # elu_kernel (already positive) or identity (signed)
            sim = logits
        sim = sim.masked_fill(~allowed, 0.0)
        if not normalise:
            weights = sim
        elif op == "identity":
            weights = sim / sim.sum(dim=-1, keepdim=True).abs().clamp(min=1.0)
        else:
            weights = sim / (sim.sum(dim=-1, keepdim=True) + 1e-8)
    weights = weights.to(query.dtype)
    weights = nn.functional.dropout(weights, p=dropout, training=module.training)
    output = torch.matmul(weights, value).transpose(1, 2).contiguous()
    return output, weights


class SinkLabAttention(nn.Module):
    """Multi-head self-attention with the lab's switches; dispatches through the attention interface."""

    def __init__(self, config: SinkLabConfig, layer_idx: int):
        super().__init__()
        self.config = config
        self.layer_idx = layer_idx
        self.head_dim = config.head_dim
        self.num_heads = config.num_attention_heads
        self.num_key_value_groups = 1
        self.scaling = self.head_dim**-0.5
        self.attention_dropout = config.attention_dropout
        self.is_causal = True
        self.sliding_window = config.sliding_window
        width = self.num_heads * self.head_dim
        self.q_proj = nn.Linear(config.hidden_size, width, bias=config.attention_bias)
        self.k_proj = nn.Linear(config.hidden_size, width, bias=config.attention_bias)
        self.v_proj = nn.Linear(config.hidden_size, width, bias=config.attention_bias)
        self.o_proj = nn.Linear(width, config.hidden_size, bias=config.attention_bias)
        shape = (self.num_heads, self.head_dim) if config.bias_per_head else (self.head_dim,)
        if config.bias_mode in ("k", "kv"):
            self.k_bias = nn.Parameter(torch.zeros(shape))
        if config.bias_mode in ("kv", "v"):
            self.v_bias = nn.Parameter(torch.zeros(shape))

    def _slot(self, param: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor:
        """(B, H, 1, d) slot vector from a (H, d) or (d,) parameter, or zeros."""
        b = like.shape[0]
        if param is None:
            return like.new_zeros(b, self.num_heads, 1, self.head_dim)
        p = param if param.dim() == 2 else param.expand(self.num_heads, self.head_dim)
        return p.to(like.dtype)[None, :, None, :].expand(b, -1, -1, -1)

    def forward(
        self,
        hidden_states: torch.Tensor,
        position_embeddings: tuple[torch.Tensor, torch.Tensor] | None = None,
        attention_mask: torch.Tensor | None = None,
        **kwargs,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        input_shape = hidden_states.shape[:-1]
        hidden_shape = (*input_shape, -1, self.head_dim)
        query = self.q_proj(hidden_states).view(hidden_shape).transpose(1, 2)
        key = self.k_proj(hidden_states).view(hidden_shape).transpose(1, 2)
        value = self.v_proj(hidden_states).view(hidden_shape).transpose(1, 2)
        if position_embeddings is not None:
            cos, sin = position_embeddings
            query, key = apply_rotary_pos_emb(query, key, cos, sin)
        slot = self.config.bias_mode in ("k", "kv")
        if slot:  # after RoPE: the slot is not rotated; its query row is zero (as the authors' code does)
            query = torch.cat([torch.zeros_like(query[:, :, :1]), query], dim=2)
            key = torch.cat([self._slot(self.k_bias, key), key], dim=2)
            value = torch.cat([self._slot(getattr(self, "v_bias", None), value), value], dim=2)

        implementation = self.config._attn_implementation or "eager"
        if self.config.attn_op != "softmax" and implementation in _SOFTMAX_ONLY_IMPLEMENTATIONS:
            attention_interface: Callable = eager_attention_forward
        else:
            attention_interface = ALL_ATTENTION_FUNCTIONS.get_interface(implementation, eager_attention_forward)
        kwargs.pop("output_attentions", None)
        if self.sliding_window is not None:
            kwargs["sliding_window"] = self.sliding_window
        output, weights = attention_interface(
            self, query, key, value, attention_mask,
            dropout=0.0 if not self.training else self.attention_dropout,
            scaling=self.scaling, **kwargs,
        )
        if slot:
            output = output[:, 1:]
        if self.config.bias_mode == "v":
            output = output + self._slot(self.v_bias, output).transpose(1, 2)
        output = output.reshape(*input_shape, -1).contiguous()
        return self.o_proj(output), weights


class SinkLabDecoderLayer(nn.Module):
    """One block: pre-norm h + f(LN(h)) or post-norm LN(h + f(h)), for attention then SwiGLU."""

    def __init__(self, config: SinkLabConfig, layer_idx: int):
        super().__init__()
        self.post_norm = config.norm_position == "post"
        self.self_attn = SinkLabAttention(config, layer_idx)
        self.mlp = LlamaMLP(config)
        self.input_layernorm = LlamaRMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.post_attention_layernorm = LlamaRMSNorm(config.hidden_size, eps=config.rms_norm_eps)

    def forward(self, hidden_states, attention_mask=None, position_embeddings=None, **kwargs):
        if self.post_norm:
            attn, weights = self.self_attn(hidden_states, position_embeddings, attention_mask, **kwargs)
            hidden_states = self.input_layernorm(hidden_states + attn)
            hidden_states = self.post_attention_layernorm(hidden_states + self.mlp(hidden_states))
        else:
            attn, weights = self.self_attn(self.input_layernorm(hidden_states), position_embeddings,
                                           attention_mask, **kwargs)
            hidden_states = hidden_states + attn
            hidden_states = hidden_states + self.mlp(self.post_attention_layernorm(hidden_states))
        return hidden_states, weights


class SinkLabPreTrainedModel(PreTrainedModel):
    config_class = SinkLabConfig
    config: SinkLabConfig
    base_model_prefix = "model"
    _no_split_modules = ["SinkLabDecoderLayer"]
    _supports_sdpa = True
    _supports_flash_attn = False
    _supports_flex_attn = False
    _supports_attention_backend = True

    def _init_weights(self, module):
        super()._init_weights(module)
        std = self.config.initializer_range
        if isinstance(module, SinkLabAttention):  # N(0, 0.02), as the authors' code initialises them
            for name in ("k_bias", "v_bias"):
                if hasattr(module, name):
                    init.normal_(getattr(module, name), mean=0.0, std=std)
        elif isinstance(module, SinkLabModel) and module.sink_embedding is not None:
            init.normal_(module.sink_embedding, mean=0.0, std=std)


class SinkLabModel(SinkLabPreTrainedModel):
    """The decoder stack. Outputs keep the sink token's slot (index 0) when ``bias_mode == "sink_token"``."""

    def __init__(self, config: SinkLabConfig):
        super().__init__(config)
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.sink_embedding = (
            nn.Parameter(torch.zeros(config.hidden_size)) if config.bias_mode == "sink_token" else None
        )
        self.embed_positions = (
            nn.Embedding(config.max_position_embeddings, config.hidden_size)
            if config.pos_encoding == "learned" else None
        )
        self.layers = nn.ModuleList(SinkLabDecoderLayer(config, i) for i in range(config.num_hidden_layers))
        self.norm = LlamaRMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        # Only RoPE models own a rotary module (sinkviz reads RoPE from its presence).
        self.rotary_emb = LlamaRotaryEmbedding(config=config) if config.pos_encoding == "rope" else None
        self.eager_rotary = False  # see _rotary_outside_compile
        self.post_init()

    @torch.compiler.disable
    def _rotary_outside_compile(self, hidden: torch.Tensor, positions: torch.Tensor):
        """The rotary cos/sin computed eagerly even when the model is compiled (a graph break), so that the compiled
        layers read them as inputs. Compiled inline, cos and sin are fused into every layer's RoPE kernels (their
        names carry ``bmm_cat_cos_mul_neg_sin``) and so recomputed per element of q and k, forward and backward;
        those kernels are 11 % of the control's step. Same values either way; opt-in, since on one H200 it was
        faster for the 60M-class model only (``benchmarks/results/lab_throughput_options.json``)."""
        return self.rotary_emb(hidden, positions)

    def get_input_embeddings(self):
        return self.embed_tokens

    def set_input_embeddings(self, value):
        self.embed_tokens = value

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        **kwargs,
    ) -> BaseModelOutputWithPast:
        config = self.config
        for unsupported in ("past_key_values", "position_ids"):
            if kwargs.pop(unsupported, None) is not None:
                raise ValueError(f"sinkviz lab models do not support {unsupported} (no KV cache, positions 0..T-1).")
        kwargs.pop("use_cache", None)
        kwargs.pop("return_dict", None)
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("Pass exactly one of input_ids or inputs_embeds.")
        hidden = self.embed_tokens(input_ids) if inputs_embeds is None else inputs_embeds
        batch, length = hidden.shape[:2]
        padding = attention_mask
        if self.sink_embedding is not None:
            sink = self.sink_embedding.to(hidden.dtype)[None, None].expand(batch, 1, -1)
            hidden = torch.cat([sink, hidden], dim=1)
        total = hidden.shape[1]
        if total > config.max_position_embeddings:
            raise ValueError(f"Sequence of {total} positions exceeds max_position_embeddings="
                             f"{config.max_position_embeddings}.")
        positions = torch.arange(total, device=hidden.device)[None]
        if self.embed_positions is not None:
            hidden = hidden + self.embed_positions(positions)
        position_embeddings = None
        if self.rotary_emb is not None:
            # With K/KV biases the slot is added inside attention, unrotated; tokens keep positions 0..T-1.
            rotary = self._rotary_outside_compile if self.eager_rotary else self.rotary_emb
            position_embeddings = rotary(hidden, positions)

        implementation = config._attn_implementation or "eager"
        fast = config.attn_op == "softmax" and implementation in _SOFTMAX_ONLY_IMPLEMENTATIONS
        if fast and _is_plain_causal(config, padding):
            mask = None  # let SDPA / flash use their causal path
        else:
            mask_dtype = torch.float32 if implementation == "eager" or not fast else hidden.dtype
            mask = build_attention_mask(config, length, padding=padding, device=hidden.device,
                                        dtype=mask_dtype)

        all_hidden = [hidden] if output_hidden_states else None
        all_attn = [] if output_attentions else None
        for layer in self.layers:
            hidden, weights = layer(hidden, attention_mask=mask, position_embeddings=position_embeddings, **kwargs)
            if output_hidden_states:
                all_hidden.append(hidden)
            if output_attentions:
                all_attn.append(weights)
        hidden = self.norm(hidden)
        return BaseModelOutputWithPast(
            last_hidden_state=hidden,
            hidden_states=tuple(all_hidden) if all_hidden is not None else None,
            attentions=tuple(all_attn) if all_attn is not None else None,
        )


class SinkLabForCausalLM(SinkLabPreTrainedModel):
    """Decoder + LM head. Logits and loss cover the input tokens only (the sink token is dropped).

    ``loss_start``: positions before it carry no loss (the prefix-LM's p − 1 leaking predictions).
    ``hidden_states``/``attentions`` are the block outputs *before* the final norm / the per-layer
    weights, including index 0 for the slot where the config has one.
    """

    _tied_weights_keys: dict[str, str] = {}

    def __init__(self, config: SinkLabConfig):
        super().__init__(config)
        self.model = SinkLabModel(config)
        self.vocab_size = config.vocab_size
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def get_input_embeddings(self):
        return self.model.embed_tokens

    def get_output_embeddings(self):
        return self.lm_head

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        loss_start: int = 0,
        fused_loss: bool = False,
        **kwargs,
    ) -> CausalLMOutputWithPast:
        """``fused_loss``: compute the loss with :func:`sinkviz.lab.loss.linear_cross_entropy` (chunked, no logits
        held; the output's ``logits`` is then None). Needs ``labels``."""
        outputs = self.model(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
        hidden = outputs.last_hidden_state
        if self.config.bias_mode == "sink_token":
            hidden = hidden[:, 1:]
        if fused_loss and labels is None:
            raise ValueError("fused_loss=True computes the loss without logits, so it needs labels.")
        loss = logits = None
        if labels is not None:
            shift_labels = labels[:, 1:].clone()
            if attention_mask is not None:
                shift_labels = shift_labels.masked_fill(~attention_mask[:, 1:].bool(), IGNORE_INDEX)
            if loss_start > 0:
                shift_labels[:, :loss_start] = IGNORE_INDEX
        if fused_loss:
            loss = linear_cross_entropy(hidden[:, :-1].reshape(-1, hidden.shape[-1]), self.lm_head.weight,
                                        shift_labels.reshape(-1))
        else:
            logits = self.lm_head(hidden)
            if labels is not None:
                shift_logits = logits[:, :-1].float()
                loss = nn.functional.cross_entropy(shift_logits.reshape(-1, shift_logits.shape[-1]),
                                                   shift_labels.reshape(-1), ignore_index=IGNORE_INDEX)
        return CausalLMOutputWithPast(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )


def register() -> None:
    """Register the lab classes with transformers' Auto factories (idempotent; the entry point of the
    ``sinkviz.model_types`` group)."""
    AutoConfig.register(MODEL_TYPE, SinkLabConfig, exist_ok=True)
    AutoModel.register(SinkLabConfig, SinkLabModel, exist_ok=True)
    AutoModelForCausalLM.register(SinkLabConfig, SinkLabForCausalLM, exist_ok=True)


register()  # importing the lab is enough to load lab checkpoints with transformers' Auto classes


def count_parameters(model: nn.Module) -> dict[str, int]:
    """Total, embedding (input + positions + LM head) and non-embedding parameter counts."""
    total = sum(p.numel() for p in model.parameters())
    embedding = 0
    for name, p in model.named_parameters():
        if name.endswith(("embed_tokens.weight", "embed_positions.weight", "lm_head.weight")):
            embedding += p.numel()
    return {"total": total, "embedding": embedding, "non_embedding": total - embedding}


def model_from_size(vocab_size: int, *, hidden_size: int, num_layers: int, num_heads: int,
                    intermediate_size: int | None = None, max_positions: int = 2048, **switches) -> SinkLabForCausalLM:
    """Build a fresh lab model: ``intermediate_size`` defaults to 2·hidden_size (the 60M model's ratio)."""
    config = SinkLabConfig(
        vocab_size=vocab_size, hidden_size=hidden_size, num_hidden_layers=num_layers,
        num_attention_heads=num_heads, num_key_value_heads=num_heads,
        intermediate_size=intermediate_size or 2 * hidden_size, max_position_embeddings=max_positions,
        rms_norm_eps=1e-5, rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
        bos_token_id=None, eos_token_id=None, pad_token_id=None, tie_word_embeddings=False, **switches,
    )
    return SinkLabForCausalLM(config)


__all__ = [
    "SinkLabConfig", "SinkLabModel", "SinkLabForCausalLM", "eager_attention_forward", "build_attention_mask",
    "alibi_slopes", "count_parameters", "model_from_size", "register", "ATTN_OPS", "BIAS_MODES",
    "POS_ENCODINGS",
]
