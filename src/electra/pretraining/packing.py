"""The row packer: a batch of padded examples -> model inputs in fewer rows, so no compute goes to
padding. (The example builder, which makes those examples from text, is `electra.data.examples`.)

ELECTRA's examples end with their document, so a corpus of short documents is mostly padding (the
embedded default corpus fills 36% of its 128-token rows). `pack_rows` places whole examples side by
side in as few rows as first-fit-decreasing finds; each keeps its own positions and segment ids,
and per-token document ids let a token see only its own example (the encoder turns them into a
block mask on the device: nothing of size rows x L x L is made on the host or copied), so the
network computes exactly what it would on the examples one by one. The number of examples per
step, and so the data position, is unchanged.

`batch_stream` runs the reading and packing in a worker process, so it never competes with a
launch-bound training step for the interpreter lock.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch
from torch import Tensor

from electra.tokenizer import SpecialIds

T = TypeVar("T")
Batch = np.ndarray | tuple[np.ndarray, np.ndarray]  # ids, or ids and word starts


def model_inputs(
    ids: np.ndarray | torch.Tensor, pad_id: int, sep_id: int
) -> dict[str, torch.Tensor]:
    """input_ids (B,L) long, attention_mask (B,L) bool (not padding), token_type_ids (B,L) long
    (1 after the first [SEP], 0 on padding) — vectorised, no Python loop over rows."""
    input_ids = torch.as_tensor(ids).long()  # (B, L)
    attention_mask = input_ids != pad_id
    is_sep = (input_ids == sep_id).long()
    seps_before = torch.cumsum(is_sep, dim=1) - is_sep  # [SEP]s strictly before each position
    token_type_ids = ((seps_before > 0) & attention_mask).long()
    return {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "token_type_ids": token_type_ids,
    }


def _first_fit_decreasing(lengths: np.ndarray, capacity: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and offset of each example; a loop over examples, never over tokens."""
    row_of, offset_of = np.zeros(len(lengths), np.int64), np.zeros(len(lengths), np.int64)
    used: list[int] = []
    for i in np.argsort(-lengths, kind="stable"):
        row = next((r for r, u in enumerate(used) if u + lengths[i] <= capacity), len(used))
        if row == len(used):
            used.append(0)
        row_of[i], offset_of[i] = row, used[row]
        used[row] += int(lengths[i])
    return row_of, offset_of


@dataclass
class Packing:
    """How a data set packs: rows computed per batch and the share of their positions that hold
    real (non-padding) tokens, estimated on a sample of batches."""

    rows_per_batch: float
    fill: float  # real tokens / (sequences x seq_len): what a sequence holds on average


def estimate_packing(batches: Iterator[np.ndarray], pad_id: int, sample: int = 16) -> Packing:
    """`Packing` of the first `sample` batches of `batches` (the rows `pack_rows` would make)."""
    rows = real = slots = seen = 0
    for ids in itertools.islice(batches, sample):
        lengths = (ids != pad_id).sum(1)
        if (lengths == ids.shape[1]).all():  # full rows stay as they are
            rows += len(ids)
        else:
            rows += int(_first_fit_decreasing(lengths, ids.shape[1])[0].max()) + 1
        real, slots, seen = real + int(lengths.sum()), slots + ids.size, seen + 1
    return Packing(rows / max(seen, 1), real / max(slots, 1))


def pack_rows(
    ids: np.ndarray, special: SpecialIds, word_starts: np.ndarray | None = None
) -> dict[str, Tensor]:
    """(B, L) right-padded examples -> model inputs of R <= B rows: input_ids, token_type_ids,
    position_ids and document_ids (R, L), the last the index of each token's example (-1 on
    padding, which forms a group of its own, so no query sees nothing), and `word_starts` (bool)
    when given. Full rows come back unchanged and without document ids, which lets attention take
    its fused mask-free path."""
    inputs = model_inputs(ids, special.pad, special.sep)
    is_token = inputs.pop("attention_mask").numpy()  # (B, L), a prefix of each row
    lengths = is_token.sum(1)
    capacity = ids.shape[1]
    if (lengths == capacity).all():
        if word_starts is not None:
            inputs["word_starts"] = torch.from_numpy(np.asarray(word_starts, dtype=bool))
        return inputs
    row_of, offset_of = _first_fit_decreasing(lengths, capacity)
    example, position = np.nonzero(is_token)  # (N,) each: every real token
    rows, columns = row_of[example], offset_of[example] + position
    shape = (int(row_of.max()) + 1, capacity)
    input_ids = np.full(shape, special.pad, np.int64)
    input_ids[rows, columns] = ids[example, position]
    token_type_ids = np.zeros(shape, np.int64)
    token_type_ids[rows, columns] = inputs["token_type_ids"].numpy()[example, position]
    position_ids = np.zeros(shape, np.int64)
    position_ids[rows, columns] = position
    document_ids = np.full(shape, -1, np.int64)
    document_ids[rows, columns] = example
    packed = {
        "input_ids": torch.from_numpy(input_ids),
        "token_type_ids": torch.from_numpy(token_type_ids),
        "position_ids": torch.from_numpy(position_ids),
        "document_ids": torch.from_numpy(document_ids),
    }
    if word_starts is not None:
        starts = np.ones(shape, bool)  # padding stands alone
        starts[rows, columns] = word_starts[example, position]
        packed["word_starts"] = torch.from_numpy(starts)
    return packed


def _pack(batch: Batch, special: SpecialIds) -> dict[str, Tensor]:
    ids, starts = batch if isinstance(batch, tuple) else (batch, None)
    return pack_rows(ids, special, starts)


def packed_batches(
    batches: Iterator[Batch], special: SpecialIds, pin: bool = False
) -> Iterator[dict[str, Tensor]]:
    """`pack_rows` of each batch, in pinned memory when `pin` (a CUDA device then copies it with
    `non_blocking=True` while the host goes on)."""
    for batch in batches:
        inputs = _pack(batch, special)
        yield {k: v.pin_memory() for k, v in inputs.items()} if pin else inputs


class _PackedStream(torch.utils.data.IterableDataset):
    """`pack_rows` over a batch iterator made in the worker (so nothing is pickled: the worker
    is forked, and its memory maps are the parent's)."""

    def __init__(self, make_batches: Callable[[], Iterator[Batch]], special: SpecialIds):
        super().__init__()
        self.make_batches, self.special = make_batches, special

    def __iter__(self) -> Iterator[dict[str, Tensor]]:
        torch.set_num_threads(1)  # the worker packs with numpy; the cores belong to the step
        return (_pack(batch, self.special) for batch in self.make_batches())


def resolve_loader(loader: str, device: torch.device) -> str:
    """`auto` -> a worker process beside a CUDA step, whose host thread only launches kernels;
    a thread beside a CPU step, whose cores the worker would take (benchmarks/RESULTS.md)."""
    if loader == "auto":
        return "process" if device.type == "cuda" else "thread"
    return loader


def batch_stream(
    make_batches: Callable[[], Iterator[Batch]],
    special: SpecialIds,
    pin: bool = False,
    loader: str = "process",
    depth: int = 4,
) -> Iterator[dict[str, Tensor]]:
    """Packed batches, `depth` ahead of the step: read and packed in a forked worker process
    (`process`: a `DataLoader` worker; pinned by its pinning thread) or in a thread of this one
    (`thread`). The same batches in the same order either way; call `close_stream` when done."""
    if loader == "thread":
        return Prefetch(packed_batches(make_batches(), special, pin), depth)
    if loader != "process":
        raise ValueError(f"loader {loader!r} is not process or thread")
    data = torch.utils.data.DataLoader(
        _PackedStream(make_batches, special), batch_size=None, num_workers=1,
        pin_memory=pin, prefetch_factor=depth, multiprocessing_context="fork",
    )  # fmt: skip
    return iter(data)


def close_stream(stream: Iterator) -> None:
    """Stop the thread or worker behind a `batch_stream`."""
    if isinstance(stream, Prefetch):
        stream.close()
    elif hasattr(stream, "_shutdown_workers"):
        stream._shutdown_workers()


class Prefetch(Iterator[T]):
    """An iterator run `depth` items ahead by a background thread, so that reading and packing
    the next batches overlaps the step (numpy and torch release the GIL while they work). The
    items and their order are the wrapped iterator's; an error there is raised here. `close`
    stops the thread."""

    def __init__(self, items: Iterator[T], depth: int = 2) -> None:
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._fill, args=(items,), daemon=True)
        self._thread.start()

    def _fill(self, items: Iterator[T]) -> None:
        try:
            for item in items:
                while not self._stop.is_set():
                    try:
                        self._queue.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if self._stop.is_set():
                    return
        except BaseException as e:  # handed to the consumer, raised there
            self._queue.put((None, e))

    def __next__(self) -> T:
        item, error = self._queue.get()
        if error is not None:
            raise error
        return item

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
