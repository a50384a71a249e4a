"""The two classification heads: the official one (`LinearClassifier`, saved beside the encoder in
`head.safetensors`) and `transformers`' (`SequenceClassifier`, which loads as
`ElectraForSequenceClassification`)."""

from __future__ import annotations

from pathlib import Path

import torch.nn.functional as F
from tokenizers import Tokenizer
from torch import Tensor, nn

from electra.backbones.layers import Dropout
from electra.backbones.models import EncoderOnly, WithEncoder
from electra.config import ModelConfig
from electra.cpu_linear import Linear
from electra.errors import UserError
from electra.tasks.heads import HEAD_FILE, load_heads, save_heads, tf_dense


class LinearClassifier(nn.Module):
    """The official classification head: [CLS]'s final vector -> dropout -> dense(num_labels)
    (`classification_tasks.py`; no hidden layer, unlike `transformers`' head). `num_labels=1` is
    regression (STS-B)."""

    def __init__(self, base: EncoderOnly, num_labels: int) -> None:
        super().__init__()
        self.config = base.config
        self.num_labels = num_labels
        self.electra = base.electra
        self.dropout = Dropout(base.config.hidden_dropout)
        self.out = tf_dense(base.config.hidden_size, num_labels)
        self._base = (base,)  # a plain tuple: its modules are registered once, above

    def forward(
        self, input_ids: Tensor, attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
    ) -> Tensor:  # fmt: skip
        cls = self.electra(input_ids, attention_mask, token_type_ids)[:, 0]  # (B, H)
        return self.out(self.dropout(cls))  # (B, num_labels)

    def save(self, out_dir: Path, tokenizer: Tokenizer | None, config_extra: dict | None) -> None:
        save_heads(self._base[0], {"classifier": _Head(self)}, out_dir, tokenizer, config_extra)

    @classmethod
    def load(cls, model_dir: Path, base: EncoderOnly, num_labels: int) -> LinearClassifier:
        model = cls(base, num_labels)
        if "classifier" not in load_heads(model_dir, {"classifier": _Head(model)}):
            raise UserError(
                f"{model_dir}: no classifier head ({HEAD_FILE} is missing or lacks it); fine-tune "
                "it first with `electra finetune glue`"
            )
        return model


class _Head(nn.Module):
    """A classifier's own layers, as saved: `out` (dropout has no weights)."""

    def __init__(self, classifier: LinearClassifier) -> None:
        super().__init__()
        self.out = classifier.out


class SequenceClassifier(WithEncoder):
    """[CLS] -> dropout -> dense -> GELU -> dropout -> labels (Hugging Face's classification head).

    `num_labels=1` is regression (STS-B).
    """

    hf_class = "ForSequenceClassification"
    hf_head = {"classifier.dense": "dense", "classifier.out_proj": "out"}

    def __init__(self, config: ModelConfig, num_labels: int) -> None:
        super().__init__(config)
        self.num_labels = num_labels
        self.dense = Linear(config.hidden_size, config.hidden_size)
        self.dropout = Dropout(config.hidden_dropout)
        self.out = Linear(config.hidden_size, num_labels)
        self._init(shared_embeddings=False)

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
    ) -> Tensor:
        cls = self.electra(input_ids, attention_mask, token_type_ids)[:, 0]  # (B, H)
        x = self.dropout(F.gelu(self.dense(self.dropout(cls))))
        return self.out(x)  # (B, num_labels)
