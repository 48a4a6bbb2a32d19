"""Gu et al., "When Attention Sink Emerges in Language Models" (ICLR 2025): measurement runners for the notebook.

Thin glue between capture (``sinkviz.trace``) and the pure metrics in :mod:`sinkviz.metrics` — no metric is
defined here.  Each function takes a loaded model (``sinkviz.load``) or a ``Trace`` and returns the arrays the
figure factories in :mod:`sinkviz.plots` take.  The sink metric Sink_k^ε is the paper's §3.2 (ε = 0.3, T = 64,
:mod:`sinkviz.metrics.sink`); the paper's own numbers come from :func:`sinkviz.papers.reported.reported_numbers`.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from sinkviz.capture import Trace, trace
from sinkviz.errors import require
from sinkviz.metrics.manifold import first_key_offsubspace, key_pca
from sinkviz.metrics.norms import NormProfile, first_vs_rest_norms
from sinkviz.metrics.qk import QKDecomposition, qk_decomposition
from sinkviz.metrics.rope import rope_first_vs_rest, rope_frequencies, rope_plane_contributions
from sinkviz.metrics.sink import PAPER_EPS, importance_scores, sink_rate
from sinkviz.models import unwrap
from sinkviz.papers.probes import ProbeBatch, probe_inputs, tokenizer_prefix
from sinkviz.plots.style import GU_BASE, index_label

__all__ = [
    "n_parameters",
    "trace_batches",
    "importance_for",
    "first_key_columns",
    "table1",
    "norm_profiles",
    "qk_settings",
    "rope_planes",
    "key_manifold",
]


def n_parameters(loaded: Any) -> int:
    """Number of parameters of the loaded model (embeddings included, as the paper's size axis)."""
    return int(sum(p.numel() for p in loaded.model.parameters()))


def trace_batches(loaded: Any, input_ids: torch.Tensor, *, batch_size: int = 10,
                  capture: Sequence[str] = ("attn",), **kwargs: Any) -> list[Trace]:
    """``sinkviz.trace`` over rows of ``input_ids`` in batches (bounded memory)."""
    ids = torch.as_tensor(input_ids, dtype=torch.long)
    return [trace(loaded, ids[i:i + batch_size], capture=capture, **kwargs) for i in range(0, len(ids), batch_size)]


def importance_for(loaded: Any, input_ids: torch.Tensor, *, batch_size: int = 10) -> np.ndarray:
    """Importance scores α ``(N, L, H, T)`` of every (sample, layer, query head, key) — causal or bidirectional
    as the model is."""
    out = []
    for tr in trace_batches(loaded, input_ids, batch_size=batch_size):
        out.append(importance_scores(tr.attention_stack(), causal=tr.info.causal, lengths=tr.lengths))
    return np.concatenate(out)


def first_key_columns(loaded: Any, input_ids: torch.Tensor, *, batch_size: int = 6) -> np.ndarray:
    """Attention every query pays to the first key, ``A[..., :, 0]``: ``(N, L, H, T)`` (Fig. 3 input)."""
    return np.concatenate([tr.attention_stack()[..., :, 0]
                           for tr in trace_batches(loaded, input_ids, batch_size=batch_size)])


def table1(loaded: Any, *, T: int = 64, n: int = 100, seed: int = 0, eps: float = PAPER_EPS,
           kinds: Sequence[str] = ("natural", "random", "repeat"), batch_size: int = 10,
           prefix_variant: bool = True) -> dict[str, dict[str, Any]]:
    """Table 1 (left) for one model: Sink_1^eps (%) on natural, random and repeated-token inputs (Gu et al. 2025
    §3.3), on the paper's protocol: natural texts with the tokenizer's default special tokens (as the official
    code), random and repeated tokens with no prefix (the T tokens are the input).

    Where the tokenizer adds a prefix (a BOS for LLaMA/Mistral, ``[CLS]`` for BERT) and ``prefix_variant`` is
    true, the other variant is added for each of random / repeat as ``"<kind> (after <prefix>)"``, e.g.
    ``"repeat (after <s>)"``: the same seeded tokens behind the tokenizer's prefix.  On a rotary model that
    prefix is a distinct first token in front of identical ones, so the repeated-token sink the paper rules out
    (Props. 1–4) comes back; the extra entry shows by how much.

    Returns ``{key: {"sink_1", "alpha" (N, L, H, T), "batch" (ProbeBatch), "kind", "protocol"}}`` with keys
    ``kinds`` plus the extra entries; ``protocol`` says "paper" or names the prefix.
    """
    prefix_ids = tokenizer_prefix(loaded.tokenizer)
    prefix_text = " ".join(loaded.tokenizer.convert_ids_to_tokens(prefix_ids)) if prefix_ids else ""
    runs: list[tuple[str, str, str, str]] = []  # (key, kind, probe prefix option, protocol)
    for kind in kinds:
        runs.append((kind, kind, "none", "paper"))
    if prefix_variant and prefix_ids:
        for kind in kinds:
            if kind != "natural":
                runs.append((f"{kind} (after {prefix_text})", kind, "tokenizer", f"tokenizer prefix {prefix_text}"))
    out: dict[str, dict[str, Any]] = {}
    for key, kind, prefix, protocol in runs:
        batch: ProbeBatch = probe_inputs(loaded.tokenizer, kind, T=T, n=n, seed=seed, prefix=prefix)
        alpha = importance_for(loaded, batch.input_ids, batch_size=batch_size)
        out[key] = {"sink_1": float(sink_rate(alpha, eps)[0]), "alpha": alpha, "batch": batch, "kind": kind,
                    "protocol": protocol}
    return out


def _stack(store: dict[int, torch.Tensor], layers: Sequence[int]) -> np.ndarray:
    return np.stack([store[layer].numpy() for layer in layers])


def norm_profiles(tr: Trace) -> tuple[dict[str, NormProfile], dict[str, list[int]]]:
    """Fig. 2 (top) / Figs 11–14 from a trace holding hidden states, keys and values of every layer:
    ``({"hidden", "keys", "values"} -> NormProfile, x positions per panel)``.  Hidden state 0 is the embedding
    output, L the last block before the final norm; keys (post-rotary) and values are numbered 1..L."""
    if tr.hidden_states is None or not tr.keys or not tr.values:
        raise ValueError("the trace needs capture=('hidden', 'qk', 'v') for all layers")
    layers = tr.layers
    profiles = {
        "hidden": first_vs_rest_norms(tr.hidden_states.numpy(), lengths=tr.lengths),
        "keys": first_vs_rest_norms(_stack(tr.keys, layers), lengths=tr.lengths),
        "values": first_vs_rest_norms(_stack(tr.values, layers), lengths=tr.lengths),
    }
    x = {"hidden": list(range(tr.hidden_states.shape[0])), "keys": [l + 1 for l in layers],
         "values": [l + 1 for l in layers]}
    return profiles, x


def qk_settings(tr: Trace, settings: Sequence[tuple[int, int]], *, sample: int = 0
                ) -> list[tuple[str, QKDecomposition]]:
    """Figs 15–18: QK decomposition (post-rotary) of one sample at each (layer, query head), given as 0-based
    Python indices; labels count from 1 as the paper does ("block 5, head 1 (1-indexed)" for ``(4, 0)``)."""
    out = []
    for layer, head in settings:
        q = tr.query(layer, head, sample)
        k = tr.key(layer, tr.info.kv_head_of[head], sample)
        d = qk_decomposition(q, k, causal=tr.info.causal, scaling=tr.info.scaling[layer])
        out.append((index_label(("block", "head"), (layer, head), base=GU_BASE), d))
    return out


def rope_planes(tr: Trace, layer: int, heads: Sequence[int]) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]],
                                                                     np.ndarray]:
    """RoPE plane decomposition of the logits (scaled) toward the first key vs the others, per query head,
    averaged over the trace's samples.  ``layer`` and ``heads`` are 0-based; the labels count from 1 as the paper
    does.  Returns ``({label: (to_first, to_rest)}, plane frequencies)``."""
    info = tr.info
    if not info.rope or info.rope_pairing is None:
        raise ValueError(f"{tr.model_name} has no rotary embeddings: the plane decomposition does not apply")
    pairing = "half" if info.rope_pairing == "half" else "interleaved"
    series = {}
    for h in heads:
        q = tr.queries[layer][:, tr.heads.index(h)].numpy()
        k = tr.keys[layer][:, info.kv_head_of[h]].numpy()
        planes = rope_plane_contributions(q, k, pairing=pairing)
        series[index_label(("block", "head"), (layer, h), base=GU_BASE)] = rope_first_vs_rest(
            planes, scaling=info.scaling[layer])
    return series, rope_frequencies(info.head_dim, info.rope_theta or 10000.0)


def key_manifold(tr: Trace, *, pca_layers: Sequence[int], var_explained: float = 0.5
                 ) -> dict[str, Any]:
    """Key PCA (post-rotary keys, each KV head once) at ``pca_layers`` and, for every layer, the share of ‖k₁‖
    outside the other keys' principal subspace vs held-out ordinary keys.  ``pca_layers`` and the returned
    ``"layers"`` are 0-based; labels count blocks and KV heads from 1 as Gu et al. do.  Returns ``{"panels":
    [(label, KeyPCA)], "layers", "first": {kv: [...]}, "baseline": {kv: [...]}, "r": {kv: [...]}}``."""
    n_kv = tr.info.n_kv_heads
    panels = []
    kv_names = [index_label("KV head", g, base=GU_BASE) for g in range(n_kv)]
    first: dict[str, list[float]] = {name: [] for name in kv_names}
    base: dict[str, list[float]] = {name: [] for name in kv_names}
    rs: dict[str, list[int]] = {name: [] for name in kv_names}
    for layer in tr.layers:
        for g, name in enumerate(kv_names):
            keys = tr.keys[layer][:, g].numpy()
            off = first_key_offsubspace(keys, lengths=tr.lengths, var_explained=var_explained)
            first[name].append(off.first_mean)
            base[name].append(off.baseline_mean)
            rs[name].append(off.r)
            if layer in pca_layers:
                label = (index_label(("block", "KV head"), (layer, g), base=GU_BASE)
                         + f" · off {off.first_mean:.2f} vs {off.baseline_mean:.2f} (r={off.r})")
                panels.append((label, key_pca(keys, lengths=tr.lengths)))
    return {"panels": panels, "layers": list(tr.layers), "first": first, "baseline": base, "r": rs}


# ---- Fig. 9 on sinkviz's text domains, and Table 8 (the paper's model list) with what loads offline
__all__ += ["FIG9_EPS", "fig9_domains", "table8_models"]

#: Fig. 9 draws Sink₁ for ε = 0.2, 0.3, 0.4.
FIG9_EPS = (0.2, 0.3, 0.4)


def fig9_domains(loaded: Any, *, T: int = 64, n: int = 100, eps_grid: Sequence[float] = FIG9_EPS,
                 batch_size: int = 10) -> dict[str, dict[str, Any]]:
    """Fig. 9 (Sink₁ by text domain) on sinkviz's domains (:func:`sinkviz.papers.probes.domain_texts`; the paper's
    are 17 Pile domains, not installable offline): per domain, the first ``n`` texts with ≥ T tokens, tokenised
    with the tokenizer's default special tokens and truncated to T (as the natural probes of Table 1), and
    Sink₁^ε (%) for each ε. Returns ``{domain: {"sink": {ε: %}, "n": texts used, "n_skipped": shorter than T,
    "source", "licence"}}``; a domain with no text of T tokens is left out."""
    from sinkviz.papers.probes import domain_texts, natural_inputs

    out: dict[str, dict[str, Any]] = {}
    for domain, rows in domain_texts().items():
        try:
            batch = natural_inputs(loaded.tokenizer, T, n, texts=[r["text"] for r in rows])
        except ValueError:  # no text of this domain reaches T tokens
            continue
        alpha = importance_for(loaded, batch.input_ids, batch_size=batch_size)
        out[domain] = {"sink": {float(e): float(sink_rate(alpha, e)[0]) for e in eps_grid}, "n": batch.n,
                       "n_skipped": batch.n_skipped, "source": rows[0]["source"], "licence": rows[0]["licence"]}
    return out


def table8_models() -> list[dict[str, Any]]:
    """Table 8 of Gu et al.: the Hugging Face ids of the 32 open models the paper measures (the 30 of the official
    ``eval_sink_open_source.py`` and the two Jamba models of Figs 25–27), each with whether ``sinkviz.load`` can run
    it offline (its config is in the local Hugging Face cache, :func:`sinkviz.models.cached_hub_models`) or it
    needs the hub first. Rows: ``family``, ``hf_id``, ``params``, ``offline`` (bool), ``how``."""
    from sinkviz.models import cached_hub_models
    from sinkviz.papers.reported import reported_numbers

    cached = set(cached_hub_models())
    rows = []
    for r in reported_numbers("table8"):
        offline = r["value"] in cached
        rows.append({"family": r["model"], "hf_id": r["value"], "params": r.get("params"), "offline": offline,
                     "how": "in the local Hugging Face cache: loads offline" if offline else
                            f"needs the hub once: sinkviz.load({r['value']!r}) where the hub is reachable "
                            "(or a local folder made with save_pretrained)"})
    return rows


def hellaswag_accuracy(loaded: Any, *, batch_size: int = 8, limit: int | None = None) -> dict[str, float]:
    """HellaSwag accuracy of an already loaded model through lm-evaluation-harness, the benchmark of Gu et al.
    2025 Fig. 10 (Sink_1 against HellaSwag acc and acc_norm across model families, 0-shot): lm-eval's ``HFLM``
    wraps the model in memory, so it is not loaded a second time, on its own device and dtype. ``limit`` caps the
    documents (lm-eval's ``limit``; None: all 10,042 validation items, as the paper). Needs the package
    ``lm-eval`` and the HellaSwag data (the hub, or lm-eval's cache). Returns ``{"acc", "acc_norm"}`` in [0, 1]."""
    lm_eval = require("lm_eval", "Fig. 10 (HellaSwag accuracy)", "lm-eval")
    from lm_eval.models.huggingface import HFLM

    model, tokenizer, _ = unwrap(loaded)
    lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=batch_size)
    scores = lm_eval.simple_evaluate(model=lm, tasks=["hellaswag"], num_fewshot=0, limit=limit)["results"]["hellaswag"]
    return {"acc": float(scores["acc,none"]), "acc_norm": float(scores["acc_norm,none"])}


def fig10_row(loaded: Any, *, T: int = 64, n: int = 100, seed: int = 0, eps: float = PAPER_EPS,
              batch_size: int = 10, limit: int | None = None) -> dict[str, Any]:
    """One point of Fig. 10 (Gu et al. 2025 §3.3): the model's parameter count, its Sink_1^eps on natural text
    (:func:`table1`'s protocol) and its HellaSwag acc / acc_norm (:func:`hellaswag_accuracy`)."""
    sink_1 = table1(loaded, T=T, n=n, seed=seed, eps=eps, kinds=("natural",), batch_size=batch_size)["natural"]["sink_1"]
    return {"model": getattr(loaded, "name", None), "parameters": n_parameters(loaded), "sink_1": sink_1,
            **hellaswag_accuracy(loaded, batch_size=batch_size, limit=limit)}


__all__ += ["fig10_row", "hellaswag_accuracy"]
