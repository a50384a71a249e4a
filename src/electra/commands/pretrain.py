"""`electra pretrain` (a preset plus one flag per hyperparameter) and `electra report`.

A hyperparameter flag's help is the comment trailing its field in `electra.config`, followed by
the presets' values; building the parser imports no torch.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import io
import re
import textwrap
import tokenize
from pathlib import Path
from typing import Any

from electra.config import PRESETS, ModelConfig, PretrainConfig
from electra.errors import UserError

# Model fields a user may change; the vocabulary and padding id come from the prepared data.
MODEL_FIELDS = tuple(
    f.name for f in dataclasses.fields(ModelConfig) if f.name not in ("vocab_size", "pad_token_id")
)
# Pre-training fields whose default is the prepared data's (see `resolve`), not the preset's.
FROM_DATA = ("seq_len",)
_TYPES = {"int": int, "float": float, "str": str}
_PRAGMA = re.compile(r"(noqa|type:|fmt:|pragma\b)")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def field_comments(cls: type) -> dict[str, str]:
    """The comment trailing each dataclass field of `cls` in its source, `#` stripped.

    `lr: float = 5e-4  # peak learning rate` gives {"lr": "peak learning rate"}; fields without
    one are left out, as are tool pragmas (`# noqa`, `# fmt: skip`). Without the source (a build
    that ships only bytecode) there are no comments.
    """
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    names = {f.name for f in dataclasses.fields(cls)}
    comments: dict[str, str] = {}
    depth = 0  # indentation level; the class body is 1
    statement: list[str] = []  # the first two tokens of the statement being read
    field = None  # the field that statement annotates
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.INDENT:
            depth += 1
        elif token.type == tokenize.DEDENT:
            depth -= 1
        elif token.type == tokenize.NEWLINE:
            statement, field = [], None
        elif token.type == tokenize.COMMENT:
            text = token.string.lstrip("#").strip()
            if field is not None and field not in comments and text and not _PRAGMA.match(text):
                comments[field] = text
        elif token.type != tokenize.NL and len(statement) < 2:
            statement.append(token.string)
            if depth == 1 and statement[-1] == ":" and statement[0] in names:
                field = statement[0]  # `name: type ...` in the class body
    return comments


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _field_help(name: str, comment: str, presets: dict[str, Any]) -> str:
    """`comment`, then the default: every preset's value, or the data's for `FROM_DATA`."""
    if name in FROM_DATA:
        default = "default: the prepared data's"
    else:
        values = {preset: _shown(getattr(config, name)) for preset, config in presets.items()}
        if len(set(values.values())) == 1:
            default = f"every preset: {next(iter(values.values()))}"
        else:
            default = ", ".join(f"{preset} {value}" for preset, value in values.items())
    help = f"{comment} ({default})" if comment else default
    return help.replace("%", "%%")  # argparse %-formats help strings


def _add_fields(group: argparse._ArgumentGroup, cls: Any, names: tuple[str, ...]) -> None:
    comments = field_comments(cls)
    presets = {name: cls.preset(name) for name in PRESETS}
    for field in dataclasses.fields(cls):
        if field.name not in names:
            continue
        help = _field_help(field.name, comments.get(field.name, ""), presets)
        if field.type == "bool":
            group.add_argument(
                _flag(field.name), action=argparse.BooleanOptionalAction, default=None, help=help
            )
        else:
            group.add_argument(
                _flag(field.name),
                type=_TYPES[field.type],
                default=None,
                metavar=field.type.upper(),
                help=help,
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
    from electra.data.shards import Shards  # numpy and torch
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
    for name in FROM_DATA:  # the data fixes the length unless asked
        pretrain.setdefault(name, getattr(shards, name))
    model_config = ModelConfig.preset(args.preset, vocab_size=shards.vocab_size, **model)
    return model_config, PretrainConfig.preset(args.preset, **pretrain)


def run(args: argparse.Namespace) -> int:
    from electra.pretrain.trainer import train  # torch.distributed, tensorboard: only when used

    model_config, config = resolve(args)
    return train(args.data, args.out, model_config, config, args.resume, args.device, args.until)


def run_report(args: argparse.Namespace) -> None:
    from electra.report import draw_curves

    print(draw_curves(args.run_dir, args.out))
