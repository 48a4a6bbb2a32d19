"""Probe inputs: natural texts (skip and count short ones), seeded random / repeated tokens, reported numbers."""
import pytest
import torch

from sinkviz.papers.probes import (
    natural_inputs,
    natural_texts,
    probe_inputs,
    random_token_inputs,
    repeated_token_inputs,
    tokenizer_prefix,
)
from sinkviz.papers.reported import reported_numbers


class WordTokenizer:
    """One id per word (+ an optional BOS id 1), vocabulary of 50, specials {0, 1}."""

    all_special_ids = [0, 1]

    def __init__(self, bos=False):
        self.bos = bos

    def __len__(self):
        return 50

    def __call__(self, text, add_special_tokens=True):
        ids = [2 + (sum(map(ord, w)) % 48) for w in text.split()]
        return {"input_ids": ([1] if self.bos and add_special_tokens else []) + ids}


def test_shipped_probe_set_is_large_enough():
    texts = natural_texts()
    assert len(texts) >= 100 and all(len(t.split()) >= 80 for t in texts)


def test_natural_inputs_skip_and_count_short_texts():
    texts = ["a b c", "one two three four five six", "x y", "p q r s t u v w"]
    b = natural_inputs(WordTokenizer(), T=5, n=None, texts=texts)
    assert b.input_ids.shape == (2, 5) and b.n_skipped == 2 and b.text_ids == ["text-1", "text-3"]
    tok = WordTokenizer()
    assert b.input_ids[0].tolist() == tok(texts[1])["input_ids"][:5]
    with pytest.warns(UserWarning, match="only 2 of the requested 3"):
        natural_inputs(WordTokenizer(), T=5, n=3, texts=texts)
    with pytest.raises(ValueError, match="no probe text"):
        natural_inputs(WordTokenizer(), T=50, texts=texts)


def test_natural_inputs_keep_default_bos_and_stop_at_n():
    b = natural_inputs(WordTokenizer(bos=True), T=64, n=7)
    assert b.input_ids.shape == (7, 64) and (b.input_ids[:, 0] == 1).all() and b.n_skipped == 0


def test_random_and_repeat_are_seeded_and_exclude_specials():
    r1 = random_token_inputs(50, T=16, n=4, seed=3, exclude_ids=[0, 1])
    r2 = random_token_inputs(50, T=16, n=4, seed=3, exclude_ids=[0, 1])
    assert torch.equal(r1.input_ids, r2.input_ids) and r1.input_ids.min() >= 2
    assert not torch.equal(r1.input_ids, random_token_inputs(50, T=16, n=4, seed=4).input_ids)
    rep = repeated_token_inputs(50, T=16, n=4, seed=3, prefix_ids=[1])
    assert rep.input_ids.shape == (4, 16) and (rep.input_ids[:, 0] == 1).all()
    assert all(len(set(row[1:].tolist())) == 1 for row in rep.input_ids)
    with pytest.raises(ValueError, match="every token"):
        random_token_inputs(2, exclude_ids=[0, 1])


def test_probe_inputs_paper_protocol_by_default_tokenizer_prefix_on_request():
    # random / repeat: no BOS by default (the paper's protocol), whatever the tokenizer adds to a text
    paper = probe_inputs(WordTokenizer(bos=True), "repeat", T=8, n=3)
    assert paper.input_ids.shape == (3, 8) and paper.input_ids.min() >= 2
    assert all(len(set(row.tolist())) == 1 for row in paper.input_ids) and "paper's protocol" in paper.description
    with_bos = probe_inputs(WordTokenizer(bos=True), "repeat", T=8, n=3, prefix="tokenizer")
    assert (with_bos.input_ids[:, 0] == 1).all() and torch.equal(with_bos.input_ids[:, 1:], paper.input_ids[:, 1:])
    assert tokenizer_prefix(WordTokenizer(bos=True)) == [1] and tokenizer_prefix(WordTokenizer()) == []
    no_bos = probe_inputs(WordTokenizer(bos=False), "random", T=8, n=3, prefix="tokenizer")
    assert no_bos.input_ids.shape == (3, 8) and no_bos.input_ids.min() >= 2
    # natural keeps the tokenizer's default specials, as the official code does
    assert (probe_inputs(WordTokenizer(bos=True), "natural", T=8, n=3).input_ids[:, 0] == 1).all()
    with pytest.warns(DeprecationWarning, match="tokenizer"):
        old = probe_inputs(WordTokenizer(bos=True), "repeat", T=8, n=3, prefix="default")
    assert torch.equal(old.input_ids, with_bos.input_ids)
    with pytest.raises(ValueError, match="kind"):
        probe_inputs(WordTokenizer(), "shuffled")
    with pytest.raises(ValueError, match="paper's protocol"):
        probe_inputs(WordTokenizer(), "repeat", prefix="bos")


def test_reported_numbers():
    t1 = {(r["model"], r["column"]): r["value"] for r in reported_numbers("1-left")}
    assert t1[("GPT2-XL", "natural")] == 77.00 and t1[("LLaMA2-7B Base", "repeat")] == 0.0
    t7 = reported_numbers("7")
    assert {r["t"] for r in t7 if r["t"]} == {5, 10, 15, 20, 25, 30}
