"""The settings of the data commands (`electra vocab`, `electra prepare`), as dataclasses whose
fields are the library's parameters and the commands' flags. Checked where they are built, so a
bad value stops before any work starts."""

from __future__ import annotations

import math
from dataclasses import dataclass

from electra.config import ALGORITHMS, FORMS, SEGMENTERS, choice, not_chosen
from electra.errors import UserError

MIN_SEQ_LEN = 8  # [CLS] A [SEP] B [SEP] with room for some text
MAX_VOCAB = 2**20  # past the largest vocabularies in use (250k); the trainer's memory beyond


@dataclass(frozen=True)
class Reading:
    """How the records of JSON Lines, Parquet and `datasets` corpora are read."""

    text_field: str = "text"  # the field (column) holding a record's text
    skip_bad_records: bool = False  # skip and count malformed records instead of stopping

    def __post_init__(self) -> None:
        if not self.text_field:
            raise UserError("text_field: expected a field name")


@dataclass
class VocabConfig:
    """A vocabulary learned from a corpus."""

    size: int = 30522  # tokens in the vocabulary, special tokens included (BERT's: 30522)
    algorithm: str = choice(
        "wordpiece", ALGORITHMS
    )  # wordpiece (BERT, ELECTRA), unigram (SentencePiece-style, `▁` word starts) or bpe (byte-level: no unknown tokens)
    lowercase: bool = True  # lowercase the text (BERT uncased; --no-lowercase keeps case)
    strip_accents: bool | None = (
        None  # drop combining marks (default: unless that damages a script)
    )
    normalize: str = choice(
        "none", FORMS
    )  # a Unicode normal form applied first: nfc composes, nfkc also folds compatibility forms, as SentencePiece does
    byte_fallback: bool = (
        False  # unigram: spell characters the vocabulary lacks in 256 byte tokens instead of [UNK]
    )
    min_frequency: int = 2  # rarest pair worth merging

    def __post_init__(self) -> None:  # the lower bound is checked where used: `train_tokenizer`
        if problems := not_chosen(self):
            raise UserError("; ".join(problems))
        if self.min_frequency < 1:
            raise UserError(f"min_frequency {self.min_frequency}: expected at least 1")
        if self.byte_fallback and self.algorithm != "unigram":
            raise UserError(f"byte_fallback: Unigram's option, not {self.algorithm}'s")
        if self.size > MAX_VOCAB:
            raise UserError(f"size {self.size:,}: expected at most {MAX_VOCAB:,} tokens")


@dataclass
class PrepareConfig:
    """How a corpus becomes pre-training shards."""

    seq_len: int = 128  # tokens per example
    seed: int = 0  # seed of the example builder's random choices
    workers: int = 2  # processes tokenizing in parallel
    shard_mb: float = 8.0  # MB of text per shard: the unit of parallel work and of resuming
    blanks_separate_docs: bool = True  # a blank line ends a document (off: a file is one)
    word_segmenter: str = choice(
        "none", SEGMENTERS
    )  # record the words of text without spaces for --whole-word-masking: jieba (Chinese), fugashi (Japanese)
    strip_accents: bool = False  # accept a vocabulary whose accent stripping changes a script other than Latin, Greek or Cyrillic (warns with the share)

    def __post_init__(self) -> None:
        if problems := not_chosen(self):
            raise UserError("; ".join(problems))
        if self.seq_len < MIN_SEQ_LEN:
            raise UserError(f"seq_len {self.seq_len}: expected at least {MIN_SEQ_LEN}")
        if self.workers < 1:
            raise UserError(f"`workers` {self.workers}: expected at least 1")
        if not 0 <= self.seed < 2**32:
            raise UserError(f"seed {self.seed}: expected a number in [0, 2**32)")
        if not (math.isfinite(self.shard_mb) and self.shard_mb > 0):
            raise UserError(f"shard_mb {self.shard_mb}: expected a positive size")
