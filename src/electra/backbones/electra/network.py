"""The ELECTRA network in data-flow order.

Embeddings -> SelfAttention (SDPA) -> FeedForward -> Layer -> Encoder -> ElectraModel, then the
heads of pre-training that read its hidden states: DiscriminatorHead, GeneratorHead (the task
families' heads live in their packages, on `WithEncoder`). One
`ElectraModel` serves generator and discriminator; only the width in its config differs. A
generator built with `embeddings=` shares that module (word, position, token-type embeddings and
their LayerNorm) with the discriminator, as the paper does, and its output projection is tied to
the shared word embeddings.

Parameter names are ours; `electra.backbones.electra.weights` maps them to and from the Hugging
Face layout, and each model class names its `transformers` class (`hf_class`) and head (`hf_head`).
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.attention.flex_attention import BlockMask, create_block_mask, flex_attention

from electra.config import ModelConfig
from electra.cpu_linear import Linear, linear


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


def dense_block_mask(document_ids: Tensor) -> Tensor:
    """(B, 1, L, L) bool: which query may see which key, made on the device from (B, L) ids."""
    return (document_ids[:, :, None] == document_ids[:, None, :]).unsqueeze(1)


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


class FeedForward(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.up = Linear(config.hidden_size, config.intermediate_size)
        self.down = Linear(config.intermediate_size, config.hidden_size)
        self.act = activation(config.hidden_act)

    def forward(self, x: Tensor) -> Tensor:
        return self.down(self.act(self.up(x)))


class Layer(nn.Module):
    """A post-LayerNorm transformer block, as in BERT and ELECTRA."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.attention = SelfAttention(config)
        self.attention_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.ffn = FeedForward(config)
        self.ffn_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = Dropout(config.hidden_dropout)

    def forward(self, x: Tensor, attn_mask: Tensor | BlockMask | None) -> Tensor:
        x = self.attention_norm(x + self.dropout(self.attention(x, attn_mask)))
        return self.ffn_norm(x + self.dropout(self.ffn(x)))


class Encoder(nn.Module):
    """The layers. `packed_attention` says how rows that pack several examples attend: `sdpa`
    takes a dense block mask made on the device from the document ids (on CUDA SDPA's
    memory-efficient kernel, fused, with dropout), `flex` FlexAttention with a block mask that
    skips the blocks between examples, and `auto` FlexAttention on CUDA where no attention
    dropout is due (FlexAttention has none: evaluation, inference, or `attention_dropout` 0, the
    fastest GPU setting), SDPA elsewhere. FlexAttention has no backward on CPU."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.layers = nn.ModuleList(Layer(config) for _ in range(config.num_layers))
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


class WithEncoder(nn.Module):
    """Base of every full model: the backbone's encoder (`ElectraModel` here, or another
    backbone's, by `config.backbone`) as `electra`, plus a head. A subclass names its
    `transformers` class after the backbone's prefix (`hf_class`: "ForPreTraining" is
    `ElectraForPreTraining`) and maps its head's Hugging Face module prefixes to ours (`hf_head`;
    None drops a key on purpose, `{}` is a layer index); other backbones rename both
    (`Backbone.classes`)."""

    hf_class: str = ""
    hf_head: dict[str, str | None] = {}

    def __init__(self, config: ModelConfig, embeddings: nn.Module | None = None) -> None:
        super().__init__()
        self.config = config
        self.electra = self.backbone.encoder(config, embeddings)

    @property
    def backbone(self):  # -> electra.backbones.spec.Backbone
        from electra.backbones import of  # the registry imports this module

        return of(self.config)

    def _init(self, shared_embeddings: bool) -> None:
        for name, child in self.named_children():
            if name == "electra" and shared_embeddings:
                # The shared embeddings belong to (and were initialised by) their owner.
                for part, module in child.named_children():
                    if part != "embeddings":
                        init_weights(module, self.config.initializer_range)
            else:
                init_weights(child, self.config.initializer_range)


class EncoderOnly(WithEncoder):
    """The encoder without a head (Hugging Face's `ElectraModel`): what a model whose head has no
    Hugging Face class (SQuAD's joint head) saves in the Hugging Face layout, its head beside it."""

    hf_class = "Model"

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        self._init(shared_embeddings=False)

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
    ) -> Tensor:
        return self.electra(input_ids, attention_mask, token_type_ids)  # (B, L, H)


class DiscriminatorHead(nn.Module):
    """dense -> activation -> dense: one replaced/original logit per token."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.dense = Linear(config.hidden_size, config.hidden_size)
        self.out = Linear(config.hidden_size, 1)
        self.act = activation(config.hidden_act)

    def forward(self, hidden: Tensor, document_ids: Tensor | None = None) -> Tensor:
        return self.out(self.act(self.dense(hidden))).squeeze(-1)  # (..., H) -> (...)


class Discriminator(WithEncoder):
    """The model users keep: P(token was replaced) for every position (as a logit)."""

    hf_class = "ForPreTraining"
    hf_head = {
        "discriminator_predictions.dense": "head.dense",
        "discriminator_predictions.dense_prediction": "head.out",
    }

    def __init__(self, config: ModelConfig, embeddings: nn.Module | None = None) -> None:
        super().__init__(config, embeddings)
        self.head = self.backbone.discriminator_head(config)
        self._init(shared_embeddings=embeddings is not None)

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        position_ids: Tensor | None = None,
        document_ids: Tensor | None = None,
    ) -> Tensor:
        hidden = self.electra(input_ids, attention_mask, token_type_ids, position_ids, document_ids)
        return self.head(hidden, document_ids)  # (B, L)


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


class Generator(WithEncoder):
    """The small masked-LM that proposes replacements during pre-training."""

    hf_class = "ForMaskedLM"
    hf_head = {
        "generator_predictions.dense": "head.dense",
        "generator_predictions.LayerNorm": "head.norm",
        "generator_lm_head.bias": "head.bias",
        "generator_lm_head.weight": None,  # tied to the word embeddings
    }

    def __init__(self, config: ModelConfig, embeddings: nn.Module | None = None) -> None:
        super().__init__(config, embeddings)
        self.head = self.backbone.generator_head(config)
        self._init(shared_embeddings=embeddings is not None)

    @property
    def output_embeddings(self) -> Tensor:
        """(V, E): the projection onto the vocabulary, tied to the word embeddings."""
        return self.electra.embeddings.word.weight

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        positions: Tensor | None = None,
        position_ids: Tensor | None = None,
        document_ids: Tensor | None = None,
    ) -> Tensor:
        """Vocabulary logits; with `positions`, only there: the projection onto the vocabulary is
        the generator's most expensive step and pre-training needs it at masked positions only.

        `positions` is a (B, L) bool mask -> (N, V) logits in row-major order, or (B, P) indices
        -> (B, P, V); without it -> (B, L, V).
        """
        features = self.features(input_ids, attention_mask, token_type_ids, positions,
                                 position_ids, document_ids)  # fmt: skip
        return linear(features, self.output_embeddings, self.head.bias)

    def features(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        positions: Tensor | None = None,
        position_ids: Tensor | None = None,
        document_ids: Tensor | None = None,
    ) -> Tensor:
        """The head's features (..., E) where `forward` gives logits: what pre-training projects
        onto the vocabulary itself (`electra.pretraining.vocabulary`)."""
        hidden = self.electra(  # (B, L, H)
            input_ids, attention_mask, token_type_ids, position_ids, document_ids
        )
        if positions is not None:
            if positions.dtype == torch.bool:
                hidden = hidden[positions]  # (N, H)
            else:
                index = positions.unsqueeze(-1).expand(-1, -1, hidden.shape[-1])
                hidden = hidden.gather(1, index)  # (B, P, H)
        return self.head(hidden)
