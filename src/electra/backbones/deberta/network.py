"""The DeBERTa-V3 encoder (He et al. 2021/2023) in data-flow order, as its configs set it:
disentangled attention with content-to-position and position-to-content terms, one key and query
projection shared by contents and relative positions, distances in log-spaced buckets, relative
embeddings under a LayerNorm, and no absolute positions. Then the two pre-training heads: the
official replaced-token head (`LMMaskPredictionHead`, which adds each sequence's first state to
every token's) and the masked-LM head, tied to the word embeddings.

The feed-forward block, dropout and layer layout are ELECTRA's (post-LayerNorm), and the module
names match ELECTRA's (`electra.backbones.electra.network`), so the objectives, GDES and the task families
reach both encoders the same way: `embeddings.word`, `encoder.layers`, `projection`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from electra.backbones.layers import (
    Dropout,
    GeneratorHead,
    Layer,
    activation,
    dense_block_mask,
)
from electra.config import ModelConfig
from electra.cpu_linear import Linear


def bucket_positions(distance: Tensor, buckets: int, max_distance: int) -> Tensor:
    """Signed distances (query - key) into DeBERTa's log buckets: exact within `buckets // 2`,
    then logarithmically spaced up to `max_distance`, sign kept."""
    mid = buckets // 2
    magnitude = distance.abs()
    near = magnitude < mid
    safe = torch.where(near, torch.full_like(magnitude, mid - 1), magnitude).double()
    far = torch.ceil(torch.log(safe / mid) / math.log((max_distance - 1) / mid) * (mid - 1)) + mid
    return torch.where(magnitude <= mid, distance.double(), far * distance.sign()).long()


def relative_index(length: int, config: ModelConfig, device: torch.device) -> Tensor:
    """(L, L): for query i and key j, the row of the relative embeddings their distance reads,
    bucket(i - j) shifted to start at 0 and clamped to the table."""
    span = config.position_buckets
    positions = torch.arange(length, device=device)
    distance = positions[:, None] - positions[None, :]
    limit = config.max_relative_positions
    bucketed = bucket_positions(
        distance, span, limit if limit > 0 else config.max_position_embeddings
    )
    return (bucketed + span).clamp(0, 2 * span - 1)


class Embeddings(nn.Module):
    """Word (+ segment, when the config has segments) embeddings and LayerNorm at the hidden
    width; no absolute positions: DeBERTa-V3 sees order only through its relative attention."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.word = nn.Embedding(config.vocab_size, config.hidden_size, config.pad_token_id)
        self.token_type = (
            nn.Embedding(config.type_vocab_size, config.hidden_size)
            if config.type_vocab_size
            else None
        )
        self.norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = Dropout(config.hidden_dropout)

    def forward(
        self,
        input_ids: Tensor,
        token_type_ids: Tensor | None = None,
        position_ids: Tensor | None = None,
    ) -> Tensor:
        """`position_ids` are accepted and unused: relative attention needs none."""
        x = self.word(input_ids)
        if self.token_type is not None:
            x = x + (
                self.token_type.weight[0]
                if token_type_ids is None
                else self.token_type(token_type_ids)
            )
        return self.dropout(self.norm(x))


class DisentangledAttention(nn.Module):
    """Attention scores = content-to-content + content-to-position + position-to-content, each
    scaled by 1/sqrt(3 d): q_i.k_j + q_i.K_r(i,j) + k_j.Q_r(i,j), where r(i, j) is the bucketed
    distance i - j and K, Q are the relative embeddings through the same key and query
    projections as the contents (`share_att_key`)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.num_heads = config.num_heads
        self.qkv = Linear(config.hidden_size, 3 * config.hidden_size)  # one GEMM for q, k, v
        self.out = Linear(config.hidden_size, config.hidden_size)
        self.dropout = Dropout(config.attention_dropout)
        self.position_dropout = Dropout(config.hidden_dropout)

    def _split(self, x: Tensor, parts: int) -> Tensor:
        """(..., n, parts * H) -> (parts, ..., heads, n, d)."""
        x = x.unflatten(-1, (parts, self.num_heads, -1))  # (..., n, parts, heads, d)
        return x.movedim(-3, 0).transpose(-3, -2)

    def forward(
        self, x: Tensor, attn_mask: Tensor | None, relative: Tensor, index: Tensor
    ) -> Tensor:  # fmt: skip
        """`relative` (2S, H): the normalised relative embeddings; `index` (L, L) from
        `relative_index`; `attn_mask` (B, 1, 1 or L, L) bool, True where a key may be seen."""
        batch, length, hidden = x.shape
        q, k, v = self._split(self.qkv(x), 3)  # 3 x (B, heads, L, d)
        shared = F.linear(  # the relative embeddings through the query and key maps
            self.position_dropout(relative),
            self.qkv.weight[: 2 * hidden],
            self.qkv.bias[: 2 * hidden],
        )
        position_q, position_k = self._split(shared, 2)  # 2 x (heads, 2S, d)
        at = index.expand(batch, self.num_heads, length, length)
        c2p = (q @ position_k.transpose(-1, -2)).gather(-1, at)  # q_i . K_r(i,j)
        p2c = (k @ position_q.transpose(-1, -2)).gather(-1, at.transpose(-1, -2))  # k_j . Q_r(i,j)
        scale = 1 / math.sqrt(3 * q.shape[-1])
        bias = (c2p + p2c.transpose(-1, -2)) * scale  # (B, heads, L, L): the position terms
        if attn_mask is not None:
            bias = bias.masked_fill(~attn_mask, torch.finfo(bias.dtype).min)
        if self.training and self.dropout.p and x.device.type == "cpu":
            # SDPA has no fused CPU kernel with dropout: the same steps, with our cheap masks.
            y = self.dropout((q @ k.transpose(-1, -2) * scale + bias).softmax(-1)) @ v
        else:  # fused, the position terms as an additive bias (with their gradient)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, scale=scale,
                                               dropout_p=self.dropout.p if self.training else 0.0)  # fmt: skip
        return self.out(y.transpose(1, 2).reshape(batch, length, hidden))


class Encoder(nn.Module):
    """The layers and the relative embeddings they share (2 x position_buckets rows, under a
    LayerNorm). Packed rows attend within their example by a dense block mask; relative
    distances need no positions restarted."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.layers = nn.ModuleList(
            Layer(config, DisentangledAttention(config)) for _ in range(config.num_layers)
        )
        self.relative = nn.Embedding(2 * config.position_buckets, config.hidden_size)
        self.relative_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(
        self, x: Tensor, attention_mask: Tensor | None, document_ids: Tensor | None = None
    ) -> Tensor:
        attn_mask = None
        if document_ids is not None:
            attn_mask = dense_block_mask(document_ids)
        elif attention_mask is not None:
            attn_mask = attention_mask.bool()[:, None, None, :]  # (B, L) -> (B, 1, 1, L) keys
        relative = self.relative_norm(self.relative.weight)
        index = relative_index(x.shape[1], self.config, x.device)
        for layer in self.layers:
            x = layer(x, attn_mask, relative, index)
        return x


class DebertaModel(nn.Module):
    """Embeddings and the encoder, called as `ElectraModel` is. A given `attention_mask` also
    zeroes the padding's embeddings, as DeBERTa does."""

    projection = None  # DeBERTa-V3 embeds at the hidden width

    def __init__(self, config: ModelConfig, embeddings: nn.Module | None = None) -> None:
        super().__init__()
        self.embeddings = embeddings if embeddings is not None else Embeddings(config)
        self.encoder = Encoder(config)

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        position_ids: Tensor | None = None,
        document_ids: Tensor | None = None,
    ) -> Tensor:
        x = self.embeddings(input_ids, token_type_ids, position_ids)  # (B, L, H)
        if attention_mask is not None:
            x = x * attention_mask[..., None].to(x.dtype)
        return self.encoder(x, attention_mask, document_ids)


def first_states(hidden: Tensor, document_ids: Tensor | None) -> Tensor:
    """(B, L, H): each token's sequence's first state, its [CLS]: the row's, or in a packed row
    its own example's."""
    if document_ids is None:
        return hidden[:, :1].expand_as(hidden)
    index = torch.arange(hidden.shape[1], device=hidden.device).expand_as(document_ids)
    starts = torch.ones_like(document_ids, dtype=torch.bool)
    starts[:, 1:] = document_ids[:, 1:] != document_ids[:, :-1]
    first = torch.where(starts, index, 0).cummax(dim=1).values
    return hidden.gather(1, first[..., None].expand_as(hidden))


class DiscriminatorHead(nn.Module):
    """The official replaced-token head: LayerNorm(first state + state) -> dense -> activation
    -> one logit per token."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dense = Linear(config.hidden_size, config.hidden_size)
        self.out = Linear(config.hidden_size, 1)
        self.act = activation(config.hidden_act)

    def forward(self, hidden: Tensor, document_ids: Tensor | None = None) -> Tensor:
        x = self.norm(first_states(hidden, document_ids) + hidden)
        return self.out(self.act(self.dense(x))).squeeze(-1)  # (B, L)


def generator_head(config: ModelConfig) -> GeneratorHead:
    """DeBERTa's masked-LM head: ELECTRA's layout (dense, activation, LayerNorm, a bias over the
    tied word embeddings) with the configured activation."""
    return GeneratorHead(config, activation(config.hidden_act))
