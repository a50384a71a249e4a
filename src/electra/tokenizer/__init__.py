"""Tokenization through the `tokenizers` library, for any vocabulary a user holds: WordPiece in
the BERT/ELECTRA convention, Unigram (SentencePiece-style, or a SentencePiece `.model` itself) and
byte-level BPE, with special tokens found by role, spelt `[CLS]` or `<s>` alike."""

from electra.tokenizer.loading import (
    TOKENIZER_FILE,
    VOCAB_FILE,
    is_lowercase,
    is_wordpiece,
    load_tokenizer,
    save_tokenizer,
    strips_accents,
    vocab_sha256,
    word_starts,
)
from electra.tokenizer.normalization import Normalization
from electra.tokenizer.roles import (
    CLS,
    MASK,
    PAD,
    SEP,
    SPECIAL_TOKENS,
    SPECIAL_TOKENS_FILE,
    TOKENIZER_CONFIG_FILE,
    UNK,
    SpecialIds,
    copy,
)
from electra.tokenizer.training import train_tokenizer

__all__ = [
    "CLS", "MASK", "PAD", "SEP", "SPECIAL_TOKENS", "SPECIAL_TOKENS_FILE", "TOKENIZER_CONFIG_FILE",
    "TOKENIZER_FILE", "UNK", "VOCAB_FILE", "Normalization", "SpecialIds", "copy", "is_lowercase",
    "is_wordpiece", "load_tokenizer", "save_tokenizer", "strips_accents", "train_tokenizer",
    "vocab_sha256", "word_starts",
]  # fmt: skip
