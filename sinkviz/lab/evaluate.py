"""Evaluation of a lab model at a checkpoint: Sink_k, Sink_*, losses, massive activations.

Everything follows Gu et al. 2025, §3.2 and §4: 100 probe sequences of T = 64 tokens with no BOS, ε = 0.3,
strict ">" and a mean over samples × layers × heads. The probes are, by default, the first 64 tokens of
whole documents of the validation split, as the authors' released evaluation takes them
(``pretrain/eval_sink_pretrain.py`` reads ``datasets/probe_valid.jsonl`` and keeps ``data[:, :64]``), so
token 1 is a document's first token (``eval.probes = "document_starts"``); ``"windows"`` draws random
training windows instead (the lab's runs before the control). The
metric arithmetic is ``sinkviz.metrics.sink`` / ``sinkviz.metrics.norms``; this module only runs the
model and arranges the arrays:

* softmax models: the attention probabilities; other ops (§7.4): proxy scores from the weights the
  model used — row-normalised for non-negative similarities (sigmoid, elu+1, elu kernel) and
  |·|-normalised for the signed identity kernel. Because Z_i > 0 is per row, normalising sim/Z_i equals
  normalising sim, as the paper does.
* with a slot (K/KV biases, sink token) maps are (T+1)×(T+1): index 0 gives Sink_*, index k gives Sink_k.
* reference frames and random-matrix statistics of Ruscio et al. (``sinkviz.metrics.frames`` /
  ``sinkviz.metrics.rmt``) on the same maps (proxy maps for non-softmax ops; with a slot, the slot is
  position 0, i.e. the "start" anchor): the frame verdict with its layer counts and start/end/interior
  shares, and per layer the sample mean of the published (eigenvalues of A, the diagonal artefact) and
  corrected (singular values) spectral gap and participation ratio, sink concentration and entropy of
  the head-averaged map.
* massive-activation ratio per block (Figs 7/8): ‖h_1^l‖ / mean_{t≥2} ‖h_t^l‖ over the probe set, l = 0
  (embeddings) .. L (last block, before the final norm), on real tokens only (the sink token is left
  out; its own ratio is reported separately). Post-norm models also report the ratio before each
  block's last LN (Fig. 7 left, "before LN").
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from sinkviz import hf_attention
from sinkviz.metrics.frames import classify_frames, head_sinks
from sinkviz.metrics.norms import massive_activation_ratio
from sinkviz.metrics.rmt import rmt_corrected, rmt_published
from sinkviz.metrics.sink import (
    alpha_layer_head,
    importance_scores,
    importance_scores_prefix_corrected,
    importance_scores_prefix_published,
    proxy_scores_abs,
    proxy_scores_rownorm,
    sink_rate,
)


@dataclass
class EvalSpec:
    """The ``eval`` block of a lab config."""

    n_sequences: int = 100
    length: int = 64
    eps: float = 0.3
    k_max: int = 10
    valid_batches: int = 20
    valid_batch_size: int | None = None  # default: the training batch size
    probes: str = "document_starts"  # or "windows": random training windows
    probe_split: str = "valid"  # where document-start probes come from ("valid" as the released code, or "train")
    # "fixed": every run's validation windows are seed 0's, so losses compare across seeds; "run_seed": drawn with
    # the run's own seed, as every committed run with seed > 0 was (its config says so)
    valid_windows: str = "fixed"

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "EvalSpec":
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(d) - known - {"steps", "every"}
        if unknown:
            raise ValueError(f"Unknown eval field(s) {sorted(unknown)}; allowed: {sorted(known | {'steps', 'every'})}.")
        spec = cls(**{k: v for k, v in d.items() if k in known})
        if spec.probes not in ("document_starts", "windows"):
            raise ValueError(f"eval.probes must be 'document_starts' or 'windows'; got {spec.probes!r}.")
        if spec.valid_windows not in ("fixed", "run_seed"):
            raise ValueError(f"eval.valid_windows must be 'fixed' or 'run_seed'; got {spec.valid_windows!r}.")
        if spec.probe_split not in ("valid", "train"):
            raise ValueError(f"eval.probe_split must be 'valid' or 'train'; got {spec.probe_split!r}.")
        return spec


def probe_ids(batcher, spec: EvalSpec) -> torch.Tensor:
    """The probe set of ``spec``: document starts (default) or random training windows."""
    if spec.probes == "document_starts":
        return batcher.document_probes(spec.probe_split, spec.n_sequences, spec.length)
    return batcher.batch("probe", 0, spec.n_sequences, spec.length)


def scores_for_metric(weights: np.ndarray, attn_op: str) -> np.ndarray:
    """Attention maps to feed Sink_k: the probabilities for softmax, the §7.4 proxy otherwise."""
    if attn_op == "softmax":
        return weights
    if attn_op == "identity":
        return proxy_scores_abs(weights)
    return proxy_scores_rownorm(weights)


@torch.no_grad()
def probe(model, ids: torch.Tensor) -> dict[str, Any]:
    """One eager fp32 forward pass; returns weights (B, L, H, n, n), hidden (L+1, B, n, D) and, for post-norm
    models, the residual sums before each block's final LN (L, B, n, D), all float64 numpy."""
    pre_ln: list[torch.Tensor] = []
    hooks = []
    if model.config.norm_position == "post":
        for layer in model.model.layers:
            hooks.append(layer.post_attention_layernorm.register_forward_pre_hook(
                lambda mod, args: pre_ln.append(args[0].detach().float().cpu())))
    was_training = model.training
    model.eval()
    try:
        with hf_attention.eager_with_weights(model):
            out = model(ids, output_attentions=True, output_hidden_states=True)
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    weights = torch.stack([a.float() for a in out.attentions], dim=1).cpu().numpy().astype(np.float64)
    hidden = torch.stack([h.float() for h in out.hidden_states], dim=0).cpu().numpy().astype(np.float64)
    result = {"weights": weights, "hidden": hidden}
    if pre_ln:
        result["pre_ln"] = torch.stack(pre_ln, dim=0).numpy().astype(np.float64)
    return result


def _finite(x) -> float | None:
    x = float(x)
    return None if math.isnan(x) or math.isinf(x) else x


def _rounded(a, digits: int = 4):
    arr = np.asarray(a, dtype=np.float64)
    return [_rounded(x, digits) for x in arr] if arr.ndim else (None if not np.isfinite(arr) else round(float(arr), digits))


def sink_summary(maps: np.ndarray, *, slot: bool, eps: float = 0.3, k_max: int = 10,
                 prefix_length: int = 0) -> dict[str, Any]:
    """Sink_1..Sink_k (%), Sink_* (%) when there is a slot, Sink_1 per layer and α (layer × head) tables,
    from metric-ready maps (B, L, H, n, n) (see ``scores_for_metric``). A prefix-LM run's maps are read with its
    prefix visible to every query (the corrected prefix score; :func:`prefix_sink_summary` gives both variants),
    not as causal maps, which would drop the prefix's forward attention."""
    alpha = importance_scores(maps, prefix_length=prefix_length)  # (B, L, H, n)
    rates = sink_rate(alpha, eps)
    first = 1 if slot else 0
    per_layer = [float(sink_rate(alpha[:, l], eps)[first]) for l in range(alpha.shape[1])]
    summary = {
        "sink_k": _rounded(rates[first:first + k_max]),
        "sink_1": _finite(rates[first]),
        "sink_star": _finite(rates[0]) if slot else None,
        "sink_1_per_layer": _rounded(per_layer),
        "alpha_1": _rounded(alpha_layer_head(alpha, k=first)),
        "alpha_star": _rounded(alpha_layer_head(alpha, k=0)) if slot else None,
    }
    return summary


def prefix_sink_summary(maps: np.ndarray, *, prefix_length: int, eps: float = 0.3, k_max: int = 10
                        ) -> dict[str, Any]:
    """Prefix-LM runs (Gu et al. 2025 §5, Fig. 5 middle): Sink_1..Sink_k (%) as the official
    ``eval_sink_pretrain.py`` computes them (forward attention inside the prefix summed over the causal
    denominator) and corrected (each key averaged over the queries that can see it), overall and per sample
    (the figure shows individual samples)."""
    out: dict[str, Any] = {}
    for name, fn in (("published", importance_scores_prefix_published),
                     ("corrected", importance_scores_prefix_corrected)):
        alpha = fn(maps, prefix_length)  # (B, L, H, n)
        out[f"sink_k_prefix_{name}"] = _rounded(sink_rate(alpha, eps)[:k_max])
        out[f"sink_k_prefix_{name}_per_sample"] = _rounded([sink_rate(a, eps)[:k_max] for a in alpha])
    return out


RMT_KEYS = {"published": ("spectral_gap", "participation_ratio", "sink_concentration", "entropy",
                           "marchenko_pastur_kl"),
            "corrected": ("spectral_gap", "participation_ratio", "marchenko_pastur_ks")}


def frame_summary(maps: np.ndarray) -> dict[str, Any]:
    """Ruscio et al.'s frame verdict over the probe samples (maps (B, L, H, n, n), causal)."""
    verdict = classify_frames([head_sinks(sample, causal=True) for sample in maps])
    layers = verdict.layers
    return {
        "label": verdict.label,
        "counts": verdict.counts,
        "layer_labels": [lf.label for lf in layers],
        "frame_top_rate": round(float(np.mean([lf.frame_top_rate for lf in layers])), 4),
        "start_share": round(float(np.mean([lf.shares["start"] for lf in layers])), 4),
        "end_share": round(float(np.mean([lf.shares["end"] for lf in layers])), 4),
        "interior_share": round(float(np.mean([lf.shares["interior"] for lf in layers])), 4),
        "median_excess": round(float(np.median([lf.median_excess for lf in layers])), 4),
    }


def rmt_summary(maps: np.ndarray) -> dict[str, dict[str, Any]]:
    """Per layer, the mean over samples of RMT statistics of the head-averaged map (B, L, H, n, n); and
    under ``"median"`` the median over samples and layers (``"published_spectral_gap"``, ...)."""
    avg = maps.mean(axis=2)  # (B, L, n, n)
    out: dict[str, dict[str, list]] = {}
    for variant, fn in (("published", rmt_published), ("corrected", rmt_corrected)):
        values = {key: np.zeros(avg.shape[:2]) for key in RMT_KEYS[variant]}
        for b in range(avg.shape[0]):
            for layer in range(avg.shape[1]):
                stats = fn(avg[b, layer])
                for key in values:
                    values[key][b, layer] = stats[key]
        medians = out.setdefault("median", {})
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN statistics (e.g. inf gaps) stay None
            finite = {key: np.where(np.isfinite(v), v, np.nan) for key, v in values.items()}
            out[variant] = {key: _rounded(np.nanmean(v, axis=0)) for key, v in finite.items()}
            medians.update({f"{variant}_{key}": _rounded(np.nanmedian(v)) for key, v in finite.items()})
    return out


def massive_summary(hidden: np.ndarray, *, sink_token: bool, pre_ln: np.ndarray | None = None) -> dict[str, Any]:
    """Massive-activation ratios per block (real tokens; sink token separately)."""
    real = hidden[:, :, 1:] if sink_token else hidden
    out: dict[str, Any] = {"massive_ratio": _rounded(massive_activation_ratio(real))}
    if sink_token:
        norms = np.linalg.norm(hidden, axis=-1)  # (L+1, B, n)
        out["massive_ratio_sink_token"] = _rounded(norms[:, :, 0].mean(axis=1) / norms[:, :, 1:].mean(axis=(1, 2)))
    if pre_ln is not None:
        real_pre = pre_ln[:, :, 1:] if sink_token else pre_ln
        out["massive_ratio_pre_ln"] = _rounded(massive_activation_ratio(real_pre))
    return out


def evaluate(model, batcher, spec: EvalSpec, *, batch_size: int, autocast: torch.dtype | None,
             loss_start: int = 0) -> dict[str, Any]:
    """All checkpoint metrics for ``model`` (left in the mode it was in)."""
    config = model.config
    seen = probe(model, probe_ids(batcher, spec))
    result: dict[str, Any] = {}
    maps = scores_for_metric(seen["weights"], config.attn_op)
    prefix_length = getattr(config, "prefix_length", 0)
    result.update(sink_summary(maps, slot=config.attention_slot, eps=spec.eps, k_max=spec.k_max,
                               prefix_length=prefix_length))
    if prefix_length:
        result.update(prefix_sink_summary(maps, prefix_length=prefix_length, eps=spec.eps, k_max=spec.k_max))
    result["frames"] = frame_summary(maps)
    result["rmt"] = rmt_summary(maps)
    result.update(massive_summary(seen["hidden"], sink_token=config.bias_mode == "sink_token",
                                  pre_ln=seen.get("pre_ln")))
    result["valid_loss"] = _finite(mean_loss(model, batcher, "valid", spec.valid_batches,
                                             spec.valid_batch_size or batch_size, autocast, loss_start))
    return result


@torch.no_grad()
def mean_loss(model, batcher, split: str, batches: int, batch_size: int, autocast: torch.dtype | None,
              loss_start: int = 0) -> float:
    was_training = model.training
    model.eval()
    total = 0.0
    try:
        for b in range(batches):
            ids = batcher.batch(split, b, batch_size)
            with torch.autocast(ids.device.type, dtype=autocast, enabled=autocast is not None):
                total += float(model(ids, labels=ids, loss_start=loss_start).loss)
    finally:
        model.train(was_training)
    return total / max(batches, 1)
