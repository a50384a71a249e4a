"""The SQuAD models (ELECTRA's joint head, or Hugging Face's independent one), their loss, files.

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

SQuAD 2.0 adds, for either head, ELECTRA's answerability classifier: [CLS]'s final vector and the
start-probability-weighted average of all final vectors -> dense(512) -> GELU -> dense(1), a logit
that the question has *no* answer, trained with binary cross-entropy at weight 0.5 beside the mean
of the start and end losses. As in the official code its label is the question's: a window of an
answerable question that misses the answer trains its span at [CLS] but is labelled answerable.
Decoding takes the smallest logit over a question's windows as the null odds. Its weights go in
`head.safetensors` too; `transformers` loads an independent-head directory as is.

Logits outside the context (except [CLS]) are masked before the softmax, as in the official code,
and the heads' layers start as `tf.layers.dense` does (`heads.tf_dense`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tokenizers import Tokenizer
from torch import Tensor, nn

from electra import hf
from electra.config import FinetuneConfig, from_dict
from electra.errors import UserError
from electra.files import write_json
from electra.model import EncoderOnly, QuestionAnswerer, activation
from electra.runtime import choose_device
from electra.tasks.family import FAMILIES, Family, Finetuned, Prediction
from electra.tasks.heads import HEAD_FILE, load_heads, save_heads, tf_dense
from electra.tasks.loop import SETTINGS_KEY, Predict, Task, load_finetuned, make_predict
from electra.tasks.options import PredictConfig, SquadConfig, SquadData, SquadInput, SquadScoring
from electra.tasks.squad import (
    Answer,
    Beams,
    Example,
    Features,
    build_features,
    decode,
    load_squad,
    read_json,
)
from electra.tasks.squad_eval import detect_version, evaluate_v1, evaluate_v2, iter_questions
from electra.tokenizer import SpecialIds

HEAD_WIDTH = 512  # the official hidden width of the end and answerability layers, any model size
PREDICTIONS_FILE = "predictions.json"
NULL_ODDS_FILE = "null_odds.json"
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
    """An encoder with a span head and, for SQuAD 2.0, the answerability head.

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


def build_model(base: QuestionAnswerer | EncoderOnly, config: SquadConfig, version_2: bool
                ) -> SquadModel:  # fmt: skip
    """The trained module: a loaded encoder (with HF's head for `independent`) plus fresh heads."""
    model_config = base.config
    joint = None
    if config.head == "joint":
        joint = JointSpanHead(model_config.hidden_size, model_config.hidden_act)
    answerability = None
    if version_2:
        answerability = AnswerabilityHead(model_config.hidden_size, model_config.hidden_act)
    return SquadModel(base, joint, answerability, config.beam_size)


def squad_loss(
    outputs: tuple[Tensor, Tensor, Tensor], batch: dict[str, Tensor], answerable_weight: float
) -> Tensor:
    """Mean of the start and end cross-entropies, plus the weighted answerability loss (2.0)."""
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


# ------------------------------------------------------------------------------- the shared loop


def loop_features(features: Features) -> list[dict[str, Any]]:
    """`Features` as the loop's per-window dicts: unpadded ids and the training targets."""
    lengths = features.attention_mask.sum(1).tolist()
    return [
        {
            "input_ids": features.input_ids[i, :n].tolist(),
            "token_type_ids": features.token_type_ids[i, :n].tolist(),
            "start_positions": int(features.start_positions[i]),
            "end_positions": int(features.end_positions[i]),
            "is_impossible": float(features.is_impossible[i]),
        }
        for i, n in enumerate(lengths)
    ]


def predict_answers(
    predict: Predict,
    examples: Sequence[Example],
    features: Features,
    config: SquadConfig,
    version_2: bool,
    joint: bool,
    has_classifier: bool,
) -> dict[str, Answer]:
    """Run `predict` (from `finetune.make_predict`) over every window and decode the answers."""
    rows = predict(loop_features(features))
    null = np.array([float(row[-1]) for row in rows], dtype=np.float32) if has_classifier else None
    if joint:
        return decode(examples, features, _stack_beams(rows), None, null, config, version_2)
    start = np.zeros(features.input_ids.shape, dtype=np.float32)  # (N, L), padding never decoded
    end = np.zeros_like(start)
    for i, (start_row, end_row, _) in enumerate(rows):
        start[i, : len(start_row)] = start_row.numpy()
        end[i, : len(end_row)] = end_row.numpy()
    return decode(examples, features, start, end, null, config, version_2)


def _stack_beams(rows: list[tuple[Tensor, ...]]) -> Beams:
    """One `Beams` from per-window beams, whose width is smaller in batches shorter than the beam:
    the missing entries get log-probability -inf at position 0 ([CLS], never a valid start)."""
    k = max(len(row[0]) for row in rows)
    beams = Beams(
        np.full((len(rows), k), -np.inf, np.float32),
        np.zeros((len(rows), k), np.int64),
        np.full((len(rows), k, k), -np.inf, np.float32),
        np.zeros((len(rows), k, k), np.int64),
    )
    for i, (start_lp, start_index, end_lp, end_index, _) in enumerate(rows):
        n = len(start_lp)
        beams.start_log_probs[i, :n] = start_lp.numpy()
        beams.start_index[i, :n] = start_index.numpy()
        beams.end_log_probs[i, :n, :n] = end_lp.numpy()
        beams.end_index[i, :n, :n] = end_index.numpy()
    return beams


def write_predictions(answers: dict[str, Answer], out_dir: Path) -> None:
    """`predictions.json` ({id: text}) and, for SQuAD 2.0, `null_odds.json` ({id: odds}): the
    files the official evaluation scripts read as the prediction and `--na-prob-file`. As the
    official code writes them, every question carries its best span's text and the null odds
    decide at scoring (`na_prob_thresh`) which become "no answer"."""
    write_json(out_dir / PREDICTIONS_FILE, {qid: a.text for qid, a in answers.items()})
    if any(a.null_odds is not None for a in answers.values()):
        write_json(out_dir / NULL_ODDS_FILE, {qid: a.null_odds for qid, a in answers.items()})


def score(dataset: dict[str, Any], answers: dict[str, Answer], version_2: bool,
          null_threshold: float) -> dict[str, Any]:  # fmt: skip
    """The official metrics of `answers` against a validated SQuAD file's contents; SQuAD 2.0's
    `exact`/`f1` at `null_threshold`, and `best_exact`/`best_f1` over every threshold."""
    predictions = {qid: a.text for qid, a in answers.items()}
    if not version_2:
        return evaluate_v1(dataset["data"], predictions)
    odds = {qid: a.null_odds for qid, a in answers.items()}
    return evaluate_v2(dataset["data"], predictions, odds, null_threshold)


def squad_task(
    train: Sequence[Example],
    dev: Sequence[Example],
    dev_dataset: dict[str, Any],
    tokenizer: Tokenizer,
    config: SquadConfig,
    max_seq_length: int,
    version_2: bool,
) -> Task:
    """SQuAD as a `Task` of the shared fine-tuning loop; the best epoch is chosen by dev F1."""
    train_features = build_features(train, tokenizer, config, max_seq_length, training=True)
    dev_features = build_features(dev, tokenizer, config, max_seq_length, training=False)

    def evaluate(predict: Predict) -> tuple[dict[str, Any], dict[str, Answer]]:
        joint = config.head == "joint"
        answers = predict_answers(predict, dev, dev_features, config, version_2, joint, version_2)
        return score(dev_dataset, answers, version_2, config.null_threshold), answers

    weight = config.answerable_weight if version_2 else 0.0
    return Task(
        name="squad2" if version_2 else "squad",
        model_class=EncoderOnly if config.head == "joint" else QuestionAnswerer,
        model_kwargs={},
        train=loop_features(train_features),
        loss=lambda outputs, batch: squad_loss(outputs, batch, weight),
        evaluate=evaluate,
        main_metric="f1",
        write_predictions=write_predictions,
        pad_id=SpecialIds.of(tokenizer).pad,
        config_extra={
            SETTINGS_KEY: {"version": "2.0" if version_2 else "1.1", "squad": asdict(config)}
        },
        wrap_model=lambda base: build_model(base, config, version_2),
        save_model=save_model,
        train_inputs=("start_positions",) if config.head == "joint" else (),
    )


# ---------------------------------------------------------------------------------- the family


def _read_context(input: SquadInput) -> str:
    if input.context is not None:
        return input.context
    assert input.context_file is not None
    try:
        return input.context_file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{input.context_file}: no such file") from None
    except UnicodeDecodeError as e:
        raise UserError(
            f"{input.context_file}: not UTF-8 text ({e.reason} at byte {e.start})"
        ) from None


class Squad(Family):
    """SQuAD 1.1 and 2.0 (`SquadData`); `SquadConfig` is saved beside the model."""

    spec = FAMILIES["squad"]

    def build_task(
        self, data: SquadData, tokenizer: Tokenizer, config: FinetuneConfig, settings: SquadConfig
    ) -> Task:
        train_data, train = load_squad(data.train)
        dev_data, dev = load_squad(data.dev)
        version = data.version or detect_version(train_data)
        if version == "1.1" and any(e.is_impossible for e in train):
            raise UserError(f"{data.train}: has is_impossible questions; they need `version` 2.0")
        return squad_task(train, dev, dev_data, tokenizer, settings, config.max_seq_length,
                          version == "2.0")  # fmt: skip

    def load_finetuned(self, model_dir: Path) -> Finetuned:
        """The head follows config.json's architecture: `ElectraModel` carries the joint head in
        `head.safetensors`, `ElectraForQuestionAnswering` the independent one. A directory
        without the answerability head (e.g. fine-tuned with `transformers`) is 2.0 when its
        settings say so; its null odds then come from the [CLS] span scores."""
        model_class = hf.architecture_class(model_dir)
        if model_class not in (EncoderOnly, QuestionAnswerer):
            model_class = QuestionAnswerer  # refused below as an untrained head
        base, tokenizer, saved = load_finetuned(model_dir, model_class, "squad")
        source = f"{model_dir / hf.CONFIG_FILE} {SETTINGS_KEY}"
        head = "joint" if model_class is EncoderOnly else "independent"
        squad = from_dict(SquadConfig, {**(saved.get("squad") or {}), "head": head}, source=source)
        model = _load_heads(model_dir, base, squad.beam_size).eval()
        version_2 = model.answerability is not None or str(saved.get("version", "1.1")) == "2.0"
        length = saved.get("max_seq_length") or min(512, base.config.max_position_embeddings)
        return Finetuned(model, tokenizer, (), length,
                         {"version_2": version_2, "squad": squad})  # fmt: skip

    def predict(
        self, finetuned: Finetuned, input: SquadInput, config: PredictConfig, settings: dict
    ) -> Prediction:
        if input.data is not None:
            examples = load_squad(input.data, need_answers=False)[1]
        else:
            context = _read_context(input)
            examples = [Example(str(i), q, context) for i, q in enumerate(input.question)]
        model, tokenizer = finetuned.model, finetuned.tokenizer
        squad = replace(finetuned.saved["squad"], **settings)
        length = config.max_seq_length or finetuned.max_seq_length
        features = build_features(examples, tokenizer, squad, length, training=False)
        device = choose_device()
        predict = make_predict(
            model.to(device), SpecialIds.of(tokenizer).pad, config.batch_size, device
        )
        answers = predict_answers(predict, examples, features, squad, finetuned.saved["version_2"],
                                  model.joint is not None, model.answerability is not None)  # fmt: skip
        if input.data is not None:
            assert input.out is not None
            write_predictions(answers, input.out)
            return Prediction(message=f"wrote {len(answers)} answers to {input.out}")
        lines = []
        for example in examples:
            found = answers[example.qid]
            if input.json:
                row = {"question": example.question, "answer": found.answer(squad.null_threshold),
                       "best_span": found.text, "score": found.score}  # fmt: skip
                if found.null_odds is not None:
                    row["null_odds"] = found.null_odds
                if input.probs:
                    row["probability"] = found.probability
                lines.append(json.dumps(row, ensure_ascii=False))
            else:
                line = found.answer(squad.null_threshold) or "(no answer)"
                if input.probs and found.probability is not None:
                    line += f"\t{found.probability:.4f}"
                lines.append(line)
        return Prediction(stdout="".join(line + "\n" for line in lines))

    def show_scores(self, scores: dict[str, Any], scoring: SquadScoring | None = None) -> str:
        """As the official scripts print them: v1.1 on one line, v2.0 indented."""
        return json.dumps(scores, indent=None if "exact_match" in scores else 2)

    def score_file(self, scoring: SquadScoring) -> dict[str, Any]:
        dataset, _ = load_squad(scoring.data, check_offsets=False)  # scoring reads answer texts
        predictions = read_json(scoring.predictions)
        if not isinstance(predictions, dict):
            raise UserError(
                f"{scoring.predictions}: expected a JSON object {{question id: answer text}}"
            )
        version = scoring.version or detect_version(dataset)
        if version == "1.1":
            if scoring.na_probs is not None:
                raise UserError(
                    "na_probs scores SQuAD 2.0; this is 1.1 data (give `version` 2.0 to force)"
                )
            unanswered = sum(
                1 for qid, _ in iter_questions(dataset["data"]) if qid not in predictions
            )
            if unanswered:
                print(
                    f"electra: {unanswered} questions have no prediction and score 0",
                    file=sys.stderr,
                )
            return evaluate_v1(dataset["data"], predictions)
        na_probs = None
        if scoring.na_probs is not None:
            na_probs = read_json(scoring.na_probs)
            if not isinstance(na_probs, dict):
                raise UserError(
                    f"{scoring.na_probs}: expected a JSON object {{question id: null odds}}"
                )
        return evaluate_v2(dataset["data"], predictions, na_probs, scoring.na_prob_thresh)


FAMILY = Squad()
