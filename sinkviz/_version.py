"""The package version and a digest of the source that is running, in one place (the facade, the census, the
figure metadata and the lab's results read them here)."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

__version__ = "0.2.0"


def tree_digest(root: str | Path) -> str:
    """sha256 (hex, first 16 digits) over the relative path and bytes of every ``.py`` file under ``root`` (caches
    in ``__pycache__`` left out), in path order."""
    root = Path(root)
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        if "__pycache__" in path.relative_to(root).parts:
            continue
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


@lru_cache(maxsize=1)
def source_digest() -> str:
    """:func:`tree_digest` of the installed package: the same for two copies of one source tree, different after any
    code change, and computable without git (a GPU machine gets a copy of the tree without its history)."""
    return tree_digest(Path(__file__).resolve().parent)


def made_by() -> dict[str, str]:
    """What a result records about the code that made it: ``{"version", "source_sha256"}``."""
    return {"version": __version__, "source_sha256": source_digest()}
