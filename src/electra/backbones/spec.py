"""What shared code needs of a backbone (`electra.backbones` holds the registry)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import Tensor, nn

from electra.backbones.names import Table
from electra.config import ModelConfig


@dataclass(frozen=True)
class Backbone:
    """What shared code needs of a backbone: its network's parts, and how its `transformers`
    checkpoints name things."""

    name: str  # ModelConfig.backbone
    model_type: str  # `config.json`'s model_type
    hf_prefix: str  # of its `transformers` classes: "Electra" + "ForPreTraining"
    prefix: str  # the encoder's key prefix in its `transformers` checkpoints
    config_to_hf: Callable[[ModelConfig], dict[str, Any]]
    config_from_hf: Callable[[dict[str, Any]], ModelConfig]
    encoder_from_hf: Callable[[dict[str, Tensor]], tuple[dict[str, Tensor], list[str]]]
    encoder_to_hf: Callable[[dict[str, Tensor]], dict[str, Tensor]]
    encoder: Callable[[ModelConfig, nn.Module | None], nn.Module]  # (config, shared embeddings)
    discriminator_head: Callable[[ModelConfig], nn.Module]
    generator_head: Callable[[ModelConfig], nn.Module]
    # Our model classes (by their `hf_class`) whose `transformers` class or head names differ
    # from ELECTRA's: hf_class -> (this backbone's class, head table). With `classes` given, a
    # model class it does not list has no `transformers` class on this backbone.
    classes: dict[str, tuple[str, Table]] | None = None
    # hf_classes whose head the `transformers` class lacks: saved beside it (`HEAD_FILE`)
    side_heads: tuple[str, ...] = field(default=())
    # hf_class -> other head names read (never written), e.g. an older `transformers` layout
    read_also: dict[str, Table] = field(default_factory=dict)
