"""`electra compare`: RTD against MLM (and GDES) at equal pre-training FLOPs, scored downstream."""

from __future__ import annotations

import argparse
from pathlib import Path

from electra.commands.flags import add_config_flags, build, given
from electra.commands.pretrain import preset_default
from electra.comparison import CompareConfig
from electra.config import MODEL_FIELDS, ModelConfig
from electra.pretraining.options import PretrainConfig

# Pre-training options every arm shares (the objective, sharing and steps are the arms' own).
PRETRAIN_OPTIONS = ("batch_size", "lr", "warmup_steps", "mask_prob", "seed", "eval_batches",
                    "precision")  # fmt: skip


def _smallest_budget(name: str) -> str | None:
    """The budget is required; its help says what one step of each preset's RTD arm costs in the
    paper's FLOPs, at 128 tokens a sequence (a budget buys whole steps)."""
    if name != "flops_budget":
        return None
    from electra.pretraining.flops import OFFICIAL, rtd_step_flops

    costs = []
    for preset in ("tiny", "small"):
        model, config = ModelConfig.preset(preset), PretrainConfig.preset(preset)
        flops = rtd_step_flops(model, 128, config.batch_size, config.mask_prob, OFFICIAL)
        costs.append(f"{preset} {flops:.2g}")
    return "required; one RTD step costs " + ", ".join(costs) + " (official FLOPs, 128 tokens)"


def register(commands) -> None:
    parser = commands.add(
        "compare",
        help="pre-train several objectives to the same FLOPs and fine-tune each checkpoint "
        "(the paper's RTD vs MLM experiment on your data)",
        epilog="example: electra compare --data runs/demo/shards --out runs/compare "
        "--flops-budget 3e14 --arms rtd,rtd+gdes,mlm --tagging-dir conll2000 --seeds 3",
    )
    parser.add_argument("--data", type=Path, required=True, help="a directory made by `electra prepare`")  # fmt: skip
    parser.add_argument("--out", type=Path, required=True, help="the experiment's directory")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=False,
                        help="show progress bars")  # fmt: skip
    add_config_flags(parser, CompareConfig, default=_smallest_budget)
    add_config_flags(parser.add_argument_group("pre-training, every arm (default: the preset's)"),
                     PretrainConfig, PRETRAIN_OPTIONS, default=preset_default(PretrainConfig))  # fmt: skip
    add_config_flags(parser.add_argument_group("model shape, every arm (default: the preset's)"),
                     ModelConfig, MODEL_FIELDS, default=preset_default(ModelConfig))  # fmt: skip
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from electra import api

    summary = api.compare(args.data, args.out, build(args, CompareConfig),
                          given(args, PretrainConfig, PRETRAIN_OPTIONS),
                          given(args, ModelConfig, MODEL_FIELDS), args.progress)  # fmt: skip
    from electra.comparison import table

    print(table(summary["results"]), end="")
    print(f"electra: compare.json, compare.md and compare.png in {args.out}")
