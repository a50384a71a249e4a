"""Examples as windows of `[CLS] question [SEP] context [SEP]`, with each answer's token span (or
[CLS] when the window does not hold it) and the character offsets decoding needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from electra.errors import UserError
from electra.tasks.squad.options import SquadConfig
from electra.tasks.squad.reader import Example
from electra.tasks.windows import most_context, stride_windows
from electra.tokenizer import SpecialIds


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
