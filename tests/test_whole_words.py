"""Whole-word masking: every piece of a chosen word is chosen with it, within the same budget,
for WordPiece (`##` continues a word), Unigram (`▁` starts one) and byte-level BPE (`Ġ` starts
one); a run with `--whole-word-masking` trains."""

from __future__ import annotations

import pytest
import torch

from electra.pretraining.objectives.masking import choose_positions
from electra.tokenizer import SpecialIds, load_tokenizer, train_tokenizer, word_starts

TEXT = ("unbelievably extraordinary circumstances notwithstanding the committee reconvened "
        "unexpectedly yesterday afternoon")  # fmt: skip


def _words(tokenizer, ids: list[int]) -> list[list[int]]:
    """Positions of each word's pieces, from the tokenizer's own word ids (an independent view)."""
    encoded = tokenizer.encode(TEXT)
    assert encoded.ids == ids
    words: dict[int, list[int]] = {}
    for position, word in enumerate(encoded.word_ids):
        if word is not None:
            words.setdefault(word, []).append(position)
    return list(words.values())


@pytest.mark.parametrize("algorithm", ["wordpiece", "unigram", "bpe"])
def test_chosen_positions_are_whole_words_within_the_budget(algorithm, assets):
    lines = (assets / "corpus" / "a.txt").read_text().splitlines()
    tokenizer = (load_tokenizer(assets / "vocab.txt") if algorithm == "wordpiece"
                 else train_tokenizer(lines, 400, algorithm=algorithm))  # fmt: skip
    special = SpecialIds.of(tokenizer)
    ids = tokenizer.encode(TEXT).ids
    words = _words(tokenizer, ids)
    assert max(map(len, words)) > 1  # some words have several pieces
    table = torch.tensor(word_starts(tokenizer))
    input_ids = torch.tensor([ids] * 200)
    torch.manual_seed(0)
    masked = choose_positions(input_ids, special, 0.3, 12, table[input_ids])
    budget = min(round(0.3 * (len(ids) - 2)), 12)  # max_predictions caps it
    chosen_counts = []
    for row in range(200):
        chosen = set(masked.positions[row][masked.weights[row]].tolist())
        chosen_counts.append(len(chosen))
        assert 0 < len(chosen) <= budget
        for word in words:
            assert set(word) <= chosen or not set(word) & chosen, (row, word, sorted(chosen))
    assert sum(chosen_counts) / 200 > 0.6 * budget  # the budget is mostly spent
    plain = choose_positions(input_ids, special, 0.3, 12)
    split = sum(any(0 < len(set(w) & set(plain.positions[r][plain.weights[r]].tolist())) < len(w)
                    for w in words) for r in range(200))  # fmt: skip
    assert split > 0  # without it, words are cut: the property above is not a given


@pytest.mark.slow
def test_a_run_with_whole_word_masking_trains(prepared, tmp_path):
    from electra.cli import main

    shape = ("--embedding-size 32 --hidden-size 32 --num-layers 2 --num-heads 2 --intermediate-size 64 "
             "--max-position-embeddings 64 --batch-size 8 --eval-batches 1").split()  # fmt: skip
    argv = ["pretrain", "--preset", "tiny", "--data", str(prepared), "--out", str(tmp_path / "run"),
            "--steps", "4", "--no-progress", "--whole-word-masking", *shape]  # fmt: skip
    assert main(argv) == 0
    assert (tmp_path / "run" / "discriminator" / "model.safetensors").is_file()
