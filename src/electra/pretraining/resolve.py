"""A run's configuration, resolved once: the preset, the user's overrides, what the prepared data
says (sequence length, packing), a FLOP budget turned into steps, and a run continued from a
checkpoint (`init_from`) or resumed from its own saved `pretrain.json`.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from electra import hf
from electra.backbones.models import Discriminator, EncoderOnly, Generator
from electra.config import ModelConfig, from_dict
from electra.data.shards import ExampleRange, Shards, iterate_batches
from electra.errors import UserError
from electra.pretraining.flops import CONVENTIONS
from electra.pretraining.objectives import step_flops
from electra.pretraining.objectives.rtd import DisentangledEmbeddings
from electra.pretraining.options import FROM_DATA, PretrainConfig
from electra.pretraining.packing import (
    Packing,
    estimate_packing,
)
from electra.tokenizer import SpecialIds, load_tokenizer, vocab_sha256

CONFIG_FILE = "pretrain.json"  # {"model": ModelConfig, "pretrain": PretrainConfig}
# What runs saved before these settings existed did: a resumed one keeps its trajectory.
BEFORE_OFFICIAL_DEFAULTS = {
    "bias_correction": True,
    "output_bias_prior": True,
    "head_init": "normal",
}


def load_run_config(run_dir: str | Path) -> tuple[ModelConfig, PretrainConfig]:
    path = Path(run_dir) / CONFIG_FILE
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
        saved = {**BEFORE_OFFICIAL_DEFAULTS, **values["pretrain"]}
        return from_dict(ModelConfig, values["model"], str(path)), from_dict(
            PretrainConfig, saved, str(path)
        )
    except FileNotFoundError:
        raise UserError(
            f"{path}: no such file; is {run_dir} a pre-training run directory?"
        ) from None
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise UserError(
            f"{path}: expected JSON with 'model' and 'pretrain' objects ({e!r})"
        ) from None


def resolve_configs(
    data_dir: str | Path,
    run_dir: str | Path,
    preset: str,
    overrides: dict[str, Any],
    model_overrides: dict[str, Any],
    resume: bool = False,
) -> tuple[ModelConfig, PretrainConfig]:
    """The run's configs: the preset (or the resumed run's saved ones) with the overrides; the
    vocabulary size and, unless overridden, the sequence length are the data's."""
    if resume:
        if model_overrides:
            raise UserError(f"{', '.join(model_overrides)}: a resumed run keeps its model shape")
        model_config, config = load_run_config(run_dir)
        return model_config, dataclasses.replace(config, **overrides)
    shards = Shards(data_dir)
    from_data = {name: getattr(shards, name) for name in FROM_DATA}
    backbone = model_overrides.get("backbone", "electra")
    if overrides.get("init_from"):  # the recipe of the checkpoint's backbone
        backbone = hf.load_config(hf.resolve(overrides["init_from"])).backbone
    config = PretrainConfig.preset(preset, backbone, **{**from_data, **overrides})
    if config.init_from:
        if model_overrides:
            raise UserError(f"{', '.join(model_overrides)}: the model's shape is init_from's")
        model_config = initial_model_config(config, preset)
    else:
        model_config = ModelConfig.preset(preset, vocab_size=shards.vocab_size, **model_overrides)
    return model_config, _within_budget(model_config, config, shards)


def data_packing(
    shards: Shards | ExampleRange, config: PretrainConfig, pad_id: int | None = None
) -> Packing:
    """How the run's micro-batches of `shards` pack (rows computed a step, real tokens);
    `pad_id` when the caller has the tokenizer already (else it is read from the shards)."""
    if pad_id is None:
        pad_id = SpecialIds.of(load_tokenizer(shards.directory)).pad
    micro = max(1, config.batch_size // config.grad_accum)
    packing = estimate_packing(iterate_batches(shards, micro, config.seed), pad_id)
    return Packing(packing.rows_per_batch * config.grad_accum, packing.fill)


def _within_budget(
    model_config: ModelConfig, config: PretrainConfig, shards: Shards
) -> PretrainConfig:
    """With a FLOP budget, the schedule is as many steps as it pays for (warm-up kept under a
    tenth of them when the preset's would not fit). In `measured` FLOPs a step costs the rows its
    packed batch computes; in the paper's `official` ones, its sequences at full length, as
    `flops_computation.py` counts them."""
    if config.flops_budget is None:
        return config
    convention = CONVENTIONS[config.flops_convention]
    per_step = step_flops(model_config, config.seq_len, config.batch_size, config.objective,
                          config.mask_prob, convention)  # fmt: skip
    if config.flops_convention == "measured":
        per_step *= data_packing(shards, config).rows_per_batch / config.batch_size
    steps = int(config.flops_budget // per_step)
    if steps < 1:
        raise UserError(
            f"flops_budget {config.flops_budget:.3g} buys no step (one costs {per_step:.3g} FLOPs)"
        )
    warmup = config.warmup_steps if config.warmup_steps < steps else steps // 10
    return dataclasses.replace(config, steps=steps, warmup_steps=warmup)


def initial_model_config(config: PretrainConfig, preset: str) -> ModelConfig:
    """The shape of the checkpoints a run continues from: the discriminator's config, with the
    generator's width as a fraction of it (the preset's when no generator is given)."""
    assert config.init_from is not None
    model = hf.load_config(hf.resolve(config.init_from))
    if not config.init_generator:
        shape = ModelConfig.preset(preset, backbone=model.backbone)
        return dataclasses.replace(model, generator_fraction=shape.generator_fraction,
                                   generator_layers=shape.generator_layers)  # fmt: skip
    generator = hf.load_config(hf.resolve(config.init_generator))
    model = dataclasses.replace(  # the generator's sizes as its config gives them
        model, generator_fraction=generator.hidden_size / model.hidden_size,
        generator_layers=generator.num_layers / model.num_layers,
        generator_num_heads=generator.num_heads,
        generator_intermediate_size=generator.intermediate_size,
    )  # fmt: skip
    shared = ("hidden_size", "num_layers", "embedding_size", "vocab_size",
              "max_position_embeddings", "type_vocab_size")  # fmt: skip
    differ = [n for n in shared if getattr(model.generator(), n) != getattr(generator, n)]
    if differ or generator.hidden_size > model.hidden_size:
        raise UserError(
            f"{config.init_generator}: its {', '.join(n.replace('_', ' ') for n in differ) or 'width'} "
            f"cannot pair with {config.init_from} (a generator shares the discriminator's "
            "embeddings and is at most as wide and as deep)"
        )
    return model


def _initialise(module: nn.Module, config: PretrainConfig, vocabulary: str) -> None:
    """Weights from the checkpoints (the generator's first, so that the shared embeddings are
    the discriminator's), after checking they were made with the shards' vocabulary."""
    assert config.init_from is not None
    sources = [(config.init_generator, Generator, module.generator),
               (config.init_from, Discriminator, module.discriminator)]  # fmt: skip
    for name, cls, network in sources:
        if not name:
            continue
        directory = hf.resolve(name)
        if vocab_sha256(load_tokenizer(directory)) != vocabulary:
            raise UserError(
                f"{name}: its vocabulary is not the one the shards were prepared with "
                f"(prepare them with --vocab {name})"
            )
        loaded = hf.load(directory, cls)
        state = loaded.state_dict()
        if getattr(loaded, "head_initialized", False):
            if not (cls is Discriminator and hf.is_saved_as(directory, EncoderOnly)):
                raise UserError(
                    f"{name}: not a {cls.__name__.lower()} checkpoint (no {cls.__name__} head)"
                )
            # A bare encoder (`transformers`' DebertaV2Model has no replaced-token head): its
            # encoder, and the head as the discriminator initialised it.
            print(f"electra: {name}: a bare encoder; the discriminator's head starts fresh",
                  file=sys.stderr)  # fmt: skip
            state = {**network.state_dict(),
                     **{k: v for k, v in state.items() if k.startswith("electra.")}}  # fmt: skip
        if cls is Discriminator and isinstance(network.electra.embeddings, DisentangledEmbeddings):
            state = _disentangle(state, network.electra.embeddings, fresh=not config.init_generator)
        network.load_state_dict(state)


def _disentangle(
    state: dict[str, Tensor], embeddings: DisentangledEmbeddings, fresh: bool
) -> dict[str, Tensor]:
    """A saved discriminator's embeddings E_D as GDES holds them: E_D - E_G in the residuals
    (E_G the generator's, just loaded), or, with a fresh generator, E_G := E_D and residuals 0."""
    prefix = "electra.embeddings."
    shared = embeddings._shared[0]
    state = dict(state)
    with torch.no_grad():
        for table in embeddings.names:
            saved = state.pop(f"{prefix}{table}.weight")
            if fresh:
                getattr(shared, table).weight.copy_(saved)
            state[f"{prefix}{table}_delta"] = saved - getattr(shared, table).weight
    return state
