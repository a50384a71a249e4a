"""Whole-word masking for text written without spaces: a word segmenter's words (jieba for
Chinese, fugashi for Japanese) recorded by `prepare` beside each shard, read back with the
examples, packed with them, and never half masked."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from electra.cli import main
from electra.data import segmenters
from electra.data.segmenters import load_segmenter, token_word_starts
from electra.data.shards import Shards
from electra.pretraining.objectives.masking import choose_positions
from electra.pretraining.packing import pack_rows
from electra.tokenizer import SpecialIds, load_tokenizer, train_tokenizer

CHINESE = ["我来到北京清华大学学习计算机科学", "他们在上海参观了博物馆和图书馆",
           "今天天气很好我们去公园散步吧"]  # fmt: skip


def test_a_token_begins_a_word_where_the_segmenter_says():
    pytest.importorskip("jieba")
    text = CHINESE[0]
    starts = load_segmenter("jieba")(text)
    assert text[starts[2] : starts[3]] == "北京"
    wordpiece = train_tokenizer(CHINESE * 10, 200)  # a character a token
    encoding = wordpiece.encode(text, add_special_tokens=False)
    flags = token_word_starts(text, encoding.offsets, starts)
    assert sum(flags) == len(starts) and flags[:4] == [True, True, False, True]  # 我 来到 北
    unigram = train_tokenizer(["北京 上海"] * 20, 60, algorithm="unigram", lowercase=False)
    encoding = unigram.encode("北京", add_special_tokens=False)  # ▁ (a bare mark), then pieces
    assert token_word_starts("北京", encoding.offsets, [0])[1:] == [False] * (len(encoding) - 1)


def test_japanese_words_come_from_mecab():
    pytest.importorskip("fugashi")
    pytest.importorskip("unidic_lite")
    text = "私は東京に行きます。"
    assert load_segmenter("fugashi")(text) == [0, 1, 2, 4, 5, 7, 9]  # 私 は 東京 に 行き ます 。


def test_a_missing_segmenter_is_one_line(monkeypatch, tmp_path, capsys):
    def missing():
        raise ModuleNotFoundError("no module", name="jieba")

    monkeypatch.setitem(segmenters.SEGMENTERS, "jieba", missing)
    (tmp_path / "c.txt").write_text("\n".join(CHINESE) + "\n", encoding="utf-8")
    train_vocab = ["vocab", "--corpus", str(tmp_path / "c.txt"), "--size", "100", "--out",
                   str(tmp_path / "v")]  # fmt: skip
    assert main(train_vocab) == 0
    argv = ["prepare", "--corpus", str(tmp_path / "c.txt"), "--vocab", str(tmp_path / "v"),
            "--out", str(tmp_path / "d"), "--word-segmenter", "jieba"]  # fmt: skip
    capsys.readouterr()
    assert main(argv) == 2
    assert (
        "the jieba word segmenter is not installed (jieba): `pip install 'electra[segmenters]'`"
        in (capsys.readouterr().err)
    )


@pytest.mark.slow
def test_prepare_records_the_words_and_pretraining_masks_them_whole(tmp_path, monkeypatch):
    pytest.importorskip("jieba")
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n\n".join(CHINESE * 40) + "\n", encoding="utf-8")
    vocab, data = tmp_path / "v", tmp_path / "d"
    assert main(["vocab", "--corpus", str(corpus), "--size", "200", "--out", str(vocab)]) == 0
    assert main(["prepare", "--corpus", str(corpus), "--vocab", str(vocab), "--out", str(data),
                 "--seq-len", "32", "--word-segmenter", "jieba", "--no-progress"]) == 0  # fmt: skip
    shards = Shards(data)
    ids, starts = (
        shards.examples(np.arange(len(shards))),
        shards.word_starts(np.arange(len(shards))),
    )
    tokenizer = load_tokenizer(vocab)
    text = CHINESE[0]
    expected = token_word_starts(text, tokenizer.encode(text, add_special_tokens=False).offsets,
                                 load_segmenter("jieba")(text))  # fmt: skip
    line = tokenizer.encode(text, add_special_tokens=False).ids
    row, at = next((r, a) for r in range(len(ids)) for a in range(32 - len(line))
                   if list(ids[r, a : a + len(line)]) == line)  # fmt: skip
    assert list(starts[row, at : at + len(line)]) == expected and starts[row, 0]  # [CLS] alone
    special = SpecialIds.of(tokenizer)
    inputs = pack_rows(ids[:64], special, starts[:64])
    torch.manual_seed(0)
    masked = choose_positions(inputs["input_ids"], special, 0.3, 8, inputs["word_starts"])
    for r in range(len(inputs["input_ids"])):
        chosen = set(masked.positions[r][masked.weights[r]].tolist())
        begins = inputs["word_starts"][r].tolist()
        word_of = np.cumsum(begins)
        for w in {int(word_of[p]) for p in chosen}:
            assert {p for p in range(len(begins)) if word_of[p] == w} <= chosen
    from electra.pretraining.objectives import rtd

    seen = []
    monkeypatch.setattr(rtd, "choose_positions",
                        lambda *a: seen.append(a[4]) or choose_positions(*a))  # fmt: skip
    assert main(["pretrain", "--preset", "tiny", "--data", str(data), "--out", str(tmp_path / "r"),
                 "--steps", "3", "--whole-word-masking", "--no-progress", "--hidden-size", "32",
                 "--embedding-size", "32", "--num-layers", "1", "--num-heads", "2",
                 "--intermediate-size", "64", "--batch-size", "8", "--eval-batches", "1"]) == 0  # fmt: skip
    # the segmenter's words reached the objective: a vocabulary of characters alone would make
    # every character a word
    assert seen and all(not bool(starts.all()) for starts in seen)
