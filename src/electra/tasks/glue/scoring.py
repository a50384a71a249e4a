"""The official GLUE metrics of predictions, prediction files (the leaderboard's format), and the
paper's GLUE average.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

from electra.errors import UserError
from electra.files import write_text
from electra.tasks.glue.catalog import GLUE, PAPER_AVERAGE_EXCLUDES, Spec
from electra.tasks.glue.features import targets
from electra.tasks.tables import LABELS_SEPARATOR, read_examples


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
    "micro_f1": lambda gold, predicted: float(  # multi-label: over every (example, label) pair
        f1_score(gold, predicted, average="micro", zero_division=0)
    ),
    "mcc": lambda gold, predicted: float(matthews_corrcoef(gold, predicted)),
    "pearson": _correlation(pearsonr),
    "spearman": _correlation(spearmanr),
}


def decode(spec: Spec, outputs: Sequence[torch.Tensor]) -> np.ndarray:
    """Model outputs -> predicted label indices (or scores for regression)."""
    logits = torch.stack(list(outputs))
    if spec.multi_label:  # each label on its own: probability above a half
        return (logits.float() > 0).long().numpy()
    return (
        logits[:, 0].numpy() * spec.target_scale if spec.regression else logits.argmax(-1).numpy()
    )


def prediction_strings(spec: Spec, predicted: np.ndarray) -> list[str]:
    """GLUE's label strings, or the STS-B score (9 digits: float32 exactly)."""
    if spec.regression:
        return [f"{p:.9g}" for p in predicted]
    if spec.multi_label:
        return [LABELS_SEPARATOR.join(label for label, on in zip(spec.labels, row, strict=True) if on)
                for row in predicted]  # fmt: skip
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
