"""pyproject.toml and environment.yml list the same packages; the README leads with the two commands."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# conda names that differ from PyPI names
CONDA_TO_PYPI = {"pytorch": "torch"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_lists_the_pyproject_packages():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    declared = {_name(r) for r in pyproject["project"]["dependencies"]}
    conda: set[str] = set()
    in_dependencies = False
    for line in (ROOT / "environment.yml").read_text().splitlines():
        if not line.startswith(" ") and line.strip():
            in_dependencies = line.startswith("dependencies:")
        item = line.strip()
        if not in_dependencies or not item.startswith("- ") or item.endswith(":") or item.startswith("- -e"):
            continue
        conda.add(CONDA_TO_PYPI.get(_name(item[2:]), _name(item[2:])))
    conda -= {"python", "pip"}
    assert declared == conda, f"only in pyproject: {declared - conda}; only in environment.yml: {conda - declared}"
    for required in ("torch", "transformers", "ipywidgets", "plotly", "bertviz", "scikit-learn", "ripser", "jupyterlab"):
        assert required in declared


def test_readme_starts_with_the_two_commands():
    head = (ROOT / "README.md").read_text().split("\n## ", 1)[0]
    assert "make lab" in head and "make test" in head


def test_ci_runs_make_test():
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_cli_models_lists_the_registry():
    out = subprocess.run([sys.executable, "-m", "sinkviz.cli", "models"], capture_output=True, text=True, check=True)
    assert "smollm2-135m" in out.stdout and "minilm-l6" in out.stdout and "installed" in out.stdout
