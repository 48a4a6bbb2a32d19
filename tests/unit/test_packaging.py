"""Packaging: pyproject and environment.yml agree, the README leads with the two commands, and a wheel works.

The wheel test builds sinkviz, installs it into a fresh environment and uses it from outside the repository
(``sinkviz notebooks DEST``, the committed lab results, ``sinkviz figures``); it takes about a minute.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

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


# ---------------------------------------------------------------------------------------------------------
# the wheel: built from the repository, installed into a fresh environment, used from outside the repository


def _run(command: list[str], cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run([str(c) for c in command], cwd=cwd, capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{' '.join(map(str, command))} failed:\n{done.stdout}\n{done.stderr}"
    return done


def _setuptools_here() -> bool:
    """This environment can build the wheel itself (setuptools >= 68, as pyproject's build-system asks)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return int(version("setuptools").split(".")[0]) >= 68
    except PackageNotFoundError:
        return False


@pytest.fixture(scope="module")
def wheel_python(tmp_path_factory) -> Path:
    """The Python of a fresh virtual environment with only the sinkviz wheel installed into it.

    The wheel is built from a copy of what the build reads (pyproject.toml, README.md, sinkviz/), so a stale
    build/ folder in the repository cannot leak old modules into it. The environment borrows torch,
    transformers, plotly, ... from this one: a .pth line puts this environment's site-packages after its own,
    where the editable sinkviz of this environment is not active (its .pth hook is not read from there).
    """
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    shutil.copytree(ROOT / "sinkviz", source / "sinkviz", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    isolation = ["--no-build-isolation"] if _setuptools_here() else []
    _run([sys.executable, "-m", "pip", "wheel", source, "--no-deps", *isolation, "-q", "-w", work / "dist"], work)
    (wheel,) = (work / "dist").glob("sinkviz-*.whl")

    venv = work / "venv"
    _run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", venv], work)
    python = venv / "bin" / "python"
    purelib = _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], work).stdout.strip()
    ours = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    (Path(purelib) / "_borrowed_from_test_env.pth").write_text("\n".join(ours) + "\n")
    _run([python, "-m", "pip", "install", "--no-deps", "-q", wheel], work)
    return python


def test_wheel_ships_notebooks_results_and_cli(wheel_python, tmp_path):
    elsewhere = tmp_path / "elsewhere"  # not the repository: nothing can be found through the working directory
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SINKVIZ_FIGURES_DIR")}

    probe = ("import sinkviz, sinkviz.lab.results as r; print(sinkviz.__file__); print(len(r.load_results()))")
    where, n_results = _run([wheel_python, "-c", probe], elsewhere, env=env).stdout.split()
    assert Path(where).is_relative_to(wheel_python.parent.parent), f"sinkviz imported from {where}, not the wheel"
    assert int(n_results) > 0, "the committed lab results did not travel in the wheel"

    dest = tmp_path / "my notebooks"
    out = _run([wheel_python, "-m", "sinkviz.cli", "notebooks", dest], elsewhere, env=env).stdout.split("\n")
    printed = [Path(line) for line in out if line.strip()]
    shipped = sorted(p.name for p in (ROOT / "sinkviz" / "notebooks").glob("*.ipynb"))
    assert sorted(p.name for p in dest.glob("*.ipynb")) == shipped and len(shipped) >= 4
    assert all(p.is_absolute() and p.is_file() for p in printed) and len(printed) == len(shipped)
    again = subprocess.run([wheel_python, "-m", "sinkviz.cli", "notebooks", dest], cwd=elsewhere, env=env,
                           capture_output=True, text=True)
    assert again.returncode == 1 and "--force" in again.stderr

    usage = _run([wheel_python, "-m", "sinkviz.cli", "figures", "--notebooks", dest, "--help"], elsewhere,
                 env=env).stdout
    assert "usage: sinkviz figures" in usage and "--notebooks" in usage
