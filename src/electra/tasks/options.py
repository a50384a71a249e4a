"""What each task family reads from its user: the inputs of `finetune`, `predict` and `evaluate`
per family, and the settings a family saves beside its model. Plain dataclasses, importing
nothing heavy: the command line makes its flags from them (`electra.commands.flags`), and the
trailing comment of a field is its flag's help.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from electra.config import choice, not_chosen
from electra.errors import UserError

GLUE_TASKS = ("cola", "sst2", "mrpc", "stsb", "qqp", "mnli", "qnli", "rte", "wnli")
SQUAD_VERSIONS = {"1": "1.1", "1.1": "1.1", "2": "2.0", "2.0": "2.0"}


def as_paths(options: Any) -> None:
    """Turn the `Path` fields a caller gave as strings into paths (the API takes either)."""
    for f in fields(options):
        value = getattr(options, f.name)
        if isinstance(value, str) and f.type.startswith("Path"):
            setattr(options, f.name, Path(value))


def glue_task(name: str | None, allow_all: bool = False) -> str | None:
    """A GLUE task name as the registry spells it (`SST-2` -> sst2), checked."""
    if name is None:
        return None
    key = name.lower().replace("-", "")
    known = (*GLUE_TASKS, "all") if allow_all else GLUE_TASKS
    if key not in known:
        raise UserError(f"`task` {name!r}: not a GLUE task; expected one of {', '.join(known)}")
    return key


def positional() -> Any:
    """A field given as the command's positional arguments (any number of them)."""
    return field(default=(), metadata={"positional": True})


def repeated() -> Any:
    """A field given by repeating its flag."""
    return field(default=(), metadata={"repeat": True})


@dataclass
class PredictConfig:
    """Settings of every `predict` command."""

    batch_size: int = 128  # examples (or windows) per forward pass
    max_seq_length: int | None = None  # tokens per example or window (default: as fine-tuned)
    runtime: str = choice(
        "auto", ("auto", "torch", "onnxruntime", "onnxruntime-int8")
    )  # auto: onnxruntime for a directory from `electra export onnx`, else torch

    def __post_init__(self) -> None:
        if problems := not_chosen(self):
            raise UserError("; ".join(problems))
        if self.batch_size < 1:
            raise UserError(f"batch_size must be at least 1, got {self.batch_size}")
        if self.max_seq_length is not None and self.max_seq_length < 3:
            raise UserError(f"max_seq_length must be at least 3, got {self.max_seq_length}")


# ------------------------------------------------------------------------ classification (GLUE)


@dataclass
class ClassificationData:
    """`finetune glue`: a GLUE task from its standard layout, or your own CSV/TSV/JSONL files."""

    task: str | None = choice(None, (*GLUE_TASKS, "all"))  # a GLUE task, or all of them
    data_dir: Path | None = None  # the GLUE root (or one task's folder)
    train: Path | None = None  # your own training file (.csv, .tsv, .jsonl)
    dev: Path | None = None  # your own dev file, scored after every epoch
    text_columns: tuple[str, ...] = ()  # your data: one or two (a pair) text columns
    label_column: str | None = None  # your data: the column holding the label
    labels: tuple[str, ...] = ()  # your data: the label set (default: the train file's)
    regression: bool = False  # your data: the label is a number
    swap_pairs: bool = True  # MRPC, STS-B: also train on each pair swapped (official recipe)
    head: str = choice(
        "official", ("official", "transformers")
    )  # classifier: the official dropout + linear on [CLS] (reproduces the paper), or transformers' dense + GELU + linear (loads as ElectraForSequenceClassification)

    def __post_init__(self) -> None:
        as_paths(self)
        self.task = glue_task(self.task, allow_all=True)
        if problems := not_chosen(self):
            raise UserError("; ".join(problems))
        if self.train is None and (not self.task or self.data_dir is None):
            raise UserError(
                "give `task` and data_dir for GLUE, or `train` and `dev` for your own data"
            )
        if self.train is not None and (self.dev is None or not self.label_column):
            raise UserError("your own data needs `train`, `dev`, text_columns and label_column")


@dataclass
class ClassificationInput:
    """`predict glue`: a GLUE task's test sets, or your own unlabelled file."""

    out: Path  # directory for the prediction files
    task: str | None = choice(None, GLUE_TASKS)  # a GLUE task
    data_dir: Path | None = None  # the GLUE root (or the task's folder)
    test: Path | None = None  # your own unlabelled file (.csv, .tsv, .jsonl)
    text_columns: tuple[str, ...] = ()  # your data: its one or two text columns
    probs: bool = False  # add each label's probability as a column (not for leaderboard files)

    def __post_init__(self) -> None:
        as_paths(self)
        self.task = glue_task(self.task)
        if self.test is None and (not self.task or self.data_dir is None):
            raise UserError("give `task` and data_dir for GLUE, or `test` with text_columns")
        if self.test is not None and not self.text_columns:
            raise UserError("text_columns: required with your own data (e.g. premise,hypothesis)")


@dataclass
class ClassificationScoring:
    """`evaluate glue`: an index<TAB>prediction file against a task's labelled file."""

    task: str = choice(..., GLUE_TASKS)  # a GLUE task
    data_dir: Path  # the GLUE root (or the task's folder)
    predictions: Path  # the index<TAB>prediction file
    dev_file: str | None = None  # labelled file in the task's folder (default: its dev set)

    def __post_init__(self) -> None:
        as_paths(self)
        self.task = glue_task(self.task) or ""


# -------------------------------------------------------------------------------------- tagging


@dataclass
class TaggingData:
    """`finetune tagging`: CoNLL-format files."""

    data_dir: Path | None = None  # holds train.txt and dev.txt/valid.txt/test.txt
    train: Path | None = None  # training file (default: DATA_DIR/train.txt)
    dev: Path | None = None  # file scored after every epoch (default: DATA_DIR's dev, else test)
    tag_column: int = -1  # column of the tag (-1: the last)
    labels: tuple[str, ...] = ()  # the tag set, comma-separated (default: every tag in the files)
    label_encoding: str = choice(
        "BIOES", ("BIOES", "file")
    )  # chunk tags train as (official: BIOES)

    def __post_init__(self) -> None:
        as_paths(self)
        if problems := not_chosen(self):
            raise UserError("; ".join(problems))
        if self.data_dir is None and (self.train is None or self.dev is None):
            raise UserError("give data_dir (or both `train` and `dev`)")


@dataclass
class TaggingInput:
    """`predict tagging`: sentences as arguments, a CoNLL file or a plain-text file."""

    texts: tuple[str, ...] = positional()  # sentences to tag, words split on whitespace
    file: Path | None = None  # CoNLL input (words in column 1); its columns kept, a tag added
    text_file: Path | None = None  # plain text, a sentence a line (- for standard input)
    out: Path | None = None  # write the tagged text here (default: standard output)
    json: bool = False  # one {"tokens": [...], "tags": [...]} object per sentence instead of CoNLL
    probs: bool = False  # add each tag's probability (a column, or "probs" in JSON)
    OUT_IS_FILE = True  # (not a field) `out` names a file, not a folder

    def __post_init__(self) -> None:
        as_paths(self)
        given = [name for name in ("texts", "file", "text_file") if getattr(self, name)]
        if len(given) != 1:
            raise UserError(
                "give one input: `texts` as arguments, `file` (CoNLL) or text_file (plain text)"
                + (f" (got {' and '.join(f'`{n}`' for n in given)})" if given else "")
            )


@dataclass
class TaggingScoring:
    """`evaluate tagging`: conlleval's span F1 of a predictions file."""

    predictions: Path  # a file whose last two columns are the gold and the predicted tags
    table: bool = False  # print conlleval's report (overall and per chunk type) instead of JSON

    def __post_init__(self) -> None:
        as_paths(self)


# ---------------------------------------------------------------------------------------- SQuAD


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
    answerable_weight: float = 0.5  # SQuAD 2.0: weight of the answerability loss (ELECTRA's)

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
