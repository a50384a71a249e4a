"""Tags on each word's first sub-word, chunk tags re-tagged as the official code trains them, and
sentences cut into word windows that fit.

Chunk tags are trained in BIOES (`label_encoding`): the file's chunks (read with conlleval's
rules, so IOB1, IOB2 and BIOES files all work) are re-tagged B-/I-/E- for a chunk's first, inner
and last word and S- for a one-word chunk, which gives the model the chunk ends to learn as well as
the starts. A tag set that is not chunk tags (part-of-speech tags, say) is used as it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from seqeval.metrics.sequence_labeling import get_entities
from tokenizers import Tokenizer

from electra.errors import UserError
from electra.tasks.tagging.model import SEGMENT
from electra.tasks.tagging.reader import Sentence
from electra.tasks.tagging.scoring import are_spans
from electra.tasks.task import Feature
from electra.tasks.windows import budget_windows
from electra.tokenizer import copy

IGNORE = -100  # label of positions that are not a word's first sub-word (F.cross_entropy skips it)
OUTSIDE = "O"
CHUNK_PREFIXES = ("B-", "I-", "E-", "S-")


def is_chunk_tagging(sentences: Iterable[Sentence]) -> bool:
    """Whether every tag is `O` or a chunk tag (B-, I-, E- or S- and a type)."""
    return are_spans(s.tags for s in sentences)


def retag(tags: Sequence[str], scheme: str) -> list[str]:
    """The same chunks (found as conlleval finds them) in `scheme`, "BIOES" or "IOB2"."""
    out = [OUTSIDE] * len(tags)
    for kind, start, end in get_entities(list(tags)):
        out[start : end + 1] = [f"I-{kind}"] * (end + 1 - start)
        out[start] = f"B-{kind}"
        if scheme == "BIOES":
            out[end] = f"E-{kind}"
            if start == end:
                out[start] = f"S-{kind}"
    return out


def _retagged(sentences: Sequence[Sentence], scheme: str) -> list[Sentence]:
    return [replace(s, tags=tuple(retag(s.tags, scheme))) for s in sentences]


def label_set(
    files: Sequence[tuple[Path, list[Sentence]]], labels: Sequence[str] = ()
) -> tuple[str, ...]:
    """`labels` when given (every tag must be one), else every tag seen, sorted. The official
    code also builds its tag set from all splits: CoNLL-2000's test set has an I-LST that its
    train set lacks."""
    if not labels:
        return tuple(sorted({t for _, sentences in files for s in sentences for t in s.tags}))
    known = set(labels)
    for path, sentences in files:
        for s in sentences:
            for offset, tag in enumerate(s.tags):
                if tag not in known:
                    raise UserError(
                        f"{path}:{s.line + offset}: tag {tag!r} is not one of {', '.join(labels)}"
                    )
    return tuple(labels)


def encode(
    tokenizer: Tokenizer, sentences: Sequence[Sentence], labels: Sequence[str], max_seq_length: int
) -> list[Feature]:
    """Token ids with `labels` on each word's first sub-word (IGNORE elsewhere, and everywhere for
    sentences without tags); `first` holds each word's first sub-word position, -1 for a word that
    was cut off or tokenized to nothing."""
    tokenizer = copy(tokenizer)  # truncation is tokenizer state
    tokenizer.enable_truncation(max_seq_length)
    index = {label: i for i, label in enumerate(labels)}
    features = []
    for sentence, enc in zip(
        sentences,
        tokenizer.encode_batch([list(s.words) for s in sentences], is_pretokenized=True),
        strict=True,
    ):
        first = first_pieces(enc.word_ids, enc.tokens, len(sentence.words))
        targets = [IGNORE] * len(enc.ids)
        if sentence.tags:
            for word, position in enumerate(first):
                if position >= 0:
                    targets[position] = index[sentence.tags[word]]
        features.append(
            {
                "input_ids": enc.ids,
                "token_type_ids": [SEGMENT] * len(enc.ids),  # the official tagger's
                "labels": targets,
                "first": first,
            }
        )
    return features


BARE_MARKS = ("▁", "Ġ")  # a word-start mark alone (Unigram, byte-level BPE): the word is after it


def first_pieces(word_ids: Sequence[int | None], tokens: Sequence[str], words: int) -> list[int]:
    """Each word's first piece that carries its text (-1: none): its first piece, or the next one
    when the first is a bare word-start mark (Unigram's `▁` before a word it has no piece for, as
    in Japanese), whose vector would say nothing about which word follows."""
    first = [-1] * words
    for position, word in enumerate(word_ids):
        if word is None:
            continue
        if first[word] < 0 or first[word] == position - 1 and tokens[first[word]] in BARE_MARKS:
            first[word] = position
    return first


@dataclass(frozen=True)
class Windowed:
    """Sentences split into word windows that fit, encoded: built once, predicted as often as
    needed (dev scoring does it every epoch)."""

    words: tuple[int, ...]  # each sentence's number of words
    pieces: tuple[tuple[int, int, int], ...]  # per feature: (sentence index, start, end word)
    features: list[Feature]


def encode_windows(
    tokenizer: Tokenizer, sentences: Sequence[Sentence], labels: Sequence[str], max_seq_length: int
) -> Windowed:
    """The word windows of each sentence (`windows`), encoded as `encode` encodes a sentence."""
    budget = max_seq_length - tokenizer.num_special_tokens_to_add(False)
    if budget < 1:
        raise UserError(f"max_seq_length {max_seq_length} leaves no room for words")
    counter = copy(tokenizer)
    counter.no_truncation()
    encodings = counter.encode_batch(
        [list(s.words) for s in sentences], is_pretokenized=True, add_special_tokens=False
    )
    pieces = []
    for i, (sentence, enc) in enumerate(zip(sentences, encodings, strict=True)):
        lengths = [0] * len(sentence.words)
        for word in enc.word_ids:
            if word is not None:
                lengths[word] += 1
        pieces += [(i, start, end) for start, end in budget_windows(lengths, budget)]
    window_sentences = [
        Sentence(sentences[i].words[start:end], (), sentences[i].line) for i, start, end in pieces
    ]
    return Windowed(
        tuple(len(s.words) for s in sentences),
        tuple(pieces),
        encode(tokenizer, window_sentences, labels, max_seq_length),
    )
