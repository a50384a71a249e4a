"""The models every backbone serves, by `config.backbone`: a full model is the backbone's encoder
(`electra`, whatever the backbone) plus a head. One encoder class serves generator and
discriminator; only the width in its config differs. A generator built with `embeddings=`
shares that module with the discriminator, as ELECTRA does, and its output projection is tied to
the shared word embeddings.

Parameter names are ours; each backbone maps them to and from its `transformers` layout, and each
model class names its `transformers` class (`hf_class`) and head (`hf_head`).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from electra.backbones.layers import init_weights
from electra.config import ModelConfig
from electra.cpu_linear import linear


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
