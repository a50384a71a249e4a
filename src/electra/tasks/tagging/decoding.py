"""Tags from a tagger's outputs. Tagging cuts nothing: a sentence longer than `max_seq_length` is
split into word windows that overlap by about half, and each word takes its tag from the window
where it has the most context on both sides (BERT's rule for SQuAD windows). Predictions are turned
back into IOB2 (B-, I-) before scoring and output.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from tokenizers import Tokenizer

from electra.tasks.tagging.features import OUTSIDE, Windowed, encode_windows
from electra.tasks.tagging.reader import Sentence
from electra.tasks.task import Feature, Predict
from electra.tasks.windows import most_context


def decode(
    features: Sequence[Feature], outputs: Sequence[torch.Tensor], labels: Sequence[str]
) -> list[list[str]]:
    """Each word's tag: the argmax at its first sub-word, `O` where it has none."""
    tags = []
    for feature, logits in zip(features, outputs, strict=True):
        best = logits.argmax(-1).tolist()
        tags.append([labels[best[p]] if p >= 0 else OUTSIDE for p in feature["first"]])
    return tags


def confidence(
    features: Sequence[Feature], outputs: Sequence[torch.Tensor]
) -> list[list[float | None]]:
    """Each word's probability of its predicted tag (the softmax's largest value at its first
    sub-word); None for a word that tokenized to nothing."""
    probs = []
    for feature, logits in zip(features, outputs, strict=True):
        top = logits.float().softmax(-1).max(-1).values.tolist()
        probs.append([top[p] if p >= 0 else None for p in feature["first"]])
    return probs


def tag_windows(
    windowed: Windowed, labels: Sequence[str], predict: Predict
) -> tuple[list[list[str]], list[list[float | None]]]:
    """Each word's tag and its probability: `decode` on every window, each word tagged by the
    window where it has the most context (`electra.tasks.windows.most_context`)."""
    outputs = predict(windowed.features)
    predicted = zip(decode(windowed.features, outputs, labels),
                    confidence(windowed.features, outputs), strict=True)  # fmt: skip
    by_sentence: list[list[tuple[int, int, list[str], list[float | None]]]] = [
        [] for _ in windowed.words
    ]
    for (i, start, end), (window_tags, window_probs) in zip(
        windowed.pieces, predicted, strict=True
    ):
        by_sentence[i].append((start, end, window_tags, window_probs))
    tags, probs = [], []
    for count, windows in zip(windowed.words, by_sentence, strict=True):
        best = most_context([(start, end) for start, end, *_ in windows], count)
        tags.append([windows[w][2][word - windows[w][0]] for word, w in enumerate(best)])
        probs.append([windows[w][3][word - windows[w][0]] for word, w in enumerate(best)])
    return tags, probs


def tag(
    tokenizer: Tokenizer,
    sentences: Sequence[Sentence],
    labels: Sequence[str],
    max_seq_length: int,
    predict: Predict,
) -> tuple[list[list[str]], list[list[float | None]]]:
    """Each word's tag and its probability, for sentences of any length (see the module
    docstring)."""
    windowed = encode_windows(tokenizer, sentences, labels, max_seq_length)
    return tag_windows(windowed, labels, predict)


def conll_text(
    sentences: Sequence[Sentence],
    tags: Sequence[Sequence[str]],
    probs: Sequence[Sequence[float | None]] | None = None,
) -> str:
    """Tagged text in CoNLL format: each word's columns (the input's when kept, else the word),
    its predicted tag and, with `probs`, that tag's probability ("-" for a word without
    sub-words), tab-separated; a blank line after each sentence."""

    def extra(i: int, j: int) -> tuple[str, ...]:
        if probs is None:
            return ()
        p = probs[i][j]
        return ("-" if p is None else f"{p:.4f}",)

    return "".join(
        "".join(
            "\t".join((*(s.columns[j] if s.columns else (word,)), tag_, *extra(i, j))) + "\n"
            for j, (word, tag_) in enumerate(zip(s.words, sentence_tags, strict=True))
        )
        + "\n"
        for i, (s, sentence_tags) in enumerate(zip(sentences, tags, strict=True))
    )
