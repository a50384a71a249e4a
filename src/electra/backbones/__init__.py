"""Backbones: the encoders replaced-token detection trains, each one package that owns its network,
its configuration and its `transformers` weight mapping, registered in `BACKBONES`. Shared code
(`electra.hf`, pre-training, the task families) reaches a backbone only through its `Backbone`.
"""

from __future__ import annotations

from typing import Any

from electra.backbones import deberta, electra
from electra.backbones.spec import Backbone
from electra.config import ModelConfig
from electra.errors import UserError

BACKBONES: dict[str, Backbone] = {
    b.model_type: b for b in (electra.BACKBONE, deberta.BACKBONE)
}  # by model_type


def for_model_type(model_type: Any, where: str) -> Backbone:
    """The backbone of a `config.json`'s model_type, or one line naming the known ones."""
    if model_type not in BACKBONES:
        known = ", ".join(repr(k) for k in BACKBONES)
        raise UserError(f"{where}: model_type is {model_type!r}, expected {known}")
    return BACKBONES[model_type]


def of(config: ModelConfig) -> Backbone:
    """The backbone a model config is built on."""
    return next(b for b in BACKBONES.values() if b.name == config.backbone)
