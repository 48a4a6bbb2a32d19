"""Census inputs: texts from a file, tokenised and truncated as the official code does, and right-padded batches."""
from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

import torch


def read_texts(path: str | os.PathLike) -> list[str]:
    """Texts from a ``.txt`` file (one text per non-empty line) or a ``.jsonl`` file (a "text" field per line)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"texts file not found: {path}")
    if not path.endswith((".jsonl", ".txt")):
        raise ValueError(f"texts file must be .txt (one text per line) or .jsonl (a 'text' field), got {path}")
    with open(path, encoding="utf-8") as fh:
        if path.endswith(".txt"):
            return [line.rstrip("\n") for line in fh if line.strip()]
        return [_jsonl_text(line, f"{path}:{n}") for n, line in enumerate(fh, 1) if line.strip()]


def _jsonl_text(line: str, where: str) -> str:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        raise ValueError(f"{where}: not valid JSON ({e.msg})") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
        raise ValueError(f'{where}: each .jsonl line must be an object with a string "text" field')
    return obj["text"]


def tokenize_texts(
    tokenizer: Any, texts: Sequence[str], seq_len: int, *, allow_shorter: bool = False, add_special_tokens: bool = True
) -> tuple[list[list[int]], list[int], int]:
    """Tokenise with the tokenizer's default special tokens and truncate to ``seq_len`` (as the official code does).

    Returns (token id lists, their indices in ``texts``, number skipped). Texts shorter than ``seq_len`` tokens are
    skipped unless ``allow_shorter``; empty ones always are."""
    ids_out, idx_out, skipped = [], [], 0
    for i, text in enumerate(texts):
        ids = list(tokenizer(text, add_special_tokens=add_special_tokens)["input_ids"][:seq_len])
        if not ids or (len(ids) < seq_len and not allow_shorter):
            skipped += 1
            continue
        ids_out.append(ids)
        idx_out.append(i)
    return ids_out, idx_out, skipped


def right_pad(rows: Sequence[tuple[torch.Tensor, torch.Tensor]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """One batch from (token ids, attention mask) rows: each row's real tokens first, then ``pad_id``.

    Returns (input ids (B, T), attention mask (B, T), 1 = real token), T the longest row's real length."""
    lengths = [int(mask.sum()) for _, mask in rows]
    ids = torch.full((len(rows), max(lengths)), pad_id, dtype=torch.long)
    mask = torch.zeros(len(rows), max(lengths), dtype=torch.long)
    for r, ((row_ids, _), n) in enumerate(zip(rows, lengths)):
        ids[r, :n] = row_ids[:n]
        mask[r, :n] = 1
    return ids, mask


def join_texts(tokenizer: Any, texts: Sequence[str], seq_len: int, *, separator: str = "\n\n",
               limit: int | None = None) -> list[str]:
    """Consecutive texts joined (with ``separator``) until each has at least ``seq_len`` tokens, as the tokenizer
    counts them with its default special tokens; a remainder shorter than that is dropped. At most ``limit``
    joined texts (None: as many as the texts make). For a census at lengths longer than the texts of a file."""
    out: list[str] = []
    parts: list[str] = []
    for text in texts:
        if not text.strip():
            continue
        parts.append(text)
        joined = separator.join(parts)
        if len(tokenizer(joined)["input_ids"]) >= seq_len:
            out.append(joined)
            parts = []
            if limit is not None and len(out) >= limit:
                break
    return out
