"""Committed lab results (``sinkviz/data/lab_results/*.json``) and the paper's numbers to show beside them.

``load_results()`` reads every run JSON (one per run: config, device, data and per-evaluation history:
Sink_1..Sink_10, Sink_*, train/valid loss, massive-activation ratios). ``paper_reference(item)`` returns
Gu et al.'s (ICLR 2025) reported values for the lab's tables and figures (their 60M LLaMA-2-style model,
5B Pile tokens, 20k steps x 1M tokens; Sink in %, ε = 0.3, T = 64), so a notebook can print "scaled-down
run: x; paper (60M, 5B Pile tokens): y" side by side.
"""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from importlib import resources
from itertools import combinations
from math import comb
from pathlib import Path
from typing import Any

from sinkviz.metrics.nulls import null_baseline
from sinkviz.metrics.rmt import rmt_corrected
from sinkviz.papers.reported import reported_numbers

RESULTS_DIR = Path(resources.files("sinkviz") / "data" / "lab_results")


def _lab_item(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """One lab item's reported values in the shape the lab's tables read: its ``caption`` and either ``rows``
    (``{setting: values in the order of columns}``, None where the paper prints "–") and ``columns``, or,
    for an item without settings, one key per reported column."""
    reference: dict[str, Any] = {"caption": rows[0]["caption"]}
    if "setting" not in rows[0]:
        reference.update({r["column"]: tuple(r["value"]) if isinstance(r["value"], list) else r["value"]
                          for r in rows})
        return reference
    columns = list(dict.fromkeys(r["column"] for r in rows))
    cells: dict[Any, dict[str, Any]] = {}
    for r in rows:
        cells.setdefault(r["setting"], {})[r["column"]] = r["value"]
    reference["rows"] = {setting: tuple(c.get(column) for column in columns) for setting, c in cells.items()}
    reference["columns"] = tuple(columns)
    return reference


def _lab_references() -> dict[str, dict[str, Any]]:
    items: dict[str, list[dict[str, Any]]] = {}
    for row in reported_numbers(paper="gu2025"):
        if "caption" in row:  # the lab's items are the ones with a lab caption
            items.setdefault(row["item"], []).append(row)
    return {item: _lab_item(rows) for item, rows in items.items()}


#: Gu et al.'s numbers for the lab, by lab item (the run names' tables and figures), read from
#: :func:`sinkviz.papers.reported.reported_numbers`.
PAPER: dict[str, dict[str, Any]] = _lab_references()

#: Table 6 rows whose Sink is a proxy score (marked * in the paper).
PROXY_ROWS = frozenset(r["setting"] for r in reported_numbers(paper="gu2025") if r.get("proxy"))


def paper_reference(item: str) -> dict[str, Any]:
    """The paper's numbers for one lab item (keys of ``PAPER``)."""
    if item not in PAPER:
        raise KeyError(f"No paper reference {item!r}; known: {sorted(PAPER)}.")
    return PAPER[item]


def load_results(folder: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """Every ``*.json`` run result in ``folder`` (default: the committed results shipped with sinkviz), by file
    name without ``.json``: the name of the config file that made it (``control`` and ``control_seed1`` are two
    seeds of the config named ``control``)."""
    root = Path(folder) if folder is not None else RESULTS_DIR
    if not root.is_dir():
        raise FileNotFoundError(f"No lab results folder {root}: run `sinkviz lab run CONFIG` and pass its folder.")
    runs: dict[str, dict[str, Any]] = {}
    for path in sorted(root.glob("*.json")):
        data = json.loads(path.read_text())
        if "history" in data and "name" in data:
            runs[path.stem] = _with_current_keys(data)
    return runs


def _with_current_keys(run: dict[str, Any]) -> dict[str, Any]:
    """``run`` with the frame statistics' rate under its current name: results written before it was renamed
    call it ``sink_rate``, which read as Gu et al.'s Sink_k though it is the frame rule's rate (top key ≥ 2× its
    uniform share)."""
    for entry in run["history"]:
        frames = entry.get("frames")
        if isinstance(frames, dict) and "sink_rate" in frames:
            frames["frame_top_rate"] = frames.pop("sink_rate")
    return run


def final(run: dict[str, Any]) -> dict[str, Any]:
    """The last evaluation of a run."""
    if not run.get("history"):
        raise ValueError(f"Run {run.get('name')!r} has no evaluations.")
    return run["history"][-1]


def series(run: dict[str, Any], key: str) -> tuple[list[int], list[Any]]:
    """(steps, values) of one history field, e.g. ``series(run, "sink_1")``."""
    steps = [h["step"] for h in run["history"] if h.get(key) is not None]
    return steps, [h[key] for h in run["history"] if h.get(key) is not None]


# ------------------------------------------------------------------------------------------------
# lab-vs-paper tables (data only; sinkviz.lab.figures draws them)

#: Which lab run is which row of a paper table: item -> [(row label, run name, paper row key)].
TABLE_RUNS: dict[str, list[tuple[str, str, Any]]] = {
    "table2_weight_decay": [("γ = 0", "wd_0", 0.0), ("γ = 0.1 (default)", "default", 0.1), ("γ = 0.5", "wd_0.5", 0.5),
                            ("γ = 2", "wd_2", 2.0), ("γ = 5", "wd_5", 5.0)],
    "table4_biases": [("default", "default", "default"), ("sink token", "sink_token", "sink_token"),
                      ("K/V biases", "kv_bias", "kv_bias"), ("K biases (v* = 0)", "k_bias", "k_bias"),
                      ("V biases", "v_bias", "v_bias")],
    "table6_attention_ops": [("softmax (Z = Σ)", "default", "softmax"), ("sigmoid, Z = 1", "sigmoid_nonorm", "sigmoid_nonorm"),
                             ("sigmoid, Z = Σ", "sigmoid_norm", "sigmoid_norm"), ("elu+1, Z = 1", "elu1_nonorm", "elu1_nonorm"),
                             ("elu+1 kernel, Z = Σ", "elu_kernel_norm", "elu_kernel_norm"),
                             ("identity, Z = 1", "identity_nonorm", "identity_nonorm")],
    "table3_position": [("RoPE (default)", "default", "rope"), ("NoPE", "pe_nope", "nope"),
                        ("learned absolute", "pe_learned", "learned"), ("ALiBi", "pe_alibi", "alibi")],
    "table9_learning_rate": [("lr 2e-3", "lr_2e-3", None), ("lr 1e-3 (default)", "default", None),
                             ("lr 4e-4", "lr_4e-4", 4e-4), ("lr 1e-4", "lr_1e-4", 1e-4)],
}


def _cell(run: dict[str, Any] | None, key: str):
    if run is None:
        return "not run"
    value = final(run).get(key)
    return "–" if value is None else value


def table_rows(item: str, runs: dict[str, dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    """(header, rows) comparing the lab's final values with the paper's for one table of ``TABLE_RUNS``.
    Proxy scores (non-softmax ops) are marked with * as in the paper."""
    paper = paper_reference(item)
    columns = list(paper["columns"])
    keys = {"Sink_1": "sink_1", "Sink_*": "sink_star", "valid loss": "valid_loss"}
    header = ["setting"] + [f"lab {c}" for c in columns] + ["lab steps"] + [f"paper {c}" for c in columns]
    rows = []
    for label, run_name, paper_key in TABLE_RUNS[item]:
        run = runs.get(run_name)
        proxy = run is not None and run["config"]["model"].get("attn_op", "softmax") != "softmax"
        lab = []
        for c in columns:
            v = _cell(run, keys[c])
            lab.append(f"{v:.2f}*" if proxy and c.startswith("Sink") and isinstance(v, float) else v)
        steps = "not run" if run is None else f"{run['step']} ({run['status']})"
        ref = paper["rows"].get(paper_key) if paper_key is not None else None
        ref_cells = list(ref) if ref is not None else ["–"] * len(columns)
        if paper_key in PROXY_ROWS:  # the paper marks proxy scores with *
            ref_cells = [f"{v:.2f}*" if c.startswith("Sink") and isinstance(v, float) else v
                         for c, v in zip(columns, ref_cells)]
        rows.append([label, *lab, steps, *ref_cells])
    return header, rows


#: The corrected MP-KS that the frames-over-training figure sets beside its nulls.
NULL_RMT_KEY = "marchenko_pastur_ks"


@lru_cache(maxsize=32)
def rmt_nulls(n: int, heads: int, sliding_window: int | None = None) -> dict[str, float]:
    """The corrected Marchenko–Pastur KS (Ruscio et al. 2025 §4.3, ``sinkviz.metrics.rmt.rmt_corrected``) of
    the two null maps under the lab's mask, as ``sinkviz.lab.evaluate.rmt_summary`` reads a model: the head average of ``heads``
    heads over ``n`` positions, causal (with a slot at index 0 that every query sees, the (T+1)-causal mask is
    the same), with the model's sliding window. ``null_uniform_marchenko_pastur_ks`` is uniform attention's
    (0.56 at n = 64), ``null_random_marchenko_pastur_ks`` the mean over 20 seeded random-logit draws: an
    untrained model's near-uniform attention scores about the first, so a KS that falls with training falls
    from the uniform null, not from a random matrix's."""
    baseline = null_baseline(lambda m: rmt_corrected(m)[NULL_RMT_KEY], n, causal=True,
                             sliding_window=sliding_window, heads=heads)
    return {f"null_uniform_{NULL_RMT_KEY}": round(baseline.uniform, 4),
            f"null_random_{NULL_RMT_KEY}": round(baseline.random_mean, 4)}


def run_rmt_nulls(config: dict[str, Any]) -> dict[str, float]:
    """:func:`rmt_nulls` for a run's saved config (``run["config"]``): probe length plus the slot, its heads and
    window; empty for maps that are not softmax probabilities (§7.4 proxies have no softmax null) and for
    prefix-LM masks (a bidirectional block that the nulls do not build)."""
    model = config["model"]
    if model.get("attn_op", "softmax") != "softmax" or model.get("prefix_length"):
        return {}
    slot = 1 if model.get("bias_mode") in ("k", "kv", "sink_token") else 0
    window = model.get("sliding_window")
    if slot and window is not None:
        return {}  # the slot stays visible beyond the window: not the nulls' mask
    return rmt_nulls(int(config["eval"]["length"]) + slot, int(model["num_heads"]),
                     None if window is None else int(window))


def frame_rows(run: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per evaluation for ``sinkviz.plots.frames.frames_over_training_figure``: frame statistics
    plus the RMT medians over samples and layers, and the corrected MP-KS of the nulls under the run's mask
    (:func:`run_rmt_nulls`), the same at every step."""
    rows = []
    for h in run["history"]:
        if "frames" not in h:
            continue
        f = h["frames"]
        row = {"step": h["step"], "label": f["label"], "reason": f"layers: {f['counts']}",
               **{k: f[k] for k in ("frame_top_rate", "start_share", "end_share", "interior_share", "median_excess")}}
        row.update(h.get("rmt", {}).get("median", {}))
        if f"corrected_{NULL_RMT_KEY}" in row:
            row.update(run_rmt_nulls(run["config"]))
        rows.append(row)
    return rows


def summary_rows(runs: dict[str, dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    """(header, rows): one row per run with its final and best-validation numbers."""
    header = ["run", "paper item", "steps", "tokens seen (M)", "Sink_1 (%)", "Sink_* (%)", "max Sink_1 (%)",
              "valid loss", "min valid loss (step)", "device"]
    rows = []
    for name, run in sorted(runs.items()):
        last = final(run)
        best = min((h for h in run["history"] if h.get("valid_loss") is not None), key=lambda h: h["valid_loss"])
        peak = max(h["sink_1"] for h in run["history"])
        rows.append([name, run.get("paper", ""), f"{run['step']} ({run['status']})", round(last["tokens_seen"] / 1e6, 1),
                     last["sink_1"], last.get("sink_star"), peak, last["valid_loss"],
                     f"{best['valid_loss']:.3f} ({best['step']})", run["device"]])
    return header, rows


def data_rows(runs: dict[str, dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    """(header, rows): how much data each run had and saw, with its first-token sink (Fig. 28's question).
    ``passes`` = tokens seen / distinct training tokens of the corpus (how often the data repeated)."""
    header = ["run", "corpus", "train tokens (M)", "distinct token ids", "steps", "tokens/step", "tokens seen (M)",
              "passes", "Sink_1 (%)", "max Sink_1 (%)", "strongest layer: Sink_1 (%)", "valid loss",
              "min valid loss (step)"]
    rows = []
    for name, run in runs.items():
        d, last = run["data"], final(run)
        best = min((h for h in run["history"] if h.get("valid_loss") is not None), key=lambda h: h["valid_loss"])
        per_layer = last.get("sink_1_per_layer") or []
        layer = max(range(len(per_layer)), key=lambda i: per_layer[i]) if any(per_layer) else None
        rows.append([name, d["source"], round(d["train_tokens"] / 1e6, 2), d["distinct_tokens"]["train"],
                     f"{run['step']} ({run['status']})", run["tokens_per_step"], round(last["tokens_seen"] / 1e6, 1),
                     round(last["tokens_seen"] / d["train_tokens"], 1), round(last["sink_1"], 2),
                     round(max(h["sink_1"] for h in run["history"]), 2),
                     "–" if layer is None else f"layer {layer}: {per_layer[layer]:.2f}",
                     round(last["valid_loss"], 3), f"{best['valid_loss']:.3f} ({best['step']})"])
    return header, rows


def history_rows(run: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """(header, rows): one row per evaluation of a run (step, tokens seen, Sink_1 overall and in its
    strongest layer, mean first-token attention α₁ of the strongest head, losses)."""
    header = ["step", "tokens seen (M)", "Sink_1 (%)", "strongest layer: Sink_1 (%)", "max head α₁", "train loss",
              "valid loss"]
    rows = []
    for h in run["history"]:
        per_layer = h.get("sink_1_per_layer") or []
        layer = max(range(len(per_layer)), key=lambda i: per_layer[i]) if any(per_layer) else None
        alpha = max((a for layer_alpha in (h.get("alpha_1") or []) for a in layer_alpha), default=None)
        rows.append([h["step"], round(h["tokens_seen"] / 1e6, 1), round(h["sink_1"], 2),
                     "–" if layer is None else f"layer {layer}: {per_layer[layer]:.2f}",
                     None if alpha is None else round(alpha, 3), h.get("train_loss"),
                     None if h.get("valid_loss") is None else round(h["valid_loss"], 3)])
    return header, rows


# ------------------------------------------------------------------------------------------------
# the control and its contrasts (same corpus, same tokens seen)

#: The runs that contrast with the control, in the order of Gu et al. §§4–7: (run file, label, what changes,
#: paper item, paper row, paper column). A paper row of None means the paper gives no single number to set beside
#: it (the caption says what it shows).
CONTRASTS: list[tuple[str, str, str, str, Any, str]] = [
    ("control_seed1", "control, seed 1", "seed 1", "fig4_middle", None, "final_sink_1"),
    ("control_wd5", "weight decay 5", "wd 0.1 → 5", "table2_weight_decay", 5.0, "Sink_1"),
    ("control_sigmoid_nonorm", "sigmoid, Z = 1 (proxy)", "softmax → sigmoid without normalisation",
     "table6_attention_ops", "sigmoid_nonorm", "Sink_1"),
    ("control_k_bias", "K biases", "a learnable key slot (v* = 0)", "table4_biases", "k_bias", "Sink_*"),
    ("control_sink_token", "sink token", "a learnable token before every sequence", "table4_biases", "sink_token",
     "Sink_*"),
    ("control_nope", "NoPE", "RoPE → no positional encoding", "table3_position", "nope", "Sink_1"),
    ("control_pe_learned", "learned positions", "RoPE → learned absolute", "table3_position", "learned", "Sink_1"),
    ("control_alibi", "ALiBi", "RoPE → ALiBi", "table3_position", "alibi", "Sink_1"),
    ("control_window", "window 32", "sliding window 32 < probe length 64", "", None, "Sink_1"),
    ("control_lr_low", "lr 5e-4", "lr 2e-3 → 5e-4 (÷ 4; the paper's ÷ 4 is 4e-4 → 1e-4)", "table9_learning_rate", 0.0001,
     "Sink_1"),
    ("control_data_100mb", "100 MB of data", "corpus capped at 100 MB (≈ 28M tokens)", "fig28_data_amount", "50M",
     "Sink_1"),
    ("control_data_50mb", "50 MB of data", "corpus capped at 50 MB (≈ 14M tokens)", "fig28_data_amount", "50M",
     "Sink_1"),
    ("control_data_25mb", "25 MB of data", "corpus capped at 25 MB (≈ 7M tokens)", "fig28_data_amount", "50M",
     "Sink_1"),
    ("control_ctx256", "context 256", "context 1024 → 256 (256 sequences a step: the same 65,536 tokens)", "", None,
     "Sink_1"),
    ("control_bf16", "bf16 weights", "fp32 master weights → weights and AdamW state in bf16", "", None, "Sink_1"),
]

#: What the paper says beside a contrast that has no paper item (no single number to set beside it).
NO_PAPER_ITEM = {"control_window": "Fig. 6 right: sink needs w ≥ 256",
                 "control_ctx256": "none: the paper trains at context 2048 only (a lever of the lab's control)",
                 "control_bf16": "none: the paper keeps fp32 master weights (a precision test of the lab's fast path)"}

#: Where the paper's setting beside a contrast is not the lab's: Fig. 28's smallest amount of data (50M tokens) is
#: more than any of the lab's capped corpora holds, so each data row says how much its own run had.
PAPER_SETTING_NOTE = {"control_data_100mb": "the paper's least data; this run ≈ 28M tokens",
                      "control_data_50mb": "the paper's least data; this run ≈ 14M tokens",
                      "control_data_25mb": "the paper's least data; this run ≈ 7M tokens"}

_ITEM_LABELS = {"fig4_middle": "Fig. 4 middle", "table2_weight_decay": "Table 2", "table6_attention_ops": "Table 6",
                "table4_biases": "Table 4", "table3_position": "Table 3", "table9_learning_rate": "Table 9",
                "fig28_data_amount": "Fig. 28"}

#: Tokens seen by a contrast and the control evaluation it is compared with may differ by at most this fraction.
MATCHED_TOKENS = 0.10
#: A contrast's second seed whose validation loss lies this far (nats) above its first seed's at the compared
#: evaluation is marked as diverged: its Sink_1 then reads a model that stopped learning, not the switch. Six times
#: the 0.08 that scoring one checkpoint on another seed's validation windows moves it
#: (``benchmarks/results/lab_valid_windows.json``; the committed further seeds used their own seed's windows).
DIVERGED_LOSS = 0.5


def further_seeds(name: str, runs: dict[str, dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """[(seed, run)] of the committed runs ``{name}_seed1``, ``{name}_seed2``, … in seed order: the same config as
    ``name`` but for its seed."""
    prefix = f"{name}_seed"
    seeds = [(int(key[len(prefix):]), run) for key, run in runs.items()
             if key.startswith(prefix) and key[len(prefix):].isdigit()]
    return sorted(seeds, key=lambda pair: pair[0])


def committed_seeds(name: str, runs: dict[str, dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """[(seed, run)] of every committed run of a config: ``name`` itself as seed 0 (where committed), then its
    :func:`further_seeds`."""
    return ([(0, runs[name])] if name in runs else []) + further_seeds(name, runs)


#: How far back :func:`largest_move` looks from a compared evaluation: about the last third of a 1.5B-token run.
MOVE_WINDOW_TOKENS = 500_000_000


def largest_move(run: dict[str, Any], tokens: int, window: int = MOVE_WINDOW_TOKENS) -> float:
    """The largest change of Sink_1 between two consecutive evaluations of ``run`` over the ``window`` tokens up to
    its evaluation nearest ``tokens`` (0 with fewer than two there): how much one run's Sink_1 moves from one
    evaluation to the next late in training, trend and checkpoint noise together. A contrast that lies outside the
    control's seeds by less than this is not separated from them by its placement alone."""
    end = matched_entry(run, tokens)
    late = [h for h in run["history"] if end["tokens_seen"] - window <= h["tokens_seen"] <= end["tokens_seen"]]
    return max((abs(b["sink_1"] - a["sink_1"]) for a, b in zip(late, late[1:])), default=0.0)


def matched_entry(run: dict[str, Any], tokens: int) -> dict[str, Any]:
    """The evaluation of ``run`` whose tokens seen are closest to ``tokens``."""
    return min(run["history"], key=lambda h: abs(h["tokens_seen"] - tokens))


def matched_pair(run: dict[str, Any], control: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(run's evaluation, control's evaluation) closest to the fewer of the two runs' final tokens seen."""
    tokens = min(final(run)["tokens_seen"], final(control)["tokens_seen"])
    return matched_entry(run, tokens), matched_entry(control, tokens)


def _paper_cell(item: str, row: Any, column: str) -> Any:
    if not item:
        return "–"
    reference = paper_reference(item)
    if row is None:
        return reference.get(column, "–")
    columns = list(reference["columns"])
    values = reference["rows"].get(row)
    return "–" if values is None or column not in columns else values[columns.index(column)]


def contrast_paper(name: str) -> tuple[str, str]:
    """(where in the paper, its value) for a contrast of :data:`CONTRASTS`, e.g. ("Table 4, k_bias: Sink_*",
    "73.34"); a contrast without a paper item says why (:data:`NO_PAPER_ITEM`) and has no value ("–")."""
    _, _, _, item, row, column = next(c for c in CONTRASTS if c[0] == name)
    if not item:
        return NO_PAPER_ITEM[name], "–"
    where = _ITEM_LABELS.get(item, item) + ("" if row is None else f", {row}")
    value = _paper_cell(item, row, column)
    printed = f"{value:.2f}" if isinstance(value, float) else f"{value}"  # as the paper prints it: 2.90, not 2.9
    note = f" ({PAPER_SETTING_NOTE[name]})" if name in PAPER_SETTING_NOTE else ""
    return f"{where}: {column.replace('final_sink_1', 'Sink_1 at 20k steps')}{note}", printed


#: The contrast table's column for :func:`rank_sum_cell`.
RANK_SUM_COLUMN = "rank-sum p against the control's seeds (two-sided, exact; floor: the least n and m seeds allow)"


def contrast_rows(runs: dict[str, dict[str, Any]], control: str = "control") -> tuple[list[str], list[list[Any]]]:
    """(header, rows): each contrast beside the control at matched tokens seen, the final frame verdict (Ruscio et
    al.'s position rule) and the paper's number. Contrasts without a committed result say "not run".

    The two runs are compared where both have been: at the fewer of their final tokens seen, each run's evaluation
    closest to it (so a contrast that ran past the control is read at the control's end, not at its own); a pair
    whose evaluations differ by more than ``MATCHED_TOKENS`` is marked. The control's further seeds
    (``{control}_seed1``, ``{control}_seed2``, …), where committed, stand beside it at the same tokens: the seeds'
    spread is the noise a one-seed contrast has to exceed; a contrast's own further seeds (``{name}_seed1``,
    ``{name}_seed2``, …), where committed, stand beside it the same way ("seed 1: 22.04; seed 2: …", "not run" when there is none), each marked
    "diverged" when its validation loss there lies more than ``DIVERGED_LOSS`` above the first seed's, and with its
    own end beside it when it ran on past that point ("end: 14.42 at 1.51B"). The last
    column says whether the contrast ran as far as the control ("complete": within ``MATCHED_TOKENS`` of its final
    tokens seen) or is a partial run, to be resumed from its carried checkpoint; the two before it place each seed
    of the contrast against all the control's seeds at the same tokens (:func:`against_control_seeds`) and test the
    seeds together against them (:func:`rank_sum_cell`)."""
    header = ["contrast", "change", "tokens seen (M)", "Sink_1 (%)", "Sink_* (%)", "frame verdict",
              "control Sink_1 (%) at those tokens", "control, further seeds: Sink_1 (%) there", "paper", "paper value",
              "this contrast, further seeds: Sink_1 (%) there, Sink_* with a slot", "Sink_1 against the control's seeds",
              RANK_SUM_COLUMN, "run"]
    base = runs.get(control)
    control_seeds = further_seeds(control, runs)
    rows = []
    for name, label, change, *_ in CONTRASTS:
        paper_label, paper = contrast_paper(name)
        run = runs.get(name)
        if run is None:
            rows.append([label, change, "not run", "–", "–", "–", "–", "–", paper_label, paper, "–", "–", "–",
                         "not run"])
            continue
        entry, reference, extent = final(run), "no control", "–"
        if base is not None:
            run_end, control_end = final(run)["tokens_seen"], final(base)["tokens_seen"]
            extent = ("complete" if run_end >= (1 - MATCHED_TOKENS) * control_end
                      else f"partial: {run_end / 1e9:.2f}B of {control_end / 1e9:.2f}B tokens")
            entry, match = matched_pair(run, base)
            reference = _sink_1_cell(match, entry["tokens_seen"])
        proxy = run["config"]["model"].get("attn_op", "softmax") != "softmax"
        sink_1 = f"{entry['sink_1']:.2f}" + ("*" if proxy else "")
        star = "–" if entry.get("sink_star") is None else f"{entry['sink_star']:.2f}"
        tokens = entry["tokens_seen"]
        if any(run is seed_run for _, seed_run in control_seeds):
            control_others = own_seeds = placed = tested = "–"
        else:
            control_others = "; ".join(f"seed {seed}: {_sink_1_cell(matched_entry(seed_run, tokens), tokens)}"
                                       for seed, seed_run in control_seeds) or "–"
            seeds = further_seeds(name, runs)
            own_seeds = _further_seeds_cell(seeds, entry, proxy)
            controls = () if base is None else (base, *(seed_run for _, seed_run in control_seeds))
            placed = against_control_seeds(entry, seeds, controls) if len(controls) > 1 else "–"
            tested = rank_sum_cell(entry, seeds, controls) if len(controls) > 1 else "–"
        rows.append([label, change, round(tokens / 1e6), sink_1, star,
                     final(run).get("frames", {}).get("label", "–"), reference, control_others, paper_label, paper,
                     own_seeds, placed, tested, extent])
    return header, rows


#: The columns of :func:`contrast_rows` that :func:`contrast_markdown` keeps by default: enough to cite a contrast
#: (its seeds, the control's seeds at the same tokens, where it lies among them, the paper's number).
SUMMARY_COLUMNS = ("contrast", "tokens seen (M)", "Sink_1 (%)", "Sink_* (%)", "control Sink_1 (%) at those tokens",
                   "control, further seeds: Sink_1 (%) there",
                   "this contrast, further seeds: Sink_1 (%) there, Sink_* with a slot",
                   "Sink_1 against the control's seeds", RANK_SUM_COLUMN, "paper", "paper value")


def contrast_markdown(runs: dict[str, dict[str, Any]], columns: tuple[str, ...] | None = SUMMARY_COLUMNS) -> str:
    """:func:`contrast_rows` as a GitHub-flavoured markdown table (``columns``: a selection of its header, in order;
    ``None`` keeps every column), through :func:`sinkviz.plots.tables.table_markdown`, which escapes a ``|`` inside
    a cell so that a cell never splits the row."""
    header, rows = contrast_rows(runs)
    keep = header if columns is None else list(columns)
    unknown = [name for name in keep if name not in header]
    if unknown:
        raise ValueError(f"Unknown contrast columns {unknown}; the table has {header}.")
    index = [header.index(name) for name in keep]
    from sinkviz.plots.tables import table_markdown  # plotly: kept out of the lab's start-up (training jobs)

    return table_markdown(keep, [[row[i] for i in index] for row in rows])


def control_spread_position(value: float, control_values: list[float]) -> str:
    """"below both", "inside" or "above both" ("below all N", "above all N" for N > 2 seeds): where ``value`` lies
    against the control seeds' values (the closed range between their smallest and largest)."""
    low, high = min(control_values), max(control_values)
    every = "both" if len(control_values) == 2 else f"all {len(control_values)}"
    return f"below {every}" if value < low else f"above {every}" if value > high else "inside"


def outside_margin(value: float, control_values: list[float]) -> float:
    """How far ``value`` lies outside the control seeds' closed range, in Sink_1 points: ``min(control) - value``
    below it, ``value - max(control)`` above it, 0 inside. A "below all 3" by 0.13 points and one by 10 points are
    not the same finding; the table says which."""
    return max(min(control_values) - value, value - max(control_values), 0.0)


#: Splits enumerated at most by :func:`rank_sum_p` (C(20, 10) = 184,756 fits: more seeds than the lab will train).
RANK_SUM_MAX_SPLITS = 200_000


def rank_sum_p(values: list[float], control_values: list[float], alternative: str = "less") -> float:
    """Exact permutation p-value of the Mann–Whitney rank-sum statistic for a contrast's seeds against the control's.

    U = Σ_{x ∈ values} Σ_{y ∈ control_values} ([x > y] + ½[x = y]), the count of (contrast, control) pairs in which
    the contrast is higher. Under the null that all n + m runs are exchangeable (the switch does nothing), each of
    the C(n + m, n) ways to pick which values are the contrast's is equally likely; the p-value is the share of them
    whose U is at most (``"less"``) or at least (``"greater"``) the observed one; ``"two-sided"`` doubles the
    smaller tail, capped at 1. Ties count by the same ½ rule in every split, so the enumeration is exact with ties.

    With few seeds the smallest reachable p is 1 / C(n + m, n): 4 seeds against 6 cannot go below 1/210 = 0.0048,
    2 against 6 not below 1/28 = 0.036. Sink₁ of a seed is one sample of a noisy reading (it moves by several
    points between evaluations: :func:`largest_move`), so a small p says the seeds' order is unlikely under
    exchangeability, not how large the effect is."""
    if alternative not in ("less", "greater", "two-sided"):
        raise ValueError(f"alternative must be 'less', 'greater' or 'two-sided'; got {alternative!r}.")
    if not values or not control_values:
        raise ValueError(f"rank_sum_p needs at least one value on each side; got {len(values)} and "
                         f"{len(control_values)}.")
    pooled = [float(v) for v in values] + [float(v) for v in control_values]
    n = len(values)
    if comb(len(pooled), n) > RANK_SUM_MAX_SPLITS:
        raise ValueError(f"rank_sum_p enumerates C({len(pooled)}, {n}) = {comb(len(pooled), n):,} splits, more "
                         f"than {RANK_SUM_MAX_SPLITS:,}; use scipy.stats.mannwhitneyu(method='asymptotic').")

    def u_statistic(picked: set[int]) -> float:
        return sum((pooled[i] > pooled[j]) + 0.5 * (pooled[i] == pooled[j])
                   for i in picked for j in range(len(pooled)) if j not in picked)

    observed = u_statistic(set(range(n)))
    splits = [u_statistic(set(c)) for c in combinations(range(len(pooled)), n)]
    low = sum(u <= observed for u in splits) / len(splits)
    high = sum(u >= observed for u in splits) / len(splits)
    if alternative == "less":
        return low
    if alternative == "greater":
        return high
    return min(1.0, 2 * min(low, high))


def _points(margin: float) -> str:
    """A margin to two decimals, halves rounded up, as a reader subtracting the table's two-decimal values gets it
    (13.38 − 13.25 = 0.13 for the exact 13.375 − 13.25 = 0.125, which round-half-even would print as 0.12)."""
    # round first so that a float difference such as 0.12499999999999 counts as the 0.125 it stands for
    return str(Decimal(repr(round(margin, 9))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def against_control_seeds(entry: dict[str, Any], seeds: list[tuple[int, dict[str, Any]]],
                          controls: tuple[dict[str, Any], ...]) -> str:
    """Each seed of a contrast placed against the control's seeds at the same tokens seen: below all of them,
    "inside" their range or above all of them by Sink_1, with the Sink_1 points to the nearest control seed outside
    the range, e.g. "seed 0 inside (above 1 of 3); seed 1 above all 3 by 6.79" (:func:`control_spread_position`,
    :func:`outside_margin`); inside, how many of the control's seeds it lies above, so that a contrast whose seeds
    all sit low in the range shows it. A margin smaller than the nearest control seed's own late moves between
    evaluations (:func:`largest_move`) says so: "below all 3 by 0.13 (within the nearest control seed's 6.96-point
    moves)".

    ``entry`` is the contrast's compared evaluation (its seed 0), ``seeds`` its further seeds (each read at the
    evaluation closest to ``entry``'s tokens; one that :func:`diverged` is named so, not placed), ``controls`` the
    control's runs, each read where the placed evaluation is: a further seed whose job stopped short is set beside
    the control at its own last tokens, not at seed 0's. With the few control seeds the lab has, the range is what
    a few samples of the noise span, not an interval with a coverage: "inside" says the contrast is not separated from
    the control by these runs, "below/above" that it lies outside what the control's seeds gave, and neither is a
    significance test."""
    def placed(at: dict[str, Any]) -> str:
        control_values = [matched_entry(run, at["tokens_seen"])["sink_1"] for run in controls]
        position = control_spread_position(at["sink_1"], control_values)
        if position == "inside":
            above = sum(at["sink_1"] > value for value in control_values)
            return f"inside (above {above} of {len(control_values)})"
        margin = outside_margin(at["sink_1"], control_values)
        nearest = controls[control_values.index(min(control_values) if position.startswith("below")
                                                else max(control_values))]
        move = largest_move(nearest, at["tokens_seen"])
        within = f" (within the nearest control seed's {_points(move)}-point moves)" if margin < move else ""
        return f"{position} by {_points(margin)}{within}"

    first = placed(entry)
    if not seeds:
        return first
    cells = [f"seed 0 {first}"]
    for seed, run in seeds:
        at = matched_entry(run, entry["tokens_seen"])
        cells.append(f"seed {seed} " + ("diverged" if diverged(at, entry) else placed(at)))
    return "; ".join(cells)


def rank_sum_cell(entry: dict[str, Any], seeds: list[tuple[int, dict[str, Any]]],
                  controls: tuple[dict[str, Any], ...]) -> str:
    """The contrast's seeds tested together against the control's: :func:`rank_sum_p` (two-sided) of the contrast's
    Sink_1 readings (``entry``, its seed 0, and each further seed at the evaluation closest to ``entry``'s tokens;
    a seed that :func:`diverged` is left out) against each control seed's at ``entry``'s tokens, with the floor the
    seed counts allow, 2 / C(n + m, n): "0.0043 (5 vs 6; floor 0.0043)". Two seeds against six cannot go below
    0.071, so a two-seed contrast that lies below all six control seeds reads 0.071: as far as two seeds can go, not
    a failed test. Uncorrected for the fourteen contrasts tested side by side."""
    values = [entry["sink_1"]] + [at["sink_1"] for at in (matched_entry(run, entry["tokens_seen"]) for _, run in seeds)
                                  if not diverged(at, entry)]
    control_values = [matched_entry(run, entry["tokens_seen"])["sink_1"] for run in controls]
    p = rank_sum_p(values, control_values, "two-sided")
    floor = min(1.0, 2 / comb(len(values) + len(control_values), len(values)))
    return f"{_p_text(p)} ({len(values)} vs {len(control_values)}; floor {_p_text(floor)})"


def _p_text(p: float) -> str:
    """A p-value as a reader compares it with 0.05: two decimals from 0.1 up (1.00, 0.43), two significant digits
    below (0.071, 0.0043)."""
    return f"{p:.2f}" if p >= 0.095 else f"{p:.2g}"


def _further_seeds_cell(seeds: list[tuple[int, dict[str, Any]]], entry: dict[str, Any], proxy: bool = False) -> str:
    """"seed 1: 1.04 (diverged: …); seed 2: 16.96": each further seed read at ``entry``'s tokens, or "not run". A run
    with a slot adds its Sink_* ("seed 1: 0.00, Sink_* 57.08"); ``proxy`` marks Sink_1 with "*" as the contrast's
    own cell is (a proxy statistic, not softmax attention)."""
    if not seeds:
        return "not run"
    tokens = entry["tokens_seen"]
    cells = []
    for seed, run in seeds:
        at = matched_entry(run, tokens)
        star = "" if at.get("sink_star") is None else f", Sink_* {at['sink_star']:.2f}"
        cells.append(f"seed {seed}: {at['sink_1']:.2f}{'*' if proxy else ''}{star}" + _tokens_note(at, tokens)
                     + _divergence_note(at, entry) + _end_note(run, at, proxy))
    return "; ".join(cells)


def _end_note(run: dict[str, Any], at: dict[str, Any], proxy: bool = False) -> str:
    """" (end: 14.42 at 1.51B)" when a further seed ran on past the evaluation it is read at (it is read at its seed
    0's tokens), so that where it ended stays in the table beside where it is compared; "" when it ended there."""
    last = final(run)
    if last["step"] == at["step"]:
        return ""
    star = "" if last.get("sink_star") is None else f", Sink_* {last['sink_star']:.2f}"
    return f" (end: {last['sink_1']:.2f}{'*' if proxy else ''}{star} at {last['tokens_seen'] / 1e9:.2f}B)"


def diverged(seed_1: dict[str, Any], seed_0: dict[str, Any]) -> bool:
    """Whether evaluation ``seed_1``'s validation loss exceeds evaluation ``seed_0``'s by more than
    ``DIVERGED_LOSS`` (False when either has none)."""
    loss_1, loss_0 = seed_1.get("valid_loss"), seed_0.get("valid_loss")
    return loss_1 is not None and loss_0 is not None and loss_1 - loss_0 > DIVERGED_LOSS


def _divergence_note(seed_1: dict[str, Any], seed_0: dict[str, Any]) -> str:
    """" (diverged: valid loss 2.63 against 1.70)" when :func:`diverged`, else ""."""
    if not diverged(seed_1, seed_0):
        return ""
    return f" (diverged: valid loss {seed_1['valid_loss']:.2f} against {seed_0['valid_loss']:.2f})"


def _sink_1_cell(entry: dict[str, Any], tokens: int) -> str:
    """An evaluation's Sink_1 read beside a run at ``tokens``, marked when its own tokens seen are more than
    ``MATCHED_TOKENS`` away."""
    return f"{entry['sink_1']:.2f}" + _tokens_note(entry, tokens)


def _tokens_note(entry: dict[str, Any], tokens: int) -> str:
    """" (tokens differ by 39%)" when evaluation ``entry`` lies more than ``MATCHED_TOKENS`` from ``tokens``, else
    ""."""
    off = abs(entry["tokens_seen"] - tokens) / max(tokens, 1)
    return "" if off <= MATCHED_TOKENS else f" (tokens differ by {off:.0%})"
