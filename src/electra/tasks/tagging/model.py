"""The tagging head of the official code (`finetune/tagging/tagging_tasks.py`): one
`tf.layers.dense` on every token's final vector, without dropout, Glorot-uniform weights and zero
biases. Its weights have the layout of `transformers`' `ElectraForTokenClassification`, which
loads the saved model as it is (its dropout only acts in training).

The official tagger feeds segment id 1 on every token (`segment_ids = [1] * len(input_ids)`), and
so do we. `save_tagger` writes the trained segment-1 embedding into row 0 as well, which tagging
never reads: `transformers` users, whose tokenizer gives segment 0, get the same outputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer
from torch import Tensor

from electra import hf
from electra.backbones.models import WithEncoder
from electra.config import ModelConfig
from electra.tasks.heads import tf_dense

SEGMENT = 1  # the official tagger's segment id, on every token


class TokenClassifier(WithEncoder):
    """linear on every token: sequence tagging (chunking, NER, parts of speech)."""

    hf_class = "ForTokenClassification"
    hf_head = {"classifier": "out"}

    def __init__(self, config: ModelConfig, num_labels: int) -> None:
        super().__init__(config)
        self.num_labels = num_labels
        self._init(shared_embeddings=False)
        self.out = tf_dense(config.hidden_size, num_labels)  # after `_init`: its own init

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
    ) -> Tensor:
        hidden = self.electra(input_ids, attention_mask, token_type_ids)
        return self.out(hidden)  # (B, L, num_labels)


def save_tagger(
    model: TokenClassifier, out_dir: Path, tokenizer: Tokenizer | None, config_extra: dict[str, Any]
) -> None:
    """`hf.save`, with the segment embedding the tagger trained (row `SEGMENT`) in row 0 too
    (a backbone without segments, DeBERTa-V3, saves as it is)."""
    table = model.electra.embeddings.token_type
    if table is None:
        hf.save(model, out_dir, tokenizer=tokenizer, config_extra=config_extra)
        return
    rows = table.weight
    with torch.no_grad():
        unused = rows[0].clone()
        rows[0] = rows[SEGMENT]
        try:
            hf.save(model, out_dir, tokenizer=tokenizer, config_extra=config_extra)
        finally:
            rows[0] = unused
