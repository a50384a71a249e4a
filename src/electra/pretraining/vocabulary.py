"""The generator's vocabulary at the chosen positions: each position's cross-entropy against the
original token, whether its top guess was right, and (RTD) a replacement sampled from its softmax.

The (positions, vocabulary) logits are the largest tensors of a pre-training step (608 x 30,522
floats, 74 MB, for the small preset's batch of 32; 19,712 x 30,522, 2.4 GB in fp32, for the base
preset's 256 x 512), and eager PyTorch makes five or six of them (logits, log-softmax, its
gradient, the zeroed loss gradient, softmax and CDF for sampling): on a CPU, where each is freshly
mapped memory, that was a quarter of a bf16 step, and on a GPU it is gigabytes of peak memory.
Eager code therefore makes, uses and drops the logits a block of rows at a time, and makes them
again in the backward pass; compiled graphs (Inductor fuses them) run the plain computation.
Both give the same numbers.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from electra.cpu_linear import linear

# Logits a block of rows holds: 16 MB in fp32 on a CPU (reused from its caches each block); 256 MB
# on a GPU, enough rows per product to keep it busy, a tenth of the base preset's whole logits.
_BLOCK_ELEMENTS = {"cpu": 4_000_000}
_DEFAULT_BLOCK_ELEMENTS = 64_000_000


def block_rows(vocab_size: int, device: torch.device) -> int:
    """Rows of logits computed at once on `device`."""
    return max(1, _BLOCK_ELEMENTS.get(device.type, _DEFAULT_BLOCK_ELEMENTS) // vocab_size)


@dataclass
class VocabularyOutput:
    """Per chosen position, shaped like the targets."""

    losses: Tensor  # float32 cross-entropy against the original token
    correct: Tensor  # bool: argmax == original
    sampled: Tensor | None  # long: drawn from softmax(logits / T); None when not asked for


def sample(logits: Tensor, temperature: float) -> Tensor:
    """A token per row, drawn exactly from softmax(logits / T) by inverting its CDF at one uniform
    number per row. The same distribution as the official Gumbel-max, argmax(logits / T + G),
    which draws a random number per vocabulary entry: 4x slower at V = 30522 on CPU. Float32, so
    low-precision logits do not bias the draw."""
    return _invert_cdf(logits, temperature, torch.rand(logits.shape[:-1], device=logits.device))


def _invert_cdf(logits: Tensor, temperature: float, uniform: Tensor) -> Tensor:
    cdf = torch.softmax(logits.float() / temperature, dim=-1).cumsum_(-1)  # (..., V)
    at = uniform.unsqueeze(-1) * cdf[..., -1:]  # (..., 1)
    return torch.searchsorted(cdf, at, right=True).squeeze(-1).clamp_(max=cdf.shape[-1] - 1)


def vocabulary_output(
    features: Tensor, weight: Tensor, bias: Tensor, targets: Tensor, temperature: float | None
) -> VocabularyOutput:
    """Loss, accuracy and (with a `temperature`) samples of the projection `features @ weight.T +
    bias` onto the vocabulary, for (..., E) features and (...) targets. Samples carry no
    gradient."""
    flat, shape = features.reshape(-1, features.shape[-1]), targets.shape
    if not torch.compiler.is_compiling():
        uniform = None
        if temperature is not None:
            uniform = torch.rand(targets.numel(), device=features.device)
        losses, correct, sampled = _Blockwise.apply(flat, weight, bias, targets.reshape(-1),
                                                    temperature, uniform)  # fmt: skip
    else:
        logits = F.linear(flat, weight, bias)
        losses = F.cross_entropy(logits.float(), targets.reshape(-1), reduction="none")
        correct = logits.detach().argmax(-1) == targets.reshape(-1)
        sampled = sample(logits.detach(), temperature) if temperature is not None else None
    return VocabularyOutput(
        losses.view(shape), correct.view(shape), None if sampled is None else sampled.view(shape)
    )


def _autocast_dtype(device: torch.device) -> torch.dtype | None:
    """The dtype autocast projects in on `device` now, or None."""
    if not torch.amp.is_autocast_available(device.type):
        return None
    return torch.get_autocast_dtype(device.type) if torch.is_autocast_enabled(device.type) else None


class _Blockwise(torch.autograd.Function):
    """`vocabulary_output` a block of rows at a time, the logits never whole; the backward pass
    makes each block's logits again (one more projection: 1-2% of a step) rather than keep them.
    Under autocast both passes project at autocast's precision, as `F.linear` would."""

    @staticmethod
    def forward(ctx, features, weight, bias, targets, temperature, uniform):
        device = features.device
        rows = block_rows(weight.shape[0], device)
        count = features.shape[0]
        losses = torch.empty(count, device=device)
        log_normalisers = torch.empty(count, device=device)
        correct = torch.empty(count, dtype=torch.bool, device=device)
        sampled = None if uniform is None else torch.empty(count, dtype=torch.long, device=device)
        for start in range(0, count, rows):
            block = slice(start, start + rows)
            logits = linear(features[block], weight, bias).float()  # (rows, V)
            best, guess = logits.max(-1)
            normaliser = best + (logits - best[:, None]).exp_().sum(-1).log_()
            log_normalisers[block] = normaliser
            losses[block] = normaliser - logits.gather(1, targets[block, None]).squeeze(1)
            correct[block] = guess == targets[block]
            if sampled is not None:
                sampled[block] = _invert_cdf(logits, temperature, uniform[block])
        ctx.save_for_backward(features, weight, bias, targets, log_normalisers)
        ctx.rows, ctx.low = rows, _autocast_dtype(device)
        ctx.mark_non_differentiable(correct, *([] if sampled is None else [sampled]))
        return losses, correct, sampled

    @staticmethod
    def backward(ctx, grad_losses, _correct, _sampled):
        features, weight, bias, targets, log_normalisers = ctx.saved_tensors
        grad_features = torch.empty_like(features)
        grad_weight = torch.zeros_like(weight)
        grad_bias = torch.zeros_like(bias)
        # Under the forward's autocast, what each product would cast, cast once: the weight
        # (autocast caches no cast of its transpose) and each block's gradient (used twice).
        low = ctx.low
        projection = weight if low is None else weight.to(low)
        with nullcontext() if low is None else torch.autocast(features.device.type, low):
            for start in range(0, features.shape[0], ctx.rows):
                block = slice(start, start + ctx.rows)
                logits = linear(features[block], projection, bias).float()
                grad = logits.sub_(log_normalisers[block, None]).exp_()  # softmax
                grad[torch.arange(len(grad), device=grad.device), targets[block]] -= 1
                grad.mul_(grad_losses[block, None])  # d loss / d logits, (rows, V)
                grad_bias += grad.sum(0)
                if low is not None:
                    grad = grad.to(low)
                grad_features[block] = linear(grad, projection.t())  # the projection's precision
                grad_weight += grad.t() @ features[block]
        return grad_features, grad_weight, grad_bias, None, None, None
