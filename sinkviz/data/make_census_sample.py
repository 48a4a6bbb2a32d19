"""Rebuild ``census_sample.txt``: long public-domain texts (one per line) for the census CLI and its test.

    apt-get install dict-devil
    python sinkviz/data/make_census_sample.py

Source: Ambrose Bierce, *The Devil's Dictionary* (1911), "A Public Domain Text, Copyright Expired" (the notice in the
Internet Wiretap edition that Debian's ``dict-devil`` package ships as /usr/share/dictd/devil.dict.dz). The text
after the dictd header (from the PREFACE on) is split into paragraphs, whitespace is collapsed, paragraphs shorter
than 40 characters (bare headwords) are dropped, and consecutive paragraphs are joined with a space until a text has
at least MIN_CHARS characters (about 1,100 SmolLM2 tokens). The first N_TEXTS texts are written, atomically.
"""
from __future__ import annotations

import gzip
import re
from pathlib import Path

from sinkviz._files import atomic_write

SOURCE = Path("/usr/share/dictd/devil.dict.dz")
OUT = Path(__file__).with_name("census_sample.txt")
MIN_CHARS = 4500
N_TEXTS = 24


def texts() -> list[str]:
    raw = gzip.open(SOURCE).read().decode("latin-1")
    body = raw[raw.index("PREFACE"):]
    paragraphs = [re.sub(r"\s+", " ", p).strip() for p in re.split(r"\n\s*\n", body)]
    paragraphs = [p for p in paragraphs if len(p) >= 40]
    out, cur = [], []
    for p in paragraphs:
        cur.append(p)
        if sum(len(x) + 1 for x in cur) >= MIN_CHARS:
            out.append(" ".join(cur))
            cur = []
    return out[:N_TEXTS]


def main() -> None:
    lines = texts()
    atomic_write(OUT, "\n".join(lines) + "\n")
    print(f"wrote {len(lines)} texts to {OUT}")


if __name__ == "__main__":
    main()
