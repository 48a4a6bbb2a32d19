"""Every reported number comes from one JSONL format and one loader (sinkviz.papers.reported); the views that
the lab and the Ruscio notebook read hold the same numbers as the dicts they replaced; the old module paths
still work, with a DeprecationWarning."""
from __future__ import annotations

import importlib
import json
import math
import sys
from importlib import resources

import pytest

import sinkviz
from sinkviz.lab.results import PAPER, PROXY_ROWS, paper_reference
from sinkviz.papers import ruscio2025
from sinkviz.papers.reported import PAPERS, reported_numbers

# ---- the values of the formats this loader replaced, copied here to pin them
LEGACY_LAB = {  # sinkviz/lab/results.py PAPER (tables)
    "table2_weight_decay": {0.0: (15.20, 3.72), 1e-3: (15.39, 3.72), 1e-2: (15.23, 3.72), 0.1: (18.18, 3.73),
                            0.5: (41.08, 3.80), 1.0: (37.71, 3.90), 2.0: (6.13, 4.23), 5.0: (0.01, 5.24)},
    "table4_biases": {"default": (None, 18.18, 3.73), "sink_token": (74.12, 0.00, 3.72),
                      "kv_bias": (72.76, 0.04, 3.72), "k_bias": (73.34, 0.00, 3.72), "v_bias": (None, 17.53, 3.73)},
    "table6_attention_ops": {"softmax": (18.18, 3.73), "sigmoid_nonorm": (0.44, 3.70), "sigmoid_norm": (30.24, 3.74),
                             "elu1_nonorm": (0.80, 3.69), "elu_kernel_norm": (53.65, 4.19),
                             "identity_nonorm": (0.00, 3.99)},
    "table9_learning_rate": {8e-4: (32.23, 3.70), 4e-4: (18.18, 3.73), 2e-4: (11.21, 3.78), 1e-4: (2.90, 3.92)},
    "table3_position": {"nope": (20.35, 3.81), "learned": (33.13, 3.79), "alibi": (20.78, 3.71),
                        "rope": (18.18, 3.73)},
    "post_norm": {"post_norm": (13.54,)},
    "table10_fixed_token": {1: (74.11, 0.00, 0.00, 0.01), 2: (0.00, 69.03, 0.00, 0.01), 3: (0.00, 0.00, 69.64, 0.00)},
    "random_first": {"x1_random": (27.03,), "x2_random": (20.99,)},
}
LEGACY_COLUMNS = {
    "table2_weight_decay": ("Sink_1", "valid loss"), "table4_biases": ("Sink_*", "Sink_1", "valid loss"),
    "table6_attention_ops": ("Sink_1", "valid loss"), "table9_learning_rate": ("Sink_1", "valid loss"),
    "table3_position": ("Sink_1", "valid loss"), "post_norm": ("Sink_1",),
    "table10_fixed_token": ("Sink_1", "Sink_2", "Sink_3", "Sink_4"), "random_first": ("Sink_1",),
}
LEGACY_RUSCIO = {  # sinkviz/ruscio.py PAPER_RESULTS
    "llama-3.2-3b": {
        "frame": "centralized", "n_layers": 28, "layers": [0, 7, 14, 21, 27],
        "betti0": [26.41] * 5, "betti0_sd": [5.14] * 5, "betti1": [0.0] * 5,
        "dim0_persistence": [0.0574, 0.0444, 0.0880, 0.0317, 0.1620],
        "gsa_mean": -0.2923, "gsa_first": -0.0387, "gsa_last": -0.2611,
        "entropy_mean": 1.0522, "entropy_first": 1.4404, "entropy_last": 1.0336,
        "modal_token": "<|begin_of_text|>", "modal_consistency": 1.00,
    },
    "qwen2.5-7b": {
        "frame": "distributed", "n_layers": 28, "layers": [0, 7, 14, 21, 27],
        "betti0": [26.03] * 5, "betti0_sd": [5.55] * 5, "betti1": [0.0] * 5,
        "dim0_persistence": [0.2384, 0.0922, 0.0627, 0.0810, 0.2120],
        "gsa_mean": -0.0405, "gsa_first": 0.0575, "gsa_last": 0.0000,
        "entropy_mean": 1.4513, "entropy_first": 2.2183, "entropy_last": 0.1097,
    },
    "xlm-roberta-large": {
        "frame": "bidirectional", "n_layers": 24, "layers": [0, 6, 12, 18, 23],
        "betti0": [22.69, 2.29, 1.01, 1.00, 1.70], "betti0_sd": [3.75, 1.09, 0.12, 0.00, 1.06],
        "betti1": [20.93, 5.54, 8.52, 0.00, 3.19],
        "dim0_persistence": [0.0518, 0.0545, 0.0025, float("nan"), 0.0155],
        "dim1_persistence": [0.0039, 0.0173, 0.0265, float("nan"), 0.0181],
        "gsa_mean": 0.0019, "gsa_first": 0.2050, "gsa_last": -0.3988,
        "entropy_mean": 2.1871, "entropy_first": 3.5881, "entropy_last": 2.5683,
    },
}
LEGACY_GU_TABLE7 = {  # sinkviz/data/gu2025_reported.jsonl, Table 7: (column, t) -> value
    ("replace Sink_1", 5): 0.2, ("replace Sink_1", 10): 2.36, ("replace Sink_1", 15): 7.73,
    ("replace Sink_1", 20): 10.63, ("replace Sink_1", 25): 10.97, ("replace Sink_1", 30): 10.21,
    ("swap Sink_1", 5): 1.44, ("swap Sink_1", 10): 3.73, ("swap Sink_1", 15): 6.78, ("swap Sink_1", 20): 8.95,
    ("swap Sink_1", 25): 9.42, ("swap Sink_1", 30): 9.73,
    ("swap Sink_t", 5): 57.63, ("swap Sink_t", 10): 54.48, ("swap Sink_t", 15): 52.81, ("swap Sink_t", 20): 51.7,
    ("swap Sink_t", 25): 51.13, ("swap Sink_t", 30): 50.22, ("baseline Sink_1", None): 62.28,
    **{("replace Sink_t", t): 0.0 for t in (5, 10, 15, 20, 25, 30)},
}
LEGACY_GU_TABLE1 = {  # Table 1: (item, model, column) -> value
    ("1-left", "GPT2-XL", "natural"): 77.0, ("1-left", "GPT2-XL", "random"): 70.29,
    ("1-left", "GPT2-XL", "repeat"): 62.28, ("1-left", "Mistral-7B", "natural"): 97.49,
    ("1-left", "Mistral-7B", "random"): 75.21, ("1-left", "Mistral-7B", "repeat"): 0.0,
    ("1-left", "LLaMA2-7B Base", "natural"): 92.47, ("1-left", "LLaMA2-7B Base", "random"): 90.13,
    ("1-left", "LLaMA2-7B Base", "repeat"): 0.0, ("1-left", "LLaMA3-8B Base", "natural"): 99.02,
    ("1-left", "LLaMA3-8B Base", "random"): 91.23, ("1-left", "LLaMA3-8B Base", "repeat"): 0.0,
    ("1-right", "Mistral-7B", "base"): 97.49, ("1-right", "Mistral-7B", "chat"): 88.34,
    ("1-right", "LLaMA2-7B", "base"): 92.47, ("1-right", "LLaMA2-7B", "chat"): 92.88,
    ("1-right", "LLaMA2-13B", "base"): 91.69, ("1-right", "LLaMA2-13B", "chat"): 90.94,
    ("1-right", "LLaMA3-8B", "base"): 99.02, ("1-right", "LLaMA3-8B", "chat"): 98.85,
    ("fig2", "LLaMA3-8B Base", "h1 norm (blocks 2-31)"): 370.0,
}


def test_every_record_has_the_common_fields():
    for paper in PAPERS:
        text = resources.files("sinkviz").joinpath(f"data/{paper}_reported.jsonl").read_text(encoding="utf-8")
        for line in text.splitlines():
            row = json.loads(line)  # strict JSON: no NaN
            assert {"paper", "item", "model", "column", "value", "unit", "source"} <= set(row), row
            assert row["paper"] == paper


def test_gu_table1_fig2_and_table7_are_the_old_jsonl_values():
    got = {(r["item"], r["model"], r["column"]): r["value"] for r in reported_numbers(paper="gu2025")
           if r["item"] in ("1-left", "1-right", "fig2")}
    assert got == LEGACY_GU_TABLE1
    assert {(r["column"], r["t"]): r["value"] for r in reported_numbers("7")} == LEGACY_GU_TABLE7
    params = {r["model"]: r["params"] for r in reported_numbers("1-left")}
    assert params == {"GPT2-XL": 1.56e9, "Mistral-7B": 7.24e9, "LLaMA2-7B Base": 6.74e9, "LLaMA3-8B Base": 8.03e9}


def test_lab_references_are_the_old_dict_values():
    for item, rows in LEGACY_LAB.items():
        assert paper_reference(item)["rows"] == rows, item
        assert paper_reference(item)["columns"] == LEGACY_COLUMNS[item], item
        assert list(paper_reference(item)["rows"]) == list(rows), "row order is the paper's"
    fig4 = paper_reference("fig4_middle")
    assert (fig4["final_sink_1"], fig4["final_valid_loss"], fig4["emergence_steps"], fig4["tokens_per_step"]) == (
        18.18, 3.73, (1000, 2000), 2**20)
    assert paper_reference("fig28_data_amount")["rows"] == {
        "5B": ("about 7% by 3-5k steps",), "100M": ("below 1%",), "50M": ("below 1%",)}
    assert set(PAPER) == set(LEGACY_LAB) | {"fig4_middle", "fig28_data_amount", "fig8_1b"}
    assert all(PAPER[item]["caption"] for item in PAPER)
    assert PROXY_ROWS == {"sigmoid_nonorm", "elu1_nonorm", "elu_kernel_norm", "identity_nonorm"}


def test_ruscio_results_are_the_old_dict_values():
    assert set(ruscio2025.PAPER_RESULTS) == set(LEGACY_RUSCIO)
    for model, old in LEGACY_RUSCIO.items():
        new = ruscio2025.PAPER_RESULTS[model]
        assert set(new) == set(old), model
        for key, value in old.items():
            if isinstance(value, list) and any(isinstance(v, float) and math.isnan(v) for v in value):
                assert [math.isnan(v) for v in new[key]] == [math.isnan(v) for v in value]
                assert [v for v in new[key] if not math.isnan(v)] == [v for v in value if not math.isnan(v)]
            else:
                assert new[key] == value, (model, key)


def test_loader_filters_copies_and_names_what_it_knows():
    assert {r["paper"] for r in reported_numbers()} == set(PAPERS)
    assert {r["item"] for r in reported_numbers(paper="ruscio2025")} == {
        "frame", "topology", "attention_value_correlation", "attention_value_statistics", "head_specialisation",
        "layer_comparison"}
    first = reported_numbers("1-left")
    first[0]["value"] = -1.0
    assert reported_numbers("1-left")[0]["value"] == 77.0
    with pytest.raises(KeyError, match="known"):
        reported_numbers("table99")
    with pytest.raises(KeyError, match="known"):
        reported_numbers(paper="someone2030")


OLD_PATHS = [("sinkviz.gu2025", "sinkviz.papers.gu2025"), ("sinkviz.ruscio", "sinkviz.papers.ruscio2025"),
             ("sinkviz.probes", "sinkviz.papers.probes"), ("sinkviz.positional", "sinkviz.papers.positional"),
             ("sinkviz.fisher_capture", "sinkviz.papers.fisher")]


@pytest.mark.parametrize("old,new", OLD_PATHS)
def test_old_module_paths_warn_and_reexport(old, new, monkeypatch):
    attribute = old.rsplit(".", 1)[1]
    # forget the module and the facade's attribute for this test only (setitem records what to restore; the
    # facade is read through vars(), since getattr would import the module)
    for namespace, key in ((sys.modules, old), (vars(sinkviz), attribute)):
        monkeypatch.setitem(namespace, key, None)
        monkeypatch.delitem(namespace, key)
    with pytest.warns(DeprecationWarning, match=new):
        shim = importlib.import_module(old)
    target = importlib.import_module(new)
    assert all(getattr(shim, name) is getattr(target, name) for name in target.__all__)
    if old == "sinkviz.probes":
        assert shim.reported_numbers is reported_numbers


def test_facade_names_reach_the_papers_package():
    from sinkviz.papers import gu2025, positional, probes

    assert sinkviz.gu2025.table1 is gu2025.table1
    assert sinkviz.ruscio.PAPER_RESULTS is ruscio2025.PAPER_RESULTS
    assert sinkviz.natural_texts is probes.natural_texts and sinkviz.probe_inputs is probes.probe_inputs
    assert sinkviz.reported_numbers is reported_numbers
    assert sinkviz.edited_positions is positional.edited_positions


def test_every_record_says_whose_number_it_is():
    from sinkviz.papers.reported import AUTHORS_RESULTS, PAPER, PROVENANCES, SINKVIZ_READING, measured, provenance

    for record in reported_numbers():
        assert provenance(record) in PROVENANCES
    assert {provenance(r) for r in reported_numbers(paper="gu2025")} == {PAPER}
    frames = [r for r in reported_numbers("frame") if r["column"] == "frame"]
    # the frame labels are sinkviz's reading of the paper: no released file assigns a type to a model
    assert frames and all(provenance(r) == SINKVIZ_READING for r in frames)
    assert provenance(reported_numbers("topology")[0]) == AUTHORS_RESULTS
    assert measured("smollm2-135m") == "sinkviz on smollm2-135m"
    with pytest.raises(ValueError, match="provenance"):
        provenance({"paper": "gu2025", "item": "x", "column": "y", "provenance": "a blog"})


def test_the_authors_numbers_the_issue_names():
    """Entropy-magnitude 0.2279, PCA-component 0.1235, GSA layer-trend Spearman 0.436 and Welch t = 57.19 (LLaMA);
    120 / 7 / 77 specialised heads (LLaMA / Qwen / XLM-R): Results_sample, as committed."""
    stats = {(r["model"], r["column"]): r["value"] for r in reported_numbers("attention_value_statistics")}
    assert stats[("llama-3.2-3b", "entropy_magnitude_mean")] == 0.2279
    assert stats[("llama-3.2-3b", "pca_mean")] == 0.1235
    assert stats[("llama-3.2-3b", "gsa_trend_spearman")] == 0.4362
    assert stats[("llama-3.2-3b", "gsa_welch_t")] == 57.1899
    heads = {r["model"]: r["value"] for r in reported_numbers("head_specialisation")
             if r["column"] == "specialised_heads_total"}
    assert heads == {"llama-3.2-3b": 120, "qwen2.5-7b": 7, "xlm-roberta-large": 77}
    per_layer = [r["value"] for r in reported_numbers("head_specialisation")
                 if r["model"] == "qwen2.5-7b" and r["column"] == "specialised_heads"]
    assert per_layer == [7, 0, 0, 0, 0]
