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

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch

from sinkviz.capture import trace
from sinkviz.metrics import alignment as _align
from sinkviz.metrics import divergence as _div
from sinkviz.metrics import frames as _frames
from sinkviz.metrics import influence as _inf
from sinkviz.metrics import nulls as _nulls
from sinkviz.metrics import rmt as _rmt
from sinkviz.metrics import spectral as _spec
from sinkviz.metrics import stats as _stats
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
    the verdict and layer-averaged frame-top rate / start / end / interior shares (``frame_statistics_over_training``)
    and, with ``rmt``, the medians over samples and layers of the published spectral gap / MP-KL and the
    corrected MP-KS / σ-gap of the head average, each corrected one beside the medians of its uniform and
    random-logit nulls (``null_uniform_…``, ``null_random_…``): under a causal mask an untrained model's
    near-uniform attention scores about the uniform null's MP-KS (0.56 at n = 64), above random-logit attention's."""
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
    from sinkviz.lab.train import saved_checkpoints  # the lab's own listing; importing it loads the trainer

    return saved_checkpoints(run_dir)


def untrained_copy(model: Any, seed: int = 0) -> Any:
    """The same architecture and tokenizer with freshly initialised weights (a "step 0" checkpoint, like
    Pythia's ``step0``), wrapped for ``sinkviz.trace``. Decoders only (AutoModelForCausalLM)."""
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    fresh = AutoModelForCausalLM.from_config(model.model.config).to(model.device)
    return wrap(fresh, model.tokenizer, name=f"{model.name} (untrained, seed {seed})")


# ------------------------------------------------------------------------------------------------------------
# Analyses of topology.ipynb, laplacian.ipynb / fiedler.ipynb, rmt.ipynb and attention_value.ipynb that the
# sections above do not cover: each published (as the official notebook), corrected, and beside a null (the same
# statistic on uniform and random-logit attention at the same length and mask).
__all__ += [
    "TOPOLOGY_MAX_TOKENS", "FIEDLER_THRESHOLDS", "RELATIVE_THRESHOLDS", "null_maps", "trace_texts_truncated",
    "head_specialisation", "layer_comparison", "graph_sweep", "threshold_sweep_summary", "fiedler_star_correlation",
    "rmt_heads", "value_geometry", "entropy_magnitude_summary", "gsa_statistics",
]

#: topology.ipynb tokenises every sentence with ``max_length=48, truncation=True``.
TOPOLOGY_MAX_TOKENS = 48
#: fiedler.ipynb's ``main`` thresholds, in its order (0.5 where laplacian.ipynb has 0.05: probably a typo, kept).
FIEDLER_THRESHOLDS = (0.001, 0.005, 0.01, 0.02, 0.5, 0.1, 0.2)
#: the corrected sweep's thresholds: an edge where Ā_ij exceeds c times the uniform share 1/v_i of its row.
RELATIVE_THRESHOLDS = (1.0, 1.5, 2.0, 4.0, 8.0)


def null_maps(n: int, causal: bool, seed: int = 0, heads: int = 1) -> dict[str, np.ndarray]:
    """One draw of each null attention map of length ``n`` under the model's mask
    (``sinkviz.metrics.toy_attention``): ``"uniform"`` (every query spreads its attention evenly over the keys it
    sees) and ``"random"`` (softmax of seeded Gaussian logits; with ``heads`` = H the mean of H random heads, as
    the head-averaged Ā averages H heads). For a mean and sd over many draws use ``sinkviz.metrics.nulls``."""
    from sinkviz.metrics import toy_attention as _toy

    rnd = _toy.random_logit_attention(n, causal=causal, seed=seed, heads=None if heads == 1 else heads)
    return {"uniform": _toy.masked_uniform_attention(n, causal=causal),
            "random": rnd.mean(axis=0) if heads > 1 else rnd}


def trace_texts_truncated(model: Any, texts: Sequence[str], *, max_tokens: int = TOPOLOGY_MAX_TOKENS,
                          batch_size: int = 16, layers: Sequence[int] | None = None, hidden: bool = False) -> list[Any]:
    """Traces of ``texts`` as topology.ipynb tokenises them: at most ``max_tokens`` tokens, the tokenizer's own
    truncation (``max_length=max_tokens, truncation=True``: an encoder keeps its final ``</s>``/``[SEP]``). Texts
    that fit are traced in batches (:func:`trace_texts`); longer ones one by one from their truncated ids."""
    if max_tokens < 2:
        raise ValueError(f"max_tokens must be at least 2; got {max_tokens}")
    tok = model.tokenizer
    fits = [t for t in texts if len(tok(t)["input_ids"]) <= max_tokens]
    out = trace_texts(model, fits, batch_size=batch_size, layers=layers, hidden=hidden) if fits else []
    capture = ("attn", "hidden") if hidden else ("attn",)
    for text in texts:
        if text in fits:
            continue
        enc = tok(text, max_length=max_tokens, truncation=True, return_special_tokens_mask=True)
        tr = trace(model, torch.tensor([enc["input_ids"]]), layers=layers, capture=capture)
        tr.special_positions = [[i for i, flag in enumerate(enc["special_tokens_mask"]) if flag]]
        out.append(tr)
    return out


def _layer_stack(s: SampleView, layers: Sequence[int]) -> np.ndarray:
    return s.attention[[s.layers.index(layer) for layer in layers]].astype(np.float64)


def head_specialisation(traces: Any, layers: Sequence[int] | None = None, *, min_consistency: float = 0.3,
                        min_samples: int = 5) -> dict[str, Any]:
    """Head specialisation (topology.ipynb ``_identify_specialized_heads`` and its heat-map): per layer and head,
    the consistency of the head's top key across samples.

    ``published``: the modal top token STRING (largest column mean of A^h, causal zeros included), consistency =
    its share of samples, specialised if ≥ 30 % over ≥ 5 samples; ``count_half`` counts consistency ≥ 0.5 (the
    layer-comparison panel). ``corrected``: by POSITION, counting only samples where the key's excess over uniform
    attention is ≥ 2 (:func:`sinkviz.metrics.topology.head_specialization_corrected`). ``null``: the published rule
    on uniform attention with the same tokens — whose top key is position 0 in every head, so every head is
    "specialised" whenever position 0 holds the same string in every sentence (a BOS or [CLS])."""
    lay = _layers_of(traces, layers)
    top_tokens: dict[int, list[list[str]]] = {layer: [] for layer in lay}
    positions: dict[int, list[np.ndarray]] = {layer: [] for layer in lay}
    excess: dict[int, list[np.ndarray]] = {layer: [] for layer in lay}
    null_tokens: list[list[str]] = []
    null_positions: list[np.ndarray] = []
    null_excess: list[np.ndarray] = []
    for s in iter_samples(traces):
        hs = _frames.head_sinks(_layer_stack(s, lay), causal=s.causal, tokens=s.tokens, layers=lay)
        for i, layer in enumerate(lay):
            top_tokens[layer].append([s.tokens[p] for p in hs.top_position[i]])
            positions[layer].append(hs.top_position[i])
            excess[layer].append(hs.excess[i])
        uniform = null_maps(len(s.tokens), s.causal)["uniform"]
        hn = _frames.head_sinks(uniform[None], causal=s.causal, tokens=s.tokens)
        null_tokens.append([s.tokens[int(hn.top_position[0, 0])]])
        null_positions.append(hn.top_position[0])
        null_excess.append(hn.excess[0])
    n_heads = len(top_tokens[lay[0]][0])
    first = traces[0] if isinstance(traces, (list, tuple)) else traces
    out: dict[str, Any] = {"layers": lay, "n_layers": first.info.n_layers, "n_heads": n_heads,
                           "n_samples": len(null_tokens),
                           "min_consistency": min_consistency, "min_samples": min_samples}
    pub = {"consistency": np.zeros((len(lay), n_heads)), "token": [], "specialised": np.zeros((len(lay), n_heads), bool)}
    cor = {"consistency": np.zeros((len(lay), n_heads)), "position": [], "specialised": np.zeros((len(lay), n_heads), bool)}
    for i, layer in enumerate(lay):
        rows = {r["head"]: r for r in _topo.head_specialization_published(
            top_tokens[layer], min_consistency=min_consistency, min_samples=min_samples)}
        pub["token"].append([rows[h]["token"] for h in range(n_heads)])
        for h in range(n_heads):
            pub["consistency"][i, h], pub["specialised"][i, h] = rows[h]["consistency"], rows[h]["specialized"]
        rows = {r["head"]: r for r in _topo.head_specialization_corrected(
            positions[layer], excess[layer], min_consistency=min_consistency, min_samples=min_samples)}
        cor["position"].append([rows[h]["position"] for h in range(n_heads)])
        for h in range(n_heads):
            cor["consistency"][i, h], cor["specialised"][i, h] = rows[h]["consistency"], rows[h]["specialized"]
    for variant in (pub, cor):
        variant["count"] = {layer: int(variant["specialised"][i].sum()) for i, layer in enumerate(lay)}
        variant["total"] = int(variant["specialised"].sum())
    pub["count_half"] = {layer: int((pub["consistency"][i] >= 0.5).sum()) for i, layer in enumerate(lay)}
    null_pub = _topo.head_specialization_published(null_tokens, min_consistency=min_consistency, min_samples=min_samples)[0]
    null_cor = _topo.head_specialization_corrected(null_positions, null_excess, min_consistency=min_consistency,
                                                    min_samples=min_samples)[0]
    out["published"], out["corrected"] = pub, cor
    out["null"] = {"published_consistency": null_pub["consistency"], "published_token": null_pub["token"],
                   "published_total": n_heads * len(lay) * int(null_pub["specialized"]),
                   "corrected_total": n_heads * len(lay) * int(null_cor["specialized"])}
    return out


#: the per-sample statistics topology.ipynb tests between layers, and the corrected ones tested instead.
LAYER_TESTS_PUBLISHED = ("betti0", "betti1", "mean_attention", "max_attention", "dim0_avg_persistence")
LAYER_TESTS_CORRECTED = ("betti0@0.5", "betti1@0.9", "total_persistence0")


def layer_comparison(traces: Any, layers: Sequence[int] | None = None) -> dict[str, Any]:
    """Early / middle / late layer comparison of topology.ipynb (``run_statistical_tests`` and
    ``layer_comparison.png``): per layer and sample the pair counts ("Betti₀/₁"), dim-0 persistence and the mean
    and max of Ā; Welch's t-test between every pair of layers (published, uncorrected), and the corrected
    statistics (β₀(0.5), β₁(0.9), total H0 persistence) under a paired test with Holm adjustment. ``null``: the
    published statistics of uniform attention at each sample's length (the same at every layer, so no layer
    difference can come from them). Values that are NaN for a sample (no finite pair) are left out, as the
    notebook leaves them out."""
    lay = _layers_of(traces, layers)
    topo = topology_by_layer(traces, lay)
    values: dict[str, dict[int, list[float]]] = {k: {layer: [] for layer in lay} for k in
                                                  ("mean_attention", "max_attention")}
    null: dict[str, list[float]] = {"betti0": [], "betti1": [], "dim0_avg_persistence": [], "mean_attention": [],
                                    "max_attention": []}
    for s in iter_samples(traces):
        for layer in lay:
            st = _topo.attention_stats_published(head_average(s.layer_attention(layer)))
            values["mean_attention"][layer].append(st["mean"])
            values["max_attention"][layer].append(st["max"])
        uniform = null_maps(len(s.tokens), s.causal)["uniform"]
        res = _topo.persistence_published(uniform)
        st = _topo.attention_stats_published(uniform)
        for key, val in (("betti0", res.pair_counts[0]), ("betti1", res.pair_counts[1]),
                         ("dim0_avg_persistence", res.stats["dim0_avg_persistence"]),
                         ("mean_attention", st["mean"]), ("max_attention", st["max"])):
            null[key].append(float(val))
    published = {k: {layer: [float(v) for v in topo[layer]["published"][k]] for layer in lay}
                 for k in ("betti0", "betti1", "dim0_avg_persistence")}
    published.update(values)
    corrected = {k: {layer: [float(v) for v in topo[layer]["corrected"][k]] for layer in lay}
                 for k in LAYER_TESTS_CORRECTED}

    def finite(d: dict[int, list[float]]) -> dict[int, list[float]]:
        return {layer: [v for v in vals if np.isfinite(v)] for layer, vals in d.items()}

    tests_pub = {}
    for k in LAYER_TESTS_PUBLISHED:
        d = finite(published[k])
        tests_pub[k] = _stats.layer_pair_tests_published(d) if all(len(v) >= 2 for v in d.values()) else []
    tests_cor = {k: _stats.layer_pair_tests_corrected(corrected[k]) for k in LAYER_TESTS_CORRECTED}
    return {"layers": lay, "published": published, "corrected": corrected, "null": null,
            "tests_published": tests_pub, "tests_corrected": tests_cor}


def graph_sweep(traces: Any, layers: Sequence[int] | None = None, *,
                thresholds: Sequence[float] = tuple(sorted(set(_spec.PUBLISHED_THRESHOLDS) | set(FIEDLER_THRESHOLDS))),
                ratios: Sequence[float] = RELATIVE_THRESHOLDS, seed: int = 0) -> dict[str, Any]:
    """Graph metrics of every sample and layer at every threshold: the one pass behind the threshold sweep, the
    Fiedler heat-map and the Fiedler–star correlation.

    ``published[τ][layer]`` holds per-sample lists as the notebooks collect them — ``fiedler``, ``star`` (basic,
    fiedler.ipynb), ``centralization``, ``variance``, ``density`` (#(Ā > τ)/n²); a sample with fewer than 2 edges
    contributes only ``fiedler`` and ``star`` (both 0.0, the fallback), exactly as fiedler.ipynb's collectors —
    plus ``effective`` (density in [0.05, 0.95]) and ``computed`` (laplacian.ipynb computes the metrics only for
    an effective τ or a layer index divisible by 4). ``corrected[c][layer]``: the same metrics of the graph
    R_ij = Ā_ij·v_i > c (more than c times the uniform share; :func:`sinkviz.metrics.spectral.uniform_ratio`),
    no self-loops, OR-symmetrised, density over visible entries, for every sample. ``null``: per sample the
    same published (at every τ) and corrected (at every c) metrics of the uniform and random-logit maps."""
    lay = _layers_of(traces, layers)
    thresholds, ratios = [float(t) for t in thresholds], [float(c) for c in ratios]
    keys = ("fiedler", "star", "centralization", "variance", "density", "effective", "computed", "all_density")
    published = {t: {layer: {k: [] for k in keys} for layer in lay} for t in thresholds}
    corrected = {c: {layer: {k: [] for k in ("fiedler", "star", "centralization", "density")} for layer in lay}
                 for c in ratios}
    null: dict[str, dict[str, Any]] = {}

    def pub_metrics(avg: np.ndarray, tau: float, layer: int, bucket: dict[str, list]) -> None:
        res = _spec.graph_metrics_published(avg, tau, notebook="fiedler")
        bucket["fiedler"].append(res["fiedler_value"])
        bucket["star"].append(res["star_likeness_basic"])
        density = float((avg > tau).sum() / avg.size)
        effective = bool(_spec.EFFECTIVE_DENSITY_RANGE[0] <= density <= _spec.EFFECTIVE_DENSITY_RANGE[1])
        bucket["all_density"].append(density)
        bucket["effective"].append(effective)
        bucket["computed"].append(_spec.computed_published(effective, layer))
        if "error" not in res:
            bucket["centralization"].append(res["degree_centralization"])
            bucket["variance"].append(res["degree_variance"])
            bucket["density"].append(res["density"])

    def cor_metrics(avg: np.ndarray, causal: bool, c: float, bucket: dict[str, list]) -> None:
        res = _spec.graph_metrics_corrected(avg, tau_rel=c, causal=causal)
        for key, name in (("fiedler", "fiedler_value"), ("star", "star_likeness"),
                          ("centralization", "degree_centralization"), ("density", "density")):
            bucket[key].append(res[name])

    for index, s in enumerate(iter_samples(traces)):
        for layer in lay:
            avg = head_average(s.layer_attention(layer))
            for tau in thresholds:
                pub_metrics(avg, tau, layer, published[tau][layer])
            for c in ratios:
                cor_metrics(avg, s.causal, c, corrected[c][layer])
        for name, m in null_maps(len(s.tokens), s.causal, seed=seed + index, heads=s.attention.shape[1]).items():
            entry = null.setdefault(name, {"published": {t: {k: [] for k in keys} for t in thresholds},
                                           "corrected": {c: {k: [] for k in ("fiedler", "star", "centralization",
                                                                               "density")} for c in ratios}})
            for tau in thresholds:
                pub_metrics(m, tau, 1, entry["published"][tau])  # layer 1: computed only when effective
            for c in ratios:
                cor_metrics(m, s.causal, c, entry["corrected"][c])
    return {"layers": lay, "thresholds": thresholds, "ratios": ratios, "published": published,
            "corrected": corrected, "null": null}


def _mean(values: Sequence[float]) -> float:
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else float("nan")


def threshold_sweep_summary(sweep: dict[str, Any], thresholds: Sequence[float] = _spec.PUBLISHED_THRESHOLDS
                            ) -> dict[str, Any]:
    """laplacian.ipynb's threshold effectiveness, best threshold and Fiedler heat-map from :func:`graph_sweep`.

    Published: per (τ, layer) the mean density over the samples whose density the notebook stores, the share of
    layers with a mean density in [0.05, 0.95] (effectiveness), the best τ, and the mean Fiedler value over the
    samples it computed (``n_computed``). Corrected: the same per relative threshold c with the density over
    visible entries and every sample. Null: the mean densities of uniform / random-logit attention."""
    lay = sweep["layers"]
    thresholds = [float(t) for t in thresholds]
    pub_density = {t: [_mean(sweep["published"][t][layer]["density"]) for layer in lay] for t in thresholds}
    effectiveness = _spec.threshold_effectiveness_published(pub_density)
    fiedler = np.array([[_mean(np.asarray(sweep["published"][t][layer]["fiedler"])[
        np.asarray(sweep["published"][t][layer]["computed"], bool)]) for layer in lay] for t in thresholds])
    n_computed = np.array([[int(np.sum(sweep["published"][t][layer]["computed"])) for layer in lay]
                           for t in thresholds])
    ratios = sweep["ratios"]
    cor_density = {c: [_mean(sweep["corrected"][c][layer]["density"]) for layer in lay] for c in ratios}
    cor_fiedler = np.array([[_mean(sweep["corrected"][c][layer]["fiedler"]) for layer in lay] for c in ratios])
    null = {name: {"published_density": {t: _mean(v["published"][t]["all_density"]) for t in thresholds},
                   "corrected_density": {c: _mean(v["corrected"][c]["density"]) for c in ratios}}
            for name, v in sweep["null"].items()}
    return {"layers": lay, "thresholds": thresholds, "ratios": ratios,
            "published": {"mean_density": pub_density, "effectiveness": effectiveness,
                          "best_threshold": _spec.best_threshold_published(effectiveness),
                          "fiedler": fiedler, "n_computed": n_computed},
            "corrected": {"mean_density": cor_density,
                          "effectiveness": _spec.threshold_effectiveness_published(cor_density),
                          "fiedler": cor_fiedler},
            "null": null}


FIEDLER_PAIRS = (("fiedler_vs_star", "star"), ("fiedler_vs_centralization", "centralization"),
                 ("fiedler_vs_variance", "variance"), ("fiedler_vs_density", "density"))


def fiedler_star_correlation(sweep: dict[str, Any], thresholds: Sequence[float] = FIEDLER_THRESHOLDS) -> dict[str, Any]:
    """fiedler.ipynb's main output from :func:`graph_sweep`: per τ and layer the Pearson r and p of the Fiedler
    value against star-likeness, degree centralisation, degree variance and density over samples; "overall" =
    mean of the per-layer r and mean of the per-layer p (published, :func:`sinkviz.metrics.stats.
    correlation_aggregate_published`) and the Fisher-z mean with Holm-significant layer count (corrected
    aggregate). ``corrected[c]``: the same on the corrected graph (relative threshold c, no self-loops) for star
    and centralisation. ``null[c or τ]``: the overall r of the random-logit null maps across samples."""
    lay = sweep["layers"]

    def table(bucket_of: Callable[[int], dict[str, list]], pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
        by_layer = {layer: {name: _stats.pearson_published(bucket_of(layer)["fiedler"], bucket_of(layer)[key])
                            for name, key in pairs} for layer in lay}
        overall = {name: {"published": _stats.correlation_aggregate_published([by_layer[l][name] for l in lay]),
                          "corrected": _stats.correlation_aggregate_corrected([by_layer[l][name] for l in lay])}
                   for name, _ in pairs}
        return {"by_layer": by_layer, "overall": overall}

    published = {float(t): table(lambda layer, t=float(t): sweep["published"][t][layer], FIEDLER_PAIRS)
                 for t in thresholds}
    pairs_cor = FIEDLER_PAIRS[:2]
    corrected = {c: table(lambda layer, c=c: sweep["corrected"][c][layer], pairs_cor) for c in sweep["ratios"]}
    null = {}
    if "random" in sweep["null"]:
        rnd = sweep["null"]["random"]
        null = {"published": {float(t): _stats.pearson_published(rnd["published"][float(t)]["fiedler"],
                                                                 rnd["published"][float(t)]["star"]) for t in thresholds},
                "corrected": {c: _stats.pearson_published(rnd["corrected"][c]["fiedler"], rnd["corrected"][c]["star"])
                              for c in sweep["ratios"]}}
    return {"layers": lay, "thresholds": [float(t) for t in thresholds], "ratios": sweep["ratios"],
            "published": published, "corrected": corrected, "null": null}


RMT_HEAD_KEYS = (("published", "spectral_gap"), ("published", "participation_ratio"),
                 ("published", "marchenko_pastur_kl"), ("corrected", "spectral_gap"),
                 ("corrected", "participation_ratio"), ("corrected", "marchenko_pastur_ks"))


def rmt_heads(traces: Any, layers: Sequence[int] | None = None, *, seed: int = 0) -> dict[str, Any]:
    """Per-head random-matrix statistics (rmt.ipynb computes them for every head, then reports only the head
    average): (layers, heads) arrays of the mean over samples of the published spectral gap, participation ratio
    and top-10 MP-KL (``finite_kl``: the share of samples where it is finite) and of the corrected singular-value
    gap, participation ratio and full-spectrum MP-KS; ``null``: the same statistics of uniform and random-logit
    maps at each sample's length (mean over samples), so ``ks_minus_null`` is the corrected KS above the
    random-logit one."""
    lay = _layers_of(traces, layers)
    sums: dict[tuple[str, str], list[list[list[float]]]] = {}
    null: dict[str, dict[tuple[str, str], list[float]]] = {}
    n_heads = None
    for index, s in enumerate(iter_samples(traces)):
        n_heads = s.attention.shape[1]
        for i, layer in enumerate(lay):
            att = s.layer_attention(layer)
            for h in range(n_heads):
                pub, cor = _rmt.rmt_published(att[h]), _rmt.rmt_corrected(att[h])
                for variant, key in RMT_HEAD_KEYS:
                    res = pub if variant == "published" else cor
                    sums.setdefault((variant, key), [[[] for _ in range(n_heads)] for _ in lay])[i][h].append(res[key])
        for name, m in null_maps(len(s.tokens), s.causal, seed=seed + index).items():
            pub, cor = _rmt.rmt_published(m), _rmt.rmt_corrected(m)
            for variant, key in RMT_HEAD_KEYS:
                null.setdefault(name, {}).setdefault((variant, key), []).append((pub if variant == "published" else cor)[key])
    out: dict[str, Any] = {"layers": lay, "n_heads": n_heads, "published": {}, "corrected": {}, "null": {}}
    for (variant, key), grid in sums.items():
        out[variant][key] = np.array([[_mean(v) for v in row] for row in grid])
    kl = sums[("published", "marchenko_pastur_kl")]
    out["published"]["finite_kl"] = np.array([[float(np.mean(np.isfinite(v))) for v in row] for row in kl])
    for name, values in null.items():
        out["null"][name] = {f"{variant}_{key}": _mean(v) for (variant, key), v in values.items()}
    ref = out["null"].get("random", out["null"]["uniform"])["corrected_marchenko_pastur_ks"]
    out["corrected"]["ks_minus_null"] = out["corrected"]["marchenko_pastur_ks"] - ref
    return out


VALUE_GEOMETRY_KEYS = ("gsa", "entropy_magnitude", "pca")


def value_geometry(traces: Any, layers: Sequence[int] | None = None, *, seed: int = 0) -> dict[int, dict[str, dict[str, list[float]]]]:
    """Per layer and sample (attention_value.ipynb ``analyze_text``): GSA, entropy–magnitude correlation and
    PCA-component correlation, ``published`` (the notebook's; PCA seeded with ``seed``; h^{l+1} after the final
    norm at the last layer, :meth:`SampleView.block_output`) and ``corrected`` (visible pairs; normalised entropy
    vs raw magnitude, Spearman; exact SVD, |corr|), and their nulls: every statistic, published (``gsa``, …) and
    corrected (``gsa_corrected``, …), with the attention replaced by uniform attention (``null_uniform``: what the
    mask alone gives) and by one draw of the mean of H seeded random-logit heads (``null_random_draw``, seeded
    with ``seed`` + layer; one draw, so no sd and no ``null_random`` band) under the same mask, over the same
    hidden states. Uniform attention has the same normalised entropy in every row, so its corrected
    entropy–magnitude correlation is NaN (undefined), not 0."""
    def statistics(attention: np.ndarray, s: SampleView, h_in: np.ndarray, h_pub: np.ndarray, h_cor: np.ndarray
                   ) -> dict[str, dict[str, float]]:
        return {
            "published": {"gsa": _inf.gsa_published(attention, h_in),
                          "entropy_magnitude": _align.entropy_magnitude_published(attention, h_in, h_pub),
                          "pca": _align.pca_component_correlation_published(attention, h_in, seed=seed)["mean"]},
            "corrected": {"gsa": _inf.gsa_corrected(attention, h_in, causal=s.causal),
                          "entropy_magnitude": _align.entropy_magnitude_corrected(attention, h_in, h_cor,
                                                                                  causal=s.causal),
                          "pca": _align.pca_component_correlation_corrected(attention, h_in)["mean"]},
        }

    def one(s: SampleView, layer: int) -> dict[str, dict[str, float]]:
        if s.hidden is None:
            raise ValueError("value_geometry needs hidden states: trace with hidden=True")
        stack = s.layer_attention(layer)
        h_in = s.hidden[layer]
        h_pub, h_cor = s.block_output(layer, "published"), s.block_output(layer, "corrected")
        out = statistics(head_average(stack), s, h_in, h_pub, h_cor)
        maps = null_maps(len(s.tokens), s.causal, seed=seed + layer, heads=stack.shape[0])
        for null, variant in (("uniform", "null_uniform"), ("random", "null_random_draw")):
            of_null = statistics(maps[null], s, h_in, h_pub, h_cor)
            corrected = {f"{key}_corrected": value for key, value in of_null["corrected"].items()}
            out[variant] = {**of_null["published"], **corrected}
        return out
    return _collect(traces, layers, one)


def _by_layer(vg: dict[int, dict[str, dict[str, list[float]]]], variant: str, key: str) -> dict[int, list[float]]:
    return {layer: [v for v in vg[layer][variant][key] if np.isfinite(v)] for layer in sorted(vg)}


def _per_sample(vg: dict[int, dict[str, dict[str, list[float]]]], variant: str, key: str) -> np.ndarray:
    return np.array([vg[layer][variant][key] for layer in sorted(vg)], dtype=np.float64).T  # (samples, layers)


def _statistics(vg: dict[int, dict[str, dict[str, list[float]]]], key: str) -> dict[str, Any]:
    pub, cor = _by_layer(vg, "published", key), _by_layer(vg, "corrected", key)
    pooled = np.concatenate([np.asarray(v) for v in pub.values()])
    out = {"published": {"mean": float(pooled.mean()), "first": _mean(pub[min(pub)]), "last": _mean(pub[max(pub)]),
                         "one_sample": _stats.one_sample_t_published(pooled),
                         "trend": _stats.layer_trend_published(pub),
                         "first_vs_last": _stats.first_vs_last_published(pub)},
           "corrected": {"mean": _mean(np.concatenate([np.asarray(v) for v in cor.values()])),
                         "first": _mean(cor[min(cor)]), "last": _mean(cor[max(cor)]),
                         "trend": _stats.layer_trend_published(cor) if all(cor.values()) else None}}
    matrix = _per_sample(vg, "corrected", key)
    if np.isfinite(matrix).any(axis=1).sum() >= 2:
        out["corrected"]["one_sample"] = _stats.one_sample_t_corrected(matrix)
    full = {layer: list(_per_sample(vg, "corrected", key)[:, i]) for i, layer in enumerate(sorted(vg))}
    first, last = full[min(full)], full[max(full)]
    paired = [(a, b) for a, b in zip(first, last) if np.isfinite(a) and np.isfinite(b)]
    if len(paired) >= 2:
        out["corrected"]["first_vs_last"] = _stats.first_vs_last_corrected({min(full): [a for a, _ in paired],
                                                                            max(full): [b for _, b in paired]})
    for null in ("null_uniform", "null_random_draw"):  # each variant's statistic on the same hidden states
        for name in (key, f"{key}_corrected"):
            if name not in vg[min(vg)].get(null, {}):
                continue
            nul = _by_layer(vg, null, name)
            out[null + name[len(key):]] = {
                "mean": _mean(np.concatenate([np.asarray(v) for v in nul.values()])),
                "first": _mean(nul[min(nul)]), "last": _mean(nul[max(nul)]),
                "trend": _stats.layer_trend_published(nul) if all(nul.values()) else None}
    return out


def entropy_magnitude_summary(vg: dict[int, dict[str, dict[str, list[float]]]]) -> dict[str, Any]:
    """attention_value.ipynb's overall numbers for the entropy–magnitude and PCA-component correlations (mean over
    every sample and layer, first and last layer, one-sample t, layer trend, first-vs-last Welch), published and
    corrected, each beside its uniform and random-logit nulls (``null_uniform``, ``null_random_draw``, and
    ``null_*_corrected`` for the corrected values)."""
    return {"entropy_magnitude": _statistics(vg, "entropy_magnitude"), "pca": _statistics(vg, "pca")}


def gsa_statistics(vg: dict[int, dict[str, dict[str, list[float]]]]) -> dict[str, Any]:
    """GSA's statistics as attention_value.ipynb reports them — one-sample t over samples × layers, Spearman /
    Pearson layer trend of the layer means, Welch first vs last layer — and corrected (visible pairs; one-sample
    t over per-sentence means; paired first vs last), each beside its uniform and random-logit nulls (what the
    mask, or a pattern-free softmax, gives with the model's own hidden states)."""
    return _statistics(vg, "gsa")
