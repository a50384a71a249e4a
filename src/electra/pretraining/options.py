"""How to pre-train (`PretrainConfig`, saved as RUN_DIR/pretrain.json) and the paper's pre-training
presets (appendix A).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from electra.config import (
    PRECISIONS,
    check_types,
    choice,
    not_chosen,
    not_finite,
    optimizer_problems,
    seed_problems,
)
from electra.errors import UserError
from electra.pretraining.objectives import OBJECTIVES

# Pre-training recipes (the paper's appendix A); `tiny` is sized for a few minutes on
# two CPU cores.  lr     batch  steps      seq_len mask_prob warmup_steps
_PRETRAIN_PRESETS: dict[str, tuple[float, int, int, int, float, int]] = {
    "tiny": (3e-4, 32, 600, 128, 0.15, 60),
    "small": (5e-4, 128, 1_000_000, 128, 0.15, 10_000),
    "base": (2e-4, 256, 766_000, 512, 0.15, 10_000),
    "large": (2e-4, 2048, 400_000, 512, 0.25, 10_000),
}
# DeBERTa-V3's (microsoft/DeBERTa experiments/language_model/rtd.sh: rate, batch, warm-up, length
# 512) under GDES; rtd.sh runs one epoch of its data and names no step count, so each size takes
# the steps of ELECTRA's preset of its name (xsmall: small's). `tiny` is ours, as above.
_DEBERTA_PRETRAIN_PRESETS: dict[str, tuple[float, int, int, int, float, int]] = {
    "tiny": (3e-4, 32, 600, 128, 0.15, 60),
    "xsmall": (3e-4, 64, 1_000_000, 512, 0.15, 10_000),
    "small": (3e-4, 64, 1_000_000, 512, 0.15, 10_000),
    "base": (1e-4, 256, 766_000, 512, 0.15, 10_000),
    "large": (1e-4, 256, 400_000, 512, 0.15, 10_000),
}
FROM_DATA = ("seq_len",)  # pre-training fields whose default is the prepared data's
ON_NONFINITE = ("skip", "stop")


# Where pre-training batches are read and packed: a worker process (free of the step's
# interpreter lock), a thread, or auto (the process on CUDA, the thread on CPU, as measured).
LOADERS = ("auto", "process", "thread")


# How the RTD generator and discriminator share embeddings: one module (ELECTRA), DeBERTa-V3's
# gradient-disentangled sharing (the discriminator's = the generator's, detached, + its own
# residual), or not at all.
SHARING = ("shared", "gdes", "none")


HEAD_INITS = (
    "official",
    "normal",
)  # the discriminator's output layer: Glorot-uniform, normal(0.02)
# FLOPs counted as this toolkit's work, or as the paper's flops_computation.py counts them
FLOPS_CONVENTIONS = ("measured", "official")
# The official code's choice for each setting a run may depart from, and what the departure is.
OFFICIAL = {
    "bias_correction": (False, "Adam with bias correction (the official optimizer has none)"),
    "output_bias_prior": (False, "the discriminator's output bias starts at logit(mask_prob) "
                                 "(official: 0)"),
    "head_init": ("official", "the discriminator's output layer drawn from normal(0.02) (official: "
                              "Glorot-uniform)"),
}  # fmt: skip


def departures(config: PretrainConfig) -> list[str]:
    """The run's departures from the official recipe, in words (for the model card)."""
    return [f"`{name}`: {text}" for name, (official, text) in OFFICIAL.items()
            if getattr(config, name) != official]  # fmt: skip


@dataclass
class PretrainConfig:
    """How to pre-train: objective, data, optimisation, bookkeeping. Saved as RUN_DIR/pretrain.json."""

    # objective
    objective: str = choice("rtd", tuple(OBJECTIVES))  # ELECTRA's rtd, or the BERT baseline mlm
    mask_prob: float = 0.15  # fraction of non-special tokens chosen for prediction
    mask_token_prob: float = 0.85  # of the chosen positions, shown as [MASK] (rest: original)
    whole_word_masking: bool = False  # mask every piece of a chosen word, in the same budget
    temperature: float = 1.0  # of the generator softmax that replacements are sampled from
    gen_weight: float = 1.0  # weight of the generator (MLM) loss in the total
    disc_weight: float = 50.0  # weight of the discriminator loss in the total
    output_bias_prior: bool = False  # rtd: output bias starts at logit(mask_prob); official: 0
    head_init: str = choice("official", HEAD_INITS)  # rtd output layer: Glorot-uniform or normal
    # where the weights start (continued pre-training); a checkpoint directory or a hub name
    init_from: str | None = None  # a discriminator to continue from (sizes: its config)
    init_generator: str | None = None  # its generator (default: a fresh one of the preset's width)
    # data
    seq_len: int = 128  # tokens per example; must equal the shards' length
    batch_size: int = 128  # sequences per optimizer step, summed over processes and accumulation
    grad_accum: int = 1  # micro-batches per optimizer step
    # optimisation (AdamW; the learning rate warms up linearly, times a linear decay to 0)
    steps: int = 1_000_000  # optimizer steps
    embedding_sharing: str = choice("shared", SHARING)  # rtd: ELECTRA's one module, gdes, none
    flops_budget: float | None = None  # FLOPs to train (pretraining/flops.py); sets steps
    flops_convention: str = choice("measured", FLOPS_CONVENTIONS)  # what --flops-budget counts
    lr: float = 5e-4  # peak learning rate
    warmup_steps: int = 10_000  # optimizer steps
    weight_decay: float = 0.01  # not applied to LayerNorm weights and biases
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_eps: float = 1e-6
    bias_correction: bool = False  # Adam with bias correction (PyTorch's AdamW); official: without
    max_grad_norm: float = 1.0  # global gradient-norm clip; 0 disables
    precision: str = choice("auto", PRECISIONS)  # auto: bf16 if native, else fp32; fp16: + scaler
    compile: bool = False  # torch.compile the networks
    loader: str = choice("auto", LOADERS)  # where batches are packed: process, thread, auto
    seed: int = 0
    on_nonfinite: str = choice("skip", ON_NONFINITE)  # on a NaN/inf loss: skip the step, stop
    # bookkeeping
    log_every: int = 100  # optimizer steps between metric lines
    save_every: int = 1000  # optimizer steps between checkpoints; 0: only at the end
    keep_checkpoints: int = 3  # newest checkpoints kept
    export_every_checkpoint: bool = False  # also refresh RUN_DIR/discriminator and /generator
    eval_batches: int = 8  # held-out batches scored (replaced-token precision/recall, ROC AUC)
    eval_every: int = 1000  # optimizer steps between held-out scores; 0: only at the end

    def __post_init__(self) -> None:
        check_types(self, "pre-training config")
        problems = not_finite(self) + optimizer_problems(self) + seed_problems(self)
        problems += not_chosen(self)
        for name in ("seq_len", "batch_size", "grad_accum", "steps"):
            if getattr(self, name) < 1:
                problems.append(f"`{name}` must be positive, got {getattr(self, name)}")
        counts = ("warmup_steps", "log_every", "save_every", "eval_batches", "eval_every")
        for name in counts:
            if getattr(self, name) < 0:
                problems.append(f"`{name}` must not be negative, got {getattr(self, name)}")
        if self.keep_checkpoints < 1:
            problems.append(f"keep_checkpoints must be at least 1, got {self.keep_checkpoints}")
        if self.flops_budget is not None and not self.flops_budget > 0:
            problems.append(f"flops_budget must be positive, got {self.flops_budget}")
        for name in ("mask_prob", "mask_token_prob"):
            if not 0 < getattr(self, name) <= 1:
                problems.append(f"`{name}` {getattr(self, name)} is not in (0, 1]")
        if not (self.lr > 0 and self.temperature > 0):
            problems.append(
                f"`lr` ({self.lr}) and `temperature` ({self.temperature}) must be positive"
            )
        if self.init_generator and not self.init_from:
            problems.append(
                "init_generator needs init_from (the discriminator it was trained with)"
            )
        continuing = [name for name, spec in OBJECTIVES.items() if spec.continues]
        if self.init_from and self.objective in OBJECTIVES and self.objective not in continuing:
            problems.append(f"init_from continues {' or '.join(continuing)}: objective "
                            f"{self.objective} cannot start from a checkpoint")  # fmt: skip
        if self.grad_accum >= 1 and self.batch_size % self.grad_accum:
            problems.append(
                f"batch_size {self.batch_size} is not a multiple of grad_accum {self.grad_accum}"
            )
        if problems:
            raise UserError("pre-training config: " + "; ".join(problems))

    @property
    def max_predictions(self) -> int:
        """Positions predicted per sequence at most, as the official code: 19 at length 128."""
        return max(1, int((self.mask_prob + 0.005) * self.seq_len))

    @classmethod
    def preset(cls, name: str, backbone: str = "electra", **overrides: Any) -> PretrainConfig:
        """The recipe of a preset of `backbone` (DeBERTa-V3's under GDES)."""
        deberta = backbone == "deberta-v3"
        presets = _DEBERTA_PRETRAIN_PRESETS if deberta else _PRETRAIN_PRESETS
        if name not in presets:
            raise UserError(f"unknown {backbone} preset {name!r}; known: {', '.join(presets)}")
        lr, batch, steps, seq_len, mask_prob, warmup = presets[name]
        values = dict(lr=lr, batch_size=batch, steps=steps, seq_len=seq_len, mask_prob=mask_prob,
                      warmup_steps=warmup, **({"embedding_sharing": "gdes"} if deberta else {}))  # fmt: skip
        return cls(**{**values, **overrides})
