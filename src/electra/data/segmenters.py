"""Words of text written without spaces (Chinese, Japanese), for whole-word masking: a word
segmenter's words, and which token of an encoding begins one.

A vocabulary's own word starts (WordPiece's `##`, SentencePiece's `▁`) follow spaces, so in such
text a "word" is a character (WordPiece) or a whole run of text (Unigram, BPE). `jieba` (Chinese)
and `fugashi` with `unidic-lite` (Japanese, MeCab's segmentation) supply linguistic words instead;
both are optional extras, imported only when asked for.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence

from electra.errors import UserError

EXTRA = "`pip install 'electra[segmenters]'`"


def _jieba() -> Callable[[str], list[int]]:
    import jieba

    jieba.setLogLevel(60)  # its dictionary-loading chatter
    return lambda text: [start for _, start, _ in jieba.tokenize(text)]


def _fugashi() -> Callable[[str], list[int]]:
    import fugashi

    tagger = fugashi.Tagger()

    def starts(text: str) -> list[int]:
        found, cursor = [], 0
        for word in tagger(text):
            at = text.find(word.surface, cursor)
            if at < 0:  # a surface MeCab normalised: the word starts where the last one ended
                at = cursor
            found.append(at)
            cursor = at + len(word.surface)
        return found

    return starts


SEGMENTERS = {"jieba": _jieba, "fugashi": _fugashi}


def load_segmenter(name: str) -> Callable[[str], list[int]]:
    """A function giving the character offset where each word of a text starts."""
    try:
        return SEGMENTERS[name]()
    except ImportError as e:
        raise UserError(f"the {name} word segmenter is not installed ({e.name}): {EXTRA}") from None


def token_word_starts(
    text: str, offsets: Sequence[tuple[int, int]], starts: Sequence[int]
) -> list[bool]:
    """For each token (its character span of `text`), whether it begins a word: whether the word
    holding its first character other than a space differs from the previous token's. A bare
    word-start mark (an empty span) and the byte pieces of one character share their word with
    what follows them."""
    flags, previous = [], None
    for begin, end in offsets:
        while begin < end and text[begin].isspace():  # a piece may carry the space before it
            begin += 1
        word = bisect.bisect_right(starts, begin) - 1
        flags.append(word != previous)
        previous = word
    return flags
