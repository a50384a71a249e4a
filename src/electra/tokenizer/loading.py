"""Loading and saving tokenizers in every form checkpoints carry them.

A checkpoint directory carries `vocab.txt` (WordPiece), or `tokenizer.json` (any model: what
current `transformers` saves), or both, or only a SentencePiece `.model`; `tokenizer_config.json`
(`do_lower_case`, `strip_accents`) says how a WordPiece vocabulary normalises text, and
`special_tokens_map.json` which spelling each special token has. We save all the files both older
and current `transformers` read: WordPiece as `ElectraTokenizer`, any other model as the generic
fast tokenizer, which runs `tokenizer.json` as it is.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tokenizers import Tokenizer
from tokenizers.models import WordPiece

from electra.errors import UserError
from electra.files import absent_reason, read_json_object, write_text
from electra.tokenizer.normalization import Normalization
from electra.tokenizer.roles import (
    ROLES,
    SPECIAL_TOKENS_FILE,
    TOKENIZER_CONFIG_FILE,
    SpecialIds,
    pair_template,
    read_roles,
    special_spellings,
    spelling,
)
from electra.tokenizer.spm import from_sentencepiece
from electra.tokenizer.wordpiece import (
    PREFIX,
    assemble,
    from_tokenizer_json,
    from_vocab_txt,
)

VOCAB_FILE = "vocab.txt"
TOKENIZER_FILE = "tokenizer.json"
SENTENCEPIECE_FILES = ("spm.model", "tokenizer.model", "sentencepiece.bpe.model")  # hub names


def _configured(directory: Path) -> tuple[bool | None, bool | None]:
    """`do_lower_case` and `strip_accents` from a checkpoint's tokenizer_config.json; None where
    it does not say."""
    config_file = directory / TOKENIZER_CONFIG_FILE
    if not config_file.is_file():
        return None, None
    config = read_json_object(config_file)
    lowercase = bool(config["do_lower_case"]) if "do_lower_case" in config else None
    strip = config.get("strip_accents")
    return lowercase, None if strip is None else bool(strip)


def load_tokenizer(path: str | Path, lowercase: bool | None = None) -> Tokenizer:
    """Load a `vocab.txt`, a `tokenizer.json`, a SentencePiece `.model`, or a checkpoint directory
    holding any of them; `lowercase=None` follows the checkpoint (uncased when it does not say)."""
    path = Path(path)
    if reason := absent_reason(path):
        raise UserError(f"{path}: {reason}")
    directory = path if path.is_dir() else path.parent
    if path.suffix == ".model":
        return _sentencepiece(path, directory)
    vocab = path / VOCAB_FILE if path.is_dir() else path
    json_file = path if path.suffix == ".json" else path / TOKENIZER_FILE
    if not vocab.is_file() and not json_file.is_file():
        if found := next((directory / n for n in SENTENCEPIECE_FILES if (directory / n).is_file()),
                         None):  # fmt: skip
            return _sentencepiece(found, directory)
        raise UserError(
            f"{path}: no vocabulary file (expected a vocab.txt, a {TOKENIZER_FILE} or a "
            f"SentencePiece .model, or a directory holding one)"
        )
    saved_normalization, listed = None, None
    if (path.suffix == ".json" or not vocab.is_file()) and json_file.is_file():
        saved = read_json_object(json_file)
        if (saved.get("model") or {}).get("type") != "WordPiece":
            return _as_saved(json_file, directory)
        model, saved_normalization = from_tokenizer_json(json_file, saved)
    else:
        model, listed = from_vocab_txt(vocab)
    saved_normalization = saved_normalization or Normalization()
    configured_lowercase, strip = _configured(directory)
    if lowercase is None:
        lowercase = configured_lowercase
    if lowercase is None:
        lowercase = saved_normalization.lowercase
    if strip is None:
        strip = saved_normalization.strip_accents
    tokenizer = assemble(model, Normalization(lowercase, strip, saved_normalization.form))
    if listed is not None and listed != tokenizer.get_vocab_size():
        raise UserError(f"{vocab}: the vocabulary lists a token twice, so its ids are ambiguous")
    read_roles(directory, tokenizer)
    SpecialIds.of(tokenizer)
    tokenizer.post_processor = pair_template(tokenizer)
    return tokenizer


def _sentencepiece(model: Path, directory: Path) -> Tokenizer:
    tokenizer = read_roles(directory, from_sentencepiece(model))
    tokenizer.post_processor = pair_template(tokenizer)  # with the roles the checkpoint names
    return tokenizer


def _as_saved(json_file: Path, directory: Path) -> Tokenizer:
    """A `tokenizer.json` of another model (Unigram, BPE) as it is, its special tokens found by
    role; one without a post-processor gets the `[CLS] A [SEP] B [SEP]` template."""
    try:
        tokenizer = Tokenizer.from_file(str(json_file))
    except Exception as e:  # tokenizers raises a bare Exception on what it cannot read
        raise UserError(
            f"{json_file}: not a tokenizer the tokenizers library reads ({e})"
        ) from None
    read_roles(directory, tokenizer)
    SpecialIds.of(tokenizer)
    if tokenizer.post_processor is None:
        tokenizer.post_processor = pair_template(tokenizer)
    return tokenizer


def word_starts(tokenizer: Tokenizer) -> list[bool]:
    """For each id, whether its token begins a word (whole-word masking's unit): WordPiece marks
    a word's later pieces (`##`), Unigram (`▁`) and byte-level BPE (`Ġ`) its first; special tokens
    stand alone."""
    model = tokenizer.model
    if isinstance(model, WordPiece):
        prefix = model.continuing_subword_prefix or PREFIX

        def starts(token: str) -> bool:
            return not token.startswith(prefix)
    else:
        mark = "Ġ" if _is_byte_level(tokenizer) else "▁"

        def starts(token: str) -> bool:
            return token.startswith(mark)

    special = special_spellings(tokenizer)
    table = [True] * tokenizer.get_vocab_size()
    for token, i in tokenizer.get_vocab().items():
        table[i] = token in special or starts(token)
    return table


def _is_byte_level(tokenizer: Tokenizer) -> bool:
    return "ByteLevel" in type(tokenizer.pre_tokenizer).__name__


def vocab_sha256(tokenizer: Tokenizer) -> str:
    """The sha256 of the vocab.txt the tokenizer saves as: the identity of a vocabulary, which
    prepared shards record and a run or a checkpoint must share."""
    by_id = sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])
    return hashlib.sha256("".join(f"{token}\n" for token, _ in by_id).encode("utf-8")).hexdigest()


def is_lowercase(tokenizer: Tokenizer) -> bool:
    return Normalization.of(tokenizer).lowercase


def strips_accents(tokenizer: Tokenizer) -> bool:
    """Whether the normaliser removes combining marks (BERT: when lowercasing, unless told)."""
    return Normalization.of(tokenizer).strips


def is_wordpiece(tokenizer: Tokenizer) -> bool:
    return isinstance(tokenizer.model, WordPiece)


def save_tokenizer(tokenizer: Tokenizer, out_dir: str | Path) -> None:
    """Write `tokenizer.json`, `tokenizer_config.json` and `special_tokens_map.json` (and for
    BERT's WordPiece pipeline `vocab.txt`), so that we, older `transformers` (vocab.txt) and current
    ones (tokenizer.json) load it: BERT's pipeline as `ElectraTokenizer`, anything else (another
    model, or a Unicode form `ElectraTokenizer` would drop) as the generic fast tokenizer."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    normalization = Normalization.of(tokenizer)
    bert = is_wordpiece(tokenizer) and normalization.form == "none"
    if bert:
        by_id = sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])
        write_text(out_dir / VOCAB_FILE, "".join(f"{token}\n" for token, _ in by_id))
    else:
        (out_dir / VOCAB_FILE).unlink(missing_ok=True)  # another vocabulary's, if any
    write_text(out_dir / TOKENIZER_FILE, tokenizer.to_str(pretty=True) + "\n")
    special = {f"{role}_token": spelling(tokenizer, role) for role in ROLES}
    if bert:
        config = {
            "tokenizer_class": "ElectraTokenizer",
            "do_lower_case": normalization.lowercase,
            "strip_accents": normalization.strip_accents,
        }
    else:
        config = {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "model_input_names": ["input_ids", "token_type_ids", "attention_mask"],  # ELECTRA's
        }
    config = {**config, "model_max_length": 512, **special}
    write_text(out_dir / TOKENIZER_CONFIG_FILE, json.dumps(config, indent=2) + "\n")
    write_text(out_dir / SPECIAL_TOKENS_FILE, json.dumps(special, indent=2) + "\n")
