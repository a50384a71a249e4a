"""The SQuAD models (ELECTRA's joint head, or Hugging Face's independent one) and their loss.

Two span heads over the same encoder (`SquadConfig.head`):

- `joint` (the default, the official `qa_tasks.py` with `joint_prediction`): start logits from a
  linear layer; end logits conditioned on a start, from [start token's vector; each token's vector]
  -> dense(512) -> GELU -> dense(1). Training feeds the gold start (teacher forcing); prediction
  keeps a beam of the `beam_size` most likely starts and, for each, the `beam_size` most likely
  ends, and a span scores the sum of its two log-probabilities. This is the head the published
  SQuAD scores were made with. It has no Hugging Face class, so the encoder is saved as
  `ElectraModel` (which `transformers` loads) and the head beside it in `head.safetensors`.
- `independent` (Hugging Face's `ElectraForQuestionAnswering`: one `qa_outputs` layer giving
  start and end logits): the choice for deploying with `transformers` pipelines.

Either head comes with ELECTRA's answerability classifier: [CLS]'s final vector and the
start-probability-weighted average of all final vectors -> dense(512) -> GELU -> dense(1), a logit
that the question has *no* answer, trained with binary cross-entropy at weight 0.5 beside the mean
of the start and end losses. The official code trains it for every QA task (its
`answerable_classifier` is on by default), SQuAD 1.1 included, where every label is 0 ("has an
answer"); only 2.0's decoding reads it. As in the official code its label is the question's: a window of an
answerable question that misses the answer trains its span at [CLS] but is labelled answerable.
Decoding takes the smallest logit over a question's windows as the null odds. Its weights go in
`head.safetensors` too; `transformers` loads an independent-head directory as is.

Logits outside the context (except [CLS]) are masked before the softmax, as in the official code,
and the heads' layers start as `tf.layers.dense` does (`heads.tf_dense`).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from tokenizers import Tokenizer
from torch import Tensor, nn

from electra.backbones.layers import activation
from electra.backbones.models import EncoderOnly, WithEncoder
from electra.config import ModelConfig
from electra.cpu_linear import Linear
from electra.errors import UserError
from electra.tasks.heads import HEAD_FILE, load_heads, save_heads, tf_dense
from electra.tasks.squad.options import SquadConfig

HEAD_WIDTH = 512  # the official hidden width of the end and answerability layers, any model size
_OUTSIDE = -10000.0  # added to logits outside the context: effectively zero probability


class AnswerabilityHead(nn.Module):
    """ELECTRA's SQuAD 2.0 classifier: a logit that the question has no answer."""

    def __init__(self, hidden_size: int, hidden_act: str = "gelu") -> None:
        super().__init__()
        self.dense = tf_dense(2 * hidden_size, HEAD_WIDTH)
        self.act = activation(hidden_act)
        self.out = tf_dense(HEAD_WIDTH, 1)

    def forward(self, hidden: Tensor, start_logits: Tensor) -> Tensor:
        start_probs = start_logits.softmax(-1)  # (B, L)
        start_feature = torch.einsum("bl,blh->bh", start_probs, hidden)  # (B, H)
        features = torch.cat([hidden[:, 0], start_feature], -1)  # (B, 2H)
        return self.out(self.act(self.dense(features))).squeeze(-1)  # (B,)


class JointSpanHead(nn.Module):
    """The official joint start/end head (see the module docstring)."""

    def __init__(self, hidden_size: int, hidden_act: str = "gelu") -> None:
        super().__init__()
        self.start = tf_dense(hidden_size, 1)
        self.end_hidden = tf_dense(2 * hidden_size, HEAD_WIDTH)
        self.act = activation(hidden_act)
        self.end = tf_dense(HEAD_WIDTH, 1)

    def end_logits(self, hidden: Tensor, start_states: Tensor) -> Tensor:
        """End logits (B, K, L) given K start vectors (B, K, H) per example: the dense layer over
        [start; token] is split into its two halves, so the (B, K, L, 2H) concatenation is
        never built."""
        width = hidden.shape[-1]
        from_start = F.linear(start_states, self.end_hidden.weight[:, :width])  # (B, K, 512)
        from_token = F.linear(hidden, self.end_hidden.weight[:, width:], self.end_hidden.bias)
        joint = self.act(from_start[:, :, None, :] + from_token[:, None, :, :])  # (B, K, L, 512)
        return self.end(joint).squeeze(-1)


class SquadModel(nn.Module):
    """An encoder with a span head and the answerability head (absent from models saved before
    SQuAD 1.1 trained it).

    Independent head: returns (start_logits, end_logits, null_logits). Joint head: the same while
    training (`start_positions` given: teacher forcing), and the beam (start log-probabilities,
    start positions, end log-probabilities, end positions, null logits) when predicting. Null
    logits are zeros without the answerability head."""

    def __init__(
        self,
        base: QuestionAnswerer | EncoderOnly,
        joint: JointSpanHead | None,
        answerability: AnswerabilityHead | None,
        beam_size: int = 20,
    ) -> None:
        super().__init__()
        self.config = base.config
        self.electra = base.electra
        self.out = base.out if isinstance(base, QuestionAnswerer) else None
        self.joint = joint
        self.answerability = answerability
        self.beam_size = beam_size
        self._hf_model = (base,)  # a plain tuple: its modules are registered once, above

    @property
    def hf_model(self) -> QuestionAnswerer | EncoderOnly:
        """The Hugging Face part, sharing this model's weights, for `hf.save`."""
        return self._hf_model[0]

    def extra_heads(self) -> dict[str, nn.Module]:
        """The parts saved in `HEAD_FILE`, by name."""
        parts = {"joint": self.joint, "answerability": self.answerability}
        return {name: module for name, module in parts.items() if module is not None}

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None,
        token_type_ids: Tensor | None,
        start_positions: Tensor | None = None,
    ) -> tuple[Tensor, ...]:
        hidden = self.electra(input_ids, attention_mask, token_type_ids)  # (B, L, H)
        context = None
        if token_type_ids is not None:
            # The answer lies in the context (segment 1, its final [SEP] included) or at [CLS].
            context = token_type_ids.bool()
            if attention_mask is not None:
                context &= attention_mask.bool()
            context[:, 0] = True

        def mask(logits: Tensor) -> Tensor:  # (B, ..., L)
            if context is None:
                return logits
            keep = context
            while keep.ndim < logits.ndim:  # (B, L) -> (B, 1, L) for the beam's (B, K, L)
                keep = keep.unsqueeze(1)
            return logits.masked_fill(~keep, _OUTSIDE)

        if self.joint is None:
            assert self.out is not None
            start, end = (mask(x) for x in self.out(hidden).unbind(-1))  # (B, L) each
        else:
            start = mask(self.joint.start(hidden).squeeze(-1))
        null = (
            self.answerability(hidden, start)
            if self.answerability is not None
            else start.new_zeros(start.shape[0])
        )
        if self.joint is None:
            return start, end, null
        if start_positions is not None:  # training: the end given the gold start
            states = hidden[torch.arange(hidden.shape[0], device=hidden.device), start_positions]
            end = mask(self.joint.end_logits(hidden, states[:, None])[:, 0])
            return start, end, null
        k = min(self.beam_size, hidden.shape[1])
        start_log_probs, start_index = start.log_softmax(-1).topk(k)  # (B, K)
        states = hidden.gather(1, start_index[..., None].expand(-1, -1, hidden.shape[-1]))
        end_log_probs = mask(self.joint.end_logits(hidden, states)).log_softmax(-1)  # (B, K, L)
        end_log_probs, end_index = end_log_probs.topk(k)  # (B, K, K)
        return start_log_probs, start_index, end_log_probs, end_index, null


def build_model(base: QuestionAnswerer | EncoderOnly, config: SquadConfig) -> SquadModel:
    """The trained module: a loaded encoder (with HF's head for `independent`) plus fresh heads,
    the answerability classifier whatever the version (as the official code)."""
    model_config = base.config
    joint = None
    if config.head == "joint":
        joint = JointSpanHead(model_config.hidden_size, model_config.hidden_act)
    answerability = AnswerabilityHead(model_config.hidden_size, model_config.hidden_act)
    return SquadModel(base, joint, answerability, config.beam_size)


def squad_loss(
    outputs: tuple[Tensor, Tensor, Tensor], batch: dict[str, Tensor], answerable_weight: float
) -> Tensor:
    """Mean of the start and end cross-entropies, plus the weighted answerability loss."""
    start, end, null = outputs
    loss = (
        F.cross_entropy(start, batch["start_positions"])
        + F.cross_entropy(end, batch["end_positions"])
    ) / 2
    if answerable_weight:
        loss = loss + answerable_weight * F.binary_cross_entropy_with_logits(
            null, batch["is_impossible"].float()
        )
    return loss


def save_model(
    model: SquadModel, out_dir: Path, tokenizer: Tokenizer | None, config_extra: dict | None
) -> None:
    """The HF directory, plus `head.safetensors` when the model has heads HF lacks."""
    save_heads(model.hf_model, model.extra_heads(), out_dir, tokenizer, config_extra)


def _load_heads(model_dir: Path, base: QuestionAnswerer | EncoderOnly, beam_size: int
                ) -> SquadModel:  # fmt: skip
    """The saved model: `base` plus the heads saved beside it (if any)."""
    config = base.config
    heads = {
        "joint": JointSpanHead(config.hidden_size, config.hidden_act),
        "answerability": AnswerabilityHead(config.hidden_size, config.hidden_act),
    }
    found = load_heads(model_dir, heads)
    if isinstance(base, EncoderOnly) and "joint" not in found:
        raise UserError(f"{model_dir}: no joint span head ({HEAD_FILE} is missing or lacks it)")
    joint = heads["joint"] if "joint" in found else None
    answerability = heads["answerability"] if "answerability" in found else None
    return SquadModel(base, joint, answerability, beam_size)


class QuestionAnswerer(WithEncoder):
    """Start and end logits per token: extractive question answering."""

    hf_class = "ForQuestionAnswering"
    hf_head = {"qa_outputs": "out"}

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        self.out = Linear(config.hidden_size, 2)
        self._init(shared_embeddings=False)

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        logits = self.out(self.electra(input_ids, attention_mask, token_type_ids))  # (B, L, 2)
        start, end = logits.unbind(-1)
        return start, end
