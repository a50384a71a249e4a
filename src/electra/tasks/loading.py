"""Loading for fine-tuning and after it: the pre-trained encoder under a fresh task head, and a
fine-tuned model with the settings it was fine-tuned with.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tokenizers import Tokenizer
from torch import nn

from electra import hf
from electra.errors import UserError
from electra.tasks.task import SETTINGS_KEY, Task
from electra.tokenizer import load_tokenizer


def load_model(task: Task, model_dir: str | Path, random_init: bool = False) -> nn.Module:
    """The pre-trained encoder under a fresh task head; `random_init` keeps only its shape (the
    control run a benchmark compares pre-training against)."""
    if random_init:
        model = task.model_class(hf.load_config(model_dir), **task.model_kwargs)
    else:
        model = hf.load(model_dir, task.model_class, **task.model_kwargs)
    return task.wrap_model(model) if task.wrap_model else model


def load_finetuned(
    model_dir: str | Path, model_class: type[nn.Module], family: str, **kwargs: Any
) -> tuple[nn.Module, Tokenizer, dict[str, Any]]:
    """A fine-tuned model of `family`, its tokenizer and the settings it was fine-tuned with. A
    directory whose task head was never trained (a pre-trained discriminator, another family's
    model) is refused in one line rather than predicting with a random head."""
    tokenizer = load_tokenizer(model_dir)
    hf.check_vocabulary(model_dir, tokenizer)
    model = hf.load(model_dir, model_class, **kwargs)
    if getattr(model, "head_initialized", False):
        raise UserError(
            f"{model_dir}: its {model_class.__name__} head was never trained (fine-tune it "
            f"first with `electra finetune {family}`)"
        )
    settings = hf.read_config_json(model_dir).get(SETTINGS_KEY)
    settings = settings if isinstance(settings, dict) else {}
    if settings.get("family", family) != family:
        raise UserError(
            f"{model_dir}: fine-tuned by `electra finetune {settings['family']}`, not {family}"
        )
    return model, tokenizer, settings
