"""Execute notebooks/ruscio2025_what_are_you_sinking.ipynb headless (CPU, embedded models)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

pytestmark = [pytest.mark.notebook, pytest.mark.real]

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "ruscio2025_what_are_you_sinking.ipynb"
FIGURES = ["frames_decoder", "frames_encoder", "persistence_diagram", "betti_curves", "topology_layers",
           "topology_layers_encoder", "spectral_layers", "spectrum", "kl_layers", "vector_geometry", "fisher",
           "frames_training"]


def _outputs_text(nb) -> str:
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                parts.append(out["text"])
            elif "data" in out:
                parts.append(out["data"].get("text/markdown", "") or out["data"].get("text/plain", ""))
    return "\n".join(parts)


def test_committed_without_outputs_and_with_a_parameter_cell():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code)
    assert "parameters" in code[0].metadata.get("tags", [])
    assert 'MODEL = "smollm2-135m"' in code[0].source and 'DEVICE = "auto"' in code[0].source
    assert nb.metadata["kernelspec"]["name"] == "python3"


def test_notebook_executes_headless(tmp_path, monkeypatch):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    # a smaller sample than the default keeps the suite fast; the analysis path is the same
    params.source += "\nN_TEXTS = 24\nN_FISHER = 2\nLAB_RUN_DIR = \"\"\n"
    monkeypatch.setenv("SINKVIZ_FIGURES_DIR", str(tmp_path))
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=1500,
                                     resources={"metadata": {"path": str(ROOT)}})
    client.execute()
    text = _outputs_text(nb)
    assert "smollm2-135m: CENTRALIZED" in text
    assert "by token string: distributed" in text
    assert "eigenvalues == sorted diagonal: True" in text
    assert "births = 1 - diag(A): True" in text
    assert "published pair counts (H0, H1): [12, 0]" in text
    for name in FIGURES:
        assert (tmp_path / f"ruscio_{name}.html").is_file(), name
        if shutil.which("chromium") or shutil.which("chromium-browser"):
            assert (tmp_path / f"ruscio_{name}.png").stat().st_size > 10_000, name
