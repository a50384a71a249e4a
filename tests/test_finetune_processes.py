"""Fine-tuning under torchrun: two CPU processes (gloo) take the steps one process takes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from electra import hf
from electra.backbones.models import Discriminator
from electra.cli import main
from electra.config import ModelConfig
from electra.tokenizer import load_tokenizer


@pytest.mark.slow
def test_two_processes_take_the_single_process_steps(assets, tmp_path, capsys):
    tokenizer = load_tokenizer(assets / "vocab.txt")
    torch.manual_seed(0)
    config = ModelConfig(
        vocab_size=tokenizer.get_vocab_size(),
        embedding_size=16,
        hidden_size=32,
        num_layers=2,
        num_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        hidden_dropout=0.0,
        attention_dropout=0.0,
    )  # fmt: skip  (no dropout: the same steps)
    hf.save(Discriminator(config), tmp_path / "pre", tokenizer=tokenizer)
    rows = ["text,label"] + [
        f"{'good fine day' if i % 3 else 'bad awful night'} {i},{i % 3 > 0}" for i in range(25)
    ]  # fmt: skip  (25: the last batch of 8 has 1)
    (tmp_path / "own.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    args = ["finetune", "glue", "--train", str(tmp_path / "own.csv"), "--dev", str(tmp_path / "own.csv"),
            "--text-columns", "text", "--label-column", "label", "--model", str(tmp_path / "pre"),
            "--epochs", "2", "--batch-size", "8", "--lr", "1e-3", "--warmup-fraction", "0",
            "--no-progress"]  # fmt: skip
    assert main([*args, "--out", str(tmp_path / "one")]) == 0
    capsys.readouterr()

    torchrun = Path(sys.executable).with_name("torchrun")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [str(torchrun), "--nproc_per_node", "2", "-m", "electra.cli", *args,
         "--out", str(tmp_path / "two")],  # fmt: skip
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("results in") == 1  # one process reports
    one, two = (json.loads((tmp_path / r / "results.json").read_text()) for r in ("one", "two"))
    assert (one["processes"], two["processes"]) == (1, 2)
    assert one["steps"] == two["steps"] == 8
    assert [e["train_loss"] for e in two["epochs"]] == pytest.approx(
        [e["train_loss"] for e in one["epochs"]], rel=1e-4
    )
    a, b = (load_file(tmp_path / r / "model" / "encoder" / "model.safetensors")  # official head
            for r in ("one", "two"))  # fmt: skip
    for name in a:
        torch.testing.assert_close(b[name], a[name], rtol=1e-4, atol=2e-5, msg=name)
