"""ELECTRA: pre-train text encoders as discriminators (replaced token detection), then fine-tune.

The public API; each name lives in the module that owns it and is imported on first use, so that
commands which need no PyTorch (`electra prepare`, `electra vocab`) start without loading it.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "electra.api": (
        "compare",
        "evaluate",
        "export",
        "finetune",
        "predict",
        "prepare",
        "pretrain",
        "vocab",
    ),
    "electra.config": ("FinetuneConfig", "ModelConfig", "PretrainConfig"),
    "electra.detection": ("Detection", "Detector", "detect"),
    "electra.errors": ("UserError",),
    "electra.hf": ("load", "load_config", "save"),
    "electra.backbones.models": ("Discriminator", "EncoderOnly", "Generator"),
    "electra.backbones.electra.network": ("ElectraModel",),
    "electra.backbones.deberta.network": ("DebertaModel",),
    "electra.tasks.glue.model": ("SequenceClassifier",),
    "electra.tasks.tagging.model": ("TokenClassifier",),
    "electra.tasks.squad.model": ("QuestionAnswerer",),
    "electra.tokenizer": ("load_tokenizer", "save_tokenizer", "train_tokenizer"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'electra' has no attribute {name!r}")
    value = getattr(importlib.import_module(_MODULE_OF[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
