"""Honest counts: tokens are the real (non-padding) tokens trained on and FLOPs the rows the
networks computed, so throughput, budgets, MFU and model cards mean what they say."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from pretrain_data import make_prepared, one_thread, tiny_model  # noqa: F401 (fixture)

from electra.config import ModelConfig
from electra.data.shards import ExampleRange, Shards, ShardWriter, iterate_batches, write_manifest
from electra.pretraining.objectives import step_flops
from electra.pretraining.options import PretrainConfig
from electra.pretraining.packing import pack_rows
from electra.pretraining.resolve import resolve_configs
from electra.pretraining.trainer import train
from electra.tokenizer import SpecialIds, load_tokenizer


def short_documents(tmp_path: Path) -> Path:
    """The suite's prepared set with every example cut to 5-12 tokens: rows 10-38% filled."""
    source = make_prepared(tmp_path / "full")
    shards = Shards(source)
    special = SpecialIds.of(load_tokenizer(source))
    ids = shards.examples(np.arange(len(shards))).astype(np.int64)
    rng = np.random.default_rng(0)
    for row in ids:
        n = int(rng.integers(5, 13))
        row[n - 1], row[n:] = special.sep, special.pad
    out = tmp_path / "short"
    out.mkdir()
    with ShardWriter(out / "shard-00000.bin", shards.seq_len, ids.dtype) as writer:
        writer.write(ids)
    for name in ("vocab.txt", "tokenizer.json"):
        if (source / name).exists():
            (out / name).write_bytes((source / name).read_bytes())
    write_manifest(
        out, shards.seq_len, ids.dtype, shards.vocab_size, [("shard-00000.bin", len(ids))]
    )
    return out


def config(**overrides) -> PretrainConfig:
    values = dict(seq_len=32, batch_size=16, steps=6, warmup_steps=1, log_every=3, save_every=0,
                  eval_batches=0)  # fmt: skip
    return PretrainConfig(**{**values, **overrides})


def test_logged_tokens_and_flops_are_the_real_ones(tmp_path, capsys):
    data = short_documents(tmp_path)
    model, run = tiny_model(400), tmp_path / "run"
    assert train(data, run, model, config(), progress=False) == 0
    # The batches the run read, counted independently: real tokens, and the rows they pack into.
    shards, special = Shards(data), SpecialIds.of(load_tokenizer(data))
    batches = iterate_batches(ExampleRange(shards, 0, len(shards)), 16, seed=0)
    taken = [next(batches) for _ in range(6)]
    real = [int((ids != special.pad).sum()) for ids in taken]
    rows = [len(pack_rows(ids, special)["input_ids"]) for ids in taken]
    assert sum(real) < 0.45 * 6 * 16 * 32  # short documents indeed
    logged = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    train_lines = [r for r in logged if "tokens" in r]
    assert [r["tokens"] for r in train_lines] == [sum(real[:3]), sum(real)]
    per_row = step_flops(model, 32, 1, "rtd")
    assert train_lines[-1]["flops"] == sum(rows) * per_row
    card = (run / "discriminator" / "README.md").read_text()
    assert f"{sum(real):,} real (non-padding) tokens seen" in card
    plan = capsys.readouterr().err
    assert "warning: the examples fill" in plan and "raise --batch-size" in plan


def test_a_flops_budget_buys_steps_of_the_rows_computed(tmp_path):
    data = short_documents(tmp_path)
    model = ModelConfig.preset("tiny", vocab_size=Shards(data).vocab_size)
    full_step = step_flops(model, 32, 16, "rtd")
    budget = 100 * full_step
    _, resolved = resolve_configs(data, tmp_path / "run", "tiny",
                                  {"batch_size": 16, "flops_budget": budget}, {})  # fmt: skip
    assert resolved.steps > 200  # a step of short documents computes a fraction of the rows
