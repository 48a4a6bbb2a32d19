"""Table 7 of Gu et al. (ICLR 2025): edit a model's learned absolute position embeddings and re-measure the sink.

The paper takes GPT2-XL and either **replaces** the first position embedding p₁ by p_t (p₁ ← p_t) or **swaps**
p₁ and p_t, for t ∈ {5, 10, 15, 20, 25, 30}, then measures Sink₁ and Sink_t (ε = 0.3, T = 64).  Reported:
replacing p₁ nearly removes the sink (62.28 → 0.20 at t = 5), swapping moves it to position t (Sink_t ≈ 50–58).
The baseline 62.28 equals Table 1's "repeat" value, so the table was probably measured on repeated-token inputs
(our reading; the paper does not say); :func:`table7` takes whatever ids you give.

:func:`edited_positions` is a context manager that edits the embedding rows of a loaded model in place and
restores them exactly on exit (also on error).  It works for any model with a learned absolute position
embedding table (GPT-2 ``wpe``, OPT ``embed_positions`` with its offset of 2, BERT ``position_embeddings``).
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch

from sinkviz.capture import trace
from sinkviz.metrics.sink import PAPER_EPS, sink_metric
from sinkviz.models import unwrap

__all__ = ["PAPER_TS", "position_embedding", "edited_positions", "table7", "tiny_random_gpt2"]

PAPER_TS = (5, 10, 15, 20, 25, 30)
_CANDIDATES = ("wpe", "embed_positions", "position_embeddings")


def position_embedding(model: Any) -> tuple[torch.nn.Embedding, int]:
    """The learned absolute position table of ``model`` (a ``LoadedModel`` or an HF module) and the row offset
    of position 0 (2 for OPT, else 0).  Raises for models without one (RoPE, ALiBi, relative positions)."""
    hf = unwrap(model)[0]
    for name, module in hf.named_modules():
        if name.split(".")[-1] in _CANDIDATES and isinstance(module, torch.nn.Embedding):
            return module, int(getattr(module, "offset", 0))
    raise ValueError(
        f"{type(hf).__name__} has no learned absolute position embedding (looked for modules named "
        f"{', '.join(_CANDIDATES)}): Table 7 applies to GPT-2-type models, not to rotary/ALiBi/NoPE models"
    )


@contextmanager
def edited_positions(model: Any, mode: str, t: int, first: int = 1) -> Iterator[torch.nn.Embedding]:
    """Within the block, position ``first`` uses ``p_t`` (``mode="replace"``: p_first ← p_t) or positions
    ``first`` and ``t`` exchange embeddings (``mode="swap"``).  Positions are **1-indexed** as in the paper.
    The original rows are restored on exit, bit for bit."""
    if mode not in ("replace", "swap"):
        raise ValueError(f"mode must be 'replace' or 'swap'; got {mode!r}")
    emb, offset = position_embedding(model)
    n_pos = emb.weight.shape[0] - offset
    for name, pos in (("t", t), ("first", first)):
        if not 1 <= pos <= n_pos:
            raise ValueError(f"{name}={pos} must be a 1-indexed position in [1, {n_pos}]")
    i, j = first - 1 + offset, t - 1 + offset
    saved = emb.weight.detach()[[i, j]].clone()
    try:
        with torch.no_grad():
            if mode == "replace":
                emb.weight[i] = saved[1]
            else:
                emb.weight[i] = saved[1]
                emb.weight[j] = saved[0]
        yield emb
    finally:
        with torch.no_grad():
            emb.weight[i] = saved[0]
            emb.weight[j] = saved[1]


def _sink_vector(loaded: Any, input_ids: torch.Tensor, eps: float) -> Any:
    tr = trace(loaded, input_ids, capture=("attn",))
    return sink_metric(tr.attention_stack(), eps, causal=tr.info.causal, lengths=tr.lengths)


def table7(loaded: Any, input_ids: torch.Tensor, ts: Sequence[int] = PAPER_TS, *, eps: float = PAPER_EPS,
           modes: Sequence[str] = ("replace", "swap")) -> dict[str, Any]:
    """Rebuild Table 7 on ``loaded`` (a ``LoadedModel``) for token ids ``(N, T)``.

    Returns ``{"baseline": {"sink_1": .., }, "rows": [{"mode", "t", "sink_1", "sink_t"}, ...], "eps", "T", "N"}``
    with Sink in %.  The model is restored after every edit.
    """
    ids = torch.as_tensor(input_ids, dtype=torch.long)
    if ids.ndim != 2:
        raise ValueError(f"input_ids must be (N, T); got shape {tuple(ids.shape)}")
    T = ids.shape[1]
    for t in ts:
        if not 1 < t <= T:
            raise ValueError(f"t={t} must lie in (1, T={T}] so Sink_t exists")
    base = _sink_vector(loaded, ids, eps)
    rows = []
    for mode in modes:
        for t in ts:
            with edited_positions(loaded, mode, t):
                s = _sink_vector(loaded, ids, eps)
            rows.append({"mode": mode, "t": int(t), "sink_1": float(s[0]), "sink_t": float(s[t - 1])})
    return {"baseline": {"sink_1": float(base[0]), **{f"sink_{t}": float(base[t - 1]) for t in ts}},
            "rows": rows, "eps": eps, "T": int(T), "N": int(ids.shape[0])}


def tiny_random_gpt2(folder: str | Path, tokenizer: Any, *, n_layer: int = 4, n_head: int = 4, n_embd: int = 64,
                     n_positions: int = 128, seed: int = 0) -> Path:
    """Save a tiny **randomly initialised** GPT-2 (learned absolute positions) with ``tokenizer`` to ``folder``
    (safetensors) and return the folder, for running Table 7's code offline.  It has no trained sink: its numbers
    show the code path, not the paper's effect."""
    from transformers import GPT2Config, GPT2LMHeadModel

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    config = GPT2Config(vocab_size=len(tokenizer), n_layer=n_layer, n_head=n_head, n_embd=n_embd,
                        n_positions=n_positions, bos_token_id=tokenizer.bos_token_id,
                        eos_token_id=tokenizer.eos_token_id)
    GPT2LMHeadModel(config).save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder
