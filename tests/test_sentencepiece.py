"""SentencePiece `.model` files read as they are: token for token and id for id what
`sentencepiece` itself produces on real text (the embedded corpus, Hindi, Korean and Japanese),
their special tokens' roles, byte fallback, and the saved result in `transformers`."""

from __future__ import annotations

import io
import json
import os

import pytest

from electra.data.corpus import default_corpus_file
from electra.errors import UserError
from electra.tokenizer import SpecialIds, load_tokenizer, save_tokenizer

spm = pytest.importorskip("sentencepiece", reason="needs the sentencepiece extra")

OTHER_SCRIPTS = [
    "हिन्दी भारत की राजभाषा है और यह देवनागरी लिपि में लिखी जाती है",
    "한국어는 대한민국의 공용어이며 한글로 적는다",
    "ｶﾀｶﾅ と 全角ＡＢＣ、そして①番目の文です。",
]
TRICKY = ["  leading and   inner   spaces  ", "tab\tseparated", "unseen 😀 and ẞ characters"]


def _lines() -> list[str]:
    with open(default_corpus_file(), encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip()][:3000]


def _train(tmp_path, name="sp", **options) -> tuple[object, object]:
    model, lines = io.BytesIO(), _lines()
    options = {"model_type": "unigram", **options}
    with open(os.devnull, "w") as quiet:
        spm.SentencePieceTrainer.train(sentence_iterator=iter(lines[:2000] + OTHER_SCRIPTS * 20),
                                       model_writer=model, vocab_size=700,
                                       num_threads=1, minloglevel=2, logstream=quiet, **options)  # fmt: skip
    path = tmp_path / f"{name}.model"
    path.write_bytes(model.getvalue())
    return path, spm.SentencePieceProcessor(model_proto=model.getvalue())


def _score(processor, ids) -> float:
    return sum(processor.get_score(i) for i in ids)


@pytest.mark.parametrize("byte_fallback", [False, True])
def test_tokens_and_ids_match_sentencepiece_on_real_text(tmp_path, byte_fallback):
    path, processor = _train(tmp_path, byte_fallback=byte_fallback)
    ours = load_tokenizer(path)
    ties = 0
    for line in _lines()[2000:] + OTHER_SCRIPTS + TRICKY:
        expected = processor.encode(line)
        got = ours.encode(line, add_special_tokens=False).ids
        if got != expected:  # equally likely segmentations: Viterbi's tie-break differs
            ties += 1
            assert _score(processor, got) == pytest.approx(_score(processor, expected)), line
        assert processor.decode(got) == processor.decode(expected)
    assert ties <= 2
    assert (
        ours.decode(ours.encode(OTHER_SCRIPTS[0], add_special_tokens=False).ids)
        == (OTHER_SCRIPTS[0])
    )
    unseen = [ours.id_to_token(i) for i in ours.encode("😀", add_special_tokens=False).ids]
    assert (
        unseen[-4:] == ["<0xF0>", "<0x9F>", "<0x98>", "<0x80>"]
        if byte_fallback
        else "<unk>" in unseen
    )


def test_roles_come_from_the_model_and_the_missing_ones_are_appended(tmp_path):
    path, processor = _train(tmp_path)  # sentencepiece's defaults: <unk> <s> </s>, no pad or mask
    ours = load_tokenizer(path)
    ids = SpecialIds.of(ours)
    assert (ids.unk, ids.cls, ids.sep) == (0, 1, 2)
    assert {ids.pad, ids.mask} == {700, 701} and ours.id_to_token(ids.mask) == "<mask>"
    pair = ours.encode("a b", "c").tokens
    assert pair[0] == "<s>" and pair.count("</s>") == 2 and pair[-1] == "</s>"
    deberta, _ = _train(
        tmp_path,
        "deberta",
        pad_id=0,
        bos_id=1,
        eos_id=2,
        unk_id=3,
        pad_piece="[PAD]",
        bos_piece="[CLS]",
        eos_piece="[SEP]",
        unk_piece="[UNK]",
    )  # DeBERTa-V3's layout: [MASK] comes after the pieces
    ids = SpecialIds.of(load_tokenizer(deberta))
    assert (ids.pad, ids.cls, ids.sep, ids.unk, ids.mask) == (0, 1, 2, 3, 700)


def test_a_checkpoint_directory_with_spm_model_loads_and_saves_for_transformers(tmp_path):
    transformers = pytest.importorskip("transformers")
    path, processor = _train(tmp_path)
    checkpoint = tmp_path / "checkpoint"
    checkpoint.mkdir()
    (checkpoint / "spm.model").write_bytes(path.read_bytes())
    loaded = load_tokenizer(checkpoint)
    save_tokenizer(loaded, tmp_path / "saved")
    theirs = transformers.AutoTokenizer.from_pretrained(tmp_path / "saved")
    again = load_tokenizer(tmp_path / "saved")
    for line in _lines()[2000:2100] + OTHER_SCRIPTS:
        ids = loaded.encode(line).ids
        assert theirs(line)["input_ids"] == ids == again.encode(line).ids
    assert SpecialIds.of(again) == SpecialIds.of(loaded)


def test_roles_named_in_special_tokens_map_come_first(tmp_path):
    path, _ = _train(tmp_path, user_defined_symbols=["[CLS]", "[SEP]"])
    checkpoint = tmp_path / "checkpoint"
    checkpoint.mkdir()
    (checkpoint / "spm.model").write_bytes(path.read_bytes())
    assert SpecialIds.of(load_tokenizer(checkpoint)).cls == 1  # `[CLS]` is a user symbol, <s> cls
    roles = {"cls_token": "[CLS]", "sep_token": {"content": "[SEP]"}}
    (checkpoint / "special_tokens_map.json").write_text(json.dumps(roles))
    loaded = load_tokenizer(checkpoint)
    assert loaded.encode("a", "b").tokens[0] == "[CLS]"
    assert SpecialIds.of(loaded).sep == loaded.token_to_id("[SEP]")
    (checkpoint / "special_tokens_map.json").write_text(json.dumps({"mask_token": "<nope>"}))
    with pytest.raises(UserError, match="special_tokens_map.json: mask_token '<nope>' is not in"):
        load_tokenizer(checkpoint)


def test_what_is_not_a_sentencepiece_model_is_one_line(tmp_path):
    bad = tmp_path / "bad.model"
    bad.write_bytes(b"\x00\x01 not a model")
    with pytest.raises(UserError, match="bad.model: not a SentencePiece model"):
        load_tokenizer(bad)
    bpe, _ = _train(tmp_path, "bpe-only", model_type="bpe")
    with pytest.raises(UserError, match="bpe-only.model: a SentencePiece model of type 2"):
        load_tokenizer(bpe)
