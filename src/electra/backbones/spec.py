"""What shared code needs of a backbone (`electra.backbones` holds the registry)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import Tensor

from electra.config import ModelConfig


@dataclass(frozen=True)
class Backbone:
    """What shared code needs of a backbone."""

    name: str
    model_type: str  # `config.json`'s model_type
    hf_prefix: str  # of its `transformers` classes: "Electra" + "ForPreTraining"
    prefix: str  # the encoder's attribute in every model class, and its key prefix
    config_to_hf: Callable[[ModelConfig], dict[str, Any]]
    config_from_hf: Callable[[dict[str, Any]], ModelConfig]
    encoder_from_hf: Callable[[dict[str, Tensor]], tuple[dict[str, Tensor], list[str]]]
    encoder_to_hf: Callable[[dict[str, Tensor]], dict[str, Tensor]]
