"""Normalisation never damages a script unnoticed: accent stripping (BERT uncased) removes the
combining marks that are vowel signs in Devanagari and voicing marks in Japanese kana; `vocab`
keeps them by default where it would, `prepare` refuses a vocabulary that would, and both say which
script and how much. Hindi, Japanese and Korean samples are written here."""

from __future__ import annotations

import json

import pytest
from tokenizers import normalizers

from electra.cli import main
from electra.data.scripts import damage, script
from electra.tokenizer import load_tokenizer, strips_accents

HINDI = ["हिन्दी भारत की एक प्रमुख भाषा है और यह देवनागरी लिपि में लिखी जाती है",
         "मैं हिन्दी बोलता हूँ और मुझे किताबें पढ़ना पसंद है"]  # fmt: skip
JAPANESE = ["これは日本語の文です。わたしはがっこうでべんきょうします。",
            "ですます調で書かれた文章です。ガギグゲゴとバビブベボ。"]  # fmt: skip
KOREAN = ["한국어는 한글로 씁니다", "저는 학교에서 공부합니다"]
FRENCH = ["Le café était déjà prêt à Noël", "Ça a été une journée très agréable"]
UNCASED = normalizers.BertNormalizer(strip_accents=None, lowercase=True).normalize_str


def test_scripts_are_read_from_unicode_names():
    assert [script(c) for c in "aé\u0301हि\u093fです한中1 ."] == [
        "LATIN", "LATIN", None, "DEVANAGARI", "DEVANAGARI", "DEVANAGARI", "HIRAGANA", "HIRAGANA",
        "HANGUL", "CJK", None, None, None]  # fmt: skip


def test_stripping_damages_devanagari_and_kana_not_hangul_and_latin_is_exempt():
    found = damage(HINDI + JAPANESE + KOREAN + FRENCH, UNCASED)
    assert {"DEVANAGARI", "HIRAGANA"} <= set(found.damaged())
    assert not {"LATIN", "HANGUL"} & set(found.damaged())
    assert found.share("DEVANAGARI") > 0.05 and found.share("HIRAGANA") > 0.05
    assert found.changed.get("HANGUL", 0) == 0  # NFD then NFC: syllables come back whole
    assert found.share("LATIN") > 0  # accents stripped, as uncased users expect: not damage
    kept = damage(HINDI + JAPANESE, normalizers.BertNormalizer(strip_accents=False).normalize_str)
    assert kept.damaged() == [] and sum(kept.changed.values()) == 0


def _corpus(tmp_path, lines):
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(lines * 20) + "\n", encoding="utf-8")
    return path


def test_vocab_keeps_accents_where_stripping_would_damage_a_script(tmp_path, capsys):
    corpus = _corpus(tmp_path, HINDI + JAPANESE + FRENCH)
    assert (
        main(["vocab", "--corpus", str(corpus), "--size", "300", "--out", str(tmp_path / "v")]) == 0
    )
    out = capsys.readouterr().out
    (line,) = [x for x in out.splitlines() if "kept accents" in x]
    assert "Devanagari" in line or "Hiragana" in line
    assert "% of the" in line and "--strip-accents strips them anyway" in line
    tokenizer = load_tokenizer(tmp_path / "v")
    assert not strips_accents(tokenizer)
    assert (
        json.loads((tmp_path / "v" / "tokenizer_config.json").read_text())["strip_accents"] is False
    )
    for text in ("है", "हिन्दी", "です"):
        assert tokenizer.normalizer.normalize_str(text) == text
    assert tokenizer.normalizer.normalize_str("Café") == "café"  # lowercased, accents kept


def test_vocab_strips_accents_of_latin_text_as_bert_uncased(tmp_path, capsys):
    corpus = _corpus(tmp_path, FRENCH + KOREAN)
    assert (
        main(["vocab", "--corpus", str(corpus), "--size", "200", "--out", str(tmp_path / "v")]) == 0
    )
    assert "kept accents" not in capsys.readouterr().out
    tokenizer = load_tokenizer(tmp_path / "v")
    assert strips_accents(tokenizer) and tokenizer.normalizer.normalize_str("Café") == "cafe"


def test_an_explicit_strip_accents_is_obeyed_with_the_figure(tmp_path, capsys):
    corpus = _corpus(tmp_path, HINDI)
    argv = ["vocab", "--corpus", str(corpus), "--size", "200", "--out", str(tmp_path / "v"),
            "--strip-accents"]  # fmt: skip
    assert main(argv) == 0
    assert "warning: --strip-accents changes" in capsys.readouterr().out
    assert load_tokenizer(tmp_path / "v").normalizer.normalize_str("है") == "ह"


def test_prepare_refuses_a_vocabulary_that_would_damage_the_corpus(tmp_path, capsys):
    english = _corpus(tmp_path, ["the cat sat on the mat and the dog ran to the park"] * 3)
    assert (
        main(["vocab", "--corpus", str(english), "--size", "120", "--out", str(tmp_path / "en")])
        == 0
    )
    hindi = tmp_path / "hindi.txt"
    hindi.write_text("\n".join(HINDI * 40) + "\n", encoding="utf-8")
    capsys.readouterr()
    argv = ["prepare", "--corpus", str(hindi), "--vocab", str(tmp_path / "en"), "--out",
            str(tmp_path / "data"), "--seq-len", "32", "--no-progress"]  # fmt: skip
    assert main(argv) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "strips accents, which would change" in line and "Devanagari" in line
    assert "--no-strip-accents" in line and "--strip-accents" in line
    assert not (tmp_path / "data" / "manifest.json").exists()
    assert main([*argv, "--strip-accents"]) == 0
    assert "warning: the vocabulary's accent stripping changes" in capsys.readouterr().err


def test_transformers_tokenizes_a_kept_accent_vocabulary_the_same(tmp_path, capsys):
    transformers = pytest.importorskip("transformers")
    corpus = _corpus(tmp_path, HINDI + FRENCH)
    assert (
        main(["vocab", "--corpus", str(corpus), "--size", "300", "--out", str(tmp_path / "v")]) == 0
    )
    ours = load_tokenizer(tmp_path / "v")
    theirs = transformers.AutoTokenizer.from_pretrained(tmp_path / "v")
    for text in (*HINDI, *FRENCH, "Café है"):
        assert theirs(text)["input_ids"] == ours.encode(text).ids, text


def test_prepare_reports_the_share_of_unknown_tokens_and_warns_above_one_percent(tmp_path, capsys):
    english = _corpus(tmp_path, ["the cat sat on the mat and the dog ran to the park"] * 3)
    assert (
        main(["vocab", "--corpus", str(english), "--size", "120", "--out", str(tmp_path / "en")])
        == 0
    )
    capsys.readouterr()
    argv = ["prepare", "--corpus", str(english), "--vocab", str(tmp_path / "en"), "--out",
            str(tmp_path / "fits"), "--seq-len", "32", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    (line,) = [x for x in capsys.readouterr().out.splitlines() if x.startswith("[UNK]")]
    assert line.startswith("[UNK]: 0.00% of the tokens (0)") and "warning" not in line
    korean = _corpus(tmp_path, KOREAN)  # not one Hangul syllable in an English vocabulary
    argv[2], argv[6] = str(korean), str(tmp_path / "misses")
    assert main(argv) == 0
    manifest = json.loads((tmp_path / "misses" / "manifest.json").read_text())
    assert manifest["num_unknown"] > 0.5 * manifest["num_tokens"]  # all but [CLS] and [SEP]
    (line,) = [x for x in capsys.readouterr().out.splitlines() if x.startswith("[UNK]")]
    assert "warning: above 1%" in line
