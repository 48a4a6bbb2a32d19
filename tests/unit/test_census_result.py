"""CensusResult arithmetic (Sink_k^eps, means, merge, save/load) and the CLI's small helpers, on hand-built arrays."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from sinkviz.census import CensusResult, read_texts, shard, tokenize_texts
from sinkviz.census.cli import parse_layers
from sinkviz.census.texts import right_pad
from sinkviz.metrics.sink import sink_rate

S, L, H, K, T, NB = 4, 2, 3, 5, 8, 4


def make(alpha: np.ndarray, index=None, skipped=0, dtype=np.float32) -> CensusResult:
    s = alpha.shape[0]
    rng = np.random.default_rng(s)
    return CensusResult(
        alpha=alpha.astype(dtype),
        entropy=rng.random((s, L, H)).astype(np.float32),
        row_max=rng.random((s, L, H)).astype(np.float32),
        first_mass=rng.random((s, L, H)).astype(np.float32),
        lengths=np.full(s, T),
        sample_index=np.arange(s) if index is None else np.asarray(index),
        alpha_sum=rng.random((L, H, T)), alpha_n=np.full((L, T), float(s)),
        colsum_sum=rng.random((L, H, T)), count_sum=np.tile(np.arange(T, 0, -1.0) * s, (L, 1)),
        profile_sum=rng.random((3, L, H, NB)), profile_n=np.full((L, NB), 2.0 * s),
        layers=[0, 3], seq_len=T, n_keys=K, n_first=4, n_bins=NB, n_skipped=skipped, meta={"model": "m"},
    )


def test_sink_is_strictly_greater_share_over_samples_layers_heads():
    alpha = np.full((S, L, H, K), 0.1)
    alpha[0, 0, 0, 0] = 0.5  # equal to eps: not a sink (strict >)
    alpha[1, 1, 2, 0] = 0.51
    alpha[2, :, :, 0] = 0.9  # all 6 (layer, head) of sample 2
    res = make(alpha)
    expect = 100 * 7 / (S * L * H)
    assert res.sink(0.5)[1] == pytest.approx(expect)
    assert res.sink(0.5)[2] == 0.0
    # the same numbers through the metrics module, which takes alpha (..., K) as it is
    np.testing.assert_allclose(sink_rate(res.alpha, 0.5), [res.sink(0.5)[k] for k in range(1, K + 1)])
    with pytest.raises(ValueError, match="n_keys"):
        res.sink(0.5, [K + 1])


def test_sink_compares_in_the_precision_alpha_was_computed_in():
    # alpha is float32 (as the official code's importance scores); 0.3 rounds to the same float32 as eps,
    # so it is not a sink, exactly as `scores > 0.3` on a float32 torch tensor
    alpha = np.full((S, L, H, K), np.float32(0.3))
    assert make(alpha).sink(0.3)[1] == 0.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("eps", [0.3, 0.5, 0.1])
def test_sink_is_the_metrics_sink_rate_of_the_stored_alpha(dtype, eps):
    rng = np.random.default_rng(7)
    alpha = rng.random((S, L, H, K))
    alpha[3, ..., 3:] = np.nan  # a short sample
    alpha[0, 0, :, 1] = eps  # ties: alpha equal to eps (in alpha's precision) is not a sink
    res = make(alpha, dtype=dtype)
    eps_in_alpha_precision = float(dtype(eps))
    expect = sink_rate(res.alpha, eps_in_alpha_precision)
    assert res.sink(eps) == {k: float(expect[k - 1]) for k in range(1, K + 1)}
    # and the official code's comparison, `importance_scores > epsilon` in alpha's own precision
    hits = [(res.alpha[..., k][~np.isnan(res.alpha[..., k])] > dtype(eps)).mean() * 100 for k in range(K)]
    np.testing.assert_allclose(list(res.sink(eps).values()), hits, rtol=1e-12)


def test_short_samples_are_left_out_of_sink_k():
    alpha = np.full((S, L, H, K), 0.5)
    alpha[3, ..., 2:] = np.nan  # sample 3 has only 2 keys
    alpha[0, ..., 2] = 0.0
    res = make(alpha)
    assert res.sink(0.3)[3] == pytest.approx(100 * 2 / 3)  # samples 1, 2 of the 3 that have key 3
    np.testing.assert_allclose(res.alpha_first(), 0.5)


def test_means_divide_sums_by_counts():
    res = make(np.zeros((S, L, H, K)))
    np.testing.assert_allclose(res.alpha_mean(), res.alpha_sum / S)
    np.testing.assert_allclose(res.alpha_pooled(), res.colsum_sum / res.count_sum[:, None, :])
    np.testing.assert_allclose(res.profile("entropy"), res.profile_sum[0] / (2.0 * S))
    np.testing.assert_allclose(res.first_mass_mean(), res.first_mass.mean(0))


def test_merge_restores_sample_order_and_adds_sums():
    rng = np.random.default_rng(0)
    a = rng.random((5, L, H, K))
    odd, even = make(a[1::2], index=[1, 3], skipped=1), make(a[0::2], index=[0, 2, 4], skipped=2)
    m = CensusResult.merge([odd, even])
    np.testing.assert_array_equal(m.sample_index, np.arange(5))
    np.testing.assert_allclose(m.alpha, a.astype(np.float32))
    np.testing.assert_allclose(m.alpha_sum, odd.alpha_sum + even.alpha_sum)
    np.testing.assert_allclose(m.profile_n, odd.profile_n + even.profile_n)
    assert m.n_skipped == 3
    with pytest.raises(ValueError, match="disjoint"):
        CensusResult.merge([odd, odd])
    other = make(a[:2])
    other.seq_len = T + 1
    with pytest.raises(ValueError, match="seq_len"):
        CensusResult.merge([odd, other])


def test_save_load_roundtrip(tmp_path):
    res = make(np.random.default_rng(1).random((S, L, H, K)))
    res.save(tmp_path / "r.npz")
    back = CensusResult.load(tmp_path / "r.npz")
    for f in ("alpha", "entropy", "alpha_sum", "profile_sum", "sample_index"):
        np.testing.assert_array_equal(getattr(back, f), getattr(res, f))
    assert back.layers == res.layers and back.meta == res.meta and back.n_keys == K
    assert [p.name for p in tmp_path.iterdir()] == ["r.npz"]  # no temporary file left behind


def test_summary_is_a_json_document():
    alpha = np.full((S, L, H, K), 0.1)
    alpha[..., 0] = 0.6
    doc = make(alpha).summary(eps=0.3)
    assert doc["sink"]["1"] == 100.0 and doc["sink"]["2"] == 0.0 and set(doc["sink"]) == {str(k) for k in range(1, K + 1)}
    assert np.allclose(doc["alpha_first"], 0.6) and len(doc["alpha_first"]) == L and len(doc["alpha_first"][0]) == H
    assert json.loads(json.dumps(doc))["n_samples"] == S


def test_read_texts_formats_and_errors(tmp_path):
    (tmp_path / "a.txt").write_text("one\n\n two \nthree\n")
    assert read_texts(tmp_path / "a.txt") == ["one", " two ", "three"]
    (tmp_path / "b.jsonl").write_text('{"text": "x"}\n\n{"text": "y", "id": 2}\n')
    assert read_texts(tmp_path / "b.jsonl") == ["x", "y"]
    (tmp_path / "c.jsonl").write_text('{"txt": "x"}\n')
    with pytest.raises(ValueError, match='"text"'):
        read_texts(tmp_path / "c.jsonl")
    (tmp_path / "d.csv").write_text("x\n")
    with pytest.raises(ValueError, match=".txt"):
        read_texts(tmp_path / "d.csv")
    with pytest.raises(FileNotFoundError):
        read_texts(tmp_path / "none.txt")


class WordTokenizer:
    """Splits on spaces and prepends a BOS id 0, like a tokenizer with default special tokens."""

    def __call__(self, text, add_special_tokens=True):
        ids = [len(w) for w in text.split()]
        return {"input_ids": ([0] if add_special_tokens else []) + ids}


def test_tokenize_truncates_and_skips_short_texts():
    texts = ["a bb ccc dddd", "a b", "", "aa bb cc dd ee ff"]
    ids, idx, skipped = tokenize_texts(WordTokenizer(), texts, 4)
    assert ids == [[0, 1, 2, 3], [0, 2, 2, 2]] and idx == [0, 3] and skipped == 2
    ids, idx, skipped = tokenize_texts(WordTokenizer(), texts, 4, allow_shorter=True)
    assert idx == [0, 1, 2, 3] and ids[1] == [0, 1, 1] and ids[2] == [0] and skipped == 0  # BOS only: kept
    ids, idx, skipped = tokenize_texts(WordTokenizer(), texts, 4, add_special_tokens=False, allow_shorter=True)
    assert idx == [0, 1, 3] and skipped == 1


def test_right_pad_puts_real_tokens_first():
    rows = [(torch.tensor([5, 6, 7]), torch.tensor([1, 1, 1])), (torch.tensor([8, 9, 4]), torch.tensor([1, 0, 0]))]
    ids, mask = right_pad(rows, pad_id=2)
    assert ids.tolist() == [[5, 6, 7], [8, 2, 2]] and mask.tolist() == [[1, 1, 1], [1, 0, 0]]


def test_shard_covers_everything_once():
    parts = [shard(10, r, 3) for r in range(3)]
    assert sorted(sum(parts, [])) == list(range(10)) and parts[1] == [1, 4, 7]
    with pytest.raises(ValueError):
        shard(10, 3, 3)


def test_parse_layers():
    assert parse_layers(None) is None
    assert parse_layers(["0", "5", "10"]) == [0, 5, 10]
    assert parse_layers(["0,5,10", "5"]) == [0, 5, 10]
    assert parse_layers(["0-3", "8"]) == [0, 1, 2, 3, 8]
    with pytest.raises(SystemExit, match="bad --layers"):
        parse_layers(["a"])
    with pytest.raises(SystemExit):
        parse_layers(["5-2"])


def test_old_cli_module_is_a_deprecated_alias(monkeypatch):
    import importlib
    import sys

    import sinkviz.census.cli as cli

    monkeypatch.delitem(sys.modules, "sinkviz.census_cli", raising=False)
    with pytest.warns(DeprecationWarning, match="sinkviz.census.cli"):
        old = importlib.import_module("sinkviz.census_cli")
    assert old.main is cli.main and old.register is cli.register
