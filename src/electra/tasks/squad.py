"""SQuAD 1.1/2.0 extractive question answering: reader, sliding-window features, n-best decoding.

Text flows one way: a SQuAD JSON file -> validated `Example`s -> `Features` (windows of
`[CLS] question [SEP] context [SEP]` with each context token's character span in the original
context, from the tokenizer's offsets) -> start/end logits -> spans mapped back to the original
context text. Because answers are cut out of the original string by character offsets, Unicode
normalisation, odd whitespace and removed control characters in a context never corrupt them.

Answers are whole words. A word is what the tokenizer's pre-tokenizer splits off before WordPiece
cuts it into pieces (`wash ##ington`): a run of characters between whitespace and punctuation,
each punctuation mark and each CJK ideograph being a word of its own (punctuation as BERT means
it: ASCII symbols and Unicode P* characters; symbols such as "€" or "°" stay in their word). A
decoded span that starts or ends on a piece inside a word grows to the whole word ("ington" ->
"Washington"; ELECTRA's `get_final_text` would answer the piece), while punctuation joined to a
word is never added to it: "in 1850," answers "1850", as `get_final_text` makes it, unless the
span itself covers the comma. Training labels are the smallest run of tokens covering the gold
characters, so they begin on a word piece only when the annotated answer begins inside a word.

Windows follow BERT/ELECTRA: `doc_stride` tokens apart, and a token seen by several windows is
answered only from the window where it has the most context on both sides ("max context").
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from electra.errors import UserError
from electra.tasks.options import SquadConfig
from electra.tasks.windows import most_context, stride_windows
from electra.tokenizer import SpecialIds

# ------------------------------------------------------------------------------------------ reader


@dataclass
class Example:
    qid: str
    question: str
    context: str
    answers: list[tuple[str, int]] = field(default_factory=list)  # (text, character start)
    is_impossible: bool = False


def read_json(path: str | Path) -> Any:
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UserError(f"{path}: is a directory, expected a JSON file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: not valid JSON ({e})") from None


def _typed(obj: dict, key: str, kind: type, where: str, problems: list[str]) -> Any:
    """`obj[key]` when it has type `kind` (a bool is no int here), else None and a problem noted."""
    value = obj.get(key)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        found = "missing" if value is None else f"a {type(value).__name__}"
        problems.append(f"{where}: {key!r} is {found}, expected a {kind.__name__}")
        return None
    return value


def _is_object(value: Any, where: str, keys: str, problems: list[str]) -> bool:
    if not isinstance(value, dict):
        problems.append(f"{where}: expected an object with {keys}")
    return isinstance(value, dict)


def _read_answers(
    qa: dict, qid: str, context: str, check_offsets: bool, problems: list[str]
) -> list[tuple[str, int]]:
    answers = []
    for k, answer in enumerate(qa.get("answers") or []):
        where = f"question {qid} answer {k}"
        if not _is_object(answer, where, "'text' and 'answer_start'", problems):
            continue
        text = _typed(answer, "text", str, where, problems)
        if not check_offsets:  # scoring reads only the texts, as the official scripts do
            if text is not None:
                answers.append((text, -1))
            continue
        start = _typed(answer, "answer_start", int, where, problems)
        if text is None or start is None:
            continue
        found = context[start : start + len(text)] if start >= 0 else ""
        if not text.strip() or found != text:
            problems.append(
                f"question {qid}: answer_start {start} does not match the answer {text!r} "
                f"(the context there reads {found!r})"
            )
            continue
        answers.append((text, start))
    return answers


def parse_squad(
    dataset: Any, source: str, need_answers: bool = True, check_offsets: bool = True
) -> list[Example]:
    """Validate a loaded SQuAD JSON object; every problem is collected, then raised as one line.

    `need_answers` (training and scoring) requires each question to have answers or, in SQuAD 2.0,
    `is_impossible: true`; prediction-only files may leave answers out. `check_offsets` requires
    each answer's `answer_start` to point at its text in the context (training needs it).
    """
    data = dataset.get("data") if isinstance(dataset, dict) else None
    if not isinstance(data, list):
        raise UserError(f"{source}: expected a JSON object with a 'data' list (the SQuAD format)")
    examples, problems, seen = [], [], set()
    for a, article in enumerate(data):
        if not _is_object(article, f"data[{a}]", "'paragraphs'", problems):
            continue
        paragraphs = _typed(article, "paragraphs", list, f"data[{a}]", problems)
        for p, paragraph in enumerate(paragraphs or []):
            where = f"data[{a}].paragraphs[{p}]"
            if not _is_object(paragraph, where, "'context' and 'qas'", problems):
                continue
            context = _typed(paragraph, "context", str, where, problems)
            qas = _typed(paragraph, "qas", list, where, problems)
            for q, qa in enumerate(qas or []):
                if not _is_object(qa, f"{where}.qas[{q}]", "'id' and 'question'", problems):
                    continue
                qid = _typed(qa, "id", str, f"{where}.qas[{q}]", problems)
                if qid is None:
                    continue
                if qid in seen:  # predictions and scores are keyed by id: one would be lost
                    problems.append(f"question {qid}: the id appears twice ({where}.qas[{q}])")
                    continue
                seen.add(qid)
                question = _typed(qa, "question", str, f"question {qid}", problems)
                impossible = qa.get("is_impossible", False)
                if not isinstance(impossible, bool):
                    problems.append(
                        f"question {qid}: 'is_impossible' is {impossible!r}, expected true or false"
                    )
                    continue
                if "answers" in qa and not isinstance(qa["answers"], list):
                    problems.append(f"question {qid}: 'answers' is not a list")
                    continue
                if context is None or question is None:
                    continue
                answers = _read_answers(qa, qid, context, check_offsets, problems)
                if impossible and answers:
                    problems.append(f"question {qid}: is_impossible is true but it has answers")
                elif need_answers and not impossible and not qa.get("answers"):
                    problems.append(
                        f"question {qid}: no answers (expected at least one, or is_impossible: true)"
                    )
                examples.append(Example(qid, question, context, answers, impossible))
    if problems:
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        raise UserError(f"{source}: {problems[0]}{more}")
    if not examples:
        raise UserError(f"{source}: no questions found")
    return examples


def load_squad(
    path: str | Path, need_answers: bool = True, check_offsets: bool = True
) -> tuple[Any, list[Example]]:
    """(the raw JSON, its validated examples) of a SQuAD-format file."""
    dataset = read_json(path)
    return dataset, parse_squad(dataset, str(path), need_answers, check_offsets)


# ---------------------------------------------------------------------------------------- features


@dataclass
class Features:
    """One row per window; arrays are padded to `max_seq_length`."""

    input_ids: np.ndarray  # (N, L) int64
    token_type_ids: np.ndarray  # (N, L) int64: 0 for [CLS] question [SEP], 1 for context [SEP]
    attention_mask: np.ndarray  # (N, L) bool
    offsets: np.ndarray  # (N, L, 2) int64: context character span per token, -1 elsewhere
    word_offsets: np.ndarray  # (N, L, 2) int64: character span of the token's whole word, or -1
    max_context: np.ndarray  # (N, L) bool: this window is where the token has most context
    example_index: np.ndarray  # (N,) int64: which example the window belongs to
    start_positions: np.ndarray  # (N,) int64: answer start token, 0 ([CLS]) when not in the window
    end_positions: np.ndarray  # (N,) int64
    is_impossible: np.ndarray  # (N,) float32: 1 when the question has no answer (not the window)

    def __len__(self) -> int:
        return len(self.example_index)


def _word_spans(offsets: np.ndarray, word_ids: Sequence[int | None]) -> np.ndarray:
    """(T, 2): for each token, the character span of the pre-tokenizer word it is a piece of."""
    words = np.asarray([-1 if w is None else w for w in word_ids], dtype=np.int64)
    if not len(words):
        return offsets
    first = np.r_[True, (words[1:] != words[:-1]) | (words[1:] < 0)]  # a word's first piece
    starts = np.flatnonzero(first)
    ends = np.r_[starts[1:], len(words)] - 1
    word = np.cumsum(first) - 1
    return np.stack([offsets[starts, 0][word], offsets[ends, 1][word]], axis=1)


def _in_row(values: np.ndarray, at: int, length: int, fill: Any) -> np.ndarray:
    """A window's row of `length`: `values` from position `at`, `fill` elsewhere."""
    row = np.full((length, *values.shape[1:]), fill, dtype=values.dtype)
    row[at : at + len(values)] = values
    return row


def _answer_tokens(offsets: np.ndarray, start_char: int, end_char: int) -> tuple[int, int] | None:
    """First and last context token overlapping [start_char, end_char), or None."""
    first = int(np.searchsorted(offsets[:, 1], start_char, side="right"))
    last = int(np.searchsorted(offsets[:, 0], end_char, side="left")) - 1
    return (first, last) if first <= last else None


def build_features(
    examples: Sequence[Example],
    tokenizer: Tokenizer,
    config: SquadConfig,
    max_seq_length: int,
    training: bool,
) -> Features:
    """Tokenize each question and context once and cut the context into overlapping windows.

    In training a window whose context does not contain the whole (first) answer points at
    [CLS], as in BERT and ELECTRA; an answer whose characters no token covers drops its example.
    The labels are the first and last token overlapping the answer's characters: exactly its
    tokens when it starts and ends on token edges, else the fewest tokens around it.
    """
    special = SpecialIds.of(tokenizer)
    contexts = list(dict.fromkeys(e.context for e in examples))
    encoded = dict(
        zip(contexts, tokenizer.encode_batch(contexts, add_special_tokens=False), strict=True)
    )
    questions = tokenizer.encode_batch([e.question for e in examples], add_special_tokens=False)
    length = max_seq_length
    if length - config.max_query_length - 3 < 1:
        raise UserError(
            f"max_seq_length {length} leaves no room for context after "
            f"max_query_length {config.max_query_length} and 3 special tokens"
        )
    rows: dict[str, list] = {k: [] for k in Features.__dataclass_fields__}
    for index, (example, question) in enumerate(zip(examples, questions, strict=True)):
        context = encoded[example.context]
        context_ids = np.asarray(context.ids, dtype=np.int64)
        context_offsets = np.asarray(context.offsets, dtype=np.int64).reshape(-1, 2)
        context_words = _word_spans(context_offsets, context.word_ids)
        query = question.ids[: config.max_query_length]
        room = length - len(query) - 3
        answer = None
        if training and not example.is_impossible:
            text, start = example.answers[0]
            answer = _answer_tokens(context_offsets, start, start + len(text))
            if answer is None:
                continue
        spans = stride_windows(len(context_ids), room, config.doc_stride)
        best = most_context(spans, len(context_ids))
        head = [special.cls, *query, special.sep]
        for w, (start, end) in enumerate(spans):
            at, used = len(head), len(head) + end - start + 1
            ids = _in_row(np.r_[head, context_ids[start:end], special.sep], 0, length, special.pad)
            types = _in_row(np.ones(used - at, np.int64), at, length, 0)
            offsets = _in_row(context_offsets[start:end], at, length, -1)
            words = _in_row(context_words[start:end], at, length, -1)
            max_context = _in_row(best[start:end] == w, at, length, False)
            inside = answer is not None and start <= answer[0] and answer[1] < end
            first, last = (
                (answer[0] - start + len(head), answer[1] - start + len(head)) if inside else (0, 0)
            )
            for key, value in (
                ("input_ids", ids),
                ("token_type_ids", types),
                ("attention_mask", np.arange(length) < used),
                ("offsets", offsets),
                ("word_offsets", words),
                ("max_context", max_context),
                ("example_index", index),
                ("start_positions", first),
                ("end_positions", last),
                ("is_impossible", float(example.is_impossible)),  # the official label
            ):
                rows[key].append(value)
    if not rows["input_ids"]:
        raise UserError(
            "no question could be turned into features (every answer fell outside the tokens)"
        )
    return Features(
        **{
            k: np.asarray(v, dtype=np.float32 if k == "is_impossible" else None)
            for k, v in rows.items()
        }
    )


# ---------------------------------------------------------------------------------------- decoding


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
