"""Dropout in training: the CPU masks keep 1 - p of the units, unbiased, in every lane of a random
draw, and the explicit attention path used with them equals SDPA once masks are set aside."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from electra.backbones import layers as model_module
from electra.backbones.electra.network import SelfAttention
from electra.backbones.layers import Dropout, keep_mask
from electra.config import ModelConfig


@pytest.mark.parametrize("p", [0.1, 0.5])
def test_keep_mask_keeps_one_minus_p_in_every_lane(p):
    torch.manual_seed(0)
    mask = keep_mask(torch.Size([1000, 4003]), p, torch.device("cpu"))  # not a multiple of 4
    assert mask.shape == (1000, 4003) and mask.dtype == torch.bool
    flat = mask.flatten()[: 4 * (mask.numel() // 4)].view(-1, 4)  # the four lanes of a draw
    tolerance = 4 * (p * (1 - p) / flat.shape[0]) ** 0.5  # four standard errors
    for lane in range(4):
        assert flat[:, lane].float().mean().item() == pytest.approx(1 - p, abs=tolerance)
    # Neighbours are independent: a kept unit says nothing about the next one.
    pairs = flat[:, 0] & flat[:, 1]
    assert pairs.float().mean().item() == pytest.approx((1 - p) ** 2, abs=tolerance)


def test_keep_mask_follows_the_seed():
    torch.manual_seed(3)
    a = keep_mask(torch.Size([7, 9]), 0.1, torch.device("cpu"))
    torch.manual_seed(3)
    assert torch.equal(a, keep_mask(torch.Size([7, 9]), 0.1, torch.device("cpu")))


def test_dropout_is_unbiased_and_off_in_eval():
    torch.manual_seed(0)
    layer = Dropout(0.1)
    x = torch.randn(200, 1000, requires_grad=True)
    y = layer(x)
    kept = y != 0
    assert kept.float().mean().item() == pytest.approx(0.9, abs=0.005)
    torch.testing.assert_close(y[kept], x[kept] / 0.9)
    y.sum().backward()  # the gradient flows through kept units only, scaled alike
    torch.testing.assert_close(x.grad, kept.float() / 0.9)
    layer.eval()
    assert layer(x) is x
    assert Dropout(0.0)(x) is x


@pytest.mark.parametrize("mask_kind", ["none", "keys", "blocks"])
def test_attention_training_path_equals_sdpa_when_nothing_is_dropped(monkeypatch, mask_kind):
    torch.manual_seed(0)
    config = ModelConfig(hidden_size=32, num_heads=4, attention_dropout=0.25)
    attention = SelfAttention(config).train()
    x = torch.randn(3, 10, 32)
    mask = {
        "none": None,
        "keys": torch.arange(10)[None, None, None, :]
        < torch.tensor([10, 7, 4])[:, None, None, None],
        "blocks": (torch.arange(10)[:, None] // 5 == torch.arange(10)[None, :] // 5)[
            None, None
        ].expand(3, 1, 10, 10),
    }[mask_kind]
    monkeypatch.setattr(
        model_module, "keep_mask", lambda shape, p, device: torch.ones(shape, dtype=torch.bool)
    )
    ours = attention(x, mask)
    q, k, v = attention.qkv(x).view(3, 10, 3, 4, 8).permute(2, 0, 3, 1, 4).unbind(0)
    reference = F.scaled_dot_product_attention(q, k, v, attn_mask=mask) / 0.75  # all kept, rescaled
    expected = attention.out(reference.transpose(1, 2).reshape(3, 10, 32))
    torch.testing.assert_close(ours, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("field", ["hidden_dropout", "attention_dropout"])
def test_a_dropout_outside_zero_to_one_is_refused_in_one_line(field):
    from electra.errors import UserError

    with pytest.raises(UserError, match=f"model config: `{field}` 1.0 is not in \\[0, 1\\)"):
        ModelConfig(**{field: 1.0})
