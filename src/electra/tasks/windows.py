"""Overlapping windows over sequences too long for one forward pass, and the "most context" rule
that says which window speaks for each position. SQuAD cuts a context's tokens into windows a
fixed stride apart; tagging cuts a sentence's words into windows that fit a sub-word budget. Both
then take each position's output from the window where it has the most context on both sides:
BERT's rule, min(positions before it, positions after it) + 0.01 x the window's length, the
earlier window on ties. Spans are (start, end), end exclusive."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def stride_windows(length: int, room: int, stride: int) -> list[tuple[int, int]]:
    """Windows of `room` positions over `length`, starting `stride` apart (a stride longer than
    `room` never skips a position); one window, maybe empty, when everything fits."""
    spans, start = [], 0
    while True:
        end = min(start + room, length)
        spans.append((start, end))
        if end >= length:
            return spans
        start += min(end - start, stride)


def budget_windows(sizes: Sequence[int], budget: int) -> list[tuple[int, int]]:
    """Windows over items of `sizes` (words of so many sub-words): everything when it fits in
    `budget`, else the longest runs that fit (at least one item each), each starting halfway
    through the one before, so that they overlap by about half."""
    spans, start = [], 0
    while True:
        end, used = start, 0
        while end < len(sizes) and (end == start or used + sizes[end] <= budget):
            used += sizes[end]
            end += 1
        spans.append((start, end))
        if end >= len(sizes):
            return spans
        start = max(start + 1, (start + end) // 2)


def most_context(spans: Sequence[tuple[int, int]], length: int) -> np.ndarray:
    """(length,) the index of the window each position takes its output from (-1: none)."""
    best = np.full(length, -1)
    best_score = np.full(length, -np.inf)
    for w, (start, end) in enumerate(spans):
        position = np.arange(end - start)
        score = np.minimum(position, end - start - 1 - position) + 0.01 * (end - start)
        better = score > best_score[start:end]  # ties keep the earlier window
        best[start:end][better] = w
        best_score[start:end][better] = score[better]
    return best
