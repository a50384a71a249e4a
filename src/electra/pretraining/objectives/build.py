"""The pre-training network of a run's objective, imported where a run starts."""

from __future__ import annotations

import importlib

from torch import Tensor, nn

from electra.config import ModelConfig
from electra.pretraining.objectives import OBJECTIVES
from electra.pretraining.options import PretrainConfig
from electra.tokenizer import SpecialIds


def build(
    model_config: ModelConfig, config: PretrainConfig, special: SpecialIds,
    word_starts: Tensor | None = None,
) -> nn.Module:  # fmt: skip
    """The pre-training network for `config.objective`; its forward returns an `Output`.
    `word_starts` ((V,) bool) turns on whole-word masking."""
    module = importlib.import_module(OBJECTIVES[config.objective].module)
    return module.OBJECTIVE(model_config, config, special, word_starts)
