"""What multiple choice reads from its user: the inputs of `finetune`, `predict` and `evaluate`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from electra.errors import UserError
from electra.tasks.options import as_paths


@dataclass
class ChoiceData:
    """`finetune multiple-choice`: JSON Lines files, a question and its candidate answers a line."""

    train: (
        Path  # training JSONL, e.g. {"context": ..., "question": ..., "choices": [...], "label": 1}
    )
    dev: Path  # dev JSONL, scored after every epoch
    context_field: str = "context"  # the passage the question is about (a line may lack it)
    question_field: str = "question"  # the question (or a sentence's start, as in SWAG)
    choices_fields: tuple[str, ...] = ("choices",)  # a list field, or one per choice (ending0,...)
    label_field: str = "label"  # the answer: its index from 0, its letter (A, B, ...) or its text

    def __post_init__(self) -> None:
        as_paths(self)
        if not self.choices_fields:
            raise UserError("choices_fields: name the field holding the choices")
        for path in (self.train, self.dev):  # before any model is loaded
            if not path.is_file():
                raise UserError(f"{path}: no such file")


@dataclass
class ChoiceInput:
    """`predict multiple-choice`: a JSON Lines file of questions, read with the field names the
    model was fine-tuned with."""

    file: Path  # JSONL questions (a gold label, when present, is copied to the output)
    out: Path | None = None  # write the predictions here (default: standard output)
    probs: bool = False  # add each choice's probability
    OUT_IS_FILE = True  # (not a field) `out` names a file, not a folder

    def __post_init__(self) -> None:
        as_paths(self)


@dataclass
class ChoiceScoring:
    """`evaluate multiple-choice`: accuracy of predictions carrying their gold labels."""

    predictions: (
        Path  # JSONL lines with "prediction" and "label", as `predict` and `finetune` write them
    )

    def __post_init__(self) -> None:
        as_paths(self)
