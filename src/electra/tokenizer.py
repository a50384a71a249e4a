"""WordPiece tokenization through the `tokenizers` library, in the BERT/ELECTRA convention.

A checkpoint directory carries `vocab.txt` (one token per line, the line number is the id) and,
from Hugging Face, `tokenizer_config.json` whose `do_lower_case` says how text is normalised.
We build the same pipeline as `BertTokenizerFast` so ids match the released checkpoints.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors
from tokenizers.models import WordPiece
from tokenizers.trainers import WordPieceTrainer

from electra.errors import UserError

PAD, UNK, CLS, SEP, MASK = "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"
SPECIAL_TOKENS = (PAD, UNK, CLS, SEP, MASK)
VOCAB_FILE = "vocab.txt"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"


@dataclass(frozen=True)
class SpecialIds:
    pad: int
    unk: int
    cls: int
    sep: int
    mask: int

    @classmethod
    def of(cls, tokenizer: Tokenizer) -> SpecialIds:
        ids = [tokenizer.token_to_id(t) for t in SPECIAL_TOKENS]
        missing = [t for t, i in zip(SPECIAL_TOKENS, ids, strict=True) if i is None]
        if missing:
            raise UserError(f"vocabulary lacks the special tokens {', '.join(missing)}")
        return cls(*ids)


def _assemble(model: WordPiece, lowercase: bool) -> Tokenizer:
    tokenizer = Tokenizer(model)
    tokenizer.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=lowercase
    )
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece(prefix="##")
    if all(tokenizer.token_to_id(t) is not None for t in SPECIAL_TOKENS):
        cls_id, sep_id = tokenizer.token_to_id(CLS), tokenizer.token_to_id(SEP)
        tokenizer.post_processor = processors.TemplateProcessing(
            single=f"{CLS} $A {SEP}",
            pair=f"{CLS} $A {SEP} $B:1 {SEP}:1",
            special_tokens=[(CLS, cls_id), (SEP, sep_id)],
        )
    return tokenizer


def _vocab_file(path: Path) -> Path:
    vocab = path / VOCAB_FILE if path.is_dir() else path
    if not vocab.is_file():
        raise UserError(
            f"{vocab}: no vocabulary file (expected a vocab.txt or a directory holding one)"
        )
    return vocab


def _configured_lowercase(path: Path) -> bool:
    """`do_lower_case` from a checkpoint's tokenizer_config.json; uncased (True) when absent."""
    config_file = (path if path.is_dir() else path.parent) / TOKENIZER_CONFIG_FILE
    if not config_file.is_file():
        return True
    try:
        return bool(json.loads(config_file.read_text(encoding="utf-8")).get("do_lower_case", True))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"{config_file}: not valid JSON ({e})") from None


def load_tokenizer(path: str | Path, lowercase: bool | None = None) -> Tokenizer:
    """Load `vocab.txt` (or a directory holding it); `lowercase=None` follows the checkpoint."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: no such file or directory")
    vocab = _vocab_file(path)
    if lowercase is None:
        lowercase = _configured_lowercase(path)
    try:
        model = WordPiece.from_file(str(vocab), unk_token=UNK, max_input_chars_per_word=100)
    except Exception as e:  # tokenizers raises a bare Exception on unreadable files
        raise UserError(f"{vocab}: cannot read as a WordPiece vocabulary ({e})") from None
    tokenizer = _assemble(model, lowercase)
    with open(vocab, encoding="utf-8", errors="replace") as lines:
        listed = sum(1 for _ in lines)
    if listed != tokenizer.get_vocab_size():
        raise UserError(f"{vocab}: the vocabulary lists a token twice, so its ids are ambiguous")
    SpecialIds.of(tokenizer)
    return tokenizer


def is_lowercase(tokenizer: Tokenizer) -> bool:
    return bool(getattr(tokenizer.normalizer, "lowercase", True))


def save_tokenizer(tokenizer: Tokenizer, out_dir: str | Path) -> None:
    """Write `vocab.txt` and `tokenizer_config.json` so both we and `transformers` can load it."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    by_id = sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])
    (out_dir / VOCAB_FILE).write_text("".join(f"{token}\n" for token, _ in by_id), encoding="utf-8")
    config = {
        "tokenizer_class": "ElectraTokenizer",
        "do_lower_case": is_lowercase(tokenizer),
        "model_max_length": 512,
        "unk_token": UNK,
        "sep_token": SEP,
        "pad_token": PAD,
        "cls_token": CLS,
        "mask_token": MASK,
    }
    (out_dir / TOKENIZER_CONFIG_FILE).write_text(
        json.dumps(config, indent=2) + "\n", encoding="utf-8"
    )


def train_tokenizer(
    texts: Iterable[str], vocab_size: int, lowercase: bool = True, min_frequency: int = 2
) -> Tokenizer:
    """Learn a WordPiece vocabulary of `vocab_size` tokens from an iterable of lines of text."""
    if vocab_size < len(SPECIAL_TOKENS) + 1:
        raise UserError(
            f"vocabulary size {vocab_size}: a vocabulary needs more than {len(SPECIAL_TOKENS)} tokens"
        )
    tokenizer = _assemble(WordPiece(unk_token=UNK, max_input_chars_per_word=100), lowercase)
    trainer = WordPieceTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(SPECIAL_TOKENS),
        continuing_subword_prefix="##",
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    # Rebuild so the post-processor sees the special tokens the trainer just added.
    return _assemble(tokenizer.model, lowercase)
