"""Git clean filter for notebooks: outputs, execution counts and saved widget state are left out of commits.

Installed by `make` (`make hooks`) as the `nbstrip` filter that `.gitattributes` names for `*.ipynb`, like
nbstripout but with the standard library only, so it runs with any `python3`. The working copy keeps its
outputs; git stores the stripped notebook, so running a notebook never shows it as modified. Output is written
exactly as nbformat writes a notebook (indent 1, sorted keys, UTF-8), so a clean notebook passes unchanged.

    python3 tools/nbstrip.py < in.ipynb > out.ipynb     # as git runs it
    python3 tools/nbstrip.py a.ipynb b.ipynb            # strip files in place
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

#: Cell metadata that records a run rather than the notebook (as nbstripout drops it).
RUN_METADATA = ("execution", "ExecuteTime", "collapsed", "scrolled")


def strip(notebook: dict) -> dict:
    """The notebook without outputs, execution counts, run metadata and widget state (changed in place)."""
    notebook.get("metadata", {}).pop("widgets", None)
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        for key in RUN_METADATA:
            cell.get("metadata", {}).pop(key, None)
    return notebook


def strip_text(text: str) -> str:
    """A notebook's JSON text, stripped; text that is not a notebook comes back unchanged."""
    try:
        notebook = json.loads(text)
    except ValueError:
        return text
    if not isinstance(notebook, dict) or "cells" not in notebook:
        return text
    return json.dumps(strip(notebook), indent=1, sort_keys=True, separators=(",", ": "), ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    if not argv:
        sys.stdout.write(strip_text(sys.stdin.read()))
        return 0
    for name in argv:
        path = Path(name)
        text = path.read_text(encoding="utf-8")
        stripped = strip_text(text)
        if stripped != text:  # through a file beside it and a rename, so a failure never leaves half a notebook
            partial = path.with_name(f".{path.name}.nbstrip")
            partial.write_text(stripped, encoding="utf-8")
            partial.replace(path)
            print(f"stripped {path.resolve()}")
    return 0


if __name__ == "__main__":
    sys.stdin.reconfigure(encoding="utf-8")
    sys.stdout.reconfigure(encoding="utf-8")
    sys.exit(main(sys.argv[1:]))
