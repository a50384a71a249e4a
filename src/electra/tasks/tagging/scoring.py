"""Span F1 scored as conlleval does (`seqeval`'s default mode emulates it), and its per-type report,
for chunks and entities; per-word accuracy and scikit-learn's per-tag report for other tag sets
(parts of speech)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from seqeval.metrics import (
    accuracy_score,
    classification_report,
    f1_score,
    precision_score,
    recall_score,
)
from seqeval.metrics.sequence_labeling import get_entities
from sklearn.metrics import accuracy_score as sklearn_accuracy
from sklearn.metrics import classification_report as classification_report_per_tag
from sklearn.metrics import f1_score as sklearn_f1

from electra.errors import UserError
from electra.tasks.tagging.reader import read_conll


def are_spans(tags: Iterable[Sequence[str]]) -> bool:
    """Whether a tag set is chunks or entities (every tag `O` or B-, I-, E-, S- and a type), which
    are scored by span F1; any other (parts of speech) is scored per word."""
    return all(
        t == "O" or (t[:2] in ("B-", "I-", "E-", "S-") and len(t) > 2) for s in tags for t in s
    )


def main_metric(tags: Iterable[Sequence[str]]) -> str:
    return "f1" if are_spans(tags) else "accuracy"


def score(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> dict[str, float]:
    """Chunks and entities: conlleval's span precision, recall and F1 and its token accuracy
    (0 where nothing was predicted, without a warning).
    Other tags (parts of speech): the share of words tagged right, and its macro average over tags."""
    gold, predicted = [list(g) for g in gold], [list(p) for p in predicted]
    if not are_spans(gold):
        flat_gold = [t for s in gold for t in s]
        flat_predicted = [t for s in predicted for t in s]
        return {
            "accuracy": float(sklearn_accuracy(flat_gold, flat_predicted)),
            "macro_f1": float(
                sklearn_f1(flat_gold, flat_predicted, average="macro", zero_division=0)
            ),
        }
    return {
        "f1": float(f1_score(gold, predicted, zero_division=0)),
        "precision": float(precision_score(gold, predicted, zero_division=0)),
        "recall": float(recall_score(gold, predicted, zero_division=0)),
        "accuracy": float(accuracy_score(gold, predicted)),
    }


def official_spans(tags: Sequence[str]) -> set[tuple[int, int, str]]:
    """The spans the official code's `tagging_utils.get_span_labels` reads from BIOES tags:
    a span opens at B-, S-, or any tag after O, closes before the next B-, S- or O, and takes the
    type of its last tag. More lenient than conlleval (B-NP E-VP is one VP span there, two
    chunks in conlleval)."""
    spans, last, start = set(), "O", -1
    for i, tag in enumerate(tags):
        position = None if tag == "O" else tag.split("-", 1)[0]
        if position in ("S", "B", None) and last != "O":
            spans.add((start, i - 1, last.split("-", 1)[-1]))
        if position in ("B", "S") or last == "O":
            start = i
        last = tag
    if tags and tags[-1] != "O":
        spans.add((start, len(tags) - 1, tags[-1].split("-", 1)[-1]))
    return spans


def official_f1(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> float:
    """The official `EntityLevelF1Scorer`'s F1 (0-1) over BIOES gold and raw BIOES predictions,
    reported beside conlleval's so chunking numbers compare with the paper's."""
    correct = found = expected = 0
    for gold_tags, predicted_tags in zip(gold, predicted, strict=True):
        gold_spans, predicted_spans = official_spans(gold_tags), official_spans(predicted_tags)
        correct += len(gold_spans & predicted_spans)
        expected += len(gold_spans)
        found += len(predicted_spans)
    if not correct:
        return 0.0
    precision, recall = correct / found, correct / expected
    return 2 * precision * recall / (precision + recall)


def conlleval_report(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> str:
    """conlleval's report: the overall line and one line per chunk type, with its precision,
    recall, F1 and the number of chunks of that type predicted; for other tags, scikit-learn's
    per-tag report."""
    gold, predicted = [list(g) for g in gold], [list(p) for p in predicted]
    if not are_spans(gold):
        flat_gold = [t for s in gold for t in s]
        flat_predicted = [t for s in predicted for t in s]
        return classification_report_per_tag(flat_gold, flat_predicted, digits=4, zero_division=0)
    overall = score(gold, predicted)
    per_type = classification_report(gold, predicted, output_dict=True, zero_division=0)
    expected, found_chunks = set(get_entities(gold)), set(get_entities(predicted))
    found = Counter(kind for kind, _, _ in found_chunks)
    lines = [
        f"processed {sum(map(len, gold))} tokens with {len(expected)} phrases; found: "
        f"{len(found_chunks)} phrases; correct: {len(expected & found_chunks)}.",
        f"accuracy: {100 * overall['accuracy']:6.2f}%; precision: {100 * overall['precision']:6.2f}%; "
        f"recall: {100 * overall['recall']:6.2f}%; FB1: {100 * overall['f1']:6.2f}",
    ]
    for kind in sorted(k for k in per_type if "avg" not in k):  # every type either side has
        row = per_type[kind]
        lines.append(
            f"{kind:>17}: precision: {100 * row['precision']:6.2f}%; recall: "
            f"{100 * row['recall']:6.2f}%; FB1: {100 * row['f1-score']:6.2f}  {found[kind]}"
        )
    return "\n".join(lines) + "\n"


def read_scored(path: Path) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    """The gold and predicted tags of a file whose last two columns are those (refused when the
    two share no tag: a file without its prediction column, `word POS chunk`, would be scored
    POS against chunks)."""
    gold = [s.tags for s in read_conll(path, tag_column=-2)]
    predicted = [s.tags for s in read_conll(path, tag_column=-1)]
    gold_tags = {t for tags in gold for t in tags}
    predicted_tags = {t for tags in predicted for t in tags}
    if gold_tags and predicted_tags and not gold_tags & predicted_tags:
        seen = ", ".join(sorted(gold_tags)[:3]) + " / " + ", ".join(sorted(predicted_tags)[:3])
        raise UserError(f"{path}: its last two columns share no tag ({seen}); expected "
                        "`word ... gold predicted` lines, as `predict tagging` writes them")  # fmt: skip
    return gold, predicted


def score_file(path: Path) -> dict[str, float]:
    """conlleval's scores of a file whose last two columns are the gold and predicted tags."""
    return score(*read_scored(path))
