"""Shared helpers for the notebook tests (import as `from nb_helpers import ...`; pytest puts this folder on sys.path)."""
from __future__ import annotations

from pathlib import Path

import nbformat


def outputs_text(nb) -> str:
    """All stream, Markdown and plain-text outputs of an executed notebook, joined."""
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                parts.append(out["text"])
            elif "data" in out:
                parts.append(out["data"].get("text/markdown", "") or out["data"].get("text/plain", ""))
    return "\n".join(parts)


def assert_committed_clean(path: Path, required_parameter_lines: tuple[str, ...]) -> None:
    """The notebook is stored without outputs, its first code cell is tagged "parameters" and holds the given
    lines, and it runs on the kernel named "python3"."""
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code)
    assert "parameters" in code[0].metadata.get("tags", [])
    for line in required_parameter_lines:
        assert line in code[0].source, line
    assert nb.metadata["kernelspec"]["name"] == "python3"


def execute_notebook(path: Path, extra_parameters: str, figures_dir: Path, timeout: int, monkeypatch) -> object:
    """Run a notebook headless on the "python3" kernel, with `extra_parameters` appended to its parameter cell
    and its figures written to `figures_dir`; returns the executed notebook."""
    import nbclient

    nb = nbformat.read(path, as_version=4)
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    params.source += "\n" + extra_parameters + "\n"
    monkeypatch.setenv("SINKVIZ_FIGURES_DIR", str(figures_dir))
    nbclient.NotebookClient(nb, kernel_name="python3", timeout=timeout,
                            resources={"metadata": {"path": str(path.parents[1])}}).execute()
    return nb


def assert_figures_written(figures_dir: Path, prefix: str, names: list[str]) -> None:
    """Each figure exists as a PNG of real content and, beside it, a vector PDF (save_figure's default formats;
    chromium is installed by `make test`)."""
    for name in names:
        assert (figures_dir / f"{prefix}_{name}.png").stat().st_size > 10_000, name
        assert (figures_dir / f"{prefix}_{name}.pdf").read_bytes()[:5] == b"%PDF-", name
