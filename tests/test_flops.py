"""The FLOP count: the official script's figures under its conventions, and the work a step
really does (torch's own FLOP counter) under ours; `--flops-budget` sets a run's length."""

from __future__ import annotations

import itertools
import json

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from electra.cli import main
from electra.config import ModelConfig
from electra.pretraining.flops import (
    MEASURED,
    OFFICIAL,
    Shape,
    electra_train_flops,
    mlm_train_flops,
)
from electra.pretraining.objectives import step_flops
from electra.pretraining.objectives.build import build
from electra.pretraining.options import PretrainConfig
from electra.tokenizer import SpecialIds


@pytest.mark.parametrize(
    "name, flops, expected",
    [
        # flops_computation.py's MODEL_FLOPS, as that script prints them
        ("electra_small", lambda: electra_train_flops(Shape(256, 12, 128, embedding=128),
                                                      Shape(64, 12, 128, embedding=128), 128, 1e6),
         1.293743798272e18),
        ("bert_small", lambda: mlm_train_flops(Shape(256, 12, 128, embedding=128), 128, 1.45e6),
         1.4187399146496e18),
        ("electra_base", lambda: electra_train_flops(Shape(768, 12, 512, embedding=768),
                                                     Shape(256, 12, 512, embedding=768), 256, 766000),
         6.424541834277683e19),
        ("bert_base", lambda: mlm_train_flops(Shape(768, 12, 512), 256, 1e6), 6.428335104e19),
        ("electra_400k", lambda: electra_train_flops(Shape(1024, 24, 512, embedding=1024),
                                                     Shape(256, 24, 512, embedding=1024), 2048, 400000),
         7.117606040895488e20),
    ],
)  # fmt: skip
def test_official_conventions_reproduce_the_official_script(name, flops, expected):
    assert flops() == pytest.approx(expected, rel=1e-12), name


@pytest.mark.parametrize("backbone", ["electra", "deberta-v3"])
@pytest.mark.parametrize("objective", ["rtd", "mlm"])
def test_measured_conventions_count_what_a_step_computes(objective, backbone):
    """torch's FlopCounterMode on a real forward and backward of the objective: our formula
    counts the same matmuls (attention included, DeBERTa's relative terms too, the generator's
    vocabulary projection at the masked positions only) to within 1%."""
    model = ModelConfig.preset("tiny", backbone=backbone, vocab_size=1000,
                               max_position_embeddings=64, position_buckets=32)  # fmt: skip
    config = PretrainConfig.preset("tiny", backbone, seq_len=64, batch_size=4, objective=objective)
    module = build(model, config, SpecialIds(pad=0, unk=1, cls=2, sep=3, mask=4))
    ids = torch.randint(5, 1000, (4, 64))
    ids[:, 0], ids[:, -1] = 2, 3
    with FlopCounterMode(display=False) as counter:
        module(ids).loss.backward()
    counted = counter.get_total_flops()
    assert step_flops(model, 64, 4, objective, config.mask_prob) == pytest.approx(counted, rel=0.01)
    assert step_flops(model, 64, 4, objective, c=MEASURED) != step_flops(
        model, 64, 4, objective, c=OFFICIAL
    )


def test_a_flops_budget_sets_the_steps_and_metrics_count_flops(prepared, tmp_path, capsys):
    from electra.data.shards import Shards
    from electra.pretraining.resolve import data_packing, resolve_configs

    flags = ("--preset tiny --embedding-size 32 --hidden-size 32 --num-layers 2 --num-heads 2 "
             "--intermediate-size 64 --max-position-embeddings 64 --batch-size 8 --log-every 1 "
             "--eval-batches 1 --no-progress").split()  # fmt: skip
    model, config = resolve_configs(prepared, tmp_path / "x", "tiny", {"batch_size": 8},
                                    {"embedding_size": 32, "hidden_size": 32, "num_layers": 2,
                                     "num_heads": 2, "intermediate_size": 64,
                                     "max_position_embeddings": 64})  # fmt: skip
    per_step = step_flops(model, config.seq_len, 8, "rtd", config.mask_prob)  # 8 full rows
    rows = data_packing(Shards(prepared), config).rows_per_batch  # what a packed step computes
    budget = 3.5 * per_step
    steps = int(budget // (per_step * rows / 8))
    assert steps >= 3  # the padded rows pack into fewer: the budget buys more steps
    assert main(["pretrain", "--data", str(prepared), "--out", str(tmp_path / "run"), *flags,
                 "--flops-budget", str(budget)]) == 0  # fmt: skip
    assert f"{steps * per_step * rows / 8:.3g} FLOPs" in capsys.readouterr().err  # the plan
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    train = [r for r in records if "flops" in r]
    assert [r["step"] for r in train] == list(range(1, steps + 1))
    cumulative = [0] + [r["flops"] for r in train]
    assert all(0 < b - a <= per_step for a, b in itertools.pairwise(cumulative))
    assert train[-1]["flops"] <= budget
    assert main(["pretrain", "--data", str(prepared), "--out", str(tmp_path / "small"), *flags,
                 "--flops-budget", "1000"]) == 2  # fmt: skip
    assert "buys no step" in capsys.readouterr().err
