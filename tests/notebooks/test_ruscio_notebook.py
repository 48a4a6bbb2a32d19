"""Execute sinkviz/notebooks/ruscio2025_what_are_you_sinking.ipynb headless (CPU, embedded models)."""
from __future__ import annotations

from pathlib import Path

import pytest

from nb_helpers import assert_committed_clean, assert_figures_written, execute_notebook, outputs_text

pytestmark = [pytest.mark.notebook, pytest.mark.real]

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "sinkviz" / "notebooks" / "ruscio2025_what_are_you_sinking.ipynb"
FIGURES = ["frames_decoder", "frames_encoder", "persistence_diagram", "betti_curves", "topology_layers",
           "topology_layers_encoder", "spectral_layers", "spectrum", "kl_layers", "vector_geometry", "fisher",
           "frames_training"]
RUSCIO2025_FIGURES = ["head_specialisation", "layer_comparison", "threshold_sweep", "fiedler_heatmap",
                      "fiedler_star_correlation", "rmt_heads", "entropy_magnitude", "gsa_statistics"]


def test_committed_without_outputs_and_with_a_parameter_cell():
    assert_committed_clean(NOTEBOOK, ('MODEL = "smollm2-135m"', 'DEVICE = "auto"'))


def test_notebook_executes_headless(tmp_path, monkeypatch):
    # a smaller sample than the default keeps the suite fast; the analysis path is the same
    monkeypatch.setenv("SINKVIZ_FIGURE_FORMATS", "png,pdf,html")  # what `make figures` writes, plus HTML
    nb = execute_notebook(NOTEBOOK, "N_TEXTS = 24\nN_FISHER = 2\nLAB_RUN_DIR = \"\"", tmp_path, 1500, monkeypatch)
    text = outputs_text(nb)
    assert "smollm2-135m: CENTRALIZED" in text
    assert "by token string: distributed" in text
    assert "eigenvalues == sorted diagonal: True" in text
    assert "births = 1 - diag(A): True" in text
    assert "published pair counts (H0, H1): [12, 0]" in text
    assert_figures_written(tmp_path, "ruscio", FIGURES)
    for name in RUSCIO2025_FIGURES:  # issue 12's analyses, written as figures/ruscio2025_<name>.png and .pdf
        assert (tmp_path / f"ruscio2025_{name}.png").stat().st_size > 10_000, name
        assert (tmp_path / f"ruscio2025_{name}.pdf").is_file(), name
    assert "| LLaMA-3.2-3B | 120 of 120 | – | – | authors' results (Results_sample) |" in text
    assert "sinkviz on smollm2-135m" in text
