"""Ruscio et al. (NeurIPS 2025) on sinkviz traces: each analysis of the paper, published and corrected side by side.

Ruscio, Nanni, Silvestri, "What are you sinking? A geometric approach on attention sink".

This module sits above ``sinkviz.capture``: it turns ``Trace`` objects into the per-layer tables the
paper's notebooks produce, calling the pure metrics in ``sinkviz.metrics`` (topology, spectral, rmt,
divergence, influence, frames), always computing the **published** (as in the official notebooks)
and the **corrected** variant side by side. Nothing here defines a metric.

Typical use (see sinkviz/notebooks/ruscio2025_what_are_you_sinking.ipynb)::

    m = sinkviz.load("smollm2-135m")
    texts = ruscio.stem_texts(64)
    traces = ruscio.trace_texts(m, texts)                 # attention + hidden states, batched
    verdict = ruscio.frame_verdict(traces)                # centralized / distributed / bidirectional
    topo = ruscio.topology_by_layer(traces)               # published vs corrected persistence
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch

from sinkviz.capture import trace
from sinkviz.metrics import divergence as _div
from sinkviz.metrics import frames as _frames
from sinkviz.metrics import influence as _inf
from sinkviz.metrics import nulls as _nulls
from sinkviz.metrics import rmt as _rmt
from sinkviz.metrics import spectral as _spec
from sinkviz.metrics import topology as _topo
from sinkviz.metrics import head_average
from sinkviz.models import wrap
from sinkviz.papers.reported import reported_numbers

__all__ = [
    "PAPER_RESULTS",
    "SampleView",
    "stem_sentences",
    "stem_texts",
    "paper_layers",
    "kl_layers",
    "trace_texts",
    "iter_samples",
    "frame_verdict",
    "topology_by_layer",
    "spectral_by_layer",
    "rmt_by_layer",
    "kl_by_layer",
    "influence_by_layer",
    "summarize",
    "NULL_VARIANTS",
    "compare_rows",
    "frames_over_training",
    "lab_checkpoints",
    "untrained_copy",
]


PAPER_RESULTS_ITEMS = ("frame", "topology", "attention_value_correlation")


def _paper_results() -> dict[str, dict[str, Any]]:
    """The authors' committed numbers by model, as the notebook shows them: a scalar per key, and for the
    per-layer topology a list over ``"layers"`` (their 5-layer selection); "N/A" in their report is NaN."""
    results: dict[str, dict[str, Any]] = {}
    for row in reported_numbers(paper="ruscio2025"):
        if row["item"] not in PAPER_RESULTS_ITEMS:  # the other items are read with reported_numbers(item)
            continue
        entry = results.setdefault(row["model"], {"n_layers": row["n_layers"], "layers": []})
        value = float("nan") if row["value"] is None else row["value"]
        if "layer" not in row:
            entry[row["column"]] = value
            continue
        if row["layer"] not in entry["layers"]:
            entry["layers"].append(row["layer"])
        entry.setdefault(row["column"], []).append(value)
        if "sd" in row:
            entry.setdefault(f"{row['column']}_sd", []).append(row["sd"])
    return results


#: The numbers the authors committed (``Results_sample/`` of the official repository) for LLaMA-3.2-3B,
#: Qwen2.5-7B and XLM-R-large: frame label, topology per layer, geometric-semantic alignment (GSA) and
#: attention entropy (mean, first and last layer). Read from :func:`sinkviz.papers.reported.reported_numbers`.
PAPER_RESULTS: dict[str, dict[str, Any]] = _paper_results()


# ------------------------------------------------------------------------------------------------ data
def stem_sentences(n: int | None = None, fields: Sequence[str] | None = None) -> list[tuple[str, str]]:
    """(field, sentence) pairs from ``sinkviz/data/stem_sentences.txt`` (CC0; see stem_sentences.md).

    ``n`` picks the first n in round-robin order over the fields (deterministic, balanced);
    ``fields`` restricts to some of mathematics, chemistry, medicine, physics, geography.
    """
    text = resources.files("sinkviz").joinpath("data/stem_sentences.txt").read_text(encoding="utf-8")
    rows = [tuple(line.split("\t", 1)) for line in text.splitlines() if line and not line.startswith("#")]
    by_field: dict[str, list[str]] = {}
    for f, s in rows:
        by_field.setdefault(f, []).append(s)
    if fields is not None:
        unknown = set(fields) - set(by_field)
        if unknown:
            raise ValueError(f"unknown field(s) {sorted(unknown)}; choose from {sorted(by_field)}")
        by_field = {f: by_field[f] for f in fields}
    ordered: list[tuple[str, str]] = []
    longest = max(len(v) for v in by_field.values())
    for i in range(longest):
        for f, sents in by_field.items():
            if i < len(sents):
                ordered.append((f, sents[i]))
    if n is not None:
        if n < 1:
            raise ValueError(f"n must be ≥ 1, got {n}")
        ordered = ordered[:n]
    return ordered


def stem_texts(n: int | None = None, fields: Sequence[str] | None = None) -> list[str]:
    """Just the sentences of ``stem_sentences``."""
    return [s for _, s in stem_sentences(n, fields)]


def paper_layers(n_layers: int) -> list[int]:
    """[0, L//4, 2L//4, 3L//4, L−1]: the topology notebook's layer selection (28 → 0, 7, 14, 21, 27)."""
    step = max(1, n_layers // 4)
    return sorted({min(x, n_layers - 1) for x in (0, step, 2 * step, 3 * step, n_layers - 1)})


def kl_layers(n_layers: int) -> list[int]:
    """KL.ipynb's ``skip_layers``: all layers if ≤ 6, else first, every other from 1, and last."""
    if n_layers <= 6:
        return list(range(n_layers))
    return sorted({0, *range(1, n_layers - 1, 2), n_layers - 1})


# -------------------------------------------------------------------------------------------- traces
def trace_texts(model: Any, texts: Sequence[str], *, batch_size: int = 16, layers: Sequence[int] | None = None,
                hidden: bool = True) -> list[Any]:
    """Trace ``texts`` in batches (padding is masked out by the capture). Captures attention and, if
    ``hidden``, hidden states: what every analysis of the paper needs (no q/k/v)."""
    from sinkviz.capture import trace

    if not texts:
        raise ValueError("trace_texts needs at least one text")
    capture = ("attn", "hidden") if hidden else ("attn",)
    return [trace(model, list(texts[i:i + batch_size]), layers=layers, capture=capture)
            for i in range(0, len(texts), batch_size)]


@dataclass
class SampleView:
    """One unpadded sample: attention (L_sel, H, n, n), hidden states (n_layers + 1, n, D) or None (the last
    entry is the last block's output BEFORE the final norm), token strings, positions of tokenizer-added tokens,
    causal flag, the captured layer ids, and the last hidden state AFTER the final norm (n, D) or None."""

    attention: np.ndarray
    hidden: np.ndarray | None
    tokens: list[str]
    special_positions: list[int]
    causal: bool
    layers: list[int]
    final_hidden: np.ndarray | None = None

    def layer_attention(self, layer: int) -> np.ndarray:
        return self.attention[self.layers.index(layer)].astype(np.float64)

    def block_output(self, layer: int, variant: str = "corrected") -> np.ndarray:
        """h^{l+1}, the residual stream leaving block ``layer``.  ``"published"``: what the official
        ``attention_value.ipynb`` reads, HF ``hidden_states[l + 1]``, which after the LAST block is the state
        after the final norm; ``"corrected"``: the block's own output, before the final norm, at every layer
        (Gu et al. 2025 App. C.3 take it so).  The two differ only at the last layer of a model with a final
        norm."""
        if self.hidden is None:
            raise ValueError("this sample has no hidden states: trace with hidden=True")
        if variant not in ("published", "corrected"):
            raise ValueError(f"variant must be 'published' or 'corrected'; got {variant!r}")
        last = self.hidden.shape[0] - 2
        if variant == "published" and layer == last:
            if self.final_hidden is None:
                raise ValueError("the published last-layer state needs the post-norm hidden state (Trace.final_hidden)")
            return self.final_hidden
        return self.hidden[layer + 1]


def iter_samples(traces: Any) -> Iterator[SampleView]:
    """Every sample of one Trace or a list of Traces, padding removed."""
    if not isinstance(traces, (list, tuple)):
        traces = [traces]
    for tr in traces:
        stack = tr.attention_stack()  # (B, L_sel, H, T, T): stacked once per trace, sliced per sample
        for i in range(tr.batch_size):
            n = tr.n_tokens(i)
            hid = tr.hidden_states[:, i, :n].numpy().astype(np.float64) if tr.hidden_states is not None else None
            final = tr.final_hidden[i, :n].numpy().astype(np.float64) if tr.final_hidden is not None else None
            yield SampleView(stack[i, :, :, :n, :n], hid, list(tr.tokens[i]), list(tr.special_positions[i]),
                             bool(tr.info.causal), list(tr.layers), final)


def _layers_of(traces: Any, layers: Sequence[int] | None) -> list[int]:
    first = traces[0] if isinstance(traces, (list, tuple)) else traces
    if layers is None:
        return list(first.layers)
    missing = set(layers) - set(first.layers)
    if missing:
        raise ValueError(f"layers {sorted(missing)} were not captured (captured: {first.layers})")
    return list(layers)


# ------------------------------------------------------------------------------------------ analyses
def frame_verdict(traces: Any, thresholds: _frames.FrameThresholds | None = None) -> _frames.FrameVerdict:
    """Reference-frame verdict (sinkviz rule, ``sinkviz.metrics.frames``) over all samples and layers."""
    hs = [_frames.head_sinks(s.attention, causal=s.causal, tokens=s.tokens, special_positions=s.special_positions,
                             layers=s.layers) for s in iter_samples(traces)]
    return _frames.classify_frames(hs, thresholds)


def _collect(traces: Any, layers: Sequence[int] | None, fn: Callable[[SampleView, int], dict[str, dict[str, float]]]) -> dict[int, dict[str, dict[str, list[float]]]]:
    """Run ``fn(sample, layer) -> {variant: {metric: value}}`` over samples and layers; gather lists."""
    lay = _layers_of(traces, layers)
    out: dict[int, dict[str, dict[str, list[float]]]] = {l: {} for l in lay}
    for s in iter_samples(traces):
        for l in lay:
            for variant, metrics in fn(s, l).items():
                bucket = out[l].setdefault(variant, {})
                for k, v in metrics.items():
                    bucket.setdefault(k, []).append(float(v))
    return out


#: The variants a ``*_by_layer`` result gains for its corrected metrics when ``nulls=True``
#: (:mod:`sinkviz.metrics.nulls`): the statistic on uniform attention, the mean and sd over seeded random-logit
#: maps (H random heads averaged, as Ā averages H heads), and the corrected value's z-score against them.
NULL_VARIANTS = ("null_uniform", "null_random", "null_random_sd", "z")


def _null_columns(observed: dict[str, float], baseline: dict[str, _nulls.NullBaseline]) -> dict[str, dict[str, float]]:
    keys = [k for k in observed if k in baseline]
    return {"null_uniform": {k: baseline[k].uniform for k in keys},
            "null_random": {k: baseline[k].random_mean for k in keys},
            "null_random_sd": {k: baseline[k].random_sd for k in keys},
            "z": {k: baseline[k].z(observed[k]) for k in keys}}


def _cached_nulls(stat: Callable[[np.ndarray], dict[str, float]], *, draws: int, seed: int,
                  per_head: bool = False) -> Callable[[SampleView], dict[str, _nulls.NullBaseline]]:
    """Baselines of ``stat`` for a sample's length, mask and head count, computed once per (n, causal, H):
    they do not depend on the layer or the text."""
    cache: dict[tuple[int, bool, int], dict[str, _nulls.NullBaseline]] = {}

    def get(s: SampleView) -> dict[str, _nulls.NullBaseline]:
        key = (len(s.tokens), s.causal, int(s.attention.shape[1]))
        if key not in cache:
            cache[key] = _nulls.null_baseline(stat, key[0], causal=key[1], heads=key[2], average_heads=not per_head,
                                              draws=draws, seed=seed)
        return cache[key]
    return get


def _topology_corrected(avg: np.ndarray, symmetrize: str, scales: Sequence[float]) -> dict[str, float]:
    cor = _topo.persistence_corrected(avg, symmetrize=symmetrize)
    out = {"pairs0": cor.pair_counts[0], "pairs1": cor.pair_counts[1],
           "total_persistence0": _topo.total_persistence(cor.dgms[0]),
           "total_persistence1": _topo.total_persistence(cor.dgms[1])}
    for eps in scales:
        out[f"betti0@{eps}"] = _topo.betti_at_scale(cor.dgms[0], eps)
        out[f"betti1@{eps}"] = _topo.betti_at_scale(cor.dgms[1], eps)
    out.update(cor.stats)
    return out


SPECTRAL_CORRECTED_KEYS = ("fiedler_value", "spectral_gap", "star_likeness", "gini", "degree_centralization",
                           "density")
RMT_CORRECTED_KEYS = ("spectral_gap", "participation_ratio", "stable_rank", "marchenko_pastur_ks")


def _spectral_corrected(avg: np.ndarray, causal: bool, tau_rel: float) -> dict[str, float]:
    cor = _spec.graph_metrics_corrected(avg, tau_rel=tau_rel, causal=causal)
    return {k: cor[k] for k in SPECTRAL_CORRECTED_KEYS}


def _rmt_corrected(avg: np.ndarray) -> dict[str, float]:
    cor = _rmt.rmt_corrected(avg)
    return {k: cor[k] for k in RMT_CORRECTED_KEYS}


def topology_by_layer(traces: Any, layers: Sequence[int] | None = None, *, symmetrize: str = "max",
                      scales: Sequence[float] = (0.5, 0.9), nulls: bool = True,
                      null_draws: int = _nulls.DEFAULT_DRAWS, null_seed: int = 0
                      ) -> dict[int, dict[str, dict[str, list[float]]]]:
    """Per layer and sample: published pair counts ("Betti₀/₁"), persistence stats, and the corrected
    pair counts, Betti numbers at ``scales`` and total persistence (``sinkviz.metrics.topology``).  With
    ``nulls`` every corrected statistic also gets its null baselines at the sample's length and mask
    (:data:`NULL_VARIANTS`)."""
    stat = lambda a: _topology_corrected(a, symmetrize, scales)  # noqa: E731
    baselines = _cached_nulls(stat, draws=null_draws, seed=null_seed)

    def one(s: SampleView, l: int) -> dict[str, dict[str, float]]:
        avg = head_average(s.layer_attention(l))
        pub = _topo.persistence_published(avg)
        corr = stat(avg)
        out = {"published": {"betti0": pub.pair_counts[0], "betti1": pub.pair_counts[1], **pub.stats,
                             "n_tokens": len(s.tokens)},
               "corrected": corr}
        return {**out, **_null_columns(corr, baselines(s))} if nulls else out
    return _collect(traces, layers, one)


def spectral_by_layer(traces: Any, tau: float = 0.01, layers: Sequence[int] | None = None, *,
                      tau_rel: float = _spec.DEFAULT_TAU_REL, nulls: bool = True,
                      null_draws: int = _nulls.DEFAULT_DRAWS, null_seed: int = 0
                      ) -> dict[int, dict[str, dict[str, list[float]]]]:
    """Laplacian/Fiedler/star-likeness per layer and sample: published as laplacian.ipynb (``published``) and
    fiedler.ipynb (``published_fiedler``) at the absolute threshold τ, and corrected at the threshold relative to
    the uniform share (edge where Ā_ij > ``tau_rel`` / v_i; ``graph_metrics_corrected``), with null baselines
    (:data:`NULL_VARIANTS`) when ``nulls``."""
    keys_pub = ("fiedler_value", "spectral_gap", "star_likeness_basic", "star_likeness_weighted", "gini",
                "degree_centralization", "degree_variance", "density")
    causal_of: dict[bool, Callable[[np.ndarray], dict[str, float]]] = {
        c: (lambda a, c=c: _spectral_corrected(a, c, tau_rel)) for c in (True, False)}
    baselines = {c: _cached_nulls(causal_of[c], draws=null_draws, seed=null_seed) for c in (True, False)}

    def one(s: SampleView, l: int) -> dict[str, dict[str, float]]:
        avg = head_average(s.layer_attention(l))
        lap = _spec.graph_metrics_published(avg, tau, notebook="laplacian")
        fie = _spec.graph_metrics_published(avg, tau, notebook="fiedler")
        cor = causal_of[s.causal](avg)
        out = {"published": {k: lap[k] for k in keys_pub},
               "published_fiedler": {k: fie[k] for k in ("fiedler_value", "star_likeness_basic", "degree_centralization")},
               "corrected": cor}
        return {**out, **_null_columns(cor, baselines[s.causal](s))} if nulls else out
    return _collect(traces, layers, one)


def rmt_by_layer(traces: Any, layers: Sequence[int] | None = None, *, nulls: bool = True,
                 null_draws: int = _nulls.DEFAULT_DRAWS, null_seed: int = 0
                 ) -> dict[int, dict[str, dict[str, list[float]]]]:
    """RMT statistics of the head-averaged map (the notebook's reported ``avg_head``), published and corrected,
    and with ``nulls`` the corrected ones' null baselines (:data:`NULL_VARIANTS`; under a causal mask the
    corrected MP KS is 0.56 for uniform attention at n = 64, see :mod:`sinkviz.metrics.rmt`)."""
    baselines = _cached_nulls(_rmt_corrected, draws=null_draws, seed=null_seed)

    def one(s: SampleView, l: int) -> dict[str, dict[str, float]]:
        avg = head_average(s.layer_attention(l))
        pub = _rmt.rmt_published(avg)
        cor = _rmt_corrected(avg)
        out = {"published": {k: pub[k] for k in ("spectral_gap", "participation_ratio", "stable_rank",
                                                 "marchenko_pastur_kl", "sink_concentration", "entropy")},
               "corrected": cor}
        return {**out, **_null_columns(cor, baselines(s))} if nulls else out
    return _collect(traces, layers, one)


def _kl_row(res: dict[str, Any]) -> dict[str, float]:
    row = {"kl": res["baseline_avg_kl"]}
    for p, r in res["by_percentile"].items():
        row[f"kl_reduction@{p:g}"] = r["avg_kl_reduction"]
        row[f"sink_count@{p:g}"] = r["sink_count"]
    return row


def kl_by_layer(traces: Any, layers: Sequence[int] | None = None,
                percentiles: Sequence[float] = _div.PUBLISHED_PERCENTILES, *, nulls: bool = True,
                null_draws: int = _nulls.DEFAULT_DRAWS, null_seed: int = 0
                ) -> dict[int, dict[str, dict[str, list[float]]]]:
    """KL of each head to the mean head and its reduction after removing sinks at each percentile; with
    ``nulls`` the corrected values' baselines (:data:`NULL_VARIANTS`) on H uniform heads (identical: KL 0) and
    on H independent random-logit heads."""
    first = traces[0] if isinstance(traces, (list, tuple)) else traces
    lay = list(layers) if layers is not None else [l for l in kl_layers(first.info.n_layers) if l in first.layers]
    causal_of = {c: (lambda stack, c=c: _kl_row(_div.sink_removal_corrected(stack, percentiles, causal=c)))
                 for c in (True, False)}
    baselines = {c: _cached_nulls(causal_of[c], draws=null_draws, seed=null_seed, per_head=True) for c in (True, False)}

    def one(s: SampleView, l: int) -> dict[str, dict[str, float]]:
        att = s.layer_attention(l)
        out = {"published": _kl_row(_div.sink_removal_published(att, percentiles)),
               "corrected": causal_of[s.causal](att)}
        return {**out, **_null_columns(out["corrected"], baselines[s.causal](s))} if nulls else out
    return _collect(traces, lay, one)


def influence_by_layer(traces: Any, layers: Sequence[int] | None = None, *, nulls: bool = True,
                       null_draws: int = 8, null_seed: int = 0) -> dict[int, dict[str, dict[str, list[float]]]]:
    """GSA, directional influence, relative magnitude, attention entropy and transformation magnitude per
    layer; h = residual stream entering the layer (``hidden_states[l]``), as the notebooks.  The transformation
    magnitude ‖h^{l+1} − h^l‖ takes h^{l+1} from :meth:`SampleView.block_output`: published after the final norm
    at the last layer (HF ``hidden_states[L]``, as ``attention_value.ipynb``), corrected before it.

    With ``nulls``, corrected GSA, DI and relative magnitude get baselines (:data:`NULL_VARIANTS`): the same
    statistic of the same hidden states with the attention replaced by uniform or random-logit attention — how
    much alignment the mask and the hidden states give without any attention pattern (uniform causal attention
    1/(i+1) still correlates with similarity through position).  These depend on h, so they are computed per
    sample and layer: ``null_draws`` (8) random maps each; pass ``layers`` or ``nulls=False`` to bound the cost."""
    def influence_corrected(avg: np.ndarray, h_in: np.ndarray, causal: bool) -> dict[str, float]:
        dc = _inf.directional_influence_corrected(avg, h_in)
        return {"gsa": _inf.gsa_corrected(avg, h_in, causal=causal), "di": dc["mean_directional_influence"],
                "relative_magnitude": dc["mean_relative_magnitude"]}

    def one(s: SampleView, l: int) -> dict[str, dict[str, float]]:
        if s.hidden is None:
            raise ValueError("influence_by_layer needs hidden states: trace with hidden=True")
        avg = head_average(s.layer_attention(l))
        h_in = s.hidden[l]
        h_out_pub, h_out = s.block_output(l, "published"), s.block_output(l, "corrected")
        dp = _inf.directional_influence_published(avg, h_in)
        cor = influence_corrected(avg, h_in, s.causal)
        out = {
            "published": {"gsa": _inf.gsa_published(avg, h_in), "di": dp["mean_directional_influence"],
                          "relative_magnitude": dp["mean_relative_magnitude"],
                          "entropy": float(np.mean(_inf.attention_entropy_published(avg))),
                          "transformation_magnitude": float(np.mean(_inf.transformation_magnitude_published(h_in, h_out_pub)))},
            "corrected": {**cor,
                          "transformation_magnitude": float(np.mean(_inf.transformation_magnitude_corrected(h_in, h_out)))},
        }
        if not nulls:
            return out
        baseline = _nulls.null_baseline(lambda a: influence_corrected(a, h_in, s.causal), len(s.tokens),
                                        causal=s.causal, heads=int(s.attention.shape[1]), draws=null_draws,
                                        seed=null_seed)
        return {**out, **_null_columns(cor, baseline)}
    return _collect(traces, layers, one)


def summarize(by_layer: dict[int, dict[str, dict[str, list[float]]]]) -> list[dict[str, Any]]:
    """Flatten a ``*_by_layer`` result into rows {layer, variant, metric, mean, sd, n} (NaNs ignored)."""
    rows = []
    for layer, variants in by_layer.items():
        for variant, metrics in variants.items():
            for metric, vals in metrics.items():
                v = np.asarray(vals, dtype=np.float64)
                fin = v[np.isfinite(v)]
                rows.append({"layer": layer, "variant": variant, "metric": metric,
                             "mean": float(fin.mean()) if fin.size else float("nan"),
                             "sd": float(fin.std()) if fin.size else float("nan"), "n": int(fin.size)})
    return rows


def frames_over_training(traces_per_checkpoint: Sequence[Any], steps: Sequence[int],
                         thresholds: _frames.FrameThresholds | None = None,
                         rmt: bool = True) -> list[dict[str, Any]]:
    """Frame statistics per training step from one trace (or list of traces) per checkpoint — e.g. the
    pretraining lab's checkpoints (``sinkviz.lab``) or Pythia ``stepN`` revisions. Each row has the step,
    the verdict and layer-averaged sink rate / start / end / interior shares (``frame_statistics_over_training``)
    and, with ``rmt``, the medians over samples and layers of the published spectral gap / MP-KL and the
    corrected MP-KS / σ-gap of the head average, each corrected one beside the medians of its uniform and
    random-logit nulls (``null_uniform_…``, ``null_random_…``): an untrained model's near-uniform attention scores
    a HIGH corrected MP-KS under a causal mask (0.56 for uniform attention at n = 64)."""
    per_ckpt = []
    for traces in traces_per_checkpoint:
        per_ckpt.append([_frames.head_sinks(s.attention, causal=s.causal, tokens=s.tokens,
                                            special_positions=s.special_positions, layers=s.layers)
                         for s in iter_samples(traces)])
    rows = _frames.frame_statistics_over_training(per_ckpt, steps, thresholds)
    if rmt:
        for row, traces in zip(rows, traces_per_checkpoint):
            res = rmt_by_layer(traces)
            for variant, key in (("published", "spectral_gap"), ("published", "marchenko_pastur_kl"),
                                 ("corrected", "marchenko_pastur_ks"), ("corrected", "spectral_gap"),
                                 ("null_uniform", "marchenko_pastur_ks"), ("null_random", "marchenko_pastur_ks"),
                                 ("null_uniform", "spectral_gap"), ("null_random", "spectral_gap")):
                vals = np.concatenate([np.asarray(res[l][variant][key]) for l in res])
                fin = vals[np.isfinite(vals)]
                row[f"{variant}_{key}"] = float(np.median(fin)) if fin.size else float("nan")
    return rows


def compare_rows(by_layer: dict[int, dict[str, dict[str, list[float]]]],
                 metrics: Sequence[tuple[str, str | None, str | None]], *, digits: int = 3,
                 nulls: bool = True) -> tuple[list[str], list[list[str]]]:
    """(header, rows) for a published-vs-corrected table: ``metrics`` lists
    ``(label, published_metric or None, corrected_metric or None)``; cells are "mean ± sd" over samples
    (NaN/inf excluded; the count of excluded values is shown). Render with
    ``sinkviz.plots.tables.table_markdown`` or ``comparison_table``.

    When the result carries null baselines (``nulls=True`` in ``*_by_layer``) and ``nulls``, three columns follow
    the corrected one, for the corrected metric at each sample's own length and mask: ``uniform`` (the statistic
    of uniform attention, mean ± sd over samples), ``random-logit`` (mean over samples of the random-logit mean
    ± mean over samples of its sd over draws) and ``z`` (the corrected value's z-score against the random-logit
    draws, mean ± sd over samples)."""
    def cell(vals: list[float] | None) -> str:
        if vals is None:
            return "–"
        v = np.asarray(vals, dtype=np.float64)
        fin = v[np.isfinite(v)]
        if not fin.size:
            return f"non-finite ({v.size})"
        text = f"{fin.mean():.{digits}f} ± {fin.std():.{digits}f}"
        return text + (f" ({v.size - fin.size} non-finite)" if fin.size < v.size else "")

    def random_cell(variants: dict[str, dict[str, list[float]]], key: str) -> str:
        means = np.asarray(variants["null_random"].get(key, []), dtype=np.float64)
        sds = np.asarray(variants["null_random_sd"].get(key, []), dtype=np.float64)
        ok = np.isfinite(means) & np.isfinite(sds)
        if not ok.any():
            return "–" if not means.size else f"non-finite ({means.size})"
        return f"{means[ok].mean():.{digits}f} ± {sds[ok].mean():.{digits}f}"

    with_nulls = nulls and any("null_uniform" in v for v in by_layer.values())
    rows = []
    for layer, variants in by_layer.items():
        for label, pub, cor in metrics:
            row = [str(layer), label,
                   cell(variants.get("published", {}).get(pub)) if pub else "–",
                   cell(variants.get("corrected", {}).get(cor)) if cor else "–"]
            if with_nulls:
                has = cor is not None and cor in variants.get("null_uniform", {})
                row += [cell(variants["null_uniform"][cor]) if has else "–",
                        random_cell(variants, cor) if has else "–",
                        cell(variants["z"][cor]) if has else "–"]
            rows.append(row)
    header = ["layer", "metric", "published (as the official notebooks)", "corrected"]
    if with_nulls:
        header += ["uniform attention (null)", "random-logit attention (null, mean ± sd)", "z (corrected vs random-logit)"]
    return header, rows


def lab_checkpoints(run_dir: str | Path) -> list[tuple[int, Path]]:
    """(step, folder) of every checkpoint a pretraining-lab run wrote (``RUN/checkpoints/step_NNNNNN``,
    ``sinkviz lab run CONFIG --out RUN``), sorted by step. Empty if the folder has none."""
    root = Path(run_dir) / "checkpoints"
    out = []
    if root.is_dir():
        for p in root.iterdir():
            m = re.fullmatch(r"step_(\d+)", p.name)
            if m and p.is_dir():
                out.append((int(m.group(1)), p))
    return sorted(out)


def untrained_copy(model: Any, seed: int = 0) -> Any:
    """The same architecture and tokenizer with freshly initialised weights (a "step 0" checkpoint, like
    Pythia's ``step0``), wrapped for ``sinkviz.trace``. Decoders only (AutoModelForCausalLM)."""
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    fresh = AutoModelForCausalLM.from_config(model.model.config).to(model.device)
    return wrap(fresh, model.tokenizer, name=f"{model.name} (untrained, seed {seed})")
