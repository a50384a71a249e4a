"""GLUE and your own sentence(-pair) classification data: task specs, label sets, official
metrics, prediction files, and the `Task` that the shared loop (`electra.tasks.loop`) trains.

Each GLUE task is one `Spec`: which columns hold the text and the label, the label strings in the
order of the classifier's outputs (none for STS-B's regression), the official metrics and which
files hold the dev and test sets in the standard layout written by `download_glue_data.py`. The
files' quirks are data here, not code: CoLA's train and dev files have no header, MRPC's start
with a byte-order mark, MNLI has matched and mismatched dev and test sets (and the AX diagnostic
set is predicted with the MNLI model), QQP has a few malformed rows the official readers skip.
Files are read by `electra.tasks.tables`.

Your own data is the same `Spec`, built from `text_columns` and `label_column`, read from
CSV, TSV or JSON Lines files.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef
from tokenizers import Tokenizer

from electra import hf
from electra.config import FinetuneConfig
from electra.errors import UserError
from electra.files import write_json, write_text
from electra.model import EncoderOnly, SequenceClassifier
from electra.runtime import choose_device
from electra.tasks.family import FAMILIES, Family, Finetuned, Prediction, Run
from electra.tasks.heads import LinearClassifier
from electra.tasks.loop import (
    SETTINGS_KEY,
    Feature,
    Predict,
    Task,
    load_finetuned,
    make_predict,
)
from electra.tasks.options import (
    GLUE_TASKS,
    ClassificationData,
    ClassificationInput,
    ClassificationScoring,
    PredictConfig,
    glue_task,
)
from electra.tasks.tables import Example, quoted, read_examples
from electra.tokenizer import SpecialIds


def _correlation(statistic: Callable) -> Callable[[np.ndarray, np.ndarray], float]:
    """Pearson or Spearman; 0 when either side is constant (the correlation is undefined there,
    and a model that predicts one value for everything has learned nothing)."""

    def metric(gold: np.ndarray, predicted: np.ndarray) -> float:
        if np.ptp(gold) == 0 or np.ptp(predicted) == 0:
            return 0.0
        return float(statistic(gold, predicted)[0])

    return metric


METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "accuracy": lambda gold, predicted: float(accuracy_score(gold, predicted)),
    "f1": lambda gold, predicted: float(f1_score(gold, predicted, pos_label=1, zero_division=0)),
    "macro_f1": lambda gold, predicted: float(
        f1_score(gold, predicted, average="macro", zero_division=0)
    ),
    "mcc": lambda gold, predicted: float(matthews_corrcoef(gold, predicted)),
    "pearson": _correlation(pearsonr),
    "spearman": _correlation(spearmanr),
}


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


# ------------------------------------------------------------------------------------- features


def encode(
    tokenizer: Tokenizer, examples: Sequence[Example], max_seq_length: int, swap: bool = False
) -> list[Feature]:
    """`[CLS] A [SEP] (B [SEP])` token and segment ids, the longer text truncated first (as BERT
    does) until the pair fits; `swap` encodes `B, A` instead."""
    tokenizer = Tokenizer.from_str(tokenizer.to_str())  # a copy: truncation is tokenizer state
    tokenizer.enable_truncation(max_seq_length, strategy="longest_first")
    inputs = [e.texts[::-1] if swap else e.texts for e in examples]
    inputs = [t if len(t) == 2 else t[0] for t in inputs]
    return [
        {"input_ids": enc.ids, "token_type_ids": enc.type_ids}
        for enc in tokenizer.encode_batch(inputs)
    ]


def targets(spec: Spec, path: Path, examples: Sequence[Example]) -> list[int] | list[float]:
    """Each example's label as the classifier's output index, or its score for regression."""
    if spec.regression:
        scores = []
        for e in examples:
            try:
                scores.append(float(e.label))  # type: ignore[arg-type]
            except ValueError:
                raise UserError(f"{path}:{e.line}: score {e.label!r} is not a number") from None
            if not math.isfinite(scores[-1]):
                raise UserError(f"{path}:{e.line}: score {e.label!r} is not a finite number")
            if spec.score_range and not spec.score_range[0] <= scores[-1] <= spec.score_range[1]:
                low, high = spec.score_range
                raise UserError(f"{path}:{e.line}: score {e.label} is not in [{low:g}, {high:g}]")
        return scores
    index = {label: i for i, label in enumerate(spec.labels)}
    for e in examples:
        if e.label not in index:
            raise UserError(
                f"{path}:{e.line}: label {e.label!r} is not one of {quoted(spec.labels)}"
            )
    return [index[e.label] for e in examples]  # type: ignore[index]


def labelled_features(
    spec: Spec, path: Path, tokenizer: Tokenizer, max_seq_length: int, swap: bool = False
) -> tuple[list[Example], list[Feature]]:
    examples = read_examples(
        path, spec.text_columns, spec.label_column, spec.header, spec.skip_malformed
    )
    labels = targets(spec, path, examples)
    features = encode(tokenizer, examples, max_seq_length)
    if swap and len(spec.text_columns) == 2:
        features += encode(tokenizer, examples, max_seq_length, swap=True)
        labels = labels + labels
    for feature, label in zip(features, labels, strict=True):
        feature["label"] = label / spec.target_scale if spec.regression else label
    return examples, features


# -------------------------------------------------------------------------- scoring and writing


def decode(spec: Spec, outputs: Sequence[torch.Tensor]) -> np.ndarray:
    """Model outputs -> predicted label indices (or scores for regression)."""
    logits = torch.stack(list(outputs))
    return (
        logits[:, 0].numpy() * spec.target_scale if spec.regression else logits.argmax(-1).numpy()
    )


def prediction_strings(spec: Spec, predicted: np.ndarray) -> list[str]:
    """GLUE's label strings, or the STS-B score (9 digits: float32 exactly)."""
    if spec.regression:
        return [f"{p:.9g}" for p in predicted]
    return [spec.labels[p] for p in predicted]


def score(
    spec: Spec, gold: Sequence[float], predicted: np.ndarray, suffix: str = ""
) -> dict[str, float]:
    """The task's official metrics of `predicted` against `gold` (indices or scores)."""
    gold_array = np.asarray(gold)
    return {name + suffix: METRICS[name](gold_array, predicted) for name in spec.metrics}


def write_predictions(
    rows: dict[str, list[str]], out_dir: Path, extra_columns: Sequence[str] = ()
) -> None:
    """One `index<TAB>prediction` file per entry of `rows` (file name -> predictions in order,
    each followed by its `extra_columns` values, tab-separated, when there are any)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    header = "\t".join(("index", "prediction", *extra_columns)) + "\n"
    for name, predictions in rows.items():
        lines = (f"{i}\t{p}\n" for i, p in enumerate(predictions))
        write_text(out_dir / name, header + "".join(lines))


def score_file(spec: Spec, gold_path: Path, predictions_path: Path) -> dict[str, float]:
    """The official metrics of an `index<TAB>prediction` file against a labelled dev file."""
    gold_examples = read_examples(
        gold_path, spec.text_columns, spec.label_column, spec.header, spec.skip_malformed
    )
    gold = targets(spec, gold_path, gold_examples)
    rows = read_examples(predictions_path, ("index",), "prediction")
    for expected, row in enumerate(rows):
        if row.texts[0].strip() != str(expected):
            raise UserError(
                f"{predictions_path}:{row.line}: index {row.texts[0]!r}, expected {expected}"
            )
    if len(rows) != len(gold):
        raise UserError(
            f"{predictions_path}: {len(rows)} predictions for the {len(gold)} examples of {gold_path}"
        )
    return score(spec, gold, np.asarray(targets(spec, predictions_path, rows)))


def glue_score(results: dict[str, dict[str, float]]) -> float:
    """The paper's GLUE average: each task's first metric (CoLA MCC, STS-B Spearman, MNLI matched
    accuracy, the others accuracy), WNLI excluded, as a percentage."""
    values = [
        results[name][GLUE[name].metrics[0]]
        for name in results
        if name not in PAPER_AVERAGE_EXCLUDES
    ]
    return 100 * float(np.mean(values)) if values else float("nan")


# ---------------------------------------------------------------------------------- the task


def build_task(
    spec: Spec,
    tokenizer: Tokenizer,
    train_path: Path,
    dev_paths: Sequence[tuple[Path, str, str]],
    max_seq_length: int,
    swap_pairs: bool = True,
    head: str = "official",
) -> Task:
    """The loop's `Task` for `spec`: train features, and an evaluation over each dev set
    (`(path, metric suffix, prediction file)`) that returns metrics and prediction rows. `head`:
    the official dropout + linear classifier, or `transformers`' (see `ClassificationData`)."""
    needed = 2 * len(spec.text_columns) + 1  # [CLS] a [SEP] (b [SEP]): a token of each text
    if max_seq_length < needed:
        raise UserError(f"max_seq_length {max_seq_length}: {spec.name}'s {len(spec.text_columns)} "
                        f"text(s) need at least {needed} tokens with their special tokens")  # fmt: skip
    _, train = labelled_features(
        spec, train_path, tokenizer, max_seq_length, swap=swap_pairs and spec.swap_pairs
    )
    dev_sets = [
        (labelled_features(spec, path, tokenizer, max_seq_length)[1], suffix, out_name)
        for path, suffix, out_name in dev_paths
    ]

    def evaluate(predict: Predict) -> tuple[dict[str, float], dict[str, list[str]]]:
        metrics: dict[str, float] = {}
        rows: dict[str, list[str]] = {}
        for features, suffix, out_name in dev_sets:
            predicted = decode(spec, predict(features))
            gold = [
                f["label"] * spec.target_scale if spec.regression else f["label"] for f in features
            ]
            metrics.update(score(spec, gold, predicted, suffix))
            rows[out_name] = prediction_strings(spec, predicted)
        return metrics, rows

    if spec.regression:

        def loss(outputs: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
            return F.mse_loss(outputs[:, 0], batch["label"].float())

    else:

        def loss(outputs: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
            return F.cross_entropy(outputs, batch["label"])

    num_labels = len(spec.labels) or 1
    official = head == "official"
    return Task(
        name=spec.name,
        model_class=EncoderOnly if official else SequenceClassifier,
        model_kwargs={} if official else {"num_labels": num_labels},
        wrap_model=(lambda base: LinearClassifier(base, num_labels)) if official else None,
        save_model=(lambda model, out, tokenizer, extra: model.save(out, tokenizer, extra))
        if official
        else hf.save,
        train=train,
        loss=loss,
        evaluate=evaluate,
        main_metric=spec.metrics[0],
        write_predictions=write_predictions,
        pad_id=SpecialIds.of(tokenizer).pad,
        config_extra={**hf_labels(spec), SETTINGS_KEY: {"text_columns": len(spec.text_columns)}},
    )


def hf_labels(spec: Spec) -> dict[str, Any]:
    """config.json entries that make `transformers` pick the right loss and label names."""
    if spec.regression:
        return {"id2label": {"0": spec.label_column}, "label2id": {spec.label_column: 0},
                "problem_type": "regression"}  # fmt: skip
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
    return replace(base, labels=tuple(id2label[k] for k in sorted(id2label, key=int)))


def glue_dev_paths(spec: Spec, directory: Path) -> list[tuple[Path, str, str]]:
    return [(directory / name, suffix, out) for name, suffix, out in spec.dev_sets]


def custom_spec(
    text_columns: Sequence[str],
    label_column: str,
    train_path: Path,
    labels: Sequence[str] = (),
    regression: bool = False,
    name: str = "custom",
) -> Spec:
    """A `Spec` for your own data; the label set is `labels` or, when empty, the train file's."""
    if not 1 <= len(text_columns) <= 2:
        raise UserError(f"text_columns: expected one or two column names, got {len(text_columns)}")
    if regression:
        label_set: tuple[str, ...] = ()
        metrics = ("spearman", "pearson")
    else:
        found = read_examples(train_path, text_columns, label_column)
        label_set = tuple(labels) or tuple(sorted({e.label for e in found}))  # type: ignore[misc]
        if len(label_set) < 2:
            raise UserError(f"{train_path}: only one label ({quoted(label_set)}); nothing to learn")
        metrics = ("accuracy", "macro_f1")
    return Spec(name, tuple(text_columns), label_column, label_set, metrics)


def predict_file(
    spec: Spec,
    path: Path,
    tokenizer: Tokenizer,
    predict: Predict,
    max_seq_length: int,
    probs: bool = False,
) -> list[str]:
    """Label strings (or scores) for every example of an unlabelled file; with `probs`, each
    followed by the softmax probability of every label, tab-separated, in the labels' order."""
    examples = read_examples(path, spec.text_columns, None)
    outputs = predict(encode(tokenizer, examples, max_seq_length))
    labels = prediction_strings(spec, decode(spec, outputs))
    if not probs or spec.regression:
        return labels
    probabilities = torch.stack(list(outputs)).float().softmax(-1).tolist()
    return [
        "\t".join((label, *(f"{p:.6f}" for p in row)))
        for label, row in zip(labels, probabilities, strict=True)
    ]


# ---------------------------------------------------------------------------------- the family


def glue_table(
    dev: dict[str, dict[str, float]], spread: dict[str, dict[str, dict[str, float]]] | None = None
) -> str:
    """One row per task (its metrics as percentages) and the paper's GLUE average; with `spread`
    (runs over several seeds, `dev` their medians) the score's standard deviation and range."""
    rows = [f"{'task':<6} {'metrics':<44} {'score':>6}" + ("    std  range" if spread else "")]
    for name, metrics in dev.items():
        shown = ", ".join(f"{k} {100 * v:.1f}" for k, v in metrics.items())
        row = f"{name:<6} {shown:<44} {100 * metrics[GLUE[name].metrics[0]]:>6.1f}"
        if spread:
            main = spread[name][GLUE[name].metrics[0]]
            row += f" {100 * main['std']:>6.1f}  {100 * main['min']:.1f}-{100 * main['max']:.1f}"
        rows.append(row)
    counted = [n for n in dev if n not in PAPER_AVERAGE_EXCLUDES]
    what = "of the medians" if spread else ""
    rows.append(f"GLUE score (paper's average {what} over {len(counted)} tasks, WNLI excluded): "
                f"{glue_score(dev):.1f}".replace("  ", " "))  # fmt: skip
    return "\n".join(rows)


class Classification(Family):
    """GLUE tasks from their standard layout, and your own tables (`ClassificationData`)."""

    spec = FAMILIES["glue"]

    def runs(self, data: ClassificationData, out_dir: Path) -> list[Run]:
        if data.train is not None:
            return [Run("custom", data, out_dir)]
        assert data.task is not None and data.data_dir is not None
        if data.task != "all":
            spec = glue_spec(data.task)
            task_dir(data.data_dir, spec)  # there before any model is loaded
            return [Run(spec.name, data, out_dir)]
        present = [s for s in GLUE.values() if (data.data_dir / s.folder).is_dir()]
        if not present:
            raise UserError(f"{data.data_dir}: no GLUE task folders (expected CoLA/, SST-2/, ...)")
        return [Run(s.name, replace(data, task=s.name), out_dir / s.name) for s in present]

    def build_task(
        self, data: ClassificationData, tokenizer: Tokenizer, config: FinetuneConfig, settings: Any
    ) -> Task:
        if data.train is not None:
            spec = custom_spec(data.text_columns, data.label_column or "", data.train,
                               data.labels, data.regression)  # fmt: skip
            return build_task(spec, tokenizer, data.train, [(data.dev, "", "dev_predictions.tsv")],
                              config.max_seq_length, head=data.head)  # fmt: skip
        spec = glue_spec(data.task or "")
        directory = task_dir(data.data_dir or Path(), spec)
        return build_task(spec, tokenizer, directory / "train.tsv",
                          glue_dev_paths(spec, directory), config.max_seq_length,
                          data.swap_pairs, data.head)  # fmt: skip

    def load_finetuned(self, model_dir: Path) -> Finetuned:
        """The head follows config.json's architecture: `ElectraModel` with the official head in
        `head.safetensors`, or `ElectraForSequenceClassification` (e.g. made by transformers)."""
        raw = hf.read_config_json(model_dir)
        labels = spec_from_config(raw, Spec("", (), "", (), ())).labels
        if hf.architecture_class(model_dir) is EncoderOnly:
            base, tokenizer, saved = load_finetuned(model_dir, EncoderOnly, "glue")
            model = LinearClassifier.load(model_dir, base, len(labels) or 1)
        else:
            model, tokenizer, saved = load_finetuned(model_dir, SequenceClassifier, "glue",
                                                     num_labels=len(labels) or 1)  # fmt: skip
        length = saved.get("max_seq_length", 128)
        return Finetuned(model, tokenizer, labels, length, saved)

    def predict(
        self,
        finetuned: Finetuned,
        input: ClassificationInput,
        config: PredictConfig,
        settings: dict,
    ) -> Prediction:
        if input.test is not None:
            base = Spec("custom", input.text_columns, "", (), ())
            files = [(input.test, "test_predictions.tsv")]
            trained = finetuned.saved.get("text_columns")
            if trained is not None and trained != len(input.text_columns):
                raise UserError(f"text_columns: the model was fine-tuned on {trained} text(s) an "
                                f"example, {len(input.text_columns)} given ({', '.join(input.text_columns)})")  # fmt: skip
        else:
            base = glue_spec(input.task or "")
            directory = task_dir(input.data_dir or Path(), base)
            files = [(directory / name, out) for name, out in base.test_sets]
        spec = replace(base, labels=finetuned.labels)
        if input.test is None and spec.labels != base.labels:
            raise UserError(
                f"model labels {', '.join(spec.labels) or '(regression)'} do not match "
                f"{base.name}'s {', '.join(base.labels) or '(regression)'}"
            )
        device = choose_device()
        pad = SpecialIds.of(finetuned.tokenizer).pad
        predict = make_predict(finetuned.model.to(device), pad, config.batch_size, device)
        length = config.max_seq_length or finetuned.max_seq_length
        rows, skipped = {}, []
        for path, out_name in files:
            if not path.is_file() and out_name in OPTIONAL_TEST_SETS:
                skipped.append(f"{out_name}: skipped, no {path.resolve()}")
                continue
            rows[out_name] = predict_file(
                spec, path, finetuned.tokenizer, predict, length, input.probs
            )
        columns = [f"prob_{label}" for label in spec.labels] if input.probs else []
        write_predictions(rows, input.out, columns)
        counts = json.dumps({name: len(r) for name, r in rows.items()})
        return Prediction(
            message="\n".join([*skipped, f"{counts} predictions written to {input.out}"])
        )

    def score_file(self, scoring: ClassificationScoring) -> dict[str, Any]:
        spec = glue_spec(scoring.task)
        directory = task_dir(scoring.data_dir, spec)
        return score_file(
            spec, directory / (scoring.dev_file or spec.dev_sets[0][0]), scoring.predictions
        )

    def report(self, data: ClassificationData, results: list[dict[str, Any]], out_dir: Path) -> str:
        lines = super().report(data, results, out_dir)
        if data.task != "all":
            return lines
        dev = {r["task"]: r["dev"] for r in results}
        spread = {r["task"]: r["spread"] for r in results if "spread" in r} or None
        summary = {"dev": dev, "glue_score": glue_score(dev)}
        if spread:
            summary.update(statistic="median over seeds", spread=spread)
        write_json(out_dir / "glue_results.json", summary)
        return lines + "\n" + glue_table(dev, spread)


FAMILY = Classification()
