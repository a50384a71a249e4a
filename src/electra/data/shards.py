"""Prepared pre-training sets on disk: fixed-length token shards read through `numpy.memmap`.

A prepared directory holds `manifest.json` (written last, so its presence means the set is
complete), `shard-NNNNN.bin` files of `(rows, seq_len)` token ids in the smallest unsigned dtype
that fits the vocabulary, right-padded with `[PAD]`, and the tokenizer files it was made with.
Training reads random rows through memmaps, so a corpus larger than RAM costs only page cache.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from electra.errors import UserError
from electra.files import write_json

MANIFEST_FILE = "manifest.json"
FORMAT_VERSION = 1
WORDS_SUFFIX = ".words"  # beside a shard: which tokens begin a word, a bit each (`word_segmenter`)


def words_width(seq_len: int) -> int:
    """Bytes per example of a `.words` file: one bit per position."""
    return (seq_len + 7) // 8


def pack_word_starts(starts: np.ndarray) -> np.ndarray:
    """(N, seq_len) 0/1 -> (N, words_width) bytes."""
    return np.packbits(starts.astype(bool), axis=1)


def token_dtype(vocab_size: int) -> np.dtype:
    """The smallest unsigned integer type that holds every id of a `vocab_size` vocabulary."""
    for dtype in (np.uint8, np.uint16, np.uint32):
        if vocab_size <= np.iinfo(dtype).max + 1:
            return np.dtype(dtype)
    raise UserError(f"vocabulary of {vocab_size} tokens is too large (at most 2**32)")


class ShardWriter:
    """Streams rows of one shard to `NAME.tmp`; renamed to `NAME` only when the block ends
    without an exception, so an interrupted run leaves no shard that looks complete."""

    def __init__(self, path: Path, seq_len: int, dtype: np.dtype) -> None:
        self.path, self.seq_len, self.dtype = path, seq_len, np.dtype(dtype)
        self._tmp = path.with_name(path.name + ".tmp")
        self._file = open(self._tmp, "wb")  # noqa: SIM115 -- held across write() calls
        self.rows = 0

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self._commit()
        else:
            self._file.close()
            self._tmp.unlink(missing_ok=True)

    def write(self, rows: np.ndarray) -> None:
        assert rows.ndim == 2 and rows.shape[1] == self.seq_len, rows.shape
        self._file.write(np.ascontiguousarray(rows, dtype=self.dtype).tobytes())
        self.rows += len(rows)

    def _commit(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self._tmp, self.path)


def write_manifest(
    directory: Path,
    seq_len: int,
    dtype: np.dtype,
    vocab_size: int,
    shards: list[tuple[str, int]],
    **fields,
) -> dict:
    """Write `manifest.json` last: its presence marks the set complete. Returns the manifest."""
    manifest = {
        "format": FORMAT_VERSION,
        "seq_len": seq_len,
        "dtype": np.dtype(dtype).name,
        "vocab_size": vocab_size,
        "num_examples": sum(rows for _, rows in shards),
        **fields,
        "shards": [{"file": name, "examples": rows} for name, rows in shards],
    }
    write_json(directory / MANIFEST_FILE, manifest)
    return manifest


def _corrupt(directory: Path, problem: str) -> UserError:
    return UserError(f"{directory}: {problem}; run `electra prepare` again to finish or rebuild it")


class Shards:
    """A prepared pre-training set: DIR/manifest.json + memmapped token shards + DIR/vocab.txt
    (+ tokenizer_config.json), copied there by `electra prepare` so the tokenizer travels with
    the data."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        manifest_path = self.directory / MANIFEST_FILE
        if not self.directory.is_dir():
            raise UserError(
                f"{self.directory}: no such directory (expected the output of `electra prepare`)"
            )
        if not manifest_path.is_file():
            raise _corrupt(self.directory, f"no {MANIFEST_FILE}, so the preparation is incomplete")
        try:
            self.manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            self.seq_len = int(self.manifest["seq_len"])
            self.vocab_size = int(self.manifest["vocab_size"])
            self.dtype = np.dtype(self.manifest["dtype"])
            rows = [int(s["examples"]) for s in self.manifest["shards"]]
            self._files = [self.directory / s["file"] for s in self.manifest["shards"]]
        except (ValueError, KeyError, TypeError) as e:
            raise _corrupt(
                self.directory, f"{MANIFEST_FILE} is not a valid manifest ({e!r})"
            ) from None
        if self.manifest.get("format") != FORMAT_VERSION:
            raise _corrupt(
                self.directory,
                f"{MANIFEST_FILE} has format {self.manifest.get('format')!r}, expected {FORMAT_VERSION}",
            )
        for file, n in zip(self._files, rows, strict=True):
            expected = n * self.seq_len * self.dtype.itemsize
            size = file.stat().st_size if file.is_file() else None
            if size != expected:
                raise _corrupt(
                    self.directory, f"{file.name} has {size} bytes, the manifest says {expected}"
                )
        self.has_words = bool(self.manifest.get("word_segmenter"))
        for file, n in zip(self._files, rows, strict=True) if self.has_words else ():
            words, expected = file.with_suffix(WORDS_SUFFIX), n * words_width(self.seq_len)
            size = words.stat().st_size if words.is_file() else None
            if size != expected:
                raise _corrupt(
                    self.directory, f"{words.name} has {size} bytes, the manifest says {expected}"
                )
        self._ends = np.cumsum(rows, dtype=np.int64)
        self._starts = self._ends - np.asarray(rows, dtype=np.int64)
        self.num_examples = int(self._ends[-1]) if rows else 0
        self._maps: dict[tuple[int, bool], np.memmap] = {}

    def __len__(self) -> int:
        return self.num_examples

    def _shard(self, index: int, words: bool = False) -> np.ndarray:
        if (index, words) not in self._maps:
            rows = int(self._ends[index] - self._starts[index])
            file, dtype, width = self._files[index], self.dtype, self.seq_len
            if words:
                file, dtype, width = file.with_suffix(WORDS_SUFFIX), np.uint8, words_width(width)
            self._maps[index, words] = np.memmap(file, dtype=dtype, mode="r", shape=(rows, width))
        return self._maps[index, words]

    def _read(self, indices: np.ndarray, words: bool) -> np.ndarray:
        indices = np.asarray(indices, dtype=np.int64)
        if indices.size and (indices.min() < 0 or indices.max() >= self.num_examples):
            raise IndexError(f"example index out of range [0, {self.num_examples})")
        shard_of = np.searchsorted(self._ends, indices, side="right")  # (N,)
        width = words_width(self.seq_len) if words else self.seq_len
        out = np.empty((len(indices), width), dtype=np.uint8 if words else np.int64)
        for shard in np.unique(shard_of):
            rows = shard_of == shard
            out[rows] = self._shard(int(shard), words)[indices[rows] - self._starts[shard]]
        return out

    def examples(self, indices: np.ndarray) -> np.ndarray:
        """(len(indices), seq_len) int64 token ids, right-padded with the [PAD] id."""
        return self._read(indices, words=False)

    def word_starts(self, indices: np.ndarray) -> np.ndarray | None:
        """(len(indices), seq_len) bool: which tokens begin a word of the set's word segmenter
        (None for a set prepared without one)."""
        if not self.has_words:
            return None
        packed = self._read(indices, words=True)
        return np.unpackbits(packed, axis=1, count=self.seq_len).astype(bool)


class ExampleRange:
    """Examples [start, stop) of a prepared set, indexed from 0 like a `Shards` of their own,
    so a run can train on one part of a set through `iterate_batches` and hold out the rest
    without copying either. Indices are not checked against `stop`, only against the set."""

    def __init__(self, shards: Shards, start: int, stop: int) -> None:
        self.shards, self.start, self.num_examples = shards, start, stop - start
        self.directory, self.seq_len = shards.directory, shards.seq_len

    def __len__(self) -> int:
        return self.num_examples

    @property
    def has_words(self) -> bool:
        return self.shards.has_words

    def examples(self, indices: np.ndarray) -> np.ndarray:
        return self.shards.examples(np.asarray(indices, dtype=np.int64) + self.start)

    def word_starts(self, indices: np.ndarray) -> np.ndarray | None:
        return self.shards.word_starts(np.asarray(indices, dtype=np.int64) + self.start)


def _epoch_order(num_examples: int, seed: int, epoch: int) -> np.ndarray:
    order = np.arange(num_examples, dtype=np.int32 if num_examples < 2**31 else np.int64)
    np.random.default_rng([seed, epoch]).shuffle(order)
    return order


def iterate_batches(
    shards: Shards | ExampleRange,
    batch_size: int,
    seed: int,
    rank: int = 0,
    world_size: int = 1,
    start_batch: int = 0,
    words: bool = False,
) -> Iterator[np.ndarray | tuple[np.ndarray, np.ndarray]]:
    """Deterministic endless stream of (batch_size, seq_len) id arrays: epoch e visits a
    permutation seeded by (seed, e); rank r of world_size takes a disjoint share; start_batch
    jumps straight to that batch (no replay) so a resumed run sees exactly the batches it would
    have seen. With `words` (a set prepared with a word segmenter) each batch comes with its word
    starts, as `(ids, word_starts)`.

    Rank r's share of an epoch is `permutation[r::world_size]`; its stream is the concatenation
    of its shares over epochs, cut into batches, so a batch may straddle two epochs and a set
    smaller than a batch still works.
    """
    assert 0 <= rank < world_size and batch_size > 0 and start_batch >= 0
    share = (shards.num_examples - rank + world_size - 1) // world_size  # examples per epoch
    if share == 0:
        raise UserError(
            f"{shards.directory}: {shards.num_examples} examples, too few for {world_size} processes"
        )
    position = start_batch * batch_size  # in this rank's endless stream
    epoch, order = -1, np.empty(0, dtype=np.int64)
    while True:
        parts, needed = [], batch_size
        while needed:
            if position // share != epoch:
                epoch = position // share
                order = _epoch_order(shards.num_examples, seed, epoch)[rank::world_size]
            offset = position % share
            take = min(needed, share - offset)
            parts.append(order[offset : offset + take])
            position, needed = position + take, needed - take
        indices = np.concatenate(parts)
        ids = shards.examples(indices)
        yield (ids, shards.word_starts(indices)) if words else ids
