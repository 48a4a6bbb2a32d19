"""Execute notebooks/ruscio2025_what_are_you_sinking.ipynb headless (CPU, embedded models)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import nbclient
import nbformat
from nb_helpers import assert_committed_clean, outputs_text

pytestmark = [pytest.mark.notebook, pytest.mark.real]

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "ruscio2025_what_are_you_sinking.ipynb"
FIGURES = ["frames_decoder", "frames_encoder", "persistence_diagram", "betti_curves", "topology_layers",
           "topology_layers_encoder", "spectral_layers", "spectrum", "kl_layers", "vector_geometry", "fisher",
           "frames_training"]


def test_committed_without_outputs_and_with_a_parameter_cell():
    assert_committed_clean(NOTEBOOK, ('MODEL = "smollm2-135m"', 'DEVICE = "auto"'))


def test_notebook_executes_headless(tmp_path, monkeypatch):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    # a smaller sample than the default keeps the suite fast; the analysis path is the same
    params.source += "\nN_TEXTS = 24\nN_FISHER = 2\nLAB_RUN_DIR = \"\"\n"
    monkeypatch.setenv("SINKVIZ_FIGURES_DIR", str(tmp_path))
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=1500,
                                     resources={"metadata": {"path": str(ROOT)}})
    client.execute()
    text = outputs_text(nb)
    assert "smollm2-135m: CENTRALIZED" in text
    assert "by token string: distributed" in text
    assert "eigenvalues == sorted diagonal: True" in text
    assert "births = 1 - diag(A): True" in text
    assert "published pair counts (H0, H1): [12, 0]" in text
    for name in FIGURES:
        assert (tmp_path / f"ruscio_{name}.html").is_file(), name
        if shutil.which("chromium") or shutil.which("chromium-browser"):
            assert (tmp_path / f"ruscio_{name}.png").stat().st_size > 10_000, name
