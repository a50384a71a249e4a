"""WordPiece in the BERT/ELECTRA convention: `vocab.txt` (one token per line, the line number is
the id) or a WordPiece `tokenizer.json`, in the pipeline `BertTokenizerFast` builds, so ids match
the released checkpoints."""

from __future__ import annotations

from pathlib import Path

from tokenizers import Tokenizer, decoders, pre_tokenizers
from tokenizers.models import WordPiece

from electra.errors import UserError
from electra.tokenizer.normalization import Normalization
from electra.tokenizer.roles import ROLES, UNK, pair_template, role_id

PREFIX = "##"  # a word's later pieces


def assemble(model: WordPiece, normalization: Normalization) -> Tokenizer:
    """BERT's pipeline around `model`."""
    tokenizer = Tokenizer(model)
    tokenizer.normalizer = normalization.normalizer(chinese=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece(prefix=PREFIX)
    if all(role_id(tokenizer, role) is not None for role in ROLES):
        tokenizer.post_processor = pair_template(tokenizer)
    return tokenizer


def from_vocab_txt(vocab: Path) -> tuple[WordPiece, int]:
    """The model, and the number of lines (a token listed twice makes fewer ids than lines)."""
    try:
        model = WordPiece.from_file(str(vocab), unk_token=UNK, max_input_chars_per_word=100)
    except Exception as e:  # tokenizers raises a bare Exception on unreadable files
        raise UserError(f"{vocab}: cannot read as a WordPiece vocabulary ({e})") from None
    with open(vocab, encoding="utf-8", errors="replace") as lines:
        return model, sum(1 for _ in lines)


def from_tokenizer_json(path: Path, saved: dict) -> tuple[WordPiece, Normalization | None]:
    """The WordPiece vocabulary of a `tokenizer.json`, and its normalisation where it is BERT's."""
    model = saved.get("model") or {}
    if not isinstance(model.get("vocab"), dict):
        raise UserError(f"{path}: the WordPiece model has no vocabulary")
    vocab = model["vocab"]
    if sorted(vocab.values()) != list(range(len(vocab))):
        raise UserError(f"{path}: the vocabulary's ids are not 0..{len(vocab) - 1}")
    word_piece = WordPiece(vocab, unk_token=model.get("unk_token", UNK),
                           max_input_chars_per_word=model.get("max_input_chars_per_word", 100))  # fmt: skip
    return word_piece, Normalization.read(saved.get("normalizer"))
