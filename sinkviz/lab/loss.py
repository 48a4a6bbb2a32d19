"""Next-token cross-entropy fused with the LM head, chunked over tokens: the (tokens × vocabulary) logits are never
held in memory at once.

The lab's control step spends 14 % of its device time in the loss over 65,536 × 8,192 logits (NOTES, "Throughput on
one H200"). This computes the same mean cross-entropy

    loss = (1 / |valid|) Σ_{i valid} (logsumexp_v (h_i · w_v) − h_i · w_{y_i})

chunk by chunk, and the gradients in the same pass (∂loss/∂logits_i = softmax(logits_i) − onehot(y_i), over
|valid|), so the backward pass only scales them by the incoming gradient. Labels equal to ``IGNORE_INDEX`` carry no
loss, as in :func:`torch.nn.functional.cross_entropy`. The logits of a chunk are computed in the matmul's dtype
(bf16 under autocast) and reduced in float32, as the unfused path (``logits.float()`` then ``cross_entropy``) does.
Opt-in (``SinkLabForCausalLM.forward(..., fused_loss=True)``): on one H200 it saved memory but no time (8.1M model
4.00M against 4.37M tokens/s, 60M-class 0.841M against 0.835M; ``benchmarks/results/lab_throughput_options.json``).
"""

from __future__ import annotations

import torch

IGNORE_INDEX = -100
DEFAULT_CHUNK = 4096  # tokens: 4,096 × 8,192 bf16 logits are 64 MiB, float32 128 MiB


class _LinearCrossEntropy(torch.autograd.Function):
    """Forward: the mean loss, with the gradients of ``hidden`` and ``weight`` computed alongside it."""

    @staticmethod
    def forward(ctx, hidden: torch.Tensor, weight: torch.Tensor, labels: torch.Tensor, chunk: int) -> torch.Tensor:
        n_valid = (labels != IGNORE_INDEX).sum().clamp_min(1).to(torch.float32)
        grad_hidden = torch.empty_like(hidden)
        grad_weight = torch.zeros(weight.shape, dtype=torch.float32, device=weight.device)
        total = torch.zeros((), dtype=torch.float32, device=hidden.device)
        matmul_dtype = torch.get_autocast_dtype(hidden.device.type) if torch.is_autocast_enabled(
            hidden.device.type) else hidden.dtype
        w = weight.to(matmul_dtype)
        for start in range(0, hidden.shape[0], chunk):
            h = hidden[start:start + chunk].to(matmul_dtype)
            y = labels[start:start + chunk]
            logits = (h @ w.t()).float()
            lse = torch.logsumexp(logits, dim=-1)
            valid = y != IGNORE_INDEX
            target = y.clamp_min(0)
            picked = logits.gather(1, target[:, None])[:, 0]
            total = total + torch.where(valid, lse - picked, 0.0).sum()
            grad = torch.exp(logits - lse[:, None])
            grad.scatter_add_(1, target[:, None], -torch.ones_like(picked)[:, None])
            grad = (grad * (valid.to(torch.float32) / n_valid)[:, None]).to(matmul_dtype)
            grad_hidden[start:start + chunk] = (grad @ w).to(hidden.dtype)
            grad_weight += (grad.t() @ h).float()
        ctx.save_for_backward(grad_hidden, grad_weight.to(weight.dtype))
        return total / n_valid

    @staticmethod
    def backward(ctx, grad_loss: torch.Tensor):
        grad_hidden, grad_weight = ctx.saved_tensors
        return grad_hidden * grad_loss.to(grad_hidden.dtype), grad_weight * grad_loss.to(grad_weight.dtype), None, None


def linear_cross_entropy(hidden: torch.Tensor, weight: torch.Tensor, labels: torch.Tensor,
                         chunk: int = DEFAULT_CHUNK) -> torch.Tensor:
    """Mean cross-entropy of ``hidden @ weight.T`` against ``labels``, in chunks of ``chunk`` tokens.

    ``hidden`` (N, d), ``weight`` (V, d) as ``nn.Linear`` holds it, ``labels`` (N,) with ``IGNORE_INDEX`` for
    positions without loss. Equals ``cross_entropy((hidden @ weight.T).float(), labels)`` and its gradients."""
    if hidden.ndim != 2 or weight.ndim != 2 or labels.shape != hidden.shape[:1] or hidden.shape[1] != weight.shape[1]:
        raise ValueError(f"linear_cross_entropy needs hidden (N, d), weight (V, d) and labels (N,); got "
                         f"{tuple(hidden.shape)}, {tuple(weight.shape)} and {tuple(labels.shape)}.")
    if chunk < 1:
        raise ValueError(f"chunk must be a positive number of tokens; got {chunk}.")
    return _LinearCrossEntropy.apply(hidden, weight, labels, int(chunk))
