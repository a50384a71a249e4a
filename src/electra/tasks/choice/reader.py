"""JSON Lines questions: each line's context, question, choices and answer, every field checked
with its file and line named. Lines may hold their choices as one list or as one field each
(SWAG's `ending0`..`ending3`), and their answer as an index, a letter or the choice's text."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from electra.errors import UserError


@dataclass(frozen=True)
class Fields:
    """Where a line keeps each part (saved beside a fine-tuned model, so prediction reads alike)."""

    context: str = "context"
    question: str = "question"
    choices: tuple[str, ...] = ("choices",)
    label: str = "label"


@dataclass
class Question:
    line: int
    context: str
    question: str
    choices: tuple[str, ...]
    label: int | None  # the answer's index; None when the line has no label


def _text(path: Path, number: int, row: dict, name: str) -> str:
    value = row[name]
    if not isinstance(value, str):
        raise UserError(f"{path}:{number}: {name!r} is {type(value).__name__}, expected text")
    return value


def _choices(path: Path, number: int, row: dict, fields: Fields) -> tuple[str, ...]:
    missing = [n for n in fields.choices if n not in row]
    if missing:
        raise UserError(f"{path}:{number}: no {', '.join(map(repr, missing))} field")
    if len(fields.choices) > 1:
        return tuple(_text(path, number, row, n) for n in fields.choices)
    values = row[fields.choices[0]]
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise UserError(f"{path}:{number}: {fields.choices[0]!r} is not a list of texts")
    return tuple(values)


def answer_index(value: object, choices: tuple[str, ...], where: str) -> int:
    """The answer's index among `choices`: given as an index (0-based, a number or its digits), a
    letter (A for the first) or the text of one choice."""
    index: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        index = value
    elif isinstance(value, str) and value.strip().isdigit():
        index = int(value)
    elif isinstance(value, str) and len(value.strip()) == 1 and value.strip().isalpha():
        index = ord(value.strip().upper()) - ord("A")
    elif isinstance(value, str) and value in choices:
        index = choices.index(value)
    if index is None or not 0 <= index < len(choices):
        raise UserError(f"{where}: label {value!r} is not one of the {len(choices)} choices (an "
                        "index from 0, a letter from A, or a choice's text)")  # fmt: skip
    return index


def read_questions(path: str | Path, fields: Fields, labelled: bool) -> list[Question]:
    """Every line of a JSONL file; `labelled` requires each to name its answer."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    questions: list[Question] = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise UserError(f"{path}:{number}: not valid JSON ({e.msg})") from None
            if not isinstance(row, dict):
                raise UserError(f"{path}:{number}: expected a JSON object per line")
            if fields.question not in row:
                raise UserError(f"{path}:{number}: no {fields.question!r} field")
            choices = _choices(path, number, row, fields)
            if len(choices) < 2:
                raise UserError(
                    f"{path}:{number}: {len(choices)} choice(s); a question needs two or more"
                )
            if questions and len(choices) != len(questions[0].choices):
                raise UserError(f"{path}:{number}: {len(choices)} choices, but line "
                                f"{questions[0].line} has {len(questions[0].choices)}; every "
                                "question needs the same number")  # fmt: skip
            if labelled and fields.label not in row:
                raise UserError(f"{path}:{number}: no {fields.label!r} field (the answer)")
            label = row.get(fields.label)
            index = None if label is None else answer_index(label, choices, f"{path}:{number}")
            context = _text(path, number, row, fields.context) if fields.context in row else ""
            question = _text(path, number, row, fields.question)
            questions.append(Question(number, context, question, choices, index))
    if not questions:
        raise UserError(f"{path}: no questions (the file is empty)")
    return questions
