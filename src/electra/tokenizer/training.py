"""Learning a vocabulary with the `tokenizers` trainers: WordPiece (BERT, ELECTRA), Unigram with
SentencePiece's `▁` word starts (optionally with byte fallback), or byte-level BPE."""

from __future__ import annotations

import json
from collections.abc import Iterable

from tokenizers import Tokenizer, decoders, pre_tokenizers, processors
from tokenizers.models import BPE, Unigram, WordPiece
from tokenizers.trainers import BpeTrainer, UnigramTrainer, WordPieceTrainer

from electra.config import ALGORITHMS
from electra.errors import UserError
from electra.tokenizer.normalization import Normalization
from electra.tokenizer.roles import SPECIAL_TOKENS, UNK, pair_template
from electra.tokenizer.wordpiece import PREFIX, assemble

BYTES = tuple(f"<0x{b:02X}>" for b in range(256))  # SentencePiece's byte pieces
BYTE_SCORE = -1e4  # below any learned piece: bytes only spell what the vocabulary cannot


def _unigram(texts: Iterable[str], size: int, normalization: Normalization, byte_fallback: bool
             ) -> Tokenizer:  # fmt: skip
    """SentencePiece-style Unigram; with `byte_fallback`, 256 of the `size` tokens are bytes that
    spell a character the vocabulary lacks, instead of `[UNK]`."""
    learned = size - len(BYTES) if byte_fallback else size
    if learned <= len(SPECIAL_TOKENS):
        raise UserError(f"vocabulary size {size}: byte fallback takes {len(BYTES)} tokens; "
                        f"expected more than {len(BYTES) + len(SPECIAL_TOKENS)}")  # fmt: skip
    tokenizer = Tokenizer(Unigram())
    tokenizer.normalizer = normalization.normalizer(chinese=False)
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    trainer = UnigramTrainer(vocab_size=learned, special_tokens=list(SPECIAL_TOKENS),
                             unk_token=UNK, show_progress=False)  # fmt: skip
    tokenizer.train_from_iterator(texts, trainer=trainer)
    if byte_fallback:
        learned_pieces = json.loads(tokenizer.to_str())["model"]["vocab"]
        pieces = [(piece, score) for piece, score in learned_pieces] + [
            (b, BYTE_SCORE) for b in BYTES
        ]
        rebuilt = Tokenizer(Unigram(pieces, tokenizer.token_to_id(UNK), byte_fallback=True))
        rebuilt.normalizer, rebuilt.pre_tokenizer = tokenizer.normalizer, tokenizer.pre_tokenizer
        rebuilt.add_special_tokens(list(SPECIAL_TOKENS))
        rebuilt.decoder = decoders.Sequence(
            [decoders.Metaspace(), decoders.ByteFallback(), decoders.Fuse()]
        )
        tokenizer = rebuilt
    tokenizer.post_processor = pair_template(tokenizer)
    return tokenizer


def _byte_level_bpe(texts: Iterable[str], size: int, normalization: Normalization,
                    min_frequency: int) -> Tokenizer:  # fmt: skip
    """Byte-level BPE (GPT-2, RoBERTa): every text is spelt, no unknown tokens."""
    tokenizer = Tokenizer(BPE())
    tokenizer.normalizer = normalization.normalizer(chinese=False)
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = BpeTrainer(vocab_size=size, min_frequency=min_frequency,
                         special_tokens=list(SPECIAL_TOKENS), show_progress=False,
                         initial_alphabet=pre_tokenizers.ByteLevel.alphabet())  # fmt: skip
    tokenizer.train_from_iterator(texts, trainer=trainer)
    # offsets without the spaces byte-level pieces carry
    tokenizer.post_processor = processors.Sequence(
        [processors.ByteLevel(trim_offsets=True), pair_template(tokenizer)]
    )
    return tokenizer


def _wordpiece(texts: Iterable[str], size: int, normalization: Normalization, min_frequency: int
               ) -> Tokenizer:  # fmt: skip
    tokenizer = assemble(WordPiece(unk_token=UNK, max_input_chars_per_word=100), normalization)
    trainer = WordPieceTrainer(vocab_size=size, min_frequency=min_frequency,
                               special_tokens=list(SPECIAL_TOKENS),
                               continuing_subword_prefix=PREFIX, show_progress=False)  # fmt: skip
    tokenizer.train_from_iterator(texts, trainer=trainer)
    # Rebuild so the post-processor sees the special tokens the trainer just added.
    return assemble(tokenizer.model, normalization)


def train_tokenizer(
    texts: Iterable[str],
    vocab_size: int,
    lowercase: bool = True,
    min_frequency: int = 2,
    strip_accents: bool | None = None,
    algorithm: str = "wordpiece",
    normalize: str = "none",
    byte_fallback: bool = False,
) -> Tokenizer:
    """Learn a vocabulary of `vocab_size` tokens from an iterable of lines of text with
    `algorithm` (`strip_accents=None`: as BERT, when lowercasing; `normalize`: a Unicode form
    applied first). Every algorithm gets BERT's special tokens and `[CLS] A [SEP] B [SEP]`
    template; `byte_fallback` is Unigram's."""
    if vocab_size < len(SPECIAL_TOKENS) + 1:
        raise UserError(
            f"vocabulary size {vocab_size}: a vocabulary needs more than {len(SPECIAL_TOKENS)} tokens"
        )
    if algorithm not in ALGORITHMS:
        raise UserError(f"`algorithm` {algorithm!r} is not one of {', '.join(ALGORITHMS)}")
    if byte_fallback and algorithm != "unigram":
        raise UserError(f"byte fallback is Unigram's ({algorithm} "
                        f"{'spells every text in bytes already' if algorithm == 'bpe' else 'has none'})")  # fmt: skip
    normalization = Normalization(lowercase, strip_accents, normalize)
    if algorithm == "unigram":
        return _unigram(texts, vocab_size, normalization, byte_fallback)
    if algorithm == "bpe":
        return _byte_level_bpe(texts, vocab_size, normalization, min_frequency)
    return _wordpiece(texts, vocab_size, normalization, min_frequency)
