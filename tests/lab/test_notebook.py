"""notebooks/lab.ipynb runs headless (nbclient, kernel "python3") on the committed results, with a
fresh 6-step tiny CPU run injected through its parameter cell."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "lab.ipynb"


@pytest.mark.notebook
def test_lab_notebook_executes(tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit the notebook without outputs"
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert params and nb.cells.index(params[0]) == next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    params[0].source += f'\nFRESH_STEPS = 6\nFRESH_OUT = "{tmp_path / "fresh"}"\n'
    monkeypatch.setenv("SINKVIZ_LAB_DATA", str(tmp_path / "data"))
    monkeypatch.delenv("SINKVIZ_FIGURES_DIR", raising=False)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    results = json.loads((tmp_path / "fresh" / "tiny_cpu" / "results.json").read_text())
    assert results["status"] == "finished" and results["step"] == 6
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
