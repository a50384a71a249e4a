"""`electra pretrain` (a preset plus one flag per hyperparameter) and `electra report`.

A hyperparameter flag's help is the comment trailing its field in `electra.config`, followed by
the presets' values; building the parser imports no torch.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from electra.commands.flags import add_config_flags, given, shown
from electra.config import MODEL_FIELDS, PRESET_NAMES, PRESETS, ModelConfig
from electra.pretraining.options import FROM_DATA, PretrainConfig


def preset_default(cls: Any) -> Any:
    """The help's default for a field: every preset's value, or the data's for `FROM_DATA`."""
    presets = {name: cls.preset(name) for name in PRESETS}

    def default(name: str) -> str:
        if name in FROM_DATA:
            return "default: the prepared data's"
        values = {preset: shown(getattr(config, name)) for preset, config in presets.items()}
        if len(set(values.values())) == 1:
            return f"every preset: {next(iter(values.values()))}"
        return ", ".join(f"{preset} {value}" for preset, value in values.items())

    return default


def register(commands) -> None:
    parser = commands.add(
        "pretrain",
        help="pre-train a discriminator (and its generator) by replaced-token detection",
        epilog="every hyperparameter flag defaults to the preset's value (or, with --resume, the run's); "
        "many processes: torchrun --nproc_per_node N -m electra.cli pretrain ...",
    )
    parser.add_argument(
        "--data", type=Path, required=True, help="a directory made by `electra prepare`"
    )
    parser.add_argument("--out", type=Path, required=True, help="the run directory")
    parser.add_argument(
        "--preset",
        choices=PRESET_NAMES,
        default="small",
        help="model size and recipe (xsmall: deberta-v3 only)",
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue the run in --out from its latest checkpoint"
    )
    parser.add_argument("--allow-changes", action="store_true",
                        help="with --resume: apply settings that change the run's trajectory "
                             "(recorded in RUN_DIR/changes.jsonl; refused otherwise)")  # fmt: skip
    parser.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    parser.add_argument(
        "--until", type=int, metavar="STEP", help="checkpoint and stop after STEP (resume later)"
    )
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                        help="show a progress bar")  # fmt: skip
    add_config_flags(parser.add_argument_group("pre-training (default: the preset's)"),
                     PretrainConfig, default=preset_default(PretrainConfig))  # fmt: skip
    add_config_flags(parser.add_argument_group("model shape (default: the preset's)"),
                     ModelConfig, MODEL_FIELDS, default=preset_default(ModelConfig))  # fmt: skip
    parser.set_defaults(func=run)

    report = commands.add("report", help="draw a pre-training or fine-tuning run's curves to a PNG")
    report.add_argument(
        "run_dir", type=Path, help="the --out of `electra pretrain` or of a fine-tuning run"
    )
    report.add_argument("--out", type=Path, help="the PNG to write (default: RUN_DIR/curves.png)")
    report.set_defaults(func=run_report)


def run(args: argparse.Namespace) -> int:
    from electra import api  # torch.distributed, tensorboard: only when used

    return api.pretrain(args.data, args.out, args.preset, args.resume, args.device, args.until,
                        args.progress, args.allow_changes, **given(args, PretrainConfig),
                        **given(args, ModelConfig, MODEL_FIELDS)).status  # fmt: skip


def run_report(args: argparse.Namespace) -> None:
    from electra.report import draw_curves

    print(draw_curves(args.run_dir, args.out))
