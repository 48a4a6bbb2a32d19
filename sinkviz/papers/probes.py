"""Probe inputs for sink measurements: natural text shipped with sinkviz, random tokens, repeated tokens.

Gu et al., "When Attention Sink Emerges" (ICLR 2025) measure Sink_1 on 100 sequences of T = 64 tokens:

* **natural** — texts tokenised with the tokenizer's default special tokens (so LLaMA/Mistral/OPT start with
  their BOS, GPT-2/Pythia/SmolLM2 do not), then truncated to T; the official code asserts every text is long
  enough, here texts shorter than T are **skipped and counted** (``ProbeBatch.n_skipped``).  The paper's own
  probe file (``datasets/probe_valid_natural.jsonl`` in the official code) is not public; sinkviz ships Ambrose
  Bierce's *The Devil's Dictionary* (1911, public domain, ``sinkviz/data/README.md``).
* **random** — T token ids drawn uniformly from the vocabulary (§3.3); **repeat** — one random token repeated
  T times.  Both are seeded.  By default (:func:`probe_inputs` ``prefix="none"``) the inputs are the tokens
  themselves, with no BOS: the paper's protocol, the only one under which its Table 1 can give 0.00 on repeated
  tokens for LLaMA/Mistral (a BOS in front of T − 1 identical tokens is a distinct first token, and rotary
  models then sink on it; Props. 1–4 of App. C.1 are about identical tokens).  ``prefix="tokenizer"`` puts the
  tokenizer's default prefix (e.g. LLaMA's BOS) in front instead, as the named alternative.
"""
from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any, Sequence

import numpy as np
import torch

__all__ = [
    "ProbeBatch",
    "PROBE_SETS",
    "natural_texts",
    "natural_inputs",
    "random_token_inputs",
    "repeated_token_inputs",
    "probe_inputs",
    "tokenizer_prefix",
    "DOMAIN_PROBES",
    "domain_texts",
]

PROBE_SETS = {"devils_dictionary": resources.files("sinkviz") / "data" / "devils_dictionary.jsonl"}


@dataclass
class ProbeBatch:
    """Token ids ready for ``sinkviz.trace``: ``input_ids`` ``(N, T)``, every row exactly T real tokens."""

    input_ids: torch.Tensor
    kind: str  # "natural" | "random" | "repeat"
    description: str
    n_skipped: int = 0  # natural texts shorter than T
    text_ids: list[str] = field(default_factory=list)  # which probe texts were used (natural)

    @property
    def n(self) -> int:
        return int(self.input_ids.shape[0])

    @property
    def T(self) -> int:
        return int(self.input_ids.shape[1])

    def __repr__(self) -> str:
        skipped = f", {self.n_skipped} texts skipped (< T tokens)" if self.kind == "natural" else ""
        return f"ProbeBatch({self.kind}: {self.n} x {self.T} tokens{skipped}; {self.description})"


@lru_cache(maxsize=None)
def _read_set(name: str) -> tuple[dict[str, Any], ...]:
    if name not in PROBE_SETS:
        raise ValueError(f"unknown probe set {name!r}; choose from {sorted(PROBE_SETS)}")
    path = PROBE_SETS[name]
    if not path.is_file():
        raise FileNotFoundError(f"probe file {path} is missing: reinstall sinkviz (it ships inside the package)")
    with path.open(encoding="utf-8") as fh:
        return tuple(json.loads(line) for line in fh if line.strip())


def natural_texts(name: str = "devils_dictionary") -> list[str]:
    """The shipped natural-text probe set (249 entries of The Devil's Dictionary, each ≥ 80 words)."""
    return [row["text"] for row in _read_set(name)]


def natural_inputs(tokenizer, T: int = 64, n: int | None = 100, *, texts: Sequence[str] | None = None,
                   name: str = "devils_dictionary", add_special_tokens: bool = True) -> ProbeBatch:
    """Tokenise natural texts as the official code does and keep the first ``n`` that have ≥ T tokens.

    Each text: ``tokenizer(text, add_special_tokens=True)`` (the tokenizer's default specials), truncated to the
    first T ids.  Texts shorter than T are skipped and counted.  ``n=None`` keeps every long-enough text.
    """
    if T < 1:
        raise ValueError(f"T must be a positive number of tokens; got {T}")
    rows = _read_set(name) if texts is None else tuple({"id": f"text-{i}", "text": t} for i, t in enumerate(texts))
    kept: list[list[int]] = []
    ids_used: list[str] = []
    skipped = 0
    for row in rows:
        if n is not None and len(kept) >= n:
            break
        ids = tokenizer(row["text"], add_special_tokens=add_special_tokens)["input_ids"]
        if len(ids) < T:
            skipped += 1
            continue
        kept.append(list(ids[:T]))
        ids_used.append(row["id"])
    if not kept:
        raise ValueError(f"no probe text has {T} tokens or more ({skipped} skipped); choose a smaller T")
    if n is not None and len(kept) < n:
        warnings.warn(f"only {len(kept)} of the requested {n} texts have >= {T} tokens ({skipped} skipped)",
                      stacklevel=2)
    source = "given texts" if texts is not None else f"probe set {name!r}"
    return ProbeBatch(input_ids=torch.tensor(kept, dtype=torch.long), kind="natural",
                      description=f"{source}, default special tokens, truncated to T={T}", n_skipped=skipped,
                      text_ids=ids_used)


def _check_vocab(vocab_size: int, exclude_ids: Sequence[int]) -> np.ndarray:
    if vocab_size < 2:
        raise ValueError(f"vocab_size must be at least 2; got {vocab_size}")
    allowed = np.setdiff1d(np.arange(vocab_size), np.asarray(list(exclude_ids), dtype=np.int64))
    if allowed.size == 0:
        raise ValueError("exclude_ids removes every token of the vocabulary")
    return allowed


def _with_prefix(body: np.ndarray, prefix_ids: Sequence[int]) -> torch.Tensor:
    prefix = np.asarray(list(prefix_ids), dtype=np.int64)
    out = np.concatenate([np.broadcast_to(prefix, (body.shape[0], prefix.size)), body], axis=1)
    return torch.from_numpy(np.ascontiguousarray(out)).long()


def random_token_inputs(vocab_size: int, T: int = 64, n: int = 100, *, seed: int = 0,
                        prefix_ids: Sequence[int] = (), exclude_ids: Sequence[int] = ()) -> ProbeBatch:
    """``n`` rows of T tokens: ``prefix_ids`` (e.g. ``[bos]``) then ids drawn uniformly (with replacement) from
    the vocabulary minus ``exclude_ids`` (e.g. special tokens), with ``numpy.random.default_rng(seed)``."""
    if T <= len(prefix_ids):
        raise ValueError(f"T={T} leaves no room after {len(prefix_ids)} prefix token(s)")
    allowed = _check_vocab(vocab_size, exclude_ids)
    rng = np.random.default_rng(seed)
    body = rng.choice(allowed, size=(n, T - len(prefix_ids)), replace=True)
    pre = f" after prefix {list(prefix_ids)}" if prefix_ids else ", no prefix (the paper's protocol)"
    return ProbeBatch(input_ids=_with_prefix(body, prefix_ids), kind="random",
                      description=f"uniform random tokens{pre}, seed {seed}, T={T}")


def repeated_token_inputs(vocab_size: int, T: int = 64, n: int = 100, *, seed: int = 0,
                          prefix_ids: Sequence[int] = (), exclude_ids: Sequence[int] = ()) -> ProbeBatch:
    """``n`` rows: ``prefix_ids`` then ONE random token (per row, seeded) repeated to length T."""
    if T <= len(prefix_ids):
        raise ValueError(f"T={T} leaves no room after {len(prefix_ids)} prefix token(s)")
    allowed = _check_vocab(vocab_size, exclude_ids)
    rng = np.random.default_rng(seed)
    tok = rng.choice(allowed, size=(n, 1), replace=True)
    body = np.repeat(tok, T - len(prefix_ids), axis=1)
    pre = f" after prefix {list(prefix_ids)}" if prefix_ids else ", no prefix (the paper's protocol)"
    return ProbeBatch(input_ids=_with_prefix(body, prefix_ids), kind="repeat",
                      description=f"one random token repeated{pre}, seed {seed}, T={T}")


def tokenizer_prefix(tokenizer) -> list[int]:
    """The ids the tokenizer puts before a text by default: ``[bos]`` for LLaMA/Mistral/Gemma, ``[cls]`` for
    BERT, ``[]`` for GPT-2, Pythia or SmolLM2."""
    probe = tokenizer("a", add_special_tokens=True)["input_ids"]
    bare = tokenizer("a", add_special_tokens=False)["input_ids"]
    if bare and len(probe) > len(bare):
        for start in range(len(probe) - len(bare) + 1):
            if list(probe[start:start + len(bare)]) == list(bare):
                return list(probe[:start])
    return []


def probe_inputs(tokenizer, kind: str, T: int = 64, n: int = 100, *, seed: int = 0,
                 prefix: str = "none") -> ProbeBatch:
    """Natural, random or repeated-token inputs for a tokenizer (Table 1's three columns, Gu et al. 2025 §3.3).

    ``natural`` keeps the tokenizer's default special tokens, as the official code does.  For ``random`` /
    ``repeat`` the vocabulary is ``len(tokenizer)`` minus the tokenizer's special ids, and ``prefix`` says what
    comes first: ``"none"`` (default, the paper's protocol) nothing, the T tokens are the input;
    ``"tokenizer"`` the special tokens the tokenizer adds before a text (:func:`tokenizer_prefix`: a BOS for
    LLaMA, nothing for GPT-2 or SmolLM2), then T − len(prefix) tokens.
    """
    if kind == "natural":
        return natural_inputs(tokenizer, T, n)
    if kind not in ("random", "repeat"):
        raise ValueError(f"kind must be 'natural', 'random' or 'repeat'; got {kind!r}")
    if prefix == "default":
        warnings.warn("prefix='default' is now called prefix='tokenizer' (the default is the paper's 'none')",
                      DeprecationWarning, stacklevel=2)
        prefix = "tokenizer"
    if prefix not in ("none", "tokenizer"):
        raise ValueError(f"prefix must be 'none' (the paper's protocol) or 'tokenizer' (the tokenizer's default "
                         f"prefix, e.g. a BOS); got {prefix!r}")
    prefix_ids = tokenizer_prefix(tokenizer) if prefix == "tokenizer" else []
    special = list(getattr(tokenizer, "all_special_ids", []) or [])
    build = random_token_inputs if kind == "random" else repeated_token_inputs
    return build(len(tokenizer), T, n, seed=seed, prefix_ids=prefix_ids, exclude_ids=special)



# ---- text domains for Gu et al.'s Fig. 9 (Sink₁ by domain; the paper's are 17 Pile domains, ours are not)
DOMAIN_PROBES = resources.files("sinkviz") / "data" / "domain_probes.jsonl"
#: The dictionary domain is the natural-text probe set itself (not copied into domain_probes.jsonl).
DICTIONARY_DOMAIN = "dictionary"


@lru_cache(maxsize=1)
def _domain_rows() -> tuple[dict[str, Any], ...]:
    if not DOMAIN_PROBES.is_file():
        raise FileNotFoundError(f"probe file {DOMAIN_PROBES} is missing: reinstall sinkviz (it ships inside the "
                                "package) or rebuild it with sinkviz/data/make_domain_probes.py")
    with DOMAIN_PROBES.open(encoding="utf-8") as fh:
        return tuple(json.loads(line) for line in fh if line.strip())


def domain_texts() -> dict[str, list[dict[str, Any]]]:
    """sinkviz's text domains (``sinkviz/data/README.md``: source and licence of each): ``{domain: [{"id",
    "text", "source", "licence"}, ...]}``, the dictionary domain (The Devil's Dictionary) first, then the domains of
    ``domain_probes.jsonl`` in file order. These are our domains, not the Pile's of Gu et al.'s Fig. 9."""
    out: dict[str, list[dict[str, Any]]] = {DICTIONARY_DOMAIN: [
        {"id": r["id"], "text": r["text"], "source": r["source"], "licence": r["licence"]}
        for r in _read_set("devils_dictionary")]}
    for row in _domain_rows():
        out.setdefault(row["domain"], []).append({k: row[k] for k in ("id", "text", "source", "licence")})
    return out
