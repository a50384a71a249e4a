"""The ELECTRA encoder in data-flow order (BERT's layout with a separate embedding width).

Embeddings -> SelfAttention (SDPA) -> FeedForward -> Layer -> Encoder -> ElectraModel, then the
discriminator's head; the models around them are `electra.backbones.models`. The embeddings
(word, position, token-type and their LayerNorm) are one module that a generator can share.
Parameter names are ours; `electra.backbones.electra.weights` maps them to and from the Hugging
Face layout.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.attention.flex_attention import BlockMask, create_block_mask, flex_attention

from electra.backbones.layers import Dropout, Layer, activation, dense_block_mask
from electra.config import ModelConfig
from electra.cpu_linear import Linear


class Embeddings(nn.Module):
    """Word + position + token-type embeddings, LayerNorm, dropout: the module the pair shares."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.word = nn.Embedding(
            config.vocab_size, config.embedding_size, padding_idx=config.pad_token_id
        )
        self.position = nn.Embedding(config.max_position_embeddings, config.embedding_size)
        self.token_type = nn.Embedding(config.type_vocab_size, config.embedding_size)
        self.norm = nn.LayerNorm(config.embedding_size, eps=config.layer_norm_eps)
        self.dropout = Dropout(config.hidden_dropout)

    def forward(
        self,
        input_ids: Tensor,
        token_type_ids: Tensor | None = None,
        position_ids: Tensor | None = None,
    ) -> Tensor:
        """`position_ids` (B, L): positions restarting inside a row that packs several examples;
        without them, 0..L-1."""
        if position_ids is None:
            x = self.word(input_ids) + self.position.weight[: input_ids.shape[1]]  # + (L, E)
        else:
            x = self.word(input_ids) + self.position(position_ids)  # (B, L, E)
        if token_type_ids is None:
            x = x + self.token_type.weight[0]
        else:
            x = x + self.token_type(token_type_ids)
        return self.dropout(self.norm(x))


def block_mask(document_ids: Tensor) -> BlockMask:
    """FlexAttention's block mask for packed rows: a token sees the tokens of its own example
    (`document_ids` (B, L), -1 on padding), and blocks that hold no such pair are skipped. Built
    on the device; on CUDA outside a compiled graph, by a compiled kernel that never makes the
    (B, L, L) mask (compiled once per shape and cached by `torch.compile`)."""

    def keep(b: Tensor, h: Tensor, q: Tensor, k: Tensor) -> Tensor:
        return document_ids[b, q] == document_ids[b, k]

    rows, length = document_ids.shape
    fused = document_ids.device.type == "cuda" and not torch.compiler.is_compiling()
    return create_block_mask(keep, rows, None, length, length, device=document_ids.device,
                             _compile=fused)  # fmt: skip


@functools.cache
def _compiled_flex_attention():
    """FlexAttention compiled into one fused kernel (uncompiled, it is a slow reference)."""
    return torch.compile(flex_attention)


def _flex(q: Tensor, k: Tensor, v: Tensor, mask: BlockMask) -> Tensor:
    if torch.compiler.is_compiling():  # inside a compiled network: fused with it
        return flex_attention(q, k, v, block_mask=mask)
    return _compiled_flex_attention()(q, k, v, block_mask=mask)


class SelfAttention(nn.Module):
    """Multi-head self-attention through fused kernels: `scaled_dot_product_attention`, or
    FlexAttention when the mask comes as a `BlockMask` (see `Encoder`)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.num_heads = config.num_heads
        self.qkv = Linear(config.hidden_size, 3 * config.hidden_size)  # one GEMM for q, k, v
        self.out = Linear(config.hidden_size, config.hidden_size)
        self.dropout = Dropout(config.attention_dropout)

    def forward(self, x: Tensor, attn_mask: Tensor | BlockMask | None) -> Tensor:
        batch, length, hidden = x.shape
        qkv = self.qkv(x).view(batch, length, 3, self.num_heads, hidden // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # 3 x (B, heads, L, d)
        if isinstance(attn_mask, BlockMask):  # no dropout: the Encoder chose it where none is due
            y = _flex(q, k, v, attn_mask)
        elif self.training and self.dropout.p and x.device.type == "cpu":
            # SDPA has no fused CPU kernel with dropout: it would run these same steps with
            # PyTorch's costly masks.
            scores = (q * q.shape[-1] ** -0.5) @ k.transpose(-1, -2)  # (B, heads, L, L)
            if attn_mask is not None:
                scores = scores.masked_fill(~attn_mask, float("-inf"))
            y = self.dropout(scores.softmax(-1)) @ v
        else:
            y = F.scaled_dot_product_attention(
                q, k, v, attn_mask=attn_mask, dropout_p=self.dropout.p if self.training else 0.0
            )
        return self.out(y.transpose(1, 2).reshape(batch, length, hidden))  # (B, L, H)


class Encoder(nn.Module):
    """The layers. `packed_attention` says how rows that pack several examples attend: `sdpa`
    takes a dense block mask made on the device from the document ids (on CUDA SDPA's
    memory-efficient kernel, fused, with dropout), `flex` FlexAttention with a block mask that
    skips the blocks between examples, and `auto` FlexAttention on CUDA where no attention
    dropout is due (FlexAttention has none: evaluation, inference, or `attention_dropout` 0, the
    fastest GPU setting), SDPA elsewhere. FlexAttention has no backward on CPU."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            Layer(config, SelfAttention(config)) for _ in range(config.num_layers)
        )
        self.packed_attention = "auto"

    def _flex_for_packed(self, device: torch.device) -> bool:
        if self.packed_attention == "auto":
            dropout_due = self.training and any(layer.attention.dropout.p for layer in self.layers)
            return device.type == "cuda" and not dropout_due
        return self.packed_attention == "flex"

    def forward(
        self, x: Tensor, attention_mask: Tensor | None, document_ids: Tensor | None = None
    ) -> Tensor:
        """`attention_mask` (B, L) marks the keys to attend to (padding); `document_ids` (B, L)
        says which example each token of a packed row belongs to. A given mask is always
        applied: the caller, who knows whether it padded, passes None for unpadded batches, which
        lets attention run its fused mask-free kernels. Nothing here branches on tensor values,
        so the network exports and compiles as one graph."""
        attn_mask: Tensor | BlockMask | None = None
        if document_ids is not None:  # built once, used by every layer
            flex = self._flex_for_packed(x.device)
            attn_mask = block_mask(document_ids) if flex else dense_block_mask(document_ids)
        elif attention_mask is not None:
            attn_mask = attention_mask.bool()[:, None, None, :]  # (B, L) -> (B, 1, 1, L) keys
        for layer in self.layers:
            x = layer(x, attn_mask)
        return x


class ElectraModel(nn.Module):
    """Embeddings (+ projection to the hidden width when it differs) and the encoder."""

    def __init__(self, config: ModelConfig, embeddings: Embeddings | None = None) -> None:
        super().__init__()
        self.config = config
        self.embeddings = embeddings if embeddings is not None else Embeddings(config)
        self.projection = (
            Linear(config.embedding_size, config.hidden_size)
            if config.embedding_size != config.hidden_size
            else None
        )
        self.encoder = Encoder(config)

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        position_ids: Tensor | None = None,
        document_ids: Tensor | None = None,
    ) -> Tensor:
        """Packed rows (`electra.pretraining.packing`) come with `position_ids` and
        `document_ids` and no `attention_mask`."""
        x = self.embeddings(input_ids, token_type_ids, position_ids)  # (B, L, E)
        if self.projection is not None:
            x = self.projection(x)  # (B, L, E) -> (B, L, H)
        return self.encoder(x, attention_mask, document_ids)  # (B, L, H)


class DiscriminatorHead(nn.Module):
    """dense -> activation -> dense: one replaced/original logit per token."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.dense = Linear(config.hidden_size, config.hidden_size)
        self.out = Linear(config.hidden_size, 1)
        self.act = activation(config.hidden_act)

    def forward(self, hidden: Tensor, document_ids: Tensor | None = None) -> Tensor:
        return self.out(self.act(self.dense(hidden))).squeeze(-1)  # (..., H) -> (...)
