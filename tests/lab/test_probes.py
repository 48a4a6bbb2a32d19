"""Sink probes at document starts (Gu et al.'s released evaluation: the first 64 tokens of whole documents, no
BOS) versus random training windows, on a hand-built corpus whose documents are known."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sinkviz.lab.data import Batcher, Corpus, DataError, DataSpec
from sinkviz.lab.evaluate import EvalSpec, probe_ids

EOS = 0


def _corpus(lengths: list[int]) -> Corpus:
    """Documents of the given lengths; document d holds the tokens 100·(d+1) + 0, 1, 2, …, each followed by EOS."""
    parts = []
    for d, n in enumerate(lengths):
        parts.append(np.arange(n) + 100 * (d + 1))
        parts.append([EOS])
    stream = np.concatenate(parts).astype(np.int64)
    return Corpus(folder=Path("."), train=stream, valid=stream.copy(),
                  meta={"vocab_size": 100 * (len(lengths) + 1) + max(lengths), "eos_id": EOS})


def test_document_probes_are_the_first_tokens_of_long_enough_documents():
    corpus = _corpus([5, 12, 3, 10, 20, 9])
    batcher = Batcher(corpus, DataSpec(), 8, "cpu", seed=0)
    np.testing.assert_array_equal(batcher.document_starts("valid"), [0, 6, 19, 23, 34, 55])
    ids = batcher.document_probes("valid", 3, 8)
    # documents 2, 4 and 5 (1-based) hold >= 8 tokens; documents 1 and 3 are too short, 6 is not needed
    expected = torch.from_numpy(np.stack([np.arange(8) + 200, np.arange(8) + 400, np.arange(8) + 500]))
    assert torch.equal(ids, expected)
    assert not (ids == EOS).any()  # no BOS / separator in front: token 1 is the document's first token


def test_too_few_documents_is_explained():
    batcher = Batcher(_corpus([5, 12, 3]), DataSpec(), 8, "cpu", seed=0)
    with pytest.raises(DataError, match="only 1 documents of at least 8 tokens"):
        batcher.document_probes("valid", 2, 8)


def test_data_switches_apply_to_document_probes():
    spec = DataSpec(fixed_token={"position": 2, "token": 7})
    ids = Batcher(_corpus([12, 10, 9]), spec, 8, "cpu", seed=0).document_probes("train", 3, 8)
    assert torch.all(ids[:, 1] == 7) and torch.equal(ids[:, 0], torch.tensor([100, 200, 300]))


def test_eval_spec_chooses_the_probe_set():
    batcher = Batcher(_corpus([12, 10, 9, 30]), DataSpec(), 8, "cpu", seed=0)
    starts = probe_ids(batcher, EvalSpec.from_dict({"n_sequences": 4, "length": 8}))
    assert EvalSpec().probes == "document_starts" and EvalSpec().probe_split == "valid"
    assert torch.equal(starts[:, 0], torch.tensor([100, 200, 300, 400]))
    windows = probe_ids(batcher, EvalSpec.from_dict({"n_sequences": 4, "length": 8, "probes": "windows"}))
    assert torch.equal(windows, batcher.batch("probe", 0, 4, 8))
    with pytest.raises(ValueError, match="eval.probes"):
        EvalSpec.from_dict({"probes": "random"})
    with pytest.raises(ValueError, match="probe_split"):
        EvalSpec.from_dict({"probe_split": "test"})


def test_a_corpus_without_end_of_text_needs_window_probes():
    corpus = _corpus([12, 10])
    corpus.meta["eos_id"] = None
    with pytest.raises(DataError, match="windows"):
        Batcher(corpus, DataSpec(), 8, "cpu", seed=0).document_probes("valid", 1, 8)
