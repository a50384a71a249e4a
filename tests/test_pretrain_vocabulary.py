"""The generator's vocabulary outputs: the CPU's block-by-block computation (which never holds
the whole logits) gives the plain one's losses, accuracy, samples and gradients."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from electra.pretraining import vocabulary
from electra.pretraining.vocabulary import vocabulary_output

VOCAB, WIDTH = 500, 16


def plain(features, weight, bias, targets, temperature):
    """The reference: the dense path, as on CUDA or under torch.compile."""
    logits = F.linear(features, weight, bias)
    losses = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), reduction="none")
    correct = logits.argmax(-1) == targets
    sampled = vocabulary.sample(logits.detach(), temperature) if temperature else None
    return losses.view_as(targets), correct, sampled


def leaves(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    features = torch.randn(6, 7, WIDTH, generator=g).requires_grad_()
    weight = (torch.randn(VOCAB, WIDTH, generator=g) * 0.5).requires_grad_()
    bias = (torch.randn(VOCAB, generator=g) * 0.1).requires_grad_()
    targets = torch.randint(VOCAB, (6, 7), generator=g)
    return features, weight, bias, targets


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("temperature", [1.0, 2.0, None])
def test_blockwise_equals_plain(monkeypatch, precision, temperature):
    # 8 rows a block: 6 blocks
    monkeypatch.setattr(vocabulary, "_BLOCK_ELEMENTS", {"cpu": 8 * VOCAB})
    dtype = torch.bfloat16 if precision == "bf16" else None
    results, grads = [], []
    for fn in (plain, None):
        features, weight, bias, targets = leaves()
        torch.manual_seed(1)  # the same uniform numbers for the samples
        with torch.autocast("cpu", dtype=dtype, enabled=dtype is not None):
            if fn is plain:
                out = plain(features, weight, bias, targets, temperature)
            else:
                o = vocabulary_output(features, weight, bias, targets, temperature)
                out = (o.losses, o.correct, o.sampled)
        weights = torch.linspace(0.1, 1.0, targets.numel()).view_as(targets)
        (out[0] * weights).sum().backward()  # uneven weights reach every row's gradient
        results.append(out)
        grads.append((features.grad, weight.grad, bias.grad))
    tolerance = dict(atol=2e-2, rtol=2e-2) if dtype else dict(atol=1e-5, rtol=1e-5)
    (loss_a, correct_a, sampled_a), (loss_b, correct_b, sampled_b) = results
    assert loss_b.dtype == torch.float32 and loss_b.shape == (6, 7)
    torch.testing.assert_close(loss_b, loss_a, **tolerance)
    assert (correct_a == correct_b).float().mean() >= (0.95 if dtype else 1.0)
    if temperature is None:
        assert sampled_b is None
    else:  # the same draws: equal but where rounding moves a CDF boundary past a draw
        assert (sampled_a == sampled_b).float().mean() >= (0.9 if dtype else 1.0)
    for a, b, name in zip(*grads, ("features", "weight", "bias"), strict=True):
        torch.testing.assert_close(b, a, **tolerance, msg=name)


def test_samples_and_accuracy_carry_no_gradient():
    features, weight, bias, targets = leaves()
    out = vocabulary_output(features, weight, bias, targets, 1.0)
    assert out.losses.requires_grad
    assert not out.sampled.requires_grad and not out.correct.requires_grad
    assert out.sampled.dtype == torch.long and ((out.sampled >= 0) & (out.sampled < VOCAB)).all()


class _LargestTensor(torch.utils._python_dispatch.TorchDispatchMode):
    """The bytes of the largest tensor any operation returns inside the block."""

    def __init__(self) -> None:
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(t, torch.Tensor):
                self.largest = max(self.largest, t.numel() * t.element_size())
        return out


@pytest.mark.parametrize("blockwise", [True, False])
def test_the_base_recipe_never_holds_whole_logits_on_a_gpu(monkeypatch, blockwise):
    """The base preset at its recipe shape (256 x 512: 77 predictions a row, 30,522 tokens),
    forward and backward, on shape-only (meta) tensors standing in for a GPU's: the
    largest tensor is one block's fp32 logits (256 MB), not the whole logits' 2.4 GB."""
    if not blockwise:
        monkeypatch.setattr(torch.compiler, "is_compiling", lambda: True)  # the plain path
    vocab, width, positions = 30522, 768, 256 * 77
    features = torch.empty(positions, width, device="meta", requires_grad=True)
    weight = torch.empty(vocab, width, device="meta", requires_grad=True)
    bias = torch.empty(vocab, device="meta", requires_grad=True)
    targets = torch.zeros(positions, dtype=torch.long, device="meta")
    with _LargestTensor() as seen:
        out = vocabulary_output(features, weight, bias, targets, 1.0)
        out.losses.sum().backward()
    whole = positions * vocab * 4
    if blockwise:
        assert seen.largest <= vocabulary.block_rows(vocab, features.device) * vocab * 4
        assert seen.largest < whole / 8
    else:
        assert seen.largest >= whole
