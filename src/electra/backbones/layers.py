"""The parts every backbone builds from: activations, the cheap CPU dropout, the feed-forward
block and the post-LayerNorm layer around an attention, the dense mask for packed rows, BERT's initialisation, and the masked-LM head over tied
word embeddings."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from electra.config import ModelConfig
from electra.cpu_linear import Linear


def activation(name: str):
    """The named nonlinearity; `gelu` is the exact (erf) form that ELECTRA and BERT use."""
    if name == "gelu":
        return F.gelu
    if name in ("gelu_new", "gelu_pytorch_tanh", "gelu_fast"):
        return lambda x: F.gelu(x, approximate="tanh")
    if name == "relu":
        return F.relu
    raise ValueError(f"unknown activation {name!r}")


_KEEP_BITS = 15  # random bits per element behind a CPU dropout mask


def keep_mask(shape: torch.Size, p: float, device: torch.device) -> Tensor:
    """A bool mask keeping each element with probability 1 - p (to 2**-15), 8x cheaper on CPU
    than PyTorch's dropout, which draws a double per element (`bernoulli_`, 15% of a small-preset
    training step). One 64-bit draw gives four 16-bit lanes; the top bit of a draw is always 0,
    so every lane uses its low 15 bits."""
    count = math.prod(shape)
    words = torch.empty((count + 3) // 4, dtype=torch.int64, device=device).random_()
    lanes = words.view(torch.int16)[:count].view(shape)
    return (lanes & (2**_KEEP_BITS - 1)) >= round(p * 2**_KEEP_BITS)


class Dropout(nn.Module):
    """`nn.Dropout` with cheap masks on CPU (see `keep_mask`); elsewhere PyTorch's fused kernel."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0:
            return x
        if x.device.type != "cpu" or torch.compiler.is_compiling():  # compiled: fused by Inductor
            return F.dropout(x, self.p, training=True)
        scale = keep_mask(x.shape, self.p, x.device).to(x.dtype).mul_(1 / (1 - self.p))
        return x * scale  # one multiply each way; the mask is saved at x's precision

    def extra_repr(self) -> str:
        return f"p={self.p}"


def dense_block_mask(document_ids: Tensor) -> Tensor:
    """(B, 1, L, L) bool: which query may see which key, made on the device from (B, L) ids."""
    return (document_ids[:, :, None] == document_ids[:, None, :]).unsqueeze(1)


class FeedForward(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.up = Linear(config.hidden_size, config.intermediate_size)
        self.down = Linear(config.intermediate_size, config.hidden_size)
        self.act = activation(config.hidden_act)

    def forward(self, x: Tensor) -> Tensor:
        return self.down(self.act(self.up(x)))


class Layer(nn.Module):
    """A post-LayerNorm transformer block (BERT's, ELECTRA's, DeBERTa's) around the backbone's
    `attention`, which takes the hidden states and whatever the encoder passes (`*context`:
    the mask, and DeBERTa's relative embeddings)."""

    def __init__(self, config: ModelConfig, attention: nn.Module) -> None:
        super().__init__()
        self.attention = attention
        self.attention_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.ffn = FeedForward(config)
        self.ffn_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = Dropout(config.hidden_dropout)

    def forward(self, x: Tensor, *context: Any) -> Tensor:
        x = self.attention_norm(x + self.dropout(self.attention(x, *context)))
        return self.ffn_norm(x + self.dropout(self.ffn(x)))


def init_weights(module: nn.Module, std: float) -> None:
    """BERT/ELECTRA initialisation: normal(0, std) weights, zero biases, unit LayerNorms."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, std=std)
            if m.padding_idx is not None:
                with torch.no_grad():
                    m.weight[m.padding_idx].zero_()
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class GeneratorHead(nn.Module):
    """dense -> GELU (ELECTRA's, whatever `hidden_act` says) -> LayerNorm: the features the
    generator projects onto the tied word embeddings (plus `bias`) to give vocabulary logits."""

    def __init__(self, config: ModelConfig, act=F.gelu) -> None:
        super().__init__()
        self.dense = Linear(config.hidden_size, config.embedding_size)
        self.norm = nn.LayerNorm(config.embedding_size, eps=config.layer_norm_eps)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))
        self.act = act

    def forward(self, hidden: Tensor) -> Tensor:
        return self.norm(self.act(self.dense(hidden)))  # (..., H) -> (..., E)
