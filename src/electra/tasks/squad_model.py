"""The SQuAD model around Hugging Face's `ElectraForQuestionAnswering`, its loss, and its files.

`QuestionAnswerer` (HF layout: one `qa_outputs` linear layer giving start and end logits) is what
`transformers` can load. ELECTRA's SQuAD 2.0 model adds an answerability classifier (official
`qa_tasks.py`): [CLS]'s final vector and the start-probability-weighted average of all final
vectors -> dense(512) -> GELU -> dense(1), a logit that the question has *no* answer, trained with
binary cross-entropy at weight 0.5 beside the mean of the start and end losses. Its label is
per window (1 when the window holds no answer, as its start/end targets at [CLS] say) where the
official code labels by question; decoding takes the smallest logit over a question's windows.

That head has no place in the HF layout, so it is saved beside the model as
`answerability.safetensors`: `transformers` loads the directory as is (and can still use the
[CLS] null-span scores, which are trained too, since unanswerable windows point at [CLS]); we load
both, and decode SQuAD 2.0 null odds from the classifier as ELECTRA does. Start and end logits
outside the context (except [CLS]) are masked before the softmax, as in the official code.
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
from safetensors.torch import load_file, save_file
from tokenizers import Tokenizer
from torch import Tensor, nn

from electra import hf
from electra.config import FinetuneConfig, from_dict
from electra.errors import UserError
from electra.files import atomic_path, write_json
from electra.model import QuestionAnswerer, activation
from electra.runtime import choose_device
from electra.tasks.family import FAMILIES, Family, Finetuned, Prediction
from electra.tasks.loop import SETTINGS_KEY, Predict, Task, load_finetuned, make_predict
from electra.tasks.options import PredictConfig, SquadConfig, SquadData, SquadInput, SquadScoring
from electra.tasks.squad import (
    Answer,
    Example,
    Features,
    build_features,
    decode,
    load_squad,
    read_json,
)
from electra.tasks.squad_eval import detect_version, evaluate_v1, evaluate_v2, iter_questions
from electra.tokenizer import SpecialIds

ANSWERABILITY_FILE = "answerability.safetensors"
ANSWERABILITY_HIDDEN = 512  # the official classifier's width, whatever the model's
PREDICTIONS_FILE = "predictions.json"
NULL_ODDS_FILE = "null_odds.json"
_OUTSIDE = -10000.0  # added to logits outside the context: effectively zero probability


class AnswerabilityHead(nn.Module):
    """ELECTRA's SQuAD 2.0 classifier: a logit that the window holds no answer."""

    def __init__(self, hidden_size: int, hidden_act: str = "gelu", std: float = 0.02) -> None:
        super().__init__()
        self.dense = nn.Linear(2 * hidden_size, ANSWERABILITY_HIDDEN)
        self.act = activation(hidden_act)
        self.out = nn.Linear(ANSWERABILITY_HIDDEN, 1)
        for layer in (self.dense, self.out):
            nn.init.normal_(layer.weight, std=std)
            nn.init.zeros_(layer.bias)

    def forward(self, hidden: Tensor, start_logits: Tensor) -> Tensor:
        start_probs = start_logits.softmax(-1)  # (B, L)
        start_feature = torch.einsum("bl,blh->bh", start_probs, hidden)  # (B, H)
        features = torch.cat([hidden[:, 0], start_feature], -1)  # (B, 2H)
        return self.out(self.act(self.dense(features))).squeeze(-1)  # (B,)


class SquadModel(nn.Module):
    """`QuestionAnswerer`'s encoder and `out` layer (same modules, same parameter names) plus the
    optional answerability head; returns (start_logits, end_logits, null_logits or zeros)."""

    def __init__(self, qa: QuestionAnswerer, answerability: AnswerabilityHead | None) -> None:
        super().__init__()
        self.config = qa.config
        self.electra = qa.electra
        self.out = qa.out
        self.answerability = answerability
        self._hf_model = (qa,)  # a plain tuple: its modules are registered once, above

    @property
    def question_answerer(self) -> QuestionAnswerer:
        """The Hugging Face part, sharing this model's weights, for `hf.save`."""
        return self._hf_model[0]

    def forward(
        self, input_ids: Tensor, attention_mask: Tensor | None, token_type_ids: Tensor | None
    ) -> tuple[Tensor, Tensor, Tensor]:
        hidden = self.electra(input_ids, attention_mask, token_type_ids)  # (B, L, H)
        start, end = self.out(hidden).unbind(-1)  # (B, L) each
        if token_type_ids is not None:
            # The answer lies in the context (segment 1, its final [SEP] included) or at [CLS].
            context = token_type_ids.bool()
            if attention_mask is not None:
                context &= attention_mask.bool()
            context[:, 0] = True
            start = start.masked_fill(~context, _OUTSIDE)
            end = end.masked_fill(~context, _OUTSIDE)
        if self.answerability is None:
            return start, end, start.new_zeros(start.shape[0])
        return start, end, self.answerability(hidden, start)


def with_answerability(qa: QuestionAnswerer, version_2: bool) -> SquadModel:
    """The trained module: a loaded HF model plus, for SQuAD 2.0, a fresh answerability head."""
    head = None
    if version_2:
        config = qa.config
        head = AnswerabilityHead(config.hidden_size, config.hidden_act, config.initializer_range)
    return SquadModel(qa, head)


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
    """The HF directory, plus `answerability.safetensors` when the model has that head."""
    hf.save(model.question_answerer, out_dir, tokenizer=tokenizer, config_extra=config_extra)
    if model.answerability is not None:
        state = {
            k: v.detach().float().contiguous() for k, v in model.answerability.state_dict().items()
        }
        with atomic_path(out_dir / ANSWERABILITY_FILE) as tmp:
            save_file(state, tmp, metadata={"format": "pt"})


def _load_answerability(model_dir: Path, config: Any) -> AnswerabilityHead | None:
    if not (model_dir / ANSWERABILITY_FILE).is_file():
        return None
    head = AnswerabilityHead(config.hidden_size, config.hidden_act)
    try:
        head.load_state_dict(load_file(model_dir / ANSWERABILITY_FILE))
    except Exception as e:  # a truncated file or other shapes surface as several types
        raise UserError(
            f"{model_dir / ANSWERABILITY_FILE}: cannot load ({type(e).__name__}: {e})"
        ) from None
    return head


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
    has_classifier: bool,
) -> dict[str, Answer]:
    """Run `predict` (from `finetune.make_predict`) over every window and decode the answers."""
    rows = predict(loop_features(features))
    start = np.zeros(features.input_ids.shape, dtype=np.float32)  # (N, L), padding never decoded
    end = np.zeros_like(start)
    for i, (start_row, end_row, _) in enumerate(rows):
        start[i, : len(start_row)] = start_row.numpy()
        end[i, : len(end_row)] = end_row.numpy()
    null = np.array([float(row[2]) for row in rows], dtype=np.float32) if has_classifier else None
    return decode(examples, features, start, end, null, config, version_2)


def write_predictions(answers: dict[str, Answer], out_dir: Path) -> None:
    """`predictions.json` ({id: text}) and, for SQuAD 2.0, `null_odds.json` ({id: odds}): the
    files the official evaluation scripts read as the prediction and `--na-prob-file`."""
    write_json(out_dir / PREDICTIONS_FILE, {qid: a.text for qid, a in answers.items()})
    if any(a.null_odds is not None for a in answers.values()):
        write_json(out_dir / NULL_ODDS_FILE, {qid: a.null_odds for qid, a in answers.items()})


def score(dataset: dict[str, Any], answers: dict[str, Answer], version_2: bool) -> dict[str, Any]:
    """The official metrics of `answers` against a validated SQuAD file's contents."""
    predictions = {qid: a.text for qid, a in answers.items()}
    if not version_2:
        return evaluate_v1(dataset["data"], predictions)
    return evaluate_v2(
        dataset["data"], predictions, {qid: a.null_odds for qid, a in answers.items()}
    )


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
        answers = predict_answers(predict, dev, dev_features, config, version_2, version_2)
        return score(dev_dataset, answers, version_2), answers

    weight = config.answerable_weight if version_2 else 0.0
    return Task(
        name="squad2" if version_2 else "squad",
        model_class=QuestionAnswerer,
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
        wrap_model=lambda qa: with_answerability(qa, version_2),
        save_model=save_model,
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
        """A directory without `answerability.safetensors` (e.g. fine-tuned with
        `transformers`) is 2.0 when its settings say so; its null odds then come from the [CLS]
        span scores."""
        qa, tokenizer, saved = load_finetuned(model_dir, QuestionAnswerer, "squad")
        source = f"{model_dir / hf.CONFIG_FILE} {SETTINGS_KEY}"
        squad = from_dict(SquadConfig, dict(saved.get("squad") or {}), source=source)
        head = _load_answerability(model_dir, qa.config)
        version_2 = head is not None or str(saved.get("version", "1.1")) == "2.0"
        length = saved.get("max_seq_length") or min(512, qa.config.max_position_embeddings)
        model = SquadModel(qa, head).eval()
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
                                  model.answerability is not None)  # fmt: skip
        if input.data is not None:
            assert input.out is not None
            write_predictions(answers, input.out)
            return Prediction(message=f"wrote {len(answers)} answers to {input.out}")
        lines = []
        for example in examples:
            found = answers[example.qid]
            if input.json:
                row = {"question": example.question, "answer": found.text, "score": found.score}
                if found.null_odds is not None:
                    row["null_odds"] = found.null_odds
                lines.append(json.dumps(row, ensure_ascii=False))
            else:
                lines.append(found.text if found.text else "(no answer)")
        return Prediction(stdout="".join(line + "\n" for line in lines))

    def show_scores(self, scores: dict[str, Any]) -> str:
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
