"""GLUE's tasks and your own as one `Spec` each: which columns hold the text and the label, the
label strings in the order of the classifier's outputs (none for STS-B's regression), the official
metrics and which files hold the dev and test sets in the standard layout written by
`download_glue_data.py`. The files' quirks are data here, not code: CoLA's train and dev files have
no header, MRPC's start with a byte-order mark, MNLI has matched and mismatched dev and test sets
(and the AX diagnostic set is predicted with the MNLI model), QQP has a few malformed rows the
official readers skip. Your own data is the same `Spec`, built from `text_columns` and
`label_column`, read from CSV, TSV or JSON Lines files (`electra.tasks.tables`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from electra.errors import UserError
from electra.tasks.glue.options import (
    GLUE_TASKS,
    glue_task,
)
from electra.tasks.tables import LABELS_SEPARATOR, quoted, read_examples


@dataclass(frozen=True)
class Spec:
    """One classification (or regression) task: its columns, labels, metrics and files."""

    name: str
    text_columns: tuple[str, ...]  # one column, or two for sentence pairs
    label_column: str
    labels: tuple[str, ...]  # output i of the classifier is labels[i]; () = regression
    metrics: tuple[str, ...]  # names in METRICS; the first picks the best epoch
    folder: str = ""  # the task's folder in the GLUE layout
    header: tuple[str, ...] = ()  # column names of headerless train/dev files (CoLA)
    dev_sets: tuple[tuple[str, str, str], ...] = (("dev.tsv", "", "dev_predictions.tsv"),)
    # (file, suffix added to its metric names, prediction file)
    test_sets: tuple[tuple[str, str], ...] = ()  # (file under the data dir, leaderboard file)
    swap_pairs: bool = False  # the official recipe also trains on (B, A) for symmetric tasks
    skip_malformed: bool = False  # QQP: rows with missing fields are skipped, as GLUE's readers do
    target_scale: float = 1.0  # regression targets are trained divided by this (STS-B: 5, official)
    score_range: tuple[float, float] | None = None  # the scores a regression task's data may hold
    multi_label: bool = False  # any number of labels per example: a sigmoid each, not a softmax

    @property
    def regression(self) -> bool:
        return not self.labels


_BINARY = ("0", "1")
_NLI2 = ("entailment", "not_entailment")
_PAIR = ("sentence1", "sentence2")


GLUE: dict[str, Spec] = {
    spec.name: spec
    for spec in (
        Spec(
            "cola", ("sentence",), "label", _BINARY, ("mcc",), "CoLA",
            header=("source", "label", "author_mark", "sentence"),
            test_sets=(("test.tsv", "CoLA.tsv"),),
        ),
        Spec("sst2", ("sentence",), "label", _BINARY, ("accuracy",), "SST-2",
             test_sets=(("test.tsv", "SST-2.tsv"),)),
        Spec("mrpc", ("#1 String", "#2 String"), "Quality", _BINARY, ("accuracy", "f1"), "MRPC",
             test_sets=(("test.tsv", "MRPC.tsv"),), swap_pairs=True),
        Spec("stsb", _PAIR, "score", (), ("spearman", "pearson"), "STS-B",
             test_sets=(("test.tsv", "STS-B.tsv"),), swap_pairs=True, target_scale=5.0,
             score_range=(0.0, 5.0)),
        Spec("qqp", ("question1", "question2"), "is_duplicate", _BINARY, ("accuracy", "f1"), "QQP",
             test_sets=(("test.tsv", "QQP.tsv"),), skip_malformed=True),
        Spec(
            "mnli", _PAIR, "gold_label", ("contradiction", "entailment", "neutral"), ("accuracy",),
            "MNLI",
            dev_sets=(
                ("dev_matched.tsv", "", "dev_predictions.tsv"),
                ("dev_mismatched.tsv", "_mm", "dev_mismatched_predictions.tsv"),
            ),
            test_sets=(
                ("test_matched.tsv", "MNLI-m.tsv"),
                ("test_mismatched.tsv", "MNLI-mm.tsv"),
                ("../diagnostic/diagnostic.tsv", "AX.tsv"),
            ),
        ),
        Spec("qnli", ("question", "sentence"), "label", _NLI2, ("accuracy",), "QNLI",
             test_sets=(("test.tsv", "QNLI.tsv"),)),
        Spec("rte", _PAIR, "label", _NLI2, ("accuracy",), "RTE", test_sets=(("test.tsv", "RTE.tsv"),)),
        Spec("wnli", _PAIR, "label", _BINARY, ("accuracy",), "WNLI",
             test_sets=(("test.tsv", "WNLI.tsv"),)),
    )
}  # fmt: skip


assert tuple(GLUE) == GLUE_TASKS, "options.GLUE_TASKS names the flags' choices: keep them equal"


OPTIONAL_TEST_SETS = {"AX.tsv"}  # the diagnostic set is often not downloaded
PAPER_AVERAGE_EXCLUDES = {"wnli"}  # the paper's GLUE average leaves WNLI out


def glue_spec(name: str) -> Spec:
    return GLUE[glue_task(name) or ""]


def task_dir(data_dir: str | Path, spec: Spec) -> Path:
    """The task's folder: DATA_DIR/<Folder> (the GLUE root was given) or DATA_DIR itself."""
    data_dir = Path(data_dir)
    for candidate in (data_dir / spec.folder, data_dir):
        if (candidate / "train.tsv").is_file() or (candidate / spec.dev_sets[0][0]).is_file():
            return candidate
    raise UserError(
        f"{data_dir}: no {spec.folder}/train.tsv or train.tsv (expected the GLUE layout of "
        "download_glue_data.py)"
    )


def hf_labels(spec: Spec) -> dict[str, Any]:
    """config.json entries that make `transformers` pick the right loss and label names."""
    if spec.regression:
        return {"id2label": {"0": spec.label_column}, "label2id": {spec.label_column: 0},
                "problem_type": "regression"}  # fmt: skip
    if spec.multi_label:
        return {"id2label": {str(i): label for i, label in enumerate(spec.labels)},
                "label2id": {label: i for i, label in enumerate(spec.labels)},
                "problem_type": "multi_label_classification"}  # fmt: skip
    return {
        "id2label": {str(i): label for i, label in enumerate(spec.labels)},
        "label2id": {label: i for i, label in enumerate(spec.labels)},
        "problem_type": "single_label_classification",
    }


def spec_from_config(config: dict[str, Any], base: Spec) -> Spec:
    """`base` with the labels a fine-tuned model was saved with (its config.json)."""
    if config.get("problem_type") == "regression":
        return replace(base, labels=())
    id2label = config.get("id2label") or {}
    labels = tuple(id2label[k] for k in sorted(id2label, key=int))
    if config.get("problem_type") == "multi_label_classification":
        return replace(base, labels=labels, multi_label=True, metrics=MULTI_LABEL_METRICS)
    return replace(base, labels=labels)


def glue_dev_paths(spec: Spec, directory: Path) -> list[tuple[Path, str, str]]:
    return [(directory / name, suffix, out) for name, suffix, out in spec.dev_sets]


def custom_spec(
    text_columns: Sequence[str],
    label_column: str,
    train_path: Path,
    labels: Sequence[str] = (),
    regression: bool = False,
    name: str = "custom",
    multi_label: bool = False,
) -> Spec:
    """A `Spec` for your own data; the label set is `labels` or, when empty, the train file's
    (with `multi_label`, every label any example has: a list, or names joined by `|`)."""
    if not 1 <= len(text_columns) <= 2:
        raise UserError(f"text_columns: expected one or two column names, got {len(text_columns)}")
    if regression:
        label_set: tuple[str, ...] = ()
        metrics = ("spearman", "pearson")
    else:
        found = read_examples(train_path, text_columns, label_column)
        seen = (
            {p for e in found for p in split_labels(e.label)}
            if multi_label
            else {e.label for e in found}
        )
        label_set = tuple(labels) or tuple(sorted(seen))  # type: ignore[misc]
        if len(label_set) < 2 and not multi_label:
            raise UserError(f"{train_path}: only one label ({quoted(label_set)}); nothing to learn")
        metrics = MULTI_LABEL_METRICS if multi_label else ("accuracy", "macro_f1")
    return Spec(name, tuple(text_columns), label_column, label_set, metrics,
                multi_label=multi_label)  # fmt: skip


MULTI_LABEL_METRICS = ("micro_f1", "macro_f1")


def split_labels(cell: str | None) -> list[str]:
    """A multi-label cell's labels: `a|b` (or a JSON list, read as such); empty for none."""
    return [p.strip() for p in (cell or "").split(LABELS_SEPARATOR) if p.strip()]
