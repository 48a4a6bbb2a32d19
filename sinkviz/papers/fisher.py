"""Per-sample squared gradient norms for the empirical Fisher trace of Ruscio et al. (NeurIPS 2025).

The model-facing half of the paper's Fisher analysis (official ``Notebooks/fisher.ipynb``); the reduction to
layers and parameter groups is :mod:`sinkviz.metrics.fisher`.

Published (``variant="published"``), as ``compute_fisher_information``:
* all texts are tokenised together with ``padding=True, truncation=True, max_length=128`` (a
  missing pad token becomes EOS), then each sample is run alone but keeps its padding;
* decoders: causal-LM loss with ``labels = input_ids`` — padded positions are NOT set to −100,
  so the loss also asks the model to predict padding (EOS) tokens;
* encoders: 15% of real tokens replaced by the mask token, ``labels = original ids`` for EVERY
  position, so the loss also rewards copying the unmasked tokens;
* per parameter ‖∇θ L‖² (``grad.norm() ** 2``), one backward per sample.

Corrected (``variant="corrected"``): each text tokenised on its own (no padding); decoders use
``labels = input_ids``; encoders put the loss only on the masked positions (others −100) and never
mask tokenizer-added special tokens. The masking is seeded (``seed``); the notebook used no seed.
"""
from __future__ import annotations

from typing import Any, Literal, Sequence

import torch

from sinkviz.models import LoadedModel, unwrap

__all__ = ["fisher_per_sample"]

_NEEDS_LM_HEAD = ("the Fisher analysis needs a language-model head (AutoModelForCausalLM for decoders, "
                  "AutoModelForMaskedLM for encoders); embedded encoders such as minilm-l6 ship without one")


def fisher_per_sample(
    model: LoadedModel,
    texts: Sequence[str],
    *,
    variant: Literal["published", "corrected"] = "published",
    max_length: int = 128,
    mlm_probability: float = 0.15,
    seed: int = 0,
) -> list[dict[str, float]]:
    """Return, for each text, ``{parameter_name: ‖∇θ L‖²}`` (parameters with an all-zero gradient
    omitted, as the notebook skips them). ``model`` is a ``sinkviz.load`` result whose model has a
    language-model head (causal LM for decoders, masked LM for encoders)."""
    if variant not in ("published", "corrected"):
        raise ValueError(f"variant must be 'published' or 'corrected', got {variant!r}")
    if not texts:
        raise ValueError("fisher_per_sample needs at least one text")
    net, tok, _ = unwrap(model)
    if tok is None:
        raise ValueError("pass a sinkviz LoadedModel (sinkviz.load(...)), which carries its tokenizer")
    causal = model.info.causal
    device = next(net.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    head = net.get_output_embeddings() if hasattr(net, "get_output_embeddings") else None
    if head is None:
        raise ValueError(f"{type(net).__name__} has no language-model head: {_NEEDS_LM_HEAD}")
    if tok.pad_token is None and causal:
        tok.pad_token = tok.eos_token
    if not causal and tok.mask_token_id is None:
        raise ValueError("this encoder's tokenizer has no mask token: a masked-LM loss cannot be formed")

    if variant == "published":
        enc = tok(list(texts), return_tensors="pt", padding=True, truncation=True, max_length=max_length)
        batches = [{k: v[i:i + 1] for k, v in enc.items()} for i in range(len(texts))]
    else:
        batches = [tok(t, return_tensors="pt", truncation=True, max_length=max_length) for t in texts]

    params = [(n, p) for n, p in net.named_parameters()]
    req = {n: p.requires_grad for n, p in params}
    for _, p in params:
        p.requires_grad_(True)
    out: list[dict[str, float]] = []
    try:
        for batch in batches:
            mask = batch["attention_mask"]
            if causal:
                inputs, labels = batch["input_ids"], batch["input_ids"].clone()
            else:
                inputs, labels = _masked_lm_inputs(batch["input_ids"], mask, tok, variant, mlm_probability, gen)
            net.zero_grad(set_to_none=True)
            with torch.enable_grad():
                res = net(input_ids=inputs.to(device), attention_mask=mask.to(device), labels=labels.to(device))
                loss = getattr(res, "loss", None)
                if loss is None:
                    raise ValueError(f"{type(net).__name__} returned no loss: {_NEEDS_LM_HEAD}")
                if not torch.isfinite(loss):
                    # corrected MLM with nothing masked (short text): no signal for this sample
                    out.append({})
                    continue
                loss.backward()
            out.append(_squared_gradient_norms(params))
    finally:
        net.zero_grad(set_to_none=True)
        for n, p in params:
            p.requires_grad_(req[n])
    return out


def _masked_lm_inputs(ids: torch.Tensor, mask: torch.Tensor, tok: Any, variant: str, mlm_probability: float,
                      gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs, labels) of one encoder sample: each real token masked with probability ``mlm_probability``;
    published: labels are the original ids everywhere and specials may be masked; corrected: labels only on
    the masked positions (others −100) and tokenizer-added specials never masked."""
    special = torch.zeros_like(ids, dtype=torch.bool)
    if variant == "corrected":
        special = torch.tensor(
            tok.get_special_tokens_mask(ids[0].tolist(), already_has_special_tokens=True), dtype=torch.bool
        )[None]
    chosen = torch.bernoulli(torch.full(ids.shape, mlm_probability), generator=gen).bool()
    chosen &= mask.bool() & ~special
    inputs = ids.clone()
    inputs[chosen] = tok.mask_token_id
    labels = ids.clone()
    if variant == "corrected":
        labels[~chosen] = -100
    return inputs, labels


def _squared_gradient_norms(params: list[tuple[str, torch.nn.Parameter]]) -> dict[str, float]:
    """‖∇θ L‖² per parameter after one backward (``grad.norm() ** 2``); all-zero gradients left out."""
    sample: dict[str, float] = {}
    for name, p in params:
        if p.grad is None:
            continue
        g = p.grad.detach()
        if torch.all(g == 0):
            continue
        sample[name] = float(g.float().norm().item() ** 2)
    return sample
