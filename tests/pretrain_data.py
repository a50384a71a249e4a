"""A small prepared pre-training set for the pre-training tests: real prose, tiny vocabulary.

Rows are consecutive lines of the suite's own corpus (tests/assets) packed as
`[CLS] A [SEP] B [SEP]`, a few right-padded, so the set has segments, padding and real word
statistics while staying a few hundred KB, and every clone can run the trainer tests.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ASSETS

from electra.config import ModelConfig
from electra.data.shards import ShardWriter, token_dtype, write_manifest
from electra.tokenizer import SpecialIds, save_tokenizer, train_tokenizer

CORPUS = sorted((ASSETS / "corpus").glob("*.txt"))


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run fastest on one thread, and two OpenMP threads on a busy 2-core machine
    spin-wait each other: 30x slower steps were measured."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_model(vocab_size: int) -> ModelConfig:
    return ModelConfig(
        vocab_size=vocab_size,
        embedding_size=32,
        hidden_size=32,
        num_layers=2,
        num_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        generator_fraction=0.5,
    )


def make_prepared(out: Path, seq_len: int = 32, rows: int = 256, vocab_size: int = 400) -> Path:
    text = "".join(path.read_text(encoding="utf-8") for path in CORPUS)
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line][: rows * 4]
    tokenizer = train_tokenizer(lines, vocab_size)
    special = SpecialIds.of(tokenizer)
    ids = [tokenizer.encode(line, add_special_tokens=False).ids for line in lines]
    examples = []
    for k in range(0, len(ids) - 1, 2):
        room = seq_len - 3 - (seq_len // 2 if k % 10 == 0 else 0)  # every fifth row half empty
        a = ids[k][: room // 2]
        b = ids[k + 1][: room - len(a)]
        row = [special.cls, *a, special.sep, *b, special.sep]
        examples.append(row + [special.pad] * (seq_len - len(row)))
    array = np.asarray(examples[:rows], dtype=np.int64)
    out.mkdir(parents=True, exist_ok=True)
    dtype = token_dtype(tokenizer.get_vocab_size())
    with ShardWriter(out / "shard-00000.bin", seq_len, dtype) as writer:
        writer.write(array)
    save_tokenizer(tokenizer, out)
    write_manifest(
        out, seq_len, dtype, tokenizer.get_vocab_size(), [("shard-00000.bin", len(array))]
    )
    return out


def use_packed_attention(module: torch.nn.Module, kernel: str) -> None:
    """Make every encoder in `module` attend within packed rows through `kernel` (`sdpa` or
    `flex`), where the toolkit itself picks one (`auto`)."""
    from electra.backbones.electra.network import Encoder

    assert kernel in ("auto", "sdpa", "flex"), kernel
    for m in module.modules():
        if isinstance(m, Encoder):
            m.packed_attention = kernel
