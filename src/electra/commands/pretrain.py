"""`electra pretrain` (a preset plus one flag per hyperparameter) and `electra report`."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from electra.config import PRESETS, ModelConfig, PretrainConfig
from electra.data.shards import Shards
from electra.errors import UserError

# Model fields a user may change; the vocabulary and padding id come from the prepared data.
MODEL_FIELDS = tuple(
    f.name for f in dataclasses.fields(ModelConfig) if f.name not in ("vocab_size", "pad_token_id")
)
_TYPES = {"int": int, "float": float, "str": str}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _add_fields(group: argparse._ArgumentGroup, cls: type, names: tuple[str, ...]) -> None:
    for field in dataclasses.fields(cls):
        if field.name not in names:
            continue
        if field.type == "bool":
            group.add_argument(
                _flag(field.name), action=argparse.BooleanOptionalAction, default=None
            )
        else:
            group.add_argument(
                _flag(field.name), type=_TYPES[field.type], default=None, metavar=field.type.upper()
            )


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
    parser.add_argument("--preset", choices=PRESETS, default="small", help="model size and recipe")
    parser.add_argument(
        "--resume", action="store_true", help="continue the run in --out from its latest checkpoint"
    )
    parser.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    parser.add_argument(
        "--until", type=int, metavar="STEP", help="checkpoint and stop after STEP (resume later)"
    )
    pretrain_fields = tuple(f.name for f in dataclasses.fields(PretrainConfig))
    _add_fields(
        parser.add_argument_group("pre-training (default: the preset's)"),
        PretrainConfig,
        pretrain_fields,
    )
    _add_fields(
        parser.add_argument_group("model shape (default: the preset's)"), ModelConfig, MODEL_FIELDS
    )
    parser.set_defaults(func=run)

    report = commands.add("report", help="draw a pre-training run's curves to a PNG")
    report.add_argument("run_dir", type=Path, help="the --out of `electra pretrain`")
    report.add_argument("--out", type=Path, help="the PNG to write (default: RUN_DIR/curves.png)")
    report.set_defaults(func=run_report)


def _overrides(args: argparse.Namespace, names: tuple[str, ...]) -> dict:
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def resolve(args: argparse.Namespace) -> tuple[ModelConfig, PretrainConfig]:
    """The run's configs: the preset (or the resumed run's saved ones) with the flags applied."""
    from electra.pretrain.trainer import load_run_config

    pretrain = _overrides(args, tuple(f.name for f in dataclasses.fields(PretrainConfig)))
    model = _overrides(args, MODEL_FIELDS)
    if args.resume:
        if model:
            flags = ", ".join(_flag(n) for n in model)
            raise UserError(f"{flags}: a resumed run keeps its model shape; drop these flags")
        model_config, config = load_run_config(args.out)
        return model_config, dataclasses.replace(config, **pretrain)
    shards = Shards(args.data)
    pretrain.setdefault("seq_len", shards.seq_len)  # the data fixes the length unless asked
    model_config = ModelConfig.preset(args.preset, vocab_size=shards.vocab_size, **model)
    return model_config, PretrainConfig.preset(args.preset, **pretrain)


def run(args: argparse.Namespace) -> int:
    from electra.pretrain.trainer import train  # torch.distributed, tensorboard: only when used

    model_config, config = resolve(args)
    return train(args.data, args.out, model_config, config, args.resume, args.device, args.until)


def run_report(args: argparse.Namespace) -> None:
    from electra.report import draw_curves

    print(draw_curves(args.run_dir, args.out))
