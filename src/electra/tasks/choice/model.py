"""The multiple-choice head, `transformers`' `ElectraForMultipleChoice`: each choice's [CLS]
vector -> dense -> GELU -> dropout -> one score; the question's scores are its N logits."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from electra.backbones.layers import Dropout
from electra.backbones.models import WithEncoder
from electra.config import ModelConfig
from electra.cpu_linear import Linear


class MultipleChoice(WithEncoder):
    """Scores N choices per row. A row holds the N choice sequences end to end (N x S tokens, see
    `features`); padding is where the ids are the pad id, whatever mask the caller gives.
    `num_choices` may be left None until the first questions say it (a `transformers` model)."""

    hf_class = "ForMultipleChoice"
    hf_head = {"sequence_summary.summary": "summary", "classifier": "out"}

    def __init__(self, config: ModelConfig, num_choices: int | None, pad_id: int) -> None:
        super().__init__(config)
        self.num_choices, self.pad_id = num_choices, pad_id
        self.summary = Linear(config.hidden_size, config.hidden_size)
        self.dropout = Dropout(config.hidden_dropout)
        self.out = Linear(config.hidden_size, 1)
        self._init(shared_embeddings=False)

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
    ) -> Tensor:
        rows = input_ids.shape[0] * self.num_choices
        ids = input_ids.reshape(rows, -1)  # (B, N*S) -> (B*N, S)
        types = None if token_type_ids is None else token_type_ids.reshape(rows, -1)
        mask = ids != self.pad_id
        cls = self.electra(ids, mask, types)[:, 0]  # (B*N, H)
        scores = self.out(self.dropout(F.gelu(self.summary(cls))))  # (B*N, 1)
        return scores.view(-1, self.num_choices)  # (B, N)
