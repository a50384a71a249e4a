"""A SentencePiece `.model` file as a `tokenizers` pipeline: the model's own pieces and scores in
a Unigram model, its precompiled normalisation rules, its whitespace handling and its `▁` word
starts, read through `sentencepiece`'s own protocol-buffer description of the file. Tokens match
`sentencepiece`'s, piece for piece (tested on real text)."""

from __future__ import annotations

from pathlib import Path

from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers
from tokenizers.models import Unigram

from electra.errors import UserError
from electra.tokenizer.roles import ROLES, name_roles, pair_template

UNIGRAM, CONTROL, USER_DEFINED = 1, 3, 4  # sentencepiece_model.proto's enum values
EXTRA = "`pip install 'electra[sentencepiece]'`"


def _proto(path: Path):  # noqa: ANN202 - a protocol-buffer message
    try:
        from sentencepiece import sentencepiece_model_pb2
    except ImportError:
        raise UserError(f"{path}: reading a SentencePiece model needs {EXTRA}") from None
    from google.protobuf.message import DecodeError

    proto = sentencepiece_model_pb2.ModelProto()
    try:
        proto.ParseFromString(path.read_bytes())
    except DecodeError:
        raise UserError(f"{path}: not a SentencePiece model") from None
    if not proto.pieces:
        raise UserError(f"{path}: not a SentencePiece model (no pieces)")
    return proto


def from_sentencepiece(path: str | Path) -> Tokenizer:
    """The tokenizer a SentencePiece Unigram `.model` describes, with its special tokens' roles
    taken from the model (unknown, begin -> [CLS], end -> [SEP], padding); a role the model lacks
    (a mask token, usually) is added at the end of the vocabulary in the model's spelling style."""
    path = Path(path)
    proto = _proto(path)
    trainer, spec = proto.trainer_spec, proto.normalizer_spec
    if trainer.model_type != UNIGRAM:
        raise UserError(f"{path}: a SentencePiece model of type {trainer.model_type} (BPE, word or "
                        "char); only Unigram models are read")  # fmt: skip
    pieces = [(p.piece, p.score) for p in proto.pieces]
    tokenizer = Tokenizer(Unigram(pieces, trainer.unk_id, trainer.byte_fallback))
    whitespace = []
    if spec.remove_extra_whitespaces:
        whitespace = [normalizers.Strip(), normalizers.Replace(Regex(" {2,}"), " ")]
    charsmap = (
        [normalizers.Precompiled(spec.precompiled_charsmap)] if spec.precompiled_charsmap else []
    )
    tokenizer.normalizer = normalizers.Sequence(charsmap + whitespace)
    prepend = "always" if spec.add_dummy_prefix else "never"
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme=prepend)
    steps = [decoders.ByteFallback(), decoders.Fuse()] if trainer.byte_fallback else []
    tokenizer.decoder = decoders.Sequence([decoders.Metaspace(prepend_scheme=prepend), *steps])
    tokenizer.add_tokens([AddedToken(p.piece, normalized=False, special=p.type == CONTROL)
                          for p in proto.pieces if p.type in (CONTROL, USER_DEFINED)])  # fmt: skip
    named = {"unk": trainer.unk_piece}
    for role, piece_id, piece in (("cls", trainer.bos_id, trainer.bos_piece),
                                  ("sep", trainer.eos_id, trainer.eos_piece),
                                  ("pad", trainer.pad_id, trainer.pad_piece)):  # fmt: skip
        if 0 <= piece_id < len(proto.pieces):
            named[role] = piece
    style = 0 if named.get("cls", "[").startswith("[") else 1  # BERT's or `<s>` spellings
    missing = [ROLES[role][style] for role in ROLES if role not in named]
    tokenizer.add_special_tokens([t for t in missing if tokenizer.token_to_id(t) is None])
    for role in ROLES:
        named.setdefault(role, ROLES[role][style])
    name_roles(tokenizer, named)
    tokenizer.post_processor = pair_template(tokenizer)
    return tokenizer
