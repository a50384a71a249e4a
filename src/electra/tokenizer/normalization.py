"""How text is normalised before it is split: an optional Unicode form (NFC, NFKC), then BERT's
normaliser (control characters removed, optional lowercasing and accent stripping).

`transformers`' BERT and ELECTRA tokenizers rebuild BERT's normaliser from their configuration
and would drop a Unicode form, so a vocabulary that has one is saved for the generic fast
tokenizer, which runs `tokenizer.json` as it is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from tokenizers import Tokenizer, normalizers

from electra.config import FORMS

_FORMS = {"nfc": normalizers.NFC, "nfkc": normalizers.NFKC}


@dataclass(frozen=True)
class Normalization:
    lowercase: bool = True
    strip_accents: bool | None = None  # None: as BERT, stripped when lowercasing
    form: str = "none"  # a Unicode normal form applied first: none, nfc or nfkc

    def __post_init__(self) -> None:
        if self.form not in FORMS:
            raise ValueError(f"form {self.form!r} is not one of {', '.join(FORMS)}")

    @property
    def strips(self) -> bool:
        return self.lowercase if self.strip_accents is None else self.strip_accents

    def normalizer(self, chinese: bool = True) -> normalizers.Normalizer:
        """The `tokenizers` normaliser; `chinese` spaces CJK ideographs apart (BERT's WordPiece
        splits them into single characters; Unigram and BPE learn their words)."""
        bert = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=chinese,
                                          strip_accents=self.strip_accents,
                                          lowercase=self.lowercase)  # fmt: skip
        if self.form == "none":
            return bert
        return normalizers.Sequence([_FORMS[self.form](), bert])

    @classmethod
    def read(cls, saved: dict | None) -> Normalization | None:
        """From a `tokenizer.json`'s `normalizer` entry; None for one that is not of this shape
        (a SentencePiece model's, say)."""
        saved = saved or {}
        parts = saved.get("normalizers") if saved.get("type") == "Sequence" else [saved]
        if not isinstance(parts, list) or not parts or len(parts) > 2:
            return None
        *head, bert = parts
        form = head[0].get("type", "").lower() if head else "none"
        if bert.get("type") != "BertNormalizer" or form not in FORMS:
            return None
        strip = bert.get("strip_accents")
        return cls(bool(bert.get("lowercase", True)), None if strip is None else bool(strip), form)

    @classmethod
    def of(cls, tokenizer: Tokenizer) -> Normalization:
        """A tokenizer's normalisation; one we did not build counts as neither lowercasing nor
        stripping."""
        normalizer = tokenizer.normalizer
        saved = json.loads(normalizer.__getstate__()) if normalizer is not None else None
        return cls.read(saved) or cls(lowercase=False, strip_accents=False)
