"""Shard format: memmap reading, the manifest checks, rank-aware deterministic batches, inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from electra.data.shards import (
    MANIFEST_FILE,
    Shards,
    ShardWriter,
    iterate_batches,
    token_dtype,
    write_manifest,
)
from electra.errors import UserError
from electra.pretraining.packing import model_inputs

SEQ_LEN = 6


def make_set(directory, rows_per_shard=(5, 0, 7), vocab_size=1000):
    """Shards whose row i is [i, i, ...] so a batch tells which examples it holds."""
    dtype = token_dtype(vocab_size)
    shards, first = [], 0
    for k, rows in enumerate(rows_per_shard):
        name = f"shard-{k:05d}.bin"
        with ShardWriter(directory / name, SEQ_LEN, dtype) as writer:
            writer.write(np.repeat(np.arange(first, first + rows)[:, None], SEQ_LEN, axis=1))
        shards.append((name, rows))
        first += rows
    write_manifest(directory, SEQ_LEN, dtype, vocab_size, shards)
    return Shards(directory)


def test_token_dtype_is_smallest_that_fits():
    assert token_dtype(256) == np.uint8
    assert token_dtype(257) == np.uint16
    assert token_dtype(30522) == np.uint16
    assert token_dtype(65537) == np.uint32


def test_examples_gather_across_shards(tmp_path):
    shards = make_set(tmp_path)
    assert len(shards) == 12 and shards.seq_len == SEQ_LEN and shards.vocab_size == 1000
    picked = shards.examples(np.array([11, 0, 4, 5, 4]))
    assert picked.dtype == np.int64 and picked.shape == (5, SEQ_LEN)
    assert picked[:, 0].tolist() == [11, 0, 4, 5, 4]
    assert (picked == picked[:, :1]).all()
    assert not (tmp_path / "shard-00000.bin.tmp").exists()
    with pytest.raises(IndexError):
        shards.examples(np.array([12]))


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda d: (d / MANIFEST_FILE).unlink(), "incomplete"),
        (lambda d: (d / "shard-00002.bin").write_bytes(b"\0" * 10), "shard-00002.bin has 10 bytes"),
        (lambda d: (d / "shard-00000.bin").unlink(), "shard-00000.bin has None bytes"),
        (lambda d: (d / MANIFEST_FILE).write_text("{"), "not a valid manifest"),
    ],
)
def test_damaged_set_is_one_clear_error(tmp_path, damage, message):
    make_set(tmp_path)
    damage(tmp_path)
    with pytest.raises(UserError, match=message):
        Shards(tmp_path)


def test_interrupted_writer_leaves_nothing(tmp_path):
    with pytest.raises(KeyboardInterrupt), ShardWriter(tmp_path / "s.bin", SEQ_LEN, np.uint16) as w:
        w.write(np.zeros((2, SEQ_LEN), dtype=np.int64))
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_missing_directory(tmp_path):
    with pytest.raises(UserError, match="no such directory"):
        Shards(tmp_path / "nope")


def first_column(stream, n):
    return [next(stream)[:, 0].tolist() for _ in range(n)]


def test_batches_cover_each_epoch_once_and_are_deterministic(tmp_path):
    shards = make_set(tmp_path)
    batches = first_column(iterate_batches(shards, batch_size=4, seed=3), 6)  # 2 epochs of 12
    assert sorted(sum(batches[:3], [])) == list(range(12))
    assert sorted(sum(batches[3:], [])) == list(range(12))
    assert sum(batches[:3], []) != sum(batches[3:], [])  # a new permutation each epoch
    assert batches == first_column(iterate_batches(shards, batch_size=4, seed=3), 6)
    assert batches != first_column(iterate_batches(shards, batch_size=4, seed=4), 6)


def test_start_batch_resumes_exactly(tmp_path):
    shards = make_set(tmp_path)
    full = first_column(iterate_batches(shards, batch_size=5, seed=0), 9)  # batches straddle epochs
    assert first_column(iterate_batches(shards, batch_size=5, seed=0, start_batch=4), 5) == full[4:]


def test_ranks_take_disjoint_shares(tmp_path):
    shards = make_set(tmp_path)
    per_rank = [
        sum(first_column(iterate_batches(shards, 2, seed=1, rank=r, world_size=3), 2), [])
        for r in range(3)
    ]
    assert sorted(sum(per_rank, [])) == list(range(12))  # one epoch, split three ways


def test_batch_larger_than_set_wraps_epochs(tmp_path):
    shards = make_set(tmp_path, rows_per_shard=(3,))
    batch = next(iterate_batches(shards, batch_size=7, seed=0))[:, 0]
    assert sorted(batch[:3].tolist()) == [0, 1, 2] and len(batch) == 7


def test_model_inputs_segments_and_padding():
    pad, cls, sep = 0, 101, 102
    ids = np.array([[cls, 5, 6, sep, 7, sep, pad, pad], [cls, 5, 6, 7, 8, 9, 10, sep]])
    inputs = model_inputs(ids, pad_id=pad, sep_id=sep)
    assert inputs["input_ids"].dtype == torch.long
    assert inputs["attention_mask"].tolist() == [[True] * 6 + [False] * 2, [True] * 8]
    assert inputs["token_type_ids"].tolist() == [[0, 0, 0, 0, 1, 1, 0, 0], [0] * 8]


def test_manifest_records_counts(tmp_path):
    make_set(tmp_path, rows_per_shard=(2, 3))
    manifest = json.loads((tmp_path / MANIFEST_FILE).read_text())
    assert manifest["num_examples"] == 5 and manifest["dtype"] == "uint16"
