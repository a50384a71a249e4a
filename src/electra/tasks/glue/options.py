"""What classification reads from its user: the inputs of `finetune`, `predict` and `evaluate`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from electra.config import choice, not_chosen
from electra.errors import UserError
from electra.tasks.options import as_paths

GLUE_TASKS = ("cola", "sst2", "mrpc", "stsb", "qqp", "mnli", "qnli", "rte", "wnli")


def glue_task(name: str | None, allow_all: bool = False) -> str | None:
    """A GLUE task name as the registry spells it (`SST-2` -> sst2), checked."""
    if name is None:
        return None
    key = name.lower().replace("-", "")
    known = (*GLUE_TASKS, "all") if allow_all else GLUE_TASKS
    if key not in known:
        raise UserError(f"`task` {name!r}: not a GLUE task; expected one of {', '.join(known)}")
    return key


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
    multi_label: bool = False  # your data: any number of labels each (a list, or joined by |)
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
        if self.multi_label and (self.regression or self.train is None):
            raise UserError("multi_label is for your own labelled data (`train`), not with "
                            "regression or a GLUE task")  # fmt: skip


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
