"""notebooks/explorer.ipynb: committed clean, parameter cell first, runs headless and writes its figures."""

from __future__ import annotations

from pathlib import Path

import pytest

import nbclient
import nbformat
from nb_helpers import assert_committed_clean

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "explorer.ipynb"


def test_committed_without_outputs_and_with_a_parameter_cell():
    assert_committed_clean(NOTEBOOK, ('MODEL = "smollm2-135m"', 'DEVICE = "auto"'))


@pytest.mark.notebook
@pytest.mark.real
def test_notebook_executes_headless(tmp_path, monkeypatch):
    from sinkviz.export import find_chromium

    nb = nbformat.read(NOTEBOOK, as_version=4)
    monkeypatch.setenv("SINKVIZ_FIGURES_DIR", str(tmp_path))
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=600,
                                     resources={"metadata": {"path": str(ROOT)}})
    client.execute()
    widget_outputs = [o for c in nb.cells for o in c.get("outputs", [])
                      if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert widget_outputs, "the explorer cell displayed no widget"
    html = [o for c in nb.cells for o in c.get("outputs", []) if "__sinkviz_vendor" in str(o.get("data", {}))]
    assert html, "the bertviz cell displayed no view"
    assert find_chromium() is not None, "chromium is installed by `make test`"
    for name in ("explorer_attention_map", "explorer_alpha1_overview"):  # PNG and, beside it, a vector PDF
        assert (tmp_path / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (tmp_path / f"{name}.pdf").read_bytes()[:5] == b"%PDF-"
