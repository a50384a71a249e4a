"""Answers from span logits or beams: the best valid span over a question's windows, its text cut
from the context by character offsets, the n-best list and the null odds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from electra.tasks.squad.features import Features
from electra.tasks.squad.options import SquadConfig
from electra.tasks.squad.reader import Example


@dataclass
class Answer:
    text: str  # the best span's text, even when the null odds say "no answer" (see `answer`)
    score: float  # the best span's score: start + end logits, or log-probabilities (joint head)
    null_odds: float | None  # SQuAD 2.0: higher means "no answer" is more likely
    probability: float | None = None  # the best span's share of the n-best (official nbest)

    def answer(self, null_threshold: float) -> str:
        """The final answer: "" when the null odds exceed the threshold."""
        return "" if self.null_odds is not None and self.null_odds > null_threshold else self.text


Span = tuple[float, int, int]  # (score, first token, last token) in one window


def _valid(first: np.ndarray, last: np.ndarray, starts_ok: np.ndarray, ends_ok: np.ndarray,
           config: SquadConfig) -> np.ndarray:  # fmt: skip
    length = last - first + 1
    return starts_ok[first] & ends_ok[last] & (length >= 1) & (length <= config.max_answer_length)


def _window_spans(
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    starts_ok: np.ndarray,
    ends_ok: np.ndarray,
    config: SquadConfig,
) -> list[Span]:
    """The independent head's valid spans among one window's n-best starts and ends, scored by
    the sum of their logits."""
    k = config.n_best_size
    start_top = np.flatnonzero(starts_ok)[np.argsort(-start_logits[starts_ok], kind="stable")[:k]]
    end_top = np.flatnonzero(ends_ok)[np.argsort(-end_logits[ends_ok], kind="stable")[:k]]
    first, last = np.broadcast_arrays(start_top[:, None], end_top[None, :])  # (k, k)
    scores = start_logits[first] + end_logits[last]
    rows, cols = np.nonzero(_valid(first, last, starts_ok, ends_ok, config))
    return [
        (float(scores[r, c]), int(first[r, c]), int(last[r, c]))
        for r, c in zip(rows, cols, strict=True)
    ]


@dataclass
class Beams:
    """The joint head's beam per window (`SquadModel`): the top starts' log-probabilities and
    positions (N, K), and for each start the top ends' log-probabilities and positions (N, K, K)."""

    start_log_probs: np.ndarray
    start_index: np.ndarray
    end_log_probs: np.ndarray
    end_index: np.ndarray

    def spans(self, window: int, starts_ok: np.ndarray, ends_ok: np.ndarray,
              config: SquadConfig) -> list[Span]:  # fmt: skip
        """The valid (start, end) pairs of one window's beam, scored by the sum of their
        log-probabilities, as the official `write_predictions` does."""
        first, last = np.broadcast_arrays(self.start_index[window][:, None], self.end_index[window])
        scores = self.start_log_probs[window][:, None] + self.end_log_probs[window]
        rows, cols = np.nonzero(_valid(first, last, starts_ok, ends_ok, config))
        return [
            (float(scores[r, c]), int(first[r, c]), int(last[r, c]))
            for r, c in zip(rows, cols, strict=True)
        ]


def decode(
    examples: Sequence[Example],
    features: Features,
    start_logits: np.ndarray | Beams,
    end_logits: np.ndarray | None,
    null_logits: np.ndarray | None,
    config: SquadConfig,
    version_2: bool,
) -> dict[str, Answer]:
    """The best answer per question id from its windows' outputs: the independent head's start
    and end logits `(N, L)`, or the joint head's `Beams` (and `end_logits` None).

    Every question gets its best span's text; SQuAD 2.0 adds null odds, applied only when the
    answer is used (`Answer.answer`) or scored, as the official code does, so that scoring can
    sweep every threshold. The odds follow ELECTRA: the smallest answerability ("no answer") logit
    over the question's windows. A model without that head (e.g. one fine-tuned elsewhere) falls
    back to BERT's rule: the best [CLS] start+end score minus the best span score. The answer text
    runs from the start of the word holding the span's first token to the end of the word holding
    its last (see the module docstring).
    """
    by_example: dict[int, list[int]] = {}
    for f, e in enumerate(features.example_index.tolist()):
        by_example.setdefault(e, []).append(f)
    answers = {}
    for e, example in enumerate(examples):
        candidates, null_scores = [], []
        for f in by_example.get(e, []):
            in_context = features.offsets[f, :, 0] >= 0
            starts_ok = in_context & features.max_context[f]
            if isinstance(start_logits, Beams):
                spans = start_logits.spans(f, starts_ok, in_context, config)
            else:
                assert end_logits is not None
                spans = _window_spans(start_logits[f], end_logits[f], starts_ok, in_context, config)
            candidates += [(score, f, first, last) for score, first, last in spans]
            if null_logits is not None:
                null_scores.append(float(null_logits[f]))
            elif not isinstance(start_logits, Beams):
                null_scores.append(float(start_logits[f, 0] + end_logits[f, 0]))
        nbest = _nbest(example, features, candidates, config.n_best_size)
        text, best = nbest[0] if nbest else ("", 0.0)
        probability = None
        if nbest:
            scores = np.array([score for _, score in nbest], dtype=np.float64)
            probability = float(1.0 / np.exp(scores - scores[0]).sum())  # softmax's first entry
        null_odds = None
        if version_2 and null_scores:
            null_odds = min(null_scores) - (0.0 if null_logits is not None else best)
        answers[example.qid] = Answer(text, best, null_odds, probability)
    return answers


def _nbest(
    example: Example, features: Features, candidates: list[tuple[float, int, int, int]], size: int
) -> list[tuple[str, float]]:
    """The `size` best-scoring distinct answer texts, best first (the official n-best list)."""
    nbest: dict[str, float] = {}
    for score, f, first, last in sorted(candidates, key=lambda c: -c[0]):
        words = features.word_offsets[f]
        text = example.context[words[first, 0] : words[last, 1]]
        nbest.setdefault(text, score)
        if len(nbest) == size:
            break
    return list(nbest.items())
