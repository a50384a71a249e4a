"""ELECTRA: pre-train text encoders as discriminators (replaced token detection), then fine-tune.

The public API; each name lives in the module that owns it.
"""

from electra.config import FinetuneConfig, ModelConfig, PretrainConfig
from electra.detect import Detection, Detector, detect
from electra.errors import UserError
from electra.hf import load, load_config, save
from electra.model import (
    Discriminator,
    ElectraModel,
    Generator,
    QuestionAnswerer,
    SequenceClassifier,
    TokenClassifier,
)
from electra.tokenizer import load_tokenizer, save_tokenizer, train_tokenizer

__all__ = [
    "Detection",
    "Detector",
    "Discriminator",
    "ElectraModel",
    "FinetuneConfig",
    "Generator",
    "ModelConfig",
    "PretrainConfig",
    "QuestionAnswerer",
    "SequenceClassifier",
    "TokenClassifier",
    "UserError",
    "detect",
    "load",
    "load_config",
    "load_tokenizer",
    "save",
    "save_tokenizer",
    "train_tokenizer",
]
