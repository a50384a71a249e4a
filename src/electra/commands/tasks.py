"""`electra finetune|predict|evaluate FAMILY`, one parser per family and verb, made from the
registry (`electra.tasks.registry.FAMILIES`) and the families' option dataclasses."""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

from electra.commands.flags import add_config_flags, build, given
from electra.config import PRESETS
from electra.tasks.options import FinetuneConfig, PredictConfig
from electra.tasks.registry import FAMILIES
from electra.tasks.spec import FamilySpec

# The recipe's values that depend on the model's size and the task: the help says so.
_RECIPE = "default: the recipe's for the model's size and task"
_BY_RECIPE = ("lr", "layerwise_lr_decay", "epochs", "max_seq_length")
_FROM_MODEL = "default: as fine-tuned"


def register(commands) -> None:
    for spec in FAMILIES.values():
        parser = commands.add_to_group("finetune", spec.name, spec.help["finetune"],
                                       epilog=f"example: {spec.examples['finetune']}")  # fmt: skip
        parser.add_argument("--model", type=Path, required=True, help="pre-trained discriminator directory")  # fmt: skip
        parser.add_argument("--out", type=Path, required=True, help="output directory")
        add_config_flags(parser.add_argument_group(f"{spec.name} data"), spec.data)
        recipe = parser.add_argument_group("recipe (default: the paper's, for the model's size and task)")  # fmt: skip
        recipe.add_argument("--preset", choices=PRESETS, help="recipe row (default: from the model's shape)")  # fmt: skip
        add_config_flags(recipe, FinetuneConfig, default=lambda name: _RECIPE if name in _BY_RECIPE else None)  # fmt: skip
        recipe.add_argument("--random-init", action="store_true",
                            help="keep only the model's shape: a control run without pre-training")  # fmt: skip
        recipe.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                            help="show a progress bar")  # fmt: skip
        recipe.add_argument("--device", help="cpu, cuda, cuda:1, mps ... (default: cuda when there is one)")  # fmt: skip
        recipe.add_argument("--overwrite", action="store_true",
                            help="replace the run already in --out (refused otherwise)")  # fmt: skip
        recipe.add_argument("--resume", action="store_true",
                            help="continue the run in --out: finished tasks and seeds are kept, "
                                 "an interrupted one continues from its last checkpoint")  # fmt: skip
        recipe.add_argument("--allow-changes", action="store_true",
                            help="with --resume: apply settings that change a run's trajectory "
                                 "(recorded in its changes.jsonl; refused otherwise)")  # fmt: skip
        if spec.settings is not None:
            add_config_flags(parser.add_argument_group(f"{spec.name} settings"), spec.settings)
        parser.set_defaults(func=partial(run_finetune, spec))

        parser = commands.add_to_group("predict", spec.name, spec.help["predict"],
                                       epilog=f"example: {spec.examples['predict']}")  # fmt: skip
        parser.add_argument("--model", type=Path, required=True, help="a fine-tuned model directory (finetune's OUT/model)")  # fmt: skip
        add_config_flags(parser, spec.input)
        add_config_flags(parser, PredictConfig, default=lambda name: _FROM_MODEL if name == "max_seq_length" else None)  # fmt: skip
        if spec.settings is not None:
            add_config_flags(parser.add_argument_group(f"{spec.name} settings ({_FROM_MODEL})"), spec.settings,
                             default=lambda name: _FROM_MODEL)  # fmt: skip
        parser.set_defaults(func=partial(run_predict, spec))

        parser = commands.add_to_group("evaluate", spec.name, spec.help["evaluate"],
                                       epilog=f"example: {spec.examples['evaluate']}")  # fmt: skip
        add_config_flags(parser, spec.scoring)
        parser.set_defaults(func=partial(run_evaluate, spec))


def run_finetune(spec: FamilySpec, args: argparse.Namespace) -> None:
    from electra import api

    settings = build(args, spec.settings) if spec.settings is not None else None
    result = api.finetune(spec.name, build(args, spec.data), args.model, args.out, args.preset,
                          settings, args.random_init, args.progress, args.device, args.overwrite,
                          args.resume, args.allow_changes, **given(args, FinetuneConfig))  # fmt: skip
    if result.summary:  # under torchrun only the lead process reports
        print(result.summary)


def run_predict(spec: FamilySpec, args: argparse.Namespace) -> None:
    from electra import api

    settings = given(args, spec.settings) if spec.settings is not None else {}
    prediction = api.predict(spec.name, args.model, build(args, spec.input),
                             build(args, PredictConfig), **settings)  # fmt: skip
    sys.stdout.write(prediction.stdout)
    if prediction.message:  # standard output is the predictions' alone
        print(prediction.message, file=sys.stderr)


def run_evaluate(spec: FamilySpec, args: argparse.Namespace) -> None:
    from electra import api

    print(api.evaluate(spec.name, build(args, spec.scoring)).text)
