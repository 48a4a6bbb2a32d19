"""Census helpers without a model: length grids, joined texts, the uniform alpha_1 null, kernel options and the
tuner's choices where it does not time (interpreter, tuning switched off)."""
from __future__ import annotations

import numpy as np
import pytest

from sinkviz.census import tuning
from sinkviz.census.kernels import KernelConfig
from sinkviz.census.lengths import length_grid, length_summary
from sinkviz.census.result import CensusResult
from sinkviz.census.texts import join_texts
from sinkviz.plots.context_length import alpha1_by_length_figure, uniform_alpha1


def test_length_grid_is_powers_of_two_up_to_the_maximum():
    assert length_grid(1024) == [64, 128, 256, 512, 1024]
    assert length_grid(8192, start=2048) == [2048, 4096, 8192]
    assert length_grid(1000) == [64, 128, 256, 512, 1000]  # a maximum that is no power of two is kept
    assert length_grid(64) == [64]
    with pytest.raises(ValueError, match="shorter than the first"):
        length_grid(32)


class WordTokenizer:
    def __call__(self, text):
        return {"input_ids": list(range(len(text.split())))}


def test_join_texts_reaches_each_length_and_drops_the_remainder():
    texts = ["a b c", "d e", "", "f g h i", "j"]
    assert join_texts(WordTokenizer(), texts, 4) == ["a b c\n\nd e", "f g h i"]
    assert join_texts(WordTokenizer(), texts, 4, limit=1) == ["a b c\n\nd e"]
    assert join_texts(WordTokenizer(), texts, 100) == []


def test_uniform_alpha1_is_the_mean_of_one_over_i():
    assert uniform_alpha1(1) == 1.0
    assert uniform_alpha1(4) == pytest.approx((1 + 1 / 2 + 1 / 3 + 1 / 4) / 4)


def _result(alpha, T):
    S, L, H, K = alpha.shape
    z = np.zeros
    return CensusResult(alpha=alpha.astype(np.float32), entropy=z((S, L, H)), row_max=z((S, L, H)),
                        first_mass=z((S, L, H)), lengths=np.full(S, T), sample_index=np.arange(S),
                        alpha_sum=z((L, H, T)), alpha_n=z((L, T)), colsum_sum=z((L, H, T)), count_sum=z((L, T)),
                        profile_sum=z((3, L, H, 2)), profile_n=z((L, 2)), layers=list(range(L)), seq_len=T,
                        n_keys=K, n_first=4, n_bins=2)


def test_length_summary_and_figure():
    a64 = np.zeros((2, 3, 2, 4))
    a64[..., 0] = [[[0.5, 0.1], [0.2, 0.2], [0.9, 0.35]]]  # (layers, heads) for both samples
    a128 = a64 * 0.5
    s = length_summary([_result(a64, 64), _result(a128, 128)], eps_grid=(0.3, 0.5))
    assert s["lengths"] == [64, 128] and s["n_samples"] == [2, 2]
    np.testing.assert_allclose(s["sink1"], [[100 * 3 / 6, 100 * 1 / 6], [100 * 1 / 6, 0.0]])
    np.testing.assert_allclose(s["alpha1_by_layer"][0], [0.3, 0.2, 0.625])
    fig = alpha1_by_length_figure(s["lengths"], s["alpha1_by_layer"], layers=s["layers"], title="t")
    assert np.asarray(fig.data[0].z).shape == (3, 2)
    assert list(fig.data[2].y) == [uniform_alpha1(64), uniform_alpha1(128)]
    with pytest.raises(ValueError, match="alpha1_by_layer must be"):
        alpha1_by_length_figure([64], s["alpha1_by_layer"])


def test_kernel_options_and_untimed_choices(monkeypatch):
    assert KernelConfig.from_options(None) is None
    assert KernelConfig.from_options({"block_m": 64}) == KernelConfig(block_m=64)
    with pytest.raises(ValueError, match="unknown Triton options"):
        KernelConfig.from_options({"blockm": 64})
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    assert tuning.choose(None, "stats") == tuning.INTERPRETER
    monkeypatch.delenv("TRITON_INTERPRET")
    monkeypatch.setenv("SINKVIZ_CENSUS_TUNE", "0")
    assert tuning.choose(None, "stats") == tuning.STATS_CANDIDATES[0]
    assert tuning.choose(None, "lse") == tuning.LSE_CANDIDATES[0]
