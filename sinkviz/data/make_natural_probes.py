"""Rebuild ``devils_dictionary.jsonl`` (the natural-text probe set) from Debian's ``dict-devil`` package.

    apt-get install dict-devil
    python sinkviz/data/make_natural_probes.py

Ambrose Bierce, *The Devil's Dictionary* (1911): public domain (copyright expired; see README.md).  Every entry
of at least MIN_WORDS words is kept, in the dictionary's alphabetical order, with runs of whitespace collapsed
to one space.  The output is written atomically.
"""
from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

from sinkviz._files import atomic_write

DICT = Path("/usr/share/dictd/devil.dict.dz")
INDEX = Path("/usr/share/dictd/devil.index")
OUT = Path(__file__).with_name("devils_dictionary.jsonl")
MIN_WORDS = 80
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _b64(s: str) -> int:
    value = 0
    for c in s:
        value = value * 64 + B64.index(c)
    return value


def entries() -> list[tuple[str, str]]:
    data = gzip.open(DICT).read()
    out = []
    for line in INDEX.read_text(encoding="latin-1").splitlines():
        word, offset, length = line.split("\t")
        if word.startswith("00"):  # dictd metadata entries
            continue
        text = data[_b64(offset):_b64(offset) + _b64(length)].decode("latin-1")
        out.append((word, " ".join(text.split())))
    return out


def main() -> int:
    if not DICT.is_file():
        print("Debian package dict-devil is not installed: apt-get install dict-devil", file=sys.stderr)
        return 1
    rows = [
        {"id": f"devil-{i:03d}", "headword": word, "text": text,
         "source": "Ambrose Bierce, The Devil's Dictionary (1911), Debian package dict-devil", "licence": "public domain"}
        for i, (word, text) in enumerate(e for e in entries() if len(e[1].split()) >= MIN_WORDS)
    ]
    atomic_write(OUT, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
    print(f"wrote {len(rows)} texts to {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
