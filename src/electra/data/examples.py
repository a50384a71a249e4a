"""ELECTRA's pre-training example builder: consecutive lines of one document -> `[CLS] A [SEP] B [SEP]`.

Follows the official `build_pretraining_dataset.py`: lines are gathered until they reach the
target length or the document ends; 10% of examples keep a single segment, otherwise the first
segment takes about half the target, cut at a line boundary (a line that would overflow it goes
first with probability 1/2); 5% of examples get a random target length in [5, seq_len]; there is
no next-sentence prediction.

Two departures, both keeping the text as written:
- The official loop may put a short line back into the first segment after the second has begun,
  which reorders the text; here, once the second segment starts, every later line goes to it.
- The official builder truncates what does not fit in `seq_len` (the end of the line that crossed
  the target, or of a line longer than a row) and loses it: 24% of the tokens of the embedded
  default corpus. Here it opens the document's next example instead, so every token of the corpus
  is in exactly one example; that example's first segment starts mid-line, as can a second
  segment inside a line longer than a row.
"""

from __future__ import annotations

import random
from itertools import chain

import numpy as np

SINGLE_SEGMENT_PROB = 0.1
SHORT_TARGET_PROB = 0.05
MIN_SHORT_TARGET = 5
BUILDER_VERSION = 2  # 2: the overflow of a row opens the next example instead of being cut


class ExampleBuilder:
    """Feed it the token ids of each line and the ends of documents; it hands back full rows."""

    def __init__(
        self, seq_len: int, cls_id: int, sep_id: int, pad_id: int, rng: random.Random
    ) -> None:
        assert seq_len >= MIN_SHORT_TARGET
        self.seq_len, self.cls_id, self.sep_id, self.pad_id = seq_len, cls_id, sep_id, pad_id
        self.rng = rng
        self.target = seq_len
        self._lines: list[list[int]] = []
        self._length = 0
        self._rows: list[list[int]] = []

    def add_line(self, ids: list[int]) -> None:
        # A line longer than a row is read in row-sized pieces: what one example leaves over then
        # stays under two rows, however long the line.
        for start in range(0, len(ids), self.seq_len):
            piece = ids[start : start + self.seq_len]
            self._lines.append(piece)
            self._length += len(piece)
            while self._length >= self.target:
                self._create()

    def end_document(self) -> None:
        while self._length:
            self._create()

    def _create(self) -> None:
        rng = self.rng
        half = 1 << 62 if rng.random() < SINGLE_SEGMENT_PROB else (self.target - 3) // 2
        first: list[int] = []
        second: list[int] = []
        for ids in self._lines:
            if not second and (
                not first
                or len(first) + len(ids) < half
                or (len(first) < half and rng.random() < 0.5)
            ):
                first += ids
            else:
                second += ids
        kept_first = first[: self.seq_len - 2]
        kept_second = second[: max(0, self.seq_len - len(kept_first) - 3)]
        row = [self.cls_id, *kept_first, self.sep_id]
        if kept_second:
            row += [*kept_second, self.sep_id]
        self._rows.append(row)
        overflow = first[len(kept_first) :] + second[len(kept_second) :]  # in reading order
        self._lines, self._length = ([overflow], len(overflow)) if overflow else ([], 0)
        short = rng.random() < SHORT_TARGET_PROB
        self.target = rng.randint(MIN_SHORT_TARGET, self.seq_len) if short else self.seq_len

    def take(self) -> np.ndarray:
        """The rows built so far as a (N, seq_len) int64 array, right-padded with [PAD]."""
        rows, self._rows = self._rows, []
        lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
        out = np.full((len(rows), self.seq_len), self.pad_id, dtype=np.int64)
        # One scatter for the whole batch: row r's tokens go to out[r, :lengths[r]].
        tokens = np.fromiter(chain.from_iterable(rows), dtype=np.int64, count=int(lengths.sum()))
        out[np.arange(self.seq_len) < lengths[:, None]] = tokens
        return out
