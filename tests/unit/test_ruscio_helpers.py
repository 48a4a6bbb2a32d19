"""sinkviz.papers.ruscio2025 helpers that need no model: data, layer selections, lab checkpoints, tables."""
import pytest

from sinkviz.papers import ruscio2025


def test_stem_sentences_round_robin_and_fields():
    allrows = ruscio2025.stem_sentences()
    assert len(allrows) == 225
    assert {f for f, _ in allrows} == {"mathematics", "chemistry", "medicine", "physics", "geography"}
    first5 = [f for f, _ in ruscio2025.stem_sentences(5)]
    assert first5 == ["mathematics", "chemistry", "medicine", "physics", "geography"]
    chem = ruscio2025.stem_texts(fields=["chemistry"])
    assert len(chem) == 45 and all(isinstance(t, str) and t for t in chem)
    with pytest.raises(ValueError, match="unknown field"):
        ruscio2025.stem_sentences(fields=["poetry"])
    with pytest.raises(ValueError):
        ruscio2025.stem_sentences(0)


def test_paper_layer_selections():
    assert ruscio2025.paper_layers(28) == [0, 7, 14, 21, 27]  # LLaMA-3.2-3B / Qwen2.5-7B in Results_sample
    assert ruscio2025.paper_layers(24) == [0, 6, 12, 18, 23]  # XLM-R-large
    assert ruscio2025.paper_layers(6) == [0, 1, 2, 3, 5]
    assert ruscio2025.kl_layers(6) == [0, 1, 2, 3, 4, 5]
    assert ruscio2025.kl_layers(10) == [0, 1, 3, 5, 7, 9]


def test_lab_checkpoints(tmp_path):
    assert ruscio2025.lab_checkpoints(tmp_path) == []
    for name in ("step_000500", "step_000000", ".step_000700-tmp", "step_x", "step_000900"):
        (tmp_path / "checkpoints" / name).mkdir(parents=True)
        if name != "step_000900":  # a folder without its trainer state is not a checkpoint
            (tmp_path / "checkpoints" / name / "trainer_state.json").write_text("{}")
    got = ruscio2025.lab_checkpoints(tmp_path)
    assert [s for s, _ in got] == [0, 500]
    assert got[1][1].name == "step_000500"


def test_compare_rows_formats_mean_sd_and_non_finite():
    by_layer = {3: {"published": {"a": [1.0, 3.0], "b": [float("inf"), 2.0]}, "corrected": {"a": [2.0, 2.0]}}}
    header, rows = ruscio2025.compare_rows(by_layer, [("A", "a", "a"), ("B", "b", None)], digits=1)
    assert header[0] == "layer" and len(header) == 4
    assert rows[0] == ["3", "A", "2.0 ± 1.0", "2.0 ± 0.0"]
    assert rows[1] == ["3", "B", "2.0 ± 0.0 (1 non-finite)", "–"]
