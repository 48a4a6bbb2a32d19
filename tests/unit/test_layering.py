"""The package's import rules, checked by walking every module's imports (issue 11: one home for each idea).

Data flows models -> capture -> metrics -> plots -> widgets, with papers, notebooks and the CLI on top.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "sinkviz"


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if "data" in path.relative_to(PACKAGE).parts[:1]:
            continue  # maintenance scripts that rebuild shipped data, not part of the library
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    package = module.split(".")
    is_package = MODULES[module].name == "__init__.py"
    base = package if is_package else package[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module: str) -> list[tuple[str, list[str]]]:
    """(imported module, names) for every import in the module, at any depth (lazy imports count)."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((_resolve(module, node), [alias.name for alias in node.names]))
    return found


def _sinkviz_targets(module: str) -> set[str]:
    """The sinkviz modules `module` imports (a `from package import submodule` counts as the submodule)."""
    targets = set()
    for imported, names in _imports(module):
        if not (imported == "sinkviz" or imported.startswith("sinkviz.")):
            continue
        submodules = [f"{imported}.{n}" for n in names if f"{imported}.{n}" in MODULES]
        targets.update(submodules or [imported])
    return targets


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "sinkviz"


def _violations(source_layers: set[str], forbidden: set[str]) -> list[str]:
    bad = []
    for module in MODULES:
        if _layer(module) not in source_layers:
            continue
        for target in _sinkviz_targets(module):
            if _layer(target) in forbidden:
                bad.append(f"{module} imports {target}")
    return bad


def test_the_walk_sees_the_package():
    assert {"sinkviz.capture", "sinkviz.models", "sinkviz.hf_attention", "sinkviz.metrics.sink"} <= set(MODULES)
    assert "sinkviz.models" in _sinkviz_targets("sinkviz.capture")


def test_metrics_import_nothing_outside_metrics():
    bad = [f"{m} imports {t}" for m in MODULES if _layer(m) == "metrics"
           for t in _sinkviz_targets(m) if _layer(t) != "metrics"]
    assert bad == []


def test_plots_stay_below_capture_models_census_widgets_lab():
    assert _violations({"plots"}, {"capture", "models", "census", "widgets", "lab", "hf_attention"}) == []


def test_models_and_capture_never_import_upper_layers():
    assert _violations({"models", "capture", "hf_attention"}, {"plots", "widgets", "papers", "lab", "census"}) == []


def test_no_module_imports_the_facade():
    bad = []
    for module in MODULES:
        if module == "sinkviz":
            continue
        for imported, names in _imports(module):
            if imported == "sinkviz" and any(f"sinkviz.{n}" not in MODULES for n in names):
                bad.append(f"{module}: from sinkviz import {names}")
            if imported == "sinkviz" and not names:
                bad.append(f"{module}: import sinkviz")
    assert bad == []


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def test_no_private_names_across_modules():
    """A module imports no other module's private name, and a private module (``metrics._validate``) only from
    inside its own package: what another module needs is public where it lives."""
    bad = []
    for module in MODULES:
        for imported, names in _imports(module):
            if not imported.startswith("sinkviz."):
                continue
            parent = imported.rsplit(".", 1)[0]
            if any(_private(part) for part in imported.split(".")[1:]) and not (
                    module == parent or module.startswith(parent + ".")):
                bad.append(f"{module} imports the private module {imported}")
            for name in filter(_private, names):
                if f"{imported}.{name}" not in MODULES:
                    bad.append(f"{module} imports {imported}.{name}")
                elif not module.startswith(imported + "."):
                    bad.append(f"{module} imports the private module {imported}.{name}")
    assert bad == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_module_opens_with_a_docstring(module):
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    doc = ast.get_docstring(tree)
    assert doc and doc.strip().splitlines()[0].strip(), f"{module} has no opening docstring line"


def test_no_file_reads_outside_the_package():
    pattern = re.compile(r"parents\[[2-9]\]|parent\.parent\.parent|\.\./notebooks|\"\.\.\"|'\.\.'")
    bad = [f"{m}: {line.strip()}" for m, path in MODULES.items()
           for line in path.read_text(encoding="utf-8").splitlines() if pattern.search(line)]
    assert bad == []


def test_docstrings_cite_papers_not_missing_files():
    pattern = re.compile(r"papers\.md|design\.md|COMMON\.md|TRACE_API|shared/reference")
    bad = [f"{m}: {line.strip()}" for m, path in MODULES.items()
           for line in path.read_text(encoding="utf-8").splitlines() if pattern.search(line)]
    assert bad == []


def test_one_atomic_write():
    """Only sinkviz/_files.py stages and renames: files (mkstemp) and folders (mkdtemp) alike; everything else
    calls atomic_write / write_json / atomic_folder."""
    allowed = {"sinkviz._files"}
    bad = []
    for module, path in MODULES.items():
        text = path.read_text(encoding="utf-8")
        if module not in allowed and any(call in text for call in ("mkstemp", "mkdtemp", "os.replace(", "os.rename(")):
            bad.append(module)
    assert bad == []
