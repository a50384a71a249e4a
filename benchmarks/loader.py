"""The input pipeline alone: how many real (non-padding) tokens/s one CPU core reads from prepared
shards and packs into model inputs (`iterate_batches` -> `pack_rows`), the work the training step
waits on; then the packed stream beside a busy main thread, as a launch-bound GPU step keeps it
busy holding the interpreter lock: packed in a thread of this process, or in a worker process.

The busy thread holds the lock for `--busy-ms` per batch (Python work, as a GPU step's kernel
launches are); the figure is how much longer than that busy time the batches took to arrive:
0% means the loader never delayed the step.

    python benchmarks/loader.py --data runs/gpu_data/shards --batch-size 128 --batches 200
"""

from __future__ import annotations

import argparse
import functools
import json
import time

import torch

from electra.data.shards import Shards, iterate_batches
from electra.pretraining.packing import batch_stream, close_stream, pack_rows
from electra.tokenizer import SpecialIds, load_tokenizer


def busy(milliseconds: float) -> None:
    """Python work that holds the interpreter lock throughout."""
    end = time.perf_counter() + milliseconds / 1000
    while time.perf_counter() < end:
        pass


def beside_a_busy_step(make_batches, special, loader: str, batches: int, busy_ms: float) -> float:
    """The delay the loader adds to `batches` steps of `busy_ms` each, as a share of them."""
    stream = batch_stream(make_batches, special, loader=loader)
    next(stream)  # started, and its first batch made, outside the timing
    start = time.perf_counter()
    for _ in range(batches):
        next(stream)
        busy(busy_ms)
    elapsed = time.perf_counter() - start
    close_stream(stream)
    return elapsed / (batches * busy_ms / 1000) - 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="a directory made by `electra prepare`")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--busy-ms", type=float, default=20.0, help="the step's busy time")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    torch.set_num_threads(1)
    shards = Shards(args.data)
    special = SpecialIds.of(load_tokenizer(args.data))
    batches = iterate_batches(shards, args.batch_size, seed=0)
    next(batches)  # open the memory maps outside the timing
    figures = {}
    for name, work in (
        ("read", lambda ids: ids),
        ("read + pack", lambda ids: pack_rows(ids, special)),
    ):
        start, tokens = time.perf_counter(), 0
        for _ in range(args.batches):
            ids = next(batches)
            work(ids)
            tokens += int((ids != special.pad).sum())
        figures[name] = round(tokens / (time.perf_counter() - start))
    make = functools.partial(iterate_batches, shards, args.batch_size, 0)
    delay = {
        loader: round(beside_a_busy_step(make, special, loader, args.batches, args.busy_ms), 3)
        for loader in ("thread", "process")
    }
    result = {"data": str(args.data), "batch_size": args.batch_size, "seq_len": shards.seq_len,
              "tokens_per_s": figures, "busy_ms": args.busy_ms,
              "delay_beside_busy_step": delay}  # fmt: skip
    print(json.dumps(result))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(result, f)


if __name__ == "__main__":
    main()
