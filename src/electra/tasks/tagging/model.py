"""The tagging head: `transformers`' `ElectraForTokenClassification`."""

from __future__ import annotations

from torch import Tensor

from electra.backbones.electra.network import Dropout, WithEncoder
from electra.config import ModelConfig
from electra.cpu_linear import Linear


class TokenClassifier(WithEncoder):
    """dropout -> linear on every token: sequence tagging (chunking, NER)."""

    hf_class = "ForTokenClassification"
    hf_head = {"classifier": "out"}

    def __init__(self, config: ModelConfig, num_labels: int) -> None:
        super().__init__(config)
        self.num_labels = num_labels
        self.dropout = Dropout(config.hidden_dropout)
        self.out = Linear(config.hidden_size, num_labels)
        self._init(shared_embeddings=False)

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
    ) -> Tensor:
        hidden = self.electra(input_ids, attention_mask, token_type_ids)
        return self.out(self.dropout(hidden))  # (B, L, num_labels)
