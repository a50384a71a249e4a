"""Special tokens by role, whatever their spelling: BERT's `[CLS]`, RoBERTa's and SentencePiece
models' `<s>`, or what a checkpoint's `special_tokens_map.json` names."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tokenizers import Tokenizer, processors

from electra.errors import UserError

PAD, UNK, CLS, SEP, MASK = "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"
SPECIAL_TOKENS = (PAD, UNK, CLS, SEP, MASK)
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
SPECIAL_TOKENS_FILE = "special_tokens_map.json"
# role -> its usual spellings: BERT's, then RoBERTa's and SentencePiece models'
ROLES = {"pad": (PAD, "<pad>"), "unk": (UNK, "<unk>"), "cls": (CLS, "<s>"), "sep": (SEP, "</s>"),
         "mask": (MASK, "<mask>")}  # fmt: skip
# a Tokenizer's own spellings (read from its checkpoint), which come before the usual ones
NAMED = "electra_roles"


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
        ids = {role: role_id(tokenizer, role) for role in ROLES}
        missing = [" or ".join(ROLES[r]) for r, i in ids.items() if i is None]
        if missing:
            raise UserError(f"vocabulary lacks the special tokens {', '.join(missing)}")
        return cls(**ids)  # type: ignore[arg-type]


def spellings(tokenizer: Tokenizer, role: str) -> tuple[str, ...]:
    named = getattr(tokenizer, NAMED, {}).get(role)
    return (named, *ROLES[role]) if named else ROLES[role]


def role_id(tokenizer: Tokenizer, role: str) -> int | None:
    return next(
        (i for t in spellings(tokenizer, role) if (i := tokenizer.token_to_id(t)) is not None), None
    )


def spelling(tokenizer: Tokenizer, role: str) -> str:
    return next(t for t in spellings(tokenizer, role) if tokenizer.token_to_id(t) is not None)


def special_spellings(tokenizer: Tokenizer) -> set[str]:
    return {t for role in ROLES for t in spellings(tokenizer, role)}


def name_roles(tokenizer: Tokenizer, named: dict[str, str]) -> Tokenizer:
    setattr(tokenizer, NAMED, dict(named))
    return tokenizer


def copy(tokenizer: Tokenizer) -> Tokenizer:
    """An independent copy (truncation and padding are tokenizer state) that keeps its roles."""
    return name_roles(Tokenizer.from_str(tokenizer.to_str()), getattr(tokenizer, NAMED, {}))


def read_roles(directory: Path, tokenizer: Tokenizer) -> Tokenizer:
    """Take the special tokens' spellings from a checkpoint's `special_tokens_map.json`, else its
    `tokenizer_config.json` (`"cls_token": "<s>"`, or `{"content": "<s>", ...}`): a token named
    there that the vocabulary lacks is an error naming the file and field."""
    for name in (SPECIAL_TOKENS_FILE, TOKENIZER_CONFIG_FILE):
        path = directory / name
        if not path.is_file():
            continue
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise UserError(f"{path}: not valid JSON ({e})") from None
        named = {}
        for role in ROLES:
            value = saved.get(f"{role}_token") if isinstance(saved, dict) else None
            token = value.get("content") if isinstance(value, dict) else value
            if not isinstance(token, str):
                continue
            if tokenizer.token_to_id(token) is None:
                raise UserError(f"{path}: {role}_token {token!r} is not in the vocabulary")
            named[role] = token
        if named:
            return name_roles(tokenizer, named)
    return tokenizer


def pair_template(tokenizer: Tokenizer) -> processors.TemplateProcessing:
    """`[CLS] A [SEP] B [SEP]`, the second segment with type id 1 (BERT's and ELECTRA's)."""
    cls_token, sep_token = spelling(tokenizer, "cls"), spelling(tokenizer, "sep")
    return processors.TemplateProcessing(
        single=f"{cls_token} $A {sep_token}",
        pair=f"{cls_token} $A {sep_token} $B:1 {sep_token}:1",
        special_tokens=[(t, tokenizer.token_to_id(t)) for t in (cls_token, sep_token)],
    )
