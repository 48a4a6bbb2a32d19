"""Empirical Fisher trace per layer — Ruscio, Nanni, Silvestri (NeurIPS 2025), Fisher
information analysis (official ``Notebooks/fisher.ipynb``,
``FisherInformationAnalysis.compute_fisher_information``).

The model-facing part (forward + backward per sample) lives in ``sinkviz.papers.fisher``;
this module only reduces per-sample squared gradient norms ``{param_name: ‖∇θ L‖²}``.

Published reduction:
* "Fisher norm" of a layer = (1/N) Σ_samples Σ_{params in layer} ‖∇θ‖² — an empirical
  Fisher TRACE, not a matrix. Parameters whose gradient is all zero are skipped.
* layer of a parameter: the integer after ``layers.`` (LLaMA, GPT-NeoX) or ``layer.`` (BERT
  ``encoder.layer.N``); anything else → ``"other"`` (GPT-2 ``h.N`` blocks land in "other").
* group by first substring match on the lower-cased name: attention
  {attention, attn, self, q_proj, k_proj, v_proj}, mlp {mlp, feed_forward, ffn, dense, fc},
  embedding {embed, token, wte, wpe}; parameters matching none are dropped. Norms are dropped only
  when their name matches no key: LLaMA's ``post_attention_layernorm`` contains "attention" and is
  counted as attention, as the notebook's substring match does.
* depth trend: Pearson and Spearman correlation of layer index vs Fisher norm.

Corrected reduction (``fisher_by_layer_corrected``): layer index parsed from
``layers|layer|h|blocks|block.N``; norm parameters kept as their own ``norm`` group. (The loss
corrections — no padded targets, MLM loss on masked positions only — are in the capture.)
"""
from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

import numpy as np
from scipy import stats as _stats

__all__ = [
    "layer_of_param_published",
    "group_of_param_published",
    "layer_of_param_corrected",
    "group_of_param_corrected",
    "fisher_by_layer_published",
    "fisher_by_layer_corrected",
    "depth_correlation",
]

_ATTN = ("attention", "attn", "self", "q_proj", "k_proj", "v_proj")
_MLP = ("mlp", "feed_forward", "ffn", "dense", "fc")
_EMB = ("embed", "token", "wte", "wpe")
_LAYER_RE = re.compile(r"(?:^|\.)(?:layers|layer|h|blocks|block)\.(\d+)\.")


def layer_of_param_published(name: str) -> str:
    """``layer_K`` from ``...layers.K...`` or ``...layer.K...`` (the notebook's split), else ``other``::

        K = name.split("layers.")[1].split(".")[0]  if "layers." in name, else the same with "layer."
        → ``layer_K`` if K is all digits, else ``other``

    Source: ``Notebooks/fisher.ipynb``, ``FisherInformationAnalysis.compute_fisher_information``."""
    for key in ("layers.", "layer."):
        if key in name:
            parts = name.split(key)
            if len(parts) > 1:
                first = parts[1].split(".")[0]
                if first.isdigit():
                    return f"layer_{first}"
            return "other"
    return "other"


def group_of_param_published(name: str) -> str | None:
    """attention / mlp / embedding by first substring match, else None (dropped)."""
    low = name.lower()
    if any(k in low for k in _ATTN):
        return "attention"
    if any(k in low for k in _MLP):
        return "mlp"
    if any(k in low for k in _EMB):
        return "embedding"
    return None


def layer_of_param_corrected(name: str) -> str:
    """``layer_K`` for any of ``layers|layer|h|blocks|block.K.``, else ``other``: the first match of
    ``(^|.)(layers|layer|h|blocks|block).K.`` (so GPT-2 ``h.K`` blocks get a layer). Source: sinkviz's
    correction of the layer parsing in ``Notebooks/fisher.ipynb``, ``compute_fisher_information``."""
    m = _LAYER_RE.search(name)
    return f"layer_{m.group(1)}" if m else "other"


def group_of_param_corrected(name: str) -> str | None:
    """Like the published grouping, but norm parameters form a ``norm`` group."""
    segments = name.lower().split(".")
    if any("norm" in seg or re.fullmatch(r"ln(_\w+)?", seg) for seg in segments):
        return "norm"
    return group_of_param_published(name)


def _reduce(per_sample: Sequence[Mapping[str, float]], layer_fn: Any, group_fn: Any, n: int | None) -> dict[str, Any]:
    if not per_sample:
        raise ValueError("need at least one sample of squared gradient norms")
    denom = n if n is not None else len(per_sample)
    layers: dict[str, float] = {}
    groups: dict[str, float] = {"attention": 0.0, "mlp": 0.0, "embedding": 0.0}
    for sample in per_sample:
        for name, sq in sample.items():
            sq = float(sq)
            if sq == 0.0:
                continue
            lay = layer_fn(name)
            layers[lay] = layers.get(lay, 0.0) + sq / denom
            g = group_fn(name)
            if g is not None:
                groups[g] = groups.get(g, 0.0) + sq / denom
    idx = sorted(int(k.split("_")[1]) for k in layers if k.startswith("layer_"))
    return {"layer_wise": layers, "param_groups": groups, "layer_indices": idx,
            "layer_values": np.array([layers[f"layer_{i}"] for i in idx])}


def fisher_by_layer_published(per_sample: Sequence[Mapping[str, float]], n_samples: int | None = None) -> dict[str, Any]:
    """Layer-wise and group-wise Fisher norms as the notebook (module docstring)::

        F_layer = (1/N) Σ_samples Σ_{θ in layer, ∇θ ≠ 0} ‖∇θ L‖²   (likewise F_group)

    N = ``n_samples`` or ``len(per_sample)``. Source: ``Notebooks/fisher.ipynb``,
    ``FisherInformationAnalysis.compute_fisher_information``."""
    out = _reduce(per_sample, layer_of_param_published, group_of_param_published, n_samples)
    out["variant"] = "published"
    return out


def fisher_by_layer_corrected(per_sample: Sequence[Mapping[str, float]], n_samples: int | None = None) -> dict[str, Any]:
    """Layer-wise and group-wise Fisher norms with the corrected parsing (module docstring)::

        F_layer = (1/N) Σ_samples Σ_{θ in layer, ∇θ ≠ 0} ‖∇θ L‖²   (likewise F_group, plus ``norm``)

    with :func:`layer_of_param_corrected` / :func:`group_of_param_corrected`. Source: sinkviz's
    correction of ``Notebooks/fisher.ipynb``, ``compute_fisher_information``."""
    out = _reduce(per_sample, layer_of_param_corrected, group_of_param_corrected, n_samples)
    out["variant"] = "corrected"
    return out


def depth_correlation(layer_indices: Any, values: Any) -> dict[str, float]:
    """Pearson r, p and Spearman ρ, p of layer index vs Fisher norm (NaN for < 3 layers or a
    constant norm)::

        r = Σ(l − l̄)(F_l − F̄) / √(Σ(l − l̄)² Σ(F_l − F̄)²);  ρ = r of the ranks

    Source: ``Notebooks/fisher.ipynb``, ``compute_correlations_and_pvalues`` (which already
    correlates from 2 layers)."""
    x = np.asarray(layer_indices, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    if x.size < 3 or np.std(y) == 0:
        return {"pearson_r": float("nan"), "pearson_p": float("nan"), "spearman_rho": float("nan"), "spearman_p": float("nan")}
    r, p = _stats.pearsonr(x, y)
    rho, ps = _stats.spearmanr(x, y)
    return {"pearson_r": float(r), "pearson_p": float(p), "spearman_rho": float(rho), "spearman_p": float(ps)}
