"""SQuAD scoring exactly as the official v1.1 and v2.0 evaluation scripts define it.

Our own implementation of the published definitions, kept digit-for-digit compatible:

- Normalisation: lower-case, drop every `string.punctuation` character, replace the whole words
  a/an/the by a space, collapse whitespace (in that order).
- Exact match and token-bag F1 against each gold answer; a question scores its best gold answer.
- v1.1 reports `{"exact_match", "f1"}` as percentages over *every* question (a question without a
  prediction scores 0). Its F1 is 0 whenever no token is shared, even if both sides are empty.
- v2.0 drops gold answers that normalise to nothing; a question left with none (unanswerable)
  has the single gold answer `""`. Its F1 is 1 when both sides are empty and 0 when only one is.
  A prediction counts as "no answer" when its null odds exceed `na_prob_thresh` (default 1.0).
  It reports `exact`, `f1`, `total`, the same for the `HasAns_` and `NoAns_` subsets, and with
  null odds `best_exact`/`best_f1` with their thresholds: questions are swept in ascending order
  of null odds (a stable sort, so ties keep the odds file's order) and a threshold is taken only
  when it strictly improves the running score, starting from "answer nothing" at threshold 0.0.

Sums run in the dataset's order so the floating-point results equal the official scripts'.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

from electra.errors import UserError

_PUNCTUATION = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)


def normalize_answer(text: str) -> str:
    """Lower-case, strip punctuation, replace articles by a space, collapse whitespace."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def _token_f1(pred_tokens: list[str], gold_tokens: list[str]) -> float:
    """Harmonic mean of token-bag precision and recall; 0 when nothing is shared."""
    num_same = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(pred_tokens)
    recall = 1.0 * num_same / len(gold_tokens)
    return (2 * precision * recall) / (precision + recall)


def f1_v1(prediction: str, gold: str) -> float:
    return _token_f1(normalize_answer(prediction).split(), normalize_answer(gold).split())


def f1_v2(prediction: str, gold: str) -> float:
    pred_tokens, gold_tokens = normalize_answer(prediction).split(), normalize_answer(gold).split()
    if not pred_tokens or not gold_tokens:
        return int(pred_tokens == gold_tokens)  # "no answer" agrees only with "no answer"
    return _token_f1(pred_tokens, gold_tokens)


def exact(prediction: str, gold: str) -> int:
    return int(normalize_answer(prediction) == normalize_answer(gold))


def iter_questions(data: list[dict[str, Any]]) -> Iterator[tuple[str, list[str]]]:
    """(question id, gold answer texts) in file order, from the `data` list of a SQuAD file."""
    for article in data:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                yield qa["id"], [answer["text"] for answer in qa.get("answers", [])]


def _check_predictions(predictions: Mapping[str, Any], source: str) -> None:
    bad = [qid for qid, text in predictions.items() if not isinstance(text, str)]
    if bad:
        raise UserError(
            f"{source}: the answer for question {bad[0]} is not a string ({len(bad)} such)"
        )


def evaluate_v1(data: list[dict[str, Any]], predictions: Mapping[str, str]) -> dict[str, float]:
    """The v1.1 script's `{"exact_match", "f1"}`; unanswered questions count and score 0."""
    _check_predictions(predictions, "predictions")
    total, exact_sum, f1_sum = 0, 0, 0
    for qid, golds in iter_questions(data):
        total += 1
        if qid not in predictions:
            continue
        if not golds:
            raise UserError(f"question {qid} has no gold answer; v1.1 scoring needs one (use 2.0)")
        prediction = predictions[qid]
        exact_sum += max(exact(prediction, gold) for gold in golds)
        f1_sum += max(f1_v1(prediction, gold) for gold in golds)
    if total == 0:
        raise UserError("the dataset has no questions to score")
    return {"exact_match": 100.0 * exact_sum / total, "f1": 100.0 * f1_sum / total}


def _summary(
    exact_scores: dict[str, float], f1_scores: dict[str, float], qids: list[str]
) -> dict[str, Any]:
    total = len(qids)
    return {
        "exact": 100.0 * sum(exact_scores[q] for q in qids) / total,
        "f1": 100.0 * sum(f1_scores[q] for q in qids) / total,
        "total": total,
    }


def _best_threshold(
    predictions: Mapping[str, str],
    scores: dict[str, float],
    na_probs: Mapping[str, float],
    has_answer: dict[str, bool],
) -> tuple[float, float]:
    """Sweep thresholds in ascending null odds; the running score starts at "answer nothing"."""
    score = best = sum(1 for qid in has_answer if not has_answer[qid])
    best_threshold = 0.0
    for qid in sorted(na_probs, key=lambda q: na_probs[q]):
        if qid not in scores:
            continue
        if has_answer[qid]:
            score += scores[qid]
        elif predictions[qid]:
            score -= 1  # answering an unanswerable question loses its "no answer" point
        if score > best:
            best, best_threshold = score, na_probs[qid]
    return 100.0 * best / len(scores), best_threshold


def evaluate_v2(
    data: list[dict[str, Any]],
    predictions: Mapping[str, str],
    na_probs: Mapping[str, float] | None = None,
    na_prob_thresh: float = 1.0,
) -> dict[str, Any]:
    """The v2.0 script's output dict (same keys, order and values); every question needs an answer."""
    _check_predictions(predictions, "predictions")
    questions = list(iter_questions(data))
    if not questions:
        raise UserError("the dataset has no questions to score")
    missing = [qid for qid, _ in questions if qid not in predictions]
    if missing:
        raise UserError(
            f"predictions lack {len(missing)} of {len(questions)} questions (first: {missing[0]}); "
            'the v2.0 scoring needs an answer, possibly "", for every question'
        )
    odds = na_probs if na_probs is not None else dict.fromkeys(predictions, 0.0)
    unscored = [qid for qid, _ in questions if qid not in odds]
    if unscored:
        raise UserError(f"null odds lack {len(unscored)} questions (first: {unscored[0]})")
    bad = [qid for qid, p in odds.items() if isinstance(p, bool) or not isinstance(p, (int, float))]
    if bad:
        raise UserError(
            f"null odds: the value for question {bad[0]} is not a number ({len(bad)} such)"
        )

    has_answer = {qid: bool(golds) for qid, golds in questions}
    exact_raw, f1_raw = {}, {}
    for qid, golds in questions:
        golds = [g for g in golds if normalize_answer(g)] or [""]
        exact_raw[qid] = max(exact(predictions[qid], g) for g in golds)
        f1_raw[qid] = max(f1_v2(predictions[qid], g) for g in golds)

    def thresholded(raw: dict[str, float]) -> dict[str, float]:
        return {
            q: float(not has_answer[q]) if odds[q] > na_prob_thresh else s for q, s in raw.items()
        }

    exact_scores, f1_scores = thresholded(exact_raw), thresholded(f1_raw)
    result = _summary(exact_scores, f1_scores, list(exact_scores))
    for prefix, wanted in (("HasAns", True), ("NoAns", False)):
        subset = [qid for qid, has in has_answer.items() if has == wanted]
        if subset:
            result.update(
                {f"{prefix}_{k}": v for k, v in _summary(exact_scores, f1_scores, subset).items()}
            )
    if na_probs is not None:
        result["best_exact"], result["best_exact_thresh"] = _best_threshold(
            predictions, exact_raw, odds, has_answer
        )
        result["best_f1"], result["best_f1_thresh"] = _best_threshold(
            predictions, f1_raw, odds, has_answer
        )
    return result


def detect_version(dataset: Mapping[str, Any]) -> str:
    """'2.0' when the file says v2 or has an `is_impossible` question, else '1.1'."""
    if str(dataset.get("version", "")).lstrip("v").startswith("2"):
        return "2.0"
    impossible = (
        qa.get("is_impossible", False)
        for article in dataset.get("data", [])
        for paragraph in article.get("paragraphs", [])
        for qa in paragraph.get("qas", [])
    )
    return "2.0" if any(impossible) else "1.1"
