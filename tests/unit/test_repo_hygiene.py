"""Repository hygiene for notebook users: notebooks are committed without outputs or widget state (the git
filter `make hooks` installs), generated figure folders are ignored, and files sinkviz writes (figures, census
JSON) are readable by others."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import nbstrip  # noqa: E402

NOTEBOOKS = sorted((ROOT / "sinkviz" / "notebooks").glob("*.ipynb"))


def _run_notebook_output() -> dict:
    """A notebook as Jupyter saves it after a run: outputs, counts, timings and the widgets' saved state."""
    return {
        "cells": [
            {"cell_type": "markdown", "id": "m1", "metadata": {}, "source": ["# title"]},
            {"cell_type": "code", "execution_count": 7, "id": "c1",
             "metadata": {"tags": ["parameters"], "execution": {"iopub.execute_input": "2025-01-01"},
                          "scrolled": True},
             "outputs": [{"output_type": "display_data", "metadata": {},
                          "data": {"application/vnd.jupyter.widget-view+json": {"model_id": "abc"},
                                   "text/plain": ["Explorer(...)"]}},
                         {"output_type": "stream", "name": "stdout", "text": ["x" * 1000]}],
             "source": ["MODEL = \"smollm2-135m\"  # α₁"]},
        ],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                     "widgets": {"application/vnd.jupyter.widget-state+json": {"state": {"abc": "x" * 10_000}}}},
        "nbformat": 4, "nbformat_minor": 5,
    }


def test_committed_notebooks_pass_the_filter_unchanged():
    assert NOTEBOOKS
    for path in NOTEBOOKS:
        text = path.read_text(encoding="utf-8")
        assert nbstrip.strip_text(text) == text, f"{path.name} is committed with outputs or run metadata"


def test_filter_strips_outputs_counts_run_metadata_and_widget_state():
    import nbformat

    text = json.dumps(_run_notebook_output())
    stripped = nbstrip.strip_text(text)
    nb = json.loads(stripped)
    code = nb["cells"][1]
    assert code["outputs"] == [] and code["execution_count"] is None
    assert code["metadata"] == {"tags": ["parameters"]}
    assert "widgets" not in nb["metadata"] and nb["metadata"]["kernelspec"]["name"] == "python3"
    assert nb["cells"][0]["source"] == ["# title"] and "α₁" in stripped  # UTF-8 kept as written
    assert nbstrip.strip_text(stripped) == stripped  # idempotent
    nbformat.validate(nbformat.reads(stripped, as_version=4))
    assert stripped == nbformat.writes(nbformat.reads(stripped, as_version=4)) + "\n"  # as nbformat writes it
    assert nbstrip.strip_text("not json") == "not json"


def test_make_hooks_installs_the_filter_and_git_stores_stripped_notebooks(tmp_path):
    repo = tmp_path / "repo"
    (repo / "tools").mkdir(parents=True)
    for name in ("Makefile", ".gitattributes", "tools/nbstrip.py"):
        shutil.copy(ROOT / name, repo / name)
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "GIT_CONFIG_GLOBAL": os.devnull}
    run = lambda *cmd: subprocess.run(cmd, cwd=repo, env=env, check=True, capture_output=True, text=True)  # noqa: E731
    run("git", "init", "-q")
    run("make", "-s", "hooks", f"SYSPY={sys.executable}")
    assert "tools/nbstrip.py" in run("git", "config", "filter.nbstrip.clean").stdout
    notebook = repo / "run.ipynb"
    notebook.write_text(json.dumps(_run_notebook_output()), encoding="utf-8")
    run("git", "add", "run.ipynb", ".gitattributes")
    run("git", "commit", "-q", "-m", "x")
    stored = json.loads(run("git", "show", "HEAD:run.ipynb").stdout)
    assert stored["cells"][1]["outputs"] == [] and "widgets" not in stored["metadata"]
    assert json.loads(notebook.read_text())["cells"][1]["outputs"], "the working copy keeps its outputs"
    assert "run.ipynb" not in run("git", "status", "--porcelain").stdout  # running a notebook leaves git clean


def test_generated_figure_folders_are_ignored():
    for path in ("figures/x.png", "sinkviz/notebooks/figures/sinkviz_map.pdf", "docs/figures/a.html"):
        done = subprocess.run(["git", "check-ignore", "-q", "--no-index", path], cwd=ROOT)
        assert done.returncode == 0, f"{path} is not ignored"
    done = subprocess.run(["git", "check-ignore", "-q", "--no-index", "sinkviz/lab/figures.py"], cwd=ROOT)
    assert done.returncode == 1, "a module named figures.py must not be ignored"


def test_json_and_figures_are_written_readable_by_others(tmp_path):
    from sinkviz._files import atomic_write, write_json

    old = os.umask(0o022)
    try:
        census = write_json(tmp_path / "census.json", {"sink": {"1": 50.0}})
        figure = atomic_write(tmp_path / "fig.html", "<html></html>")
    finally:
        os.umask(old)
    for path in (census, figure):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, oct(path.stat().st_mode)
        assert path.is_absolute()


def test_atomic_folder_is_complete_or_absent_and_shared(tmp_path):
    """atomic_folder: a failure leaves neither the folder nor its staging; a finished folder is 0755 like its
    0644 files; ``replace`` rewrites an existing folder; without it a complete folder another process wrote is
    kept, and an incomplete one is an error, not silently replaced."""
    from sinkviz._files import atomic_folder

    target = tmp_path / "corpus"
    with pytest.raises(RuntimeError):
        with atomic_folder(target) as staging:
            (staging / "train.bin").write_bytes(b"half")
            raise RuntimeError("tokeniser failed")
    assert list(tmp_path.iterdir()) == []  # no folder, no hidden staging
    old = os.umask(0o022)
    try:
        with atomic_folder(target, complete="meta.json") as staging:
            (staging / "meta.json").write_text("{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE(target.stat().st_mode) == 0o755 and (target / "meta.json").read_text() == "{}"
    with atomic_folder(target, complete="meta.json") as staging:  # another process finished first: kept
        (staging / "meta.json").write_text('{"late": true}')
    assert (target / "meta.json").read_text() == "{}"
    with atomic_folder(target, replace=True) as staging:  # a checkpoint written again
        (staging / "model.safetensors").write_bytes(b"new")
    assert sorted(p.name for p in target.iterdir()) == ["model.safetensors"]
    with pytest.raises(OSError):
        with atomic_folder(target, complete="meta.json") as staging:  # there, but not complete: say so
            (staging / "meta.json").write_text("{}")
    assert [p.name for p in tmp_path.iterdir()] == ["corpus"]


@pytest.mark.real
def test_census_cli_json_is_readable_by_others(tmp_path):
    from sinkviz.cli import main as cli_main

    texts = tmp_path / "t.txt"
    texts.write_text("The quick brown fox jumps over the lazy dog. " * 20 + "\n")
    old = os.umask(0o022)
    try:
        code = cli_main(["census", "smollm2-135m", "--texts", str(texts), "--seq-len", "16", "--limit", "1",
                         "--layers", "0", "--no-progress", "--out", str(tmp_path / "census.json")])
    finally:
        os.umask(old)
    assert code == 0
    assert stat.S_IMODE((tmp_path / "census.json").stat().st_mode) == 0o644
