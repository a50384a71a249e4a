"""Settings every family shares: how to fine-tune (`FinetuneConfig`, with the paper's recipe) and
how to predict (`PredictConfig`), and the helpers the families' option dataclasses use. Plain dataclasses, importing nothing heavy: the command line makes its flags from them
(`electra.commands.flags`), and the trailing comment of a field is its flag's help.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from electra.config import (
    PRECISIONS,
    RUNTIMES,
    ModelConfig,
    check_types,
    choice,
    from_dict,
    not_chosen,
    not_finite,
    optimizer_problems,
    seed_problems,
)
from electra.errors import UserError


def as_paths(options: Any) -> None:
    """Turn the `Path` fields a caller gave as strings into paths (the API takes either)."""
    for f in fields(options):
        value = getattr(options, f.name)
        if isinstance(value, str) and f.type.startswith("Path"):
            setattr(options, f.name, Path(value))


def positional() -> Any:
    """A field given as the command's positional arguments (any number of them)."""
    return field(default=(), metadata={"positional": True})


def repeated() -> Any:
    """A field given by repeating its flag."""
    return field(default=(), metadata={"repeat": True})


MAX_LENGTH = 512  # positions of every preset, and the official recipe's longest (SQuAD)


def length_problems(max_seq_length: int, positions: int | None = MAX_LENGTH) -> list[str]:
    """The one rule for `max_seq_length`, fine-tuning or predicting: room for [CLS], [SEP] and a
    token, and no more than `positions` (prediction checks the model's own, once it is loaded)."""
    if max_seq_length < 3:
        return [f"max_seq_length {max_seq_length}: [CLS], [SEP] and a token need at least 3"]
    if positions is not None and max_seq_length > positions:
        return [f"max_seq_length {max_seq_length} exceeds {positions} positions"]
    return []


@dataclass
class PredictConfig:
    """Settings of every `predict` command."""

    batch_size: int = 128  # examples (or windows) per forward pass
    max_seq_length: int | None = None  # tokens per example or window (default: as fine-tuned)
    runtime: str = choice(
        "auto", RUNTIMES
    )  # auto: onnxruntime for a directory from `electra export onnx`, else torch

    def __post_init__(self) -> None:
        if problems := not_chosen(self):
            raise UserError("; ".join(problems))
        if self.batch_size < 1:
            raise UserError(f"batch_size must be at least 1, got {self.batch_size}")
        if self.max_seq_length is not None and (
            problems := length_problems(self.max_seq_length, None)
        ):
            raise UserError("; ".join(problems))


# Fine-tuning values by source and model size: lr, layerwise_lr_decay, weight_decay.
_FINETUNE_PRESETS: dict[str, dict[str, tuple[float, float, float]]] = {
    # the paper (Clark et al. 2020, Table 7)
    "paper": {"small": (3e-4, 0.8, 0.0), "base": (1e-4, 0.8, 0.0), "large": (5e-5, 0.9, 0.0)},
    # the official code (configure_finetuning.py): 1e-4 and decay 0.01 unless large
    "code": {"small": (1e-4, 0.8, 0.01), "base": (1e-4, 0.8, 0.01), "large": (5e-5, 0.9, 0.01)},
}
RECIPES = tuple(_FINETUNE_PRESETS)
SIZES = ("tiny", "small", "base", "large")  # tiny (ours) follows small


def recipe_size(model: ModelConfig) -> str:
    """Which row of the fine-tuning table a model follows: its preset, else the nearest by width.

    `tiny` and custom shapes narrower than base follow the small recipe.
    """
    for name in ("small", "base", "large"):
        preset = ModelConfig.preset(name)
        if (model.num_layers, model.hidden_size) == (preset.num_layers, preset.hidden_size):
            return name
    if model.hidden_size >= 1024:
        return "large"
    return "base" if model.hidden_size >= 768 else "small"


@dataclass
class FinetuneConfig:
    """One fine-tuning run; `for_task(size, task)` fills in the recipe's values (the paper's table,
    or with `recipe="code"` the official code's defaults), flags override them.

    Layer-wise learning-rate decay follows the official code (`model/optimization.py`): of a model
    with n encoder layers, the task head trains at `lr`, encoder layer i (1..n) at
    `lr * layerwise_lr_decay ** (n + 2 - i)` and the embeddings at `lr * decay ** (n + 2)`;
    `layerwise_rule="intended"` shifts every layer one step up (top encoder layer lr * decay),
    what the code's authors are reported to have meant. The optimizer is the official one, Adam
    without bias correction (`bias_correction` for PyTorch's AdamW); see `tasks.loop`.
    """

    recipe: str = choice(
        "paper", RECIPES
    )  # where the defaults below come from: the paper's table or the official code
    lr: float = 3e-4  # peak learning rate of the head (and the top encoder layer)
    layerwise_lr_decay: float = 0.8  # 1.0 turns layer-wise decay off
    layerwise_rule: str = choice("official", ("official", "intended"))  # top layer: lr*d^2 or lr*d
    epochs: int = 3
    batch_size: int = 32  # training examples per step
    eval_batch_size: int = 128  # evaluation only needs forward passes: larger batches are cheaper
    max_seq_length: int = 128  # tokens per example, specials included; padded per batch
    warmup_fraction: float = 0.1  # linear warm-up over this fraction of the steps
    weight_decay: float = 0.0  # the paper's 0 (the official code's: 0.01)
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_eps: float = 1e-6
    bias_correction: bool = False  # Adam with bias correction (PyTorch's AdamW); official: without
    max_grad_norm: float = 1.0  # clip the global gradient norm
    loss_reduction: str = choice("sum", ("sum", "mean"))  # of the batch's losses, before clipping
    seed: int = 0  # initialisation of the head, shuffling, dropout
    seeds: int = 1  # fine-tune this many times (seeds seed, seed+1, ...) and report the median
    keep: str = choice(
        "last", ("last", "best")
    )  # the final model (official), or the best dev epoch's
    max_train_examples: int | None = None  # train on a seeded random subset of this size
    max_steps: int | None = None  # stop after this many steps (the schedule spans them)
    save_every: int = 0  # checkpoint every this many steps too (always: at each epoch's end)
    eval_every: int = 0  # score the dev set every this many steps too (always: each epoch's end)
    grad_accum: int = 1  # split each batch into this many micro-batches: the same step, less memory
    precision: str = choice("fp32", PRECISIONS)  # auto: bf16 if native, else fp32; fp16: + scaler

    def __post_init__(self) -> None:
        check_types(self, "fine-tuning config")
        problems = not_finite(self) + optimizer_problems(self) + not_chosen(self)
        problems += seed_problems(self)
        for name in ("epochs", "batch_size", "eval_batch_size", "seeds"):
            if getattr(self, name) < 1:
                problems.append(f"`{name}` must be positive, got {getattr(self, name)}")
        problems += length_problems(self.max_seq_length)
        if not self.lr > 0:
            problems.append(f"`lr` must be positive, got {self.lr}")
        if not 0 < self.layerwise_lr_decay <= 1:
            problems.append(f"layerwise_lr_decay {self.layerwise_lr_decay} is not in (0, 1]")
        if not 0 <= self.warmup_fraction < 1:
            problems.append(f"warmup_fraction {self.warmup_fraction} is not in [0, 1)")
        if self.loss_reduction not in ("sum", "mean"):
            problems.append(f"`loss_reduction` {self.loss_reduction!r} is not sum or mean")
        if self.layerwise_rule not in ("official", "intended"):
            problems.append(f"`layerwise_rule` {self.layerwise_rule!r} is not official or intended")
        if self.keep not in ("best", "last"):
            problems.append(f"`keep` {self.keep!r} is not 'last' or 'best'")
        if self.max_train_examples is not None and self.max_train_examples < 1:
            problems.append(f"max_train_examples must be at least 1, got {self.max_train_examples}")
        for name in ("save_every", "eval_every"):
            if getattr(self, name) < 0:
                problems.append(f"`{name}` must not be negative, got {getattr(self, name)}")
        if self.max_steps is not None and self.max_steps < 1:
            problems.append(f"max_steps must be at least 1, got {self.max_steps}")
        if not 1 <= self.grad_accum <= self.batch_size:
            problems.append(f"grad_accum {self.grad_accum} is not between 1 and batch_size")
        if problems:
            raise UserError("fine-tuning config: " + "; ".join(problems))

    @classmethod
    def for_task(cls, size: str, task: dict[str, Any], **overrides: Any) -> FinetuneConfig:
        """The recipe's values (`overrides["recipe"]`: the paper's, or the official code's) for a
        model size and a task (the values its family's spec gives, `FamilySpec.recipe`);
        `overrides` (not None) win."""
        if size not in SIZES:
            raise UserError(f"unknown model size {size!r}; known: {', '.join(SIZES)}")
        source = overrides.get("recipe") or "paper"
        if source not in _FINETUNE_PRESETS:
            raise UserError(f"recipe {source!r} is not one of {', '.join(RECIPES)}")
        lr, decay, weight_decay = _FINETUNE_PRESETS[source]["small" if size == "tiny" else size]
        values = dict(recipe=source, lr=lr, layerwise_lr_decay=decay, weight_decay=weight_decay,
                      **task)  # fmt: skip
        values.update({k: v for k, v in overrides.items() if v is not None})
        return from_dict(cls, values, source="fine-tuning config")
