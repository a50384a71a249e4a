"""Multiple choice as a family: the `Task` the shared loop trains (cross-entropy over each
question's choices), predictions as JSON Lines, and their accuracy."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from tokenizers import Tokenizer

from electra import hf
from electra.errors import UserError
from electra.files import write_text
from electra.runtime import choose_device
from electra.tasks.choice import SPEC
from electra.tasks.choice.features import encode
from electra.tasks.choice.model import MultipleChoice
from electra.tasks.choice.options import ChoiceData, ChoiceInput, ChoiceScoring
from electra.tasks.choice.reader import Fields, Question, read_questions
from electra.tasks.family import Family, Finetuned, Prediction
from electra.tasks.loading import load_finetuned
from electra.tasks.options import FinetuneConfig, PredictConfig
from electra.tasks.task import SETTINGS_KEY, Predict, Task, make_predict
from electra.tokenizer import SpecialIds, load_tokenizer

PREDICTIONS_FILE = "dev_predictions.jsonl"


def answers(
    questions: list[Question], outputs: list[torch.Tensor], probs: bool = False
) -> list[dict[str, Any]]:
    """One prediction per question: the chosen index and text, the gold label when known, and
    with `probs` each choice's probability."""
    rows = []
    for q, logits in zip(questions, outputs, strict=True):
        p = logits.float().softmax(-1)
        k = int(p.argmax())
        row: dict[str, Any] = {"line": q.line, "prediction": k, "answer": q.choices[k]}
        if q.label is not None:
            row["label"] = q.label
        if probs:
            row["probs"] = [round(float(v), 6) for v in p]
        rows.append(row)
    return rows


def accuracy(rows: list[dict[str, Any]]) -> float:
    return sum(r["prediction"] == r["label"] for r in rows) / len(rows)


def jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def build_task(data: ChoiceData, tokenizer: Tokenizer, max_seq_length: int) -> Task:
    fields = Fields(data.context_field, data.question_field, data.choices_fields, data.label_field)
    train_questions = read_questions(data.train, fields, labelled=True)
    dev_questions = read_questions(data.dev, fields, labelled=True)
    n = len(train_questions[0].choices)
    if len(dev_questions[0].choices) != n:
        raise UserError(f"{data.dev}: {len(dev_questions[0].choices)} choices a question, but "
                        f"{data.train} has {n}")  # fmt: skip
    pad = SpecialIds.of(tokenizer).pad
    train = encode(tokenizer, train_questions, max_seq_length, pad)
    dev = encode(tokenizer, dev_questions, max_seq_length, pad)

    def evaluate(predict: Predict) -> tuple[dict[str, float], list[dict[str, Any]]]:
        rows = answers(dev_questions, predict(dev))
        return {"accuracy": accuracy(rows)}, rows

    def loss(outputs: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return F.cross_entropy(outputs, batch["label"])

    def write_predictions(rows: list[dict[str, Any]], out_dir: Path) -> None:
        write_text(out_dir / PREDICTIONS_FILE, jsonl(rows))

    return Task(
        name="multiple-choice",
        model_class=MultipleChoice,
        model_kwargs={"num_choices": n, "pad_id": pad},
        train=train,
        loss=loss,
        evaluate=evaluate,
        main_metric="accuracy",
        write_predictions=write_predictions,
        pad_id=pad,
        config_extra={SETTINGS_KEY: {"num_choices": n, "fields": asdict(fields)}},
    )


class MultipleChoiceFamily(Family):
    """Questions with N candidate answers each (`ChoiceData`)."""

    spec = SPEC

    def build_task(
        self, data: ChoiceData, tokenizer: Tokenizer, config: FinetuneConfig, settings: Any
    ) -> Task:
        return build_task(data, tokenizer, config.max_seq_length)

    def load_finetuned(self, model_dir: Path) -> Finetuned:
        """A model fine-tuned here knows its number of choices; one from `transformers` (any
        number) takes it from the questions it is given."""
        settings = hf.read_config_json(model_dir).get(SETTINGS_KEY) or {}
        pad = SpecialIds.of(load_tokenizer(model_dir)).pad
        model, tokenizer, saved = load_finetuned(model_dir, MultipleChoice, SPEC.name,
                                                 num_choices=settings.get("num_choices"),
                                                 pad_id=pad)  # fmt: skip
        return Finetuned(model, tokenizer, (), self.saved_length(saved, model), saved)

    def predict(
        self, finetuned: Finetuned, input: ChoiceInput, config: PredictConfig, settings: dict
    ) -> Prediction:
        saved = finetuned.saved.get("fields") or {}
        fields = Fields(**{k: tuple(v) if isinstance(v, list) else v for k, v in saved.items()})
        questions = read_questions(input.file, fields, labelled=False)
        if finetuned.model.num_choices is None:
            finetuned.model.num_choices = len(questions[0].choices)
        n = finetuned.model.num_choices
        if len(questions[0].choices) != n:
            raise UserError(f"{input.file}: {len(questions[0].choices)} choices a question; the "
                            f"model was fine-tuned on {n}")  # fmt: skip
        device = choose_device()
        pad = SpecialIds.of(finetuned.tokenizer).pad
        length = config.max_seq_length or finetuned.max_seq_length
        features = encode(finetuned.tokenizer, questions, length, pad)
        predict = make_predict(finetuned.model.to(device), pad, config.batch_size, device)
        text = jsonl(answers(questions, predict(features), input.probs))
        if input.out is None:
            return Prediction(stdout=text)
        write_text(input.out, text)
        return Prediction(message=f"answered {len(questions)} questions; written to {input.out}")

    def score_file(self, scoring: ChoiceScoring) -> dict[str, Any]:
        rows = []
        with open(_existing(scoring.predictions), encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as e:
                    raise UserError(
                        f"{scoring.predictions}:{number}: not valid JSON ({e.msg})"
                    ) from None
                if not isinstance(row, dict) or not {"prediction", "label"} <= set(row):
                    raise UserError(f"{scoring.predictions}:{number}: expected an object with "
                                    "\"prediction\" and \"label\" (predict a labelled file)")  # fmt: skip
                rows.append(row)
        if not rows:
            raise UserError(f"{scoring.predictions}: no predictions")
        return {"accuracy": accuracy(rows), "questions": len(rows)}


def _existing(path: Path) -> Path:
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    return path


FAMILY = MultipleChoiceFamily()
