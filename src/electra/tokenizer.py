"""Tokenization through the `tokenizers` library: WordPiece in the BERT/ELECTRA convention, and
Unigram (SentencePiece-style) and byte-level BPE vocabularies.

A WordPiece checkpoint directory carries `vocab.txt` (one token per line, the line number is the
id), or only `tokenizer.json` (what current `transformers` saves), or both; `tokenizer_config.json`'s
`do_lower_case` and `strip_accents` (else the normaliser in `tokenizer.json`) say how text is
normalised. We build the same pipeline as `BertTokenizerFast` from either, so ids match the
released checkpoints, and save all four files both older and current `transformers` read. Any
other `tokenizer.json` (Unigram, BPE) is used as it is and saved as it is, for `transformers`'
generic fast tokenizer. Special tokens are found by role, spelt `[CLS]` or `<s>` alike.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors
from tokenizers.models import BPE, Unigram, WordPiece
from tokenizers.trainers import BpeTrainer, UnigramTrainer, WordPieceTrainer

from electra.config import ALGORITHMS
from electra.errors import UserError
from electra.files import absent_reason, write_text

PAD, UNK, CLS, SEP, MASK = "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"
SPECIAL_TOKENS = (PAD, UNK, CLS, SEP, MASK)
VOCAB_FILE = "vocab.txt"
TOKENIZER_FILE = "tokenizer.json"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
SPECIAL_TOKENS_FILE = "special_tokens_map.json"
# role -> its spellings: BERT's, then RoBERTa's and SentencePiece models'
ROLES = {"pad": (PAD, "<pad>"), "unk": (UNK, "<unk>"), "cls": (CLS, "<s>"), "sep": (SEP, "</s>"),
         "mask": (MASK, "<mask>")}  # fmt: skip


@dataclass(frozen=True)
class SpecialIds:
    pad: int
    unk: int
    cls: int
    sep: int
    mask: int

    @classmethod
    def of(cls, tokenizer: Tokenizer) -> SpecialIds:
        """Each role's id, whichever of its spellings the vocabulary uses."""
        ids = {role: _role_id(tokenizer, role) for role in ROLES}
        missing = [" or ".join(ROLES[r]) for r, i in ids.items() if i is None]
        if missing:
            raise UserError(f"vocabulary lacks the special tokens {', '.join(missing)}")
        return cls(**ids)  # type: ignore[arg-type]


def _role_id(tokenizer: Tokenizer, role: str) -> int | None:
    return next((i for t in ROLES[role] if (i := tokenizer.token_to_id(t)) is not None), None)


def _spelling(tokenizer: Tokenizer, role: str) -> str:
    return next(t for t in ROLES[role] if tokenizer.token_to_id(t) is not None)


def _assemble(model: WordPiece, lowercase: bool, strip_accents: bool | None = None) -> Tokenizer:
    """BERT's pipeline around `model`; `strip_accents=None` strips them when lowercasing, as BERT
    and `transformers` do."""
    tokenizer = Tokenizer(model)
    tokenizer.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=strip_accents, lowercase=lowercase
    )
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece(prefix="##")
    if all(_role_id(tokenizer, role) is not None for role in ROLES):
        tokenizer.post_processor = _pair_template(tokenizer)
    return tokenizer


def _configured(directory: Path) -> tuple[bool | None, bool | None]:
    """`do_lower_case` and `strip_accents` from a checkpoint's tokenizer_config.json; None where
    it does not say."""
    config_file = directory / TOKENIZER_CONFIG_FILE
    if not config_file.is_file():
        return None, None
    config = _read_json(config_file)
    lowercase = bool(config["do_lower_case"]) if "do_lower_case" in config else None
    strip = config.get("strip_accents")
    return lowercase, None if strip is None else bool(strip)


def _read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(value, dict):
        raise UserError(f"{path}: expected a JSON object")
    return value


def _from_vocab_txt(vocab: Path) -> tuple[WordPiece, int]:
    try:
        model = WordPiece.from_file(str(vocab), unk_token=UNK, max_input_chars_per_word=100)
    except Exception as e:  # tokenizers raises a bare Exception on unreadable files
        raise UserError(f"{vocab}: cannot read as a WordPiece vocabulary ({e})") from None
    with open(vocab, encoding="utf-8", errors="replace") as lines:
        return model, sum(1 for _ in lines)


def _from_tokenizer_json(path: Path) -> tuple[WordPiece, bool | None, bool | None]:
    """The WordPiece vocabulary of a `tokenizer.json`, its normaliser's lower-casing and accent
    stripping."""
    saved = _read_json(path)
    model = saved.get("model") or {}
    if model.get("type") != "WordPiece" or not isinstance(model.get("vocab"), dict):
        raise UserError(f"{path}: not a WordPiece tokenizer (model type {model.get('type')!r})")
    vocab = model["vocab"]
    if sorted(vocab.values()) != list(range(len(vocab))):
        raise UserError(f"{path}: the vocabulary's ids are not 0..{len(vocab) - 1}")
    normalizer = saved.get("normalizer") or {}
    bert = normalizer.get("type") == "BertNormalizer"
    lowercase = normalizer.get("lowercase") if bert else None
    strip = normalizer.get("strip_accents") if bert else None
    word_piece = WordPiece(vocab, unk_token=model.get("unk_token", UNK),
                           max_input_chars_per_word=model.get("max_input_chars_per_word", 100))  # fmt: skip
    return word_piece, lowercase, strip


def load_tokenizer(path: str | Path, lowercase: bool | None = None) -> Tokenizer:
    """Load `vocab.txt`, or a checkpoint directory holding `vocab.txt` and/or `tokenizer.json`;
    `lowercase=None` follows the checkpoint (uncased when it does not say)."""
    path = Path(path)
    if reason := absent_reason(path):
        raise UserError(f"{path}: {reason}")
    directory = path if path.is_dir() else path.parent
    vocab = path / VOCAB_FILE if path.is_dir() else path
    json_file = path if path.suffix == ".json" else path / TOKENIZER_FILE
    from_json = (path.suffix == ".json" or not vocab.is_file()) and json_file.is_file()
    if from_json and (_read_json(json_file).get("model") or {}).get("type") != "WordPiece":
        return _as_saved(json_file)
    saved_lowercase, saved_strip, listed = None, None, None
    if vocab.is_file() and path.suffix != ".json":
        model, listed = _from_vocab_txt(vocab)
    elif json_file.is_file():
        model, saved_lowercase, saved_strip = _from_tokenizer_json(json_file)
    else:
        raise UserError(
            f"{path}: no vocabulary file (expected a vocab.txt, or a directory holding vocab.txt "
            f"or {TOKENIZER_FILE})"
        )
    configured_lowercase, strip = _configured(directory)
    if lowercase is None:
        lowercase = configured_lowercase
    if lowercase is None:
        lowercase = True if saved_lowercase is None else bool(saved_lowercase)
    if strip is None and saved_strip is not None:
        strip = bool(saved_strip)
    tokenizer = _assemble(model, lowercase, strip)
    if listed is not None and listed != tokenizer.get_vocab_size():
        raise UserError(f"{vocab}: the vocabulary lists a token twice, so its ids are ambiguous")
    SpecialIds.of(tokenizer)
    return tokenizer


def word_starts(tokenizer: Tokenizer) -> list[bool]:
    """For each id, whether its token begins a word (whole-word masking's unit): WordPiece marks
    a word's later pieces (`##`), Unigram (`▁`) and byte-level BPE (`Ġ`) its first; special tokens
    stand alone."""
    model = tokenizer.model
    if isinstance(model, WordPiece):
        prefix = model.continuing_subword_prefix

        def starts(token: str) -> bool:
            return not token.startswith(prefix)
    else:
        mark = "▁" if isinstance(model, Unigram) else "Ġ"

        def starts(token: str) -> bool:
            return token.startswith(mark)

    special = {t for role in ROLES.values() for t in role}
    table = [True] * tokenizer.get_vocab_size()
    for token, i in tokenizer.get_vocab().items():
        table[i] = token in special or starts(token)
    return table


def _as_saved(json_file: Path) -> Tokenizer:
    """A `tokenizer.json` of another model (Unigram, BPE) as it is, its special tokens found by
    role; one without a post-processor gets the `[CLS] A [SEP] B [SEP]` template."""
    try:
        tokenizer = Tokenizer.from_file(str(json_file))
    except Exception as e:  # tokenizers raises a bare Exception on what it cannot read
        raise UserError(
            f"{json_file}: not a tokenizer the tokenizers library reads ({e})"
        ) from None
    SpecialIds.of(tokenizer)
    if tokenizer.post_processor is None:
        tokenizer.post_processor = _pair_template(tokenizer)
    return tokenizer


def vocab_sha256(tokenizer: Tokenizer) -> str:
    """The sha256 of the vocab.txt the tokenizer saves as: the identity of a vocabulary, which
    prepared shards record and a run or a checkpoint must share."""
    by_id = sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])
    return hashlib.sha256("".join(f"{token}\n" for token, _ in by_id).encode("utf-8")).hexdigest()


def is_lowercase(tokenizer: Tokenizer) -> bool:
    return bool(getattr(tokenizer.normalizer, "lowercase", True))


def strips_accents(tokenizer: Tokenizer) -> bool:
    """Whether the normaliser removes combining marks (BERT: when lowercasing, unless told)."""
    strip = getattr(tokenizer.normalizer, "strip_accents", None)
    return is_lowercase(tokenizer) if strip is None else bool(strip)


def is_wordpiece(tokenizer: Tokenizer) -> bool:
    return isinstance(tokenizer.model, WordPiece)


def save_tokenizer(tokenizer: Tokenizer, out_dir: str | Path) -> None:
    """Write `tokenizer.json`, `tokenizer_config.json` and `special_tokens_map.json` (and for
    WordPiece `vocab.txt`), so that we, older `transformers` (vocab.txt) and current ones
    (tokenizer.json) load it: WordPiece as `ElectraTokenizer`, other models as the generic fast
    tokenizer, which runs `tokenizer.json` as it is."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if is_wordpiece(tokenizer):
        by_id = sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])
        write_text(out_dir / VOCAB_FILE, "".join(f"{token}\n" for token, _ in by_id))
    else:
        (out_dir / VOCAB_FILE).unlink(missing_ok=True)  # another vocabulary's, if any
    write_text(out_dir / TOKENIZER_FILE, tokenizer.to_str(pretty=True) + "\n")
    special = {
        f"{role}_token": _spelling(tokenizer, role) for role in ("unk", "sep", "pad", "cls", "mask")
    }
    if is_wordpiece(tokenizer):
        config = {
            "tokenizer_class": "ElectraTokenizer",
            "do_lower_case": is_lowercase(tokenizer),
            "strip_accents": getattr(tokenizer.normalizer, "strip_accents", None),
        }
    else:
        config = {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "model_input_names": ["input_ids", "token_type_ids", "attention_mask"],  # ELECTRA's
        }
    config = {**config, "model_max_length": 512, **special}
    write_text(out_dir / TOKENIZER_CONFIG_FILE, json.dumps(config, indent=2) + "\n")
    write_text(out_dir / SPECIAL_TOKENS_FILE, json.dumps(special, indent=2) + "\n")


def _pair_template(tokenizer: Tokenizer) -> processors.TemplateProcessing:
    cls_token, sep_token = _spelling(tokenizer, "cls"), _spelling(tokenizer, "sep")
    return processors.TemplateProcessing(
        single=f"{cls_token} $A {sep_token}",
        pair=f"{cls_token} $A {sep_token} $B:1 {sep_token}:1",
        special_tokens=[(t, tokenizer.token_to_id(t)) for t in (cls_token, sep_token)],
    )


def _subword(algorithm: str, lowercase: bool, strip_accents: bool | None) -> Tokenizer:
    """An untrained Unigram (SentencePiece's `▁` word starts) or byte-level BPE pipeline, with
    BERT's normalisation choices (Chinese characters are left to the model)."""
    if algorithm == "unigram":
        tokenizer = Tokenizer(Unigram())
        tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
        tokenizer.decoder = decoders.Metaspace()
    else:
        tokenizer = Tokenizer(BPE())
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
        tokenizer.decoder = decoders.ByteLevel()
    tokenizer.normalizer = normalizers.BertNormalizer(
        clean_text=True,
        handle_chinese_chars=False,
        strip_accents=strip_accents,
        lowercase=lowercase,
    )
    return tokenizer


def train_tokenizer(
    texts: Iterable[str],
    vocab_size: int,
    lowercase: bool = True,
    min_frequency: int = 2,
    strip_accents: bool | None = None,
    algorithm: str = "wordpiece",
) -> Tokenizer:
    """Learn a vocabulary of `vocab_size` tokens from an iterable of lines of text with
    `algorithm` (`strip_accents=None`: as BERT, when lowercasing). Every algorithm gets BERT's
    special tokens and `[CLS] A [SEP] B [SEP]` template."""
    if vocab_size < len(SPECIAL_TOKENS) + 1:
        raise UserError(
            f"vocabulary size {vocab_size}: a vocabulary needs more than {len(SPECIAL_TOKENS)} tokens"
        )
    if algorithm not in ALGORITHMS:
        raise UserError(f"`algorithm` {algorithm!r} is not one of {', '.join(ALGORITHMS)}")
    if algorithm != "wordpiece":
        tokenizer = _subword(algorithm, lowercase, strip_accents)
        if algorithm == "unigram":
            trainer = UnigramTrainer(vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS),
                                     unk_token=UNK, show_progress=False)  # fmt: skip
        else:
            trainer = BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                 special_tokens=list(SPECIAL_TOKENS), show_progress=False,
                                 initial_alphabet=pre_tokenizers.ByteLevel.alphabet())  # fmt: skip
        tokenizer.train_from_iterator(texts, trainer=trainer)
        template = _pair_template(tokenizer)
        if algorithm == "bpe":  # offsets without the spaces byte-level pieces carry
            tokenizer.post_processor = processors.Sequence(
                [processors.ByteLevel(trim_offsets=True), template]
            )
        else:
            tokenizer.post_processor = template
        return tokenizer
    tokenizer = _assemble(WordPiece(unk_token=UNK, max_input_chars_per_word=100), lowercase,
                          strip_accents)  # fmt: skip
    trainer = WordPieceTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(SPECIAL_TOKENS),
        continuing_subword_prefix="##",
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    # Rebuild so the post-processor sees the special tokens the trainer just added.
    return _assemble(tokenizer.model, lowercase, strip_accents)
