"""The input pipeline alone: how many tokens/s one CPU core reads from prepared shards and packs
into model inputs (`iterate_batches` -> `pack_rows`), the work the training step waits on.

A GPU step of 1.2M tokens/s needs the loader well above that (the issue's bar: 2M tokens/s on one
core). Pinned memory and the copy to the device are left out: they overlap the step.

    python benchmarks/loader.py --data runs/demo/shards --batch-size 128 --batches 200
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from electra.data.shards import Shards, iterate_batches
from electra.pretraining.packing import pack_rows
from electra.tokenizer import SpecialIds, load_tokenizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="a directory made by `electra prepare`")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--batches", type=int, default=200)
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
            tokens += ids.size
        figures[name] = round(tokens / (time.perf_counter() - start))
    print(json.dumps({"data": args.data, "batch_size": args.batch_size, "seq_len": shards.seq_len,
                      "tokens_per_s": figures}))  # fmt: skip


if __name__ == "__main__":
    main()
