"""What SQuAD reads from its user: the inputs of `finetune`, `predict` and `evaluate`, and the
windowing and decoding settings saved beside a fine-tuned model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from electra.config import choice, not_chosen
from electra.errors import UserError
from electra.tasks.options import as_paths, repeated

SQUAD_VERSIONS = {"1": "1.1", "1.1": "1.1", "2": "2.0", "2.0": "2.0"}


def squad_version(text: str | None) -> str | None:
    if text is None:
        return None
    if text not in SQUAD_VERSIONS:
        raise UserError(f"`version` {text!r} is not 1.1 or 2.0")
    return SQUAD_VERSIONS[text]


@dataclass
class SquadConfig:
    """Windowing, decoding and loss settings; defaults from the ELECTRA recipe (the official
    `configure_finetuning.py`). The window length itself is `max_seq_length` (512 in the SQuAD
    recipe). Saved beside a fine-tuned model, so prediction windows and decodes as it trained."""

    doc_stride: int = 128  # tokens between the starts of consecutive windows of one context
    max_query_length: int = 64  # question tokens kept (the rest are cut)
    max_answer_length: int = 30  # longest answer span, in tokens
    head: str = choice(
        "joint", ("joint", "independent")
    )  # span head: ELECTRA's joint start->end beam head (reproduces the paper), or transformers' independent one (ElectraForQuestionAnswering)
    beam_size: int = 20  # joint head: the starts kept per window, and the ends kept per start
    n_best_size: int = 20  # independent head: the start and end candidates per window
    null_threshold: float = -2.75  # SQuAD 2.0: "no answer" above these null odds (official)
    answerable_weight: float = (
        0.5  # weight of the answerability loss (ELECTRA's; 1.1 too, its labels all 0)
    )

    def __post_init__(self) -> None:
        if problems := not_chosen(self):
            raise UserError("; ".join(problems))
        names = ("doc_stride", "max_query_length", "max_answer_length", "n_best_size", "beam_size")
        for name in names:
            if getattr(self, name) < 1:
                raise UserError(f"`{name}` must be positive, got {getattr(self, name)}")
        if not math.isfinite(self.null_threshold) or not self.answerable_weight >= 0:
            raise UserError("null_threshold must be finite and answerable_weight at least 0")


@dataclass
class SquadData:
    """`finetune squad`: SQuAD-format JSON files."""

    train: Path  # SQuAD-format training JSON
    dev: Path  # SQuAD-format dev JSON, scored after every epoch
    version: str | None = choice(None, tuple(SQUAD_VERSIONS))  # default: the training file's

    def __post_init__(self) -> None:
        as_paths(self)
        self.version = squad_version(self.version)


@dataclass
class SquadInput:
    """`predict squad`: questions about a context, or every question of a SQuAD-format file."""

    question: tuple[str, ...] = repeated()  # a question (repeatable)
    context: str | None = None  # the context text
    context_file: Path | None = None  # read the context from this UTF-8 file
    data: Path | None = None  # SQuAD-format JSON: answer all its questions
    out: Path | None = None  # with data: directory for predictions.json (+ null_odds.json)
    json: bool = False  # print JSON objects with scores and null odds
    probs: bool = False  # add each answer's probability among the n-best answers (official nbest)

    def __post_init__(self) -> None:
        as_paths(self)
        sources = [n for n in ("context", "context_file", "data") if getattr(self, n) is not None]
        if len(sources) > 1:
            raise UserError(
                f"give one of `context`, context_file and `data` (got {', '.join(sources)})"
            )
        if self.data is not None and self.out is None:
            raise UserError("`data` needs `out` DIR for predictions.json")
        if self.data is None and not self.question:
            raise UserError("no question: pass `question` TEXT (repeatable)")
        if self.context_file is not None and not self.context_file.is_file():
            raise UserError(f"{self.context_file}: no such file")
        if self.data is None and not sources:
            raise UserError(
                "no context: pass `context` TEXT, context_file FILE, or `data` SQUAD_JSON"
            )


@dataclass
class SquadScoring:
    """`evaluate squad`: a predictions file scored as the official v1.1 / v2.0 scripts do."""

    data: Path  # SQuAD-format JSON with gold answers
    predictions: Path  # JSON {question id: answer text}
    na_probs: Path | None = None  # 2.0: JSON {question id: null odds} (null_odds.json)
    na_prob_thresh: float = 1.0  # 2.0: predict "" above these odds (as the official script)
    version: str | None = choice(None, tuple(SQUAD_VERSIONS))  # default: the data file's

    def __post_init__(self) -> None:
        as_paths(self)
        self.version = squad_version(self.version)
