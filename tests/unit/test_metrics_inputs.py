"""The metrics take numpy arrays, torch tensors and nested lists alike, and read a torch tensor without rounding."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from sinkviz.metrics import head_average
from sinkviz.metrics.rmt import rmt_corrected
from sinkviz.metrics.sink import importance_scores


def _uniform_causal(n: int) -> np.ndarray:
    a = np.tril(np.ones((n, n)))
    return a / a.sum(axis=1, keepdims=True)  # rows of 1/1, 1/2, 1/3, ...: not exact in float32


def test_a_float64_tensor_is_read_exactly():
    a = _uniform_causal(7)
    from_tensor = head_average(torch.from_numpy(a)[None])
    assert from_tensor.dtype == np.float64 and np.array_equal(from_tensor, a)  # bit for bit: no float32 detour
    assert rmt_corrected(torch.from_numpy(a))["marchenko_pastur_ks"] == rmt_corrected(a)["marchenko_pastur_ks"]


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
def test_low_precision_tensors_become_the_same_float64_values(dtype):
    a = torch.from_numpy(_uniform_causal(5)).to(dtype)
    expected = a.float().numpy().astype(np.float64)  # every bf16/fp16 value is exact in float32 and float64
    assert np.array_equal(head_average(a), expected)


def test_lists_arrays_and_tensors_agree():
    a = _uniform_causal(6)[None, None]  # (samples, heads, n, n)
    alphas = [importance_scores(x) for x in (a, a.tolist(), torch.from_numpy(a))]
    assert np.array_equal(alphas[0], alphas[1]) and np.array_equal(alphas[0], alphas[2])
