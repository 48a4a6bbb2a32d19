"""The chunked LM-head + cross-entropy equals the unfused loss and its gradients, on hand-built and random inputs."""

from __future__ import annotations

import math

import pytest
import torch

from sinkviz.lab.loss import IGNORE_INDEX, linear_cross_entropy
from sinkviz.lab.model import model_from_size


def test_uniform_logits_give_log_vocabulary():
    """Zero weights: every logit is 0, so each token's loss is log V and the gradient of the hidden state is 0."""
    hidden = torch.randn(5, 3, requires_grad=True)
    weight = torch.zeros(7, 3, requires_grad=True)
    loss = linear_cross_entropy(hidden, weight, torch.tensor([0, 1, 2, 3, 4]), chunk=2)
    assert loss.item() == pytest.approx(math.log(7), abs=1e-6)
    loss.backward()
    assert torch.count_nonzero(hidden.grad) == 0
    # dL/dw_v = (1/N) Σ_i (1/V − [y_i = v]) h_i
    expected = torch.stack([(hidden.detach() * (1 / 7 - (torch.arange(5) == v).float())[:, None]).mean(0)
                            for v in range(7)])
    torch.testing.assert_close(weight.grad, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("chunk", [1, 3, 64])
def test_equals_unfused_cross_entropy_with_ignored_labels(chunk):
    g = torch.Generator().manual_seed(0)
    hidden = torch.randn(17, 8, generator=g, requires_grad=True)
    weight = torch.randn(11, 8, generator=g, requires_grad=True)
    labels = torch.randint(0, 11, (17,), generator=g)
    labels[[0, 5, 6]] = IGNORE_INDEX
    fused = linear_cross_entropy(hidden, weight, labels, chunk=chunk)
    (2.5 * fused).backward()
    fused_grads = hidden.grad.clone(), weight.grad.clone()
    hidden.grad = weight.grad = None
    reference = torch.nn.functional.cross_entropy(hidden @ weight.t(), labels, ignore_index=IGNORE_INDEX)
    (2.5 * reference).backward()
    torch.testing.assert_close(fused, reference, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(fused_grads[0], hidden.grad, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(fused_grads[1], weight.grad, rtol=1e-5, atol=1e-6)


def _loss_and_grads(model, ids: torch.Tensor, fused: bool, autocast: bool = False, **kwargs):
    """(loss, logits returned?, every parameter's gradient) of one forward and backward."""
    model.zero_grad()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        out = model(ids, labels=ids, fused_loss=fused, **kwargs)
    out.loss.backward()
    return out.loss.detach(), out.logits is not None, [p.grad.clone() for p in model.parameters()]


def _assert_paths_agree(model, ids: torch.Tensor, rtol: float, atol: float, **kwargs) -> None:
    plain_loss, plain_logits, plain_grads = _loss_and_grads(model, ids, False, **kwargs)
    fused_loss, fused_logits, fused_grads = _loss_and_grads(model, ids, True, **kwargs)
    assert plain_logits and not fused_logits and fused_loss.dtype == plain_loss.dtype == torch.float32
    torch.testing.assert_close(fused_loss, plain_loss, rtol=1e-5, atol=1e-5)
    assert all(torch.count_nonzero(g) > 0 for g in plain_grads)
    for fused_grad, plain_grad in zip(fused_grads, plain_grads):
        torch.testing.assert_close(fused_grad, plain_grad, rtol=rtol, atol=atol)


def test_model_loss_and_gradients_match_with_loss_start():
    """The lab model's fused path (shifted labels, prefix positions without loss) against its unfused path."""
    torch.manual_seed(0)
    model = model_from_size(64, hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64)
    _assert_paths_agree(model, torch.randint(0, 64, (3, 12)), rtol=1e-5, atol=1e-6, loss_start=2)


def test_bad_shapes_and_missing_labels_are_explained():
    with pytest.raises(ValueError, match=r"hidden \(N, d\), weight \(V, d\) and labels \(N,\)"):
        linear_cross_entropy(torch.zeros(4, 3), torch.zeros(5, 2), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="chunk must be a positive"):
        linear_cross_entropy(torch.zeros(4, 3), torch.zeros(5, 3), torch.zeros(4, dtype=torch.long), chunk=0)
    model = model_from_size(16, hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32)
    with pytest.raises(ValueError, match="needs labels"):
        model(torch.zeros(1, 4, dtype=torch.long), fused_loss=True)


def test_under_bf16_autocast_it_matches_the_unfused_step():
    """As the lab trains on a GPU (bf16 autocast), here on the CPU: the chunk's logits are bf16 matmuls reduced in
    float32, as the unfused path's; the gradients agree to bf16 rounding."""
    torch.manual_seed(1)
    model = model_from_size(96, hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64)
    _assert_paths_agree(model, torch.randint(0, 96, (4, 16)), rtol=1e-3, atol=1e-5, autocast=True)
