"""Our WordPiece pipeline against transformers' ElectraTokenizerFast, and vocabulary training."""

from __future__ import annotations

import json

import pytest

from electra.errors import UserError
from electra.tokenizer import SpecialIds, load_tokenizer, save_tokenizer, train_tokenizer

transformers = pytest.importorskip("transformers")

SAMPLES = [
    "Hello, World! ELECTRA pre-trains encoders as discriminators.",
    "Café déjà vu — naïve coöperation, 東京 and emoji 🙂 tabs\tand  spaces",
    "unaffable xylophonists' don't-stop 3.14159 e-mail@example.com",
]


def test_bert_vocab_ids_match_transformers(shared_data, tmp_path):
    vocab = shared_data / "vocab" / "bert-base-uncased-vocab.txt"
    ours = load_tokenizer(vocab)
    (tmp_path / "vocab.txt").write_bytes(vocab.read_bytes())
    theirs = transformers.ElectraTokenizerFast.from_pretrained(tmp_path)
    for text in SAMPLES:
        assert ours.encode(text).ids == theirs(text)["input_ids"]
    pair = ours.encode(SAMPLES[0], SAMPLES[1])
    expected = theirs(SAMPLES[0], SAMPLES[1])
    assert pair.ids == expected["input_ids"] and pair.type_ids == expected["token_type_ids"]
    assert SpecialIds.of(ours) == SpecialIds(pad=0, unk=100, cls=101, sep=102, mask=103)


def test_casing_follows_tokenizer_config(tmp_path):
    tokenizer = train_tokenizer(["Hello hello World world"] * 50, vocab_size=60, lowercase=False)
    save_tokenizer(tokenizer, tmp_path)
    assert json.loads((tmp_path / "tokenizer_config.json").read_text())["do_lower_case"] is False
    reloaded = load_tokenizer(tmp_path)
    assert "Hello" in reloaded.encode("Hello").tokens
    assert "hello" in load_tokenizer(tmp_path, lowercase=True).encode("Hello").tokens


def test_trained_vocabulary_round_trips_through_transformers(tmp_path):
    lines = [
        f"the {w} jumped over the {w}s near {i}" for i, w in enumerate(["fox", "dog", "cat"] * 40)
    ]
    tokenizer = train_tokenizer(lines, vocab_size=80)
    save_tokenizer(tokenizer, tmp_path)
    vocab = (tmp_path / "vocab.txt").read_text().splitlines()
    assert vocab[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] and len(vocab) <= 80
    theirs = transformers.ElectraTokenizerFast.from_pretrained(tmp_path)
    ours = load_tokenizer(tmp_path)
    assert ours.encode(lines[3]).ids == theirs(lines[3])["input_ids"]


def test_bad_vocab_paths(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        load_tokenizer(tmp_path / "nope")
    with pytest.raises(UserError, match="no vocabulary file"):
        load_tokenizer(tmp_path)
    (tmp_path / "vocab.txt").write_text("a\nb\n")
    with pytest.raises(UserError, match=r"lacks the special tokens \[PAD\]"):
        load_tokenizer(tmp_path)


def test_vocabulary_listing_a_token_twice_is_refused(tmp_path):
    (tmp_path / "vocab.txt").write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\ncat\nthe\n")
    with pytest.raises(UserError, match="lists a token twice"):
        load_tokenizer(tmp_path)
