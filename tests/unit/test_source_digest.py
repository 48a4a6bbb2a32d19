"""The source digest that lab results and job records carry: a copy of the package's code gives the same digest,
any change to one file another, and compiled caches do not count."""
from __future__ import annotations

import shutil
from pathlib import Path

import sinkviz
from sinkviz._version import source_digest, tree_digest


def test_a_copy_of_the_source_has_the_same_digest_and_an_edit_changes_it(tmp_path):
    package = Path(sinkviz.__file__).resolve().parent
    copy = tmp_path / "sinkviz"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("*.pyc"))
    assert tree_digest(copy) == source_digest() and len(source_digest()) == 16
    (copy / "__pycache__").mkdir(exist_ok=True)
    (copy / "__pycache__" / "stale.py").write_text("x = 1\n")
    assert tree_digest(copy) == source_digest()  # caches do not count
    module = copy / "metrics" / "sink.py"
    module.write_text(module.read_text() + "\n")
    assert tree_digest(copy) != source_digest()
