"""Configuration dataclasses: one per concern, presets as classmethods, saved as JSON beside runs.

A hyperparameter lives in exactly one field here and is read where it acts; derived values (head
size, the generator's width) are computed once, here.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from electra.errors import UserError
from electra.files import write_json

T = TypeVar("T")


_TYPES = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,)}
_TYPE_NAMES = {
    "int": "a whole number",
    "float": "a number",
    "str": "a string",
    "bool": "true or false",
}


def wrong_types(config: Any) -> list[str]:
    """Fields whose value is not of their annotated type (int, float, str, bool, optionally
    `| None`): what a hand-edited JSON file or an API call can hold, named before any use."""
    problems = []
    for f in fields(config):
        annotation = str(f.type).replace(" ", "")
        optional = annotation.endswith("|None")
        expected = annotation.removesuffix("|None")
        if expected not in _TYPES:
            continue
        value = getattr(config, f.name)
        if value is None and optional:
            continue
        if (
            isinstance(value, bool)
            and expected != "bool"
            or not isinstance(value, _TYPES[expected])
        ):
            problems.append(f"`{f.name}` must be {_TYPE_NAMES[expected]}, got {value!r}")
    return problems


def check_types(config: Any, what: str) -> None:
    """`wrong_types`, refused in one line: the other checks compare and multiply the values."""
    if problems := wrong_types(config):
        raise UserError(f"{what}: " + "; ".join(problems))


SEED_RANGE = 2**32  # numpy's seeds


def seed_problems(config: Any) -> list[str]:
    if not 0 <= config.seed < SEED_RANGE:
        return [f"`seed` {config.seed} is not in [0, 2**32)"]
    return []


def machine_memory() -> int | None:
    """This machine's physical memory in bytes (None where the OS does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def not_finite(config: Any) -> list[str]:
    """Problems with the float fields of a config that are NaN or infinite."""
    return [
        f"`{f.name}` must be a finite number, got {getattr(config, f.name)}"
        for f in fields(config)
        if isinstance(getattr(config, f.name), float) and not math.isfinite(getattr(config, f.name))
    ]


def not_chosen(config: Any) -> list[str]:
    """Problems with the fields made by `choice` whose value is none of their options."""
    return [
        f"`{f.name}` {getattr(config, f.name)!r} is not one of {', '.join(f.metadata['choices'])}"
        for f in fields(config)
        if "choices" in f.metadata
        and getattr(config, f.name) is not None
        and getattr(config, f.name) not in f.metadata["choices"]
    ]


def optimizer_problems(config: Any) -> list[str]:
    """AdamW's settings, as PretrainConfig and FinetuneConfig both spell them."""
    problems = []
    for name in ("adam_beta1", "adam_beta2"):
        if not 0 <= getattr(config, name) < 1:
            problems.append(f"`{name}` {getattr(config, name)} is not in [0, 1)")
    if not config.adam_eps > 0:
        problems.append(f"adam_eps must be positive, got {config.adam_eps}")
    for name in ("weight_decay", "max_grad_norm"):
        if getattr(config, name) < 0:
            problems.append(f"`{name}` must not be negative, got {getattr(config, name)}")
    return problems


def choice(default: Any, options: tuple[str, ...]) -> Any:
    """A field whose value is one of `options` (its flag offers them); `...`: no default."""
    if default is ...:
        return field(metadata={"choices": options})
    return field(default=default, metadata={"choices": options})


# The paper's sizes (Clark et al. 2020, appendix A, pre-training details); `tiny` is ours, for tests and CPU demos.
#            layers hidden heads  ffn  embedding generator_fraction
_MODEL_PRESETS: dict[str, tuple[int, int, int, int, int, float]] = {
    "tiny": (4, 128, 4, 512, 128, 1 / 4),
    "small": (12, 256, 4, 1024, 128, 1 / 4),
    "base": (12, 768, 12, 3072, 768, 1 / 3),
    "large": (24, 1024, 16, 4096, 1024, 1 / 4),
}
PRESETS = tuple(_MODEL_PRESETS)


@dataclass
class ModelConfig:
    """The shape of one ELECTRA encoder (a discriminator, or a generator via `generator()`)."""

    vocab_size: int = 30522  # WordPiece vocabulary (BERT uncased)
    embedding_size: int = 128  # width of the embeddings; projected to hidden_size when different
    hidden_size: int = 256  # width of the transformer
    num_layers: int = 12
    num_heads: int = 4
    intermediate_size: int = 1024  # feed-forward inner width
    max_position_embeddings: int = 512
    type_vocab_size: int = 2  # segments A and B
    hidden_act: str = "gelu"  # gelu (erf), gelu_new / gelu_pytorch_tanh (tanh approx.), relu
    hidden_dropout: float = 0.1
    attention_dropout: float = 0.1
    layer_norm_eps: float = 1e-12
    initializer_range: float = 0.02  # std of the normal initialisation
    pad_token_id: int = 0
    generator_fraction: float = 1 / 4  # generator width / discriminator width when pre-training
    generator_layers: float = 1.0  # generator depth / discriminator depth (the official code's)

    def __post_init__(self) -> None:
        check_types(self, "model config")
        problems = not_finite(self)
        if self.num_heads > 0 and self.hidden_size % self.num_heads:
            problems.append(
                f"hidden_size {self.hidden_size} is not divisible by num_heads {self.num_heads}"
            )
        if self.hidden_act not in ACTIVATIONS:
            problems.append(
                f"hidden_act {self.hidden_act!r} is not one of {', '.join(ACTIVATIONS)}"
            )
        for name in ("hidden_dropout", "attention_dropout"):
            if not 0 <= getattr(self, name) < 1:
                problems.append(f"`{name}` {getattr(self, name)} is not in [0, 1)")
        if (
            self.max_position_embeddings < 1
            or self.type_vocab_size < 1
            or not self.layer_norm_eps > 0
        ):
            problems.append(
                "max_position_embeddings, type_vocab_size and layer_norm_eps must be positive"
            )
        for name in ("generator_fraction", "generator_layers"):
            if not 0 < getattr(self, name) <= 1:
                problems.append(f"`{name}` {getattr(self, name)} is not in (0, 1]")
        for name in (
            "vocab_size",
            "embedding_size",
            "hidden_size",
            "num_layers",
            "num_heads",
            "intermediate_size",
        ):
            if getattr(self, name) < 1:
                problems.append(f"`{name}` must be positive, got {getattr(self, name)}")
        if problems:
            raise UserError("model config: " + "; ".join(problems))
        memory = machine_memory()
        if memory is not None and self.parameter_count() * 4 > memory:
            raise UserError(
                f"model config: {self.parameter_count():,} parameters need "
                f"{self.parameter_count() * 4 / 2**30:,.1f} GiB for their fp32 weights alone; "
                f"this machine has {memory / 2**30:,.1f} GiB (check num_layers, hidden_size, "
                "intermediate_size, vocab_size)"
            )

    def parameter_count(self) -> int:
        """Weights and biases of the encoder and its embeddings (heads aside): what building it
        allocates, known before anything is built."""
        e, h, i = self.embedding_size, self.hidden_size, self.intermediate_size
        embeddings = (self.vocab_size + self.max_position_embeddings + self.type_vocab_size + 2) * e
        projection = (e + 1) * h if e != h else 0
        layer = 4 * (h * h + h) + 2 * h * i + i + h + 4 * h
        return embeddings + projection + self.num_layers * layer

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> ModelConfig:
        if name not in _MODEL_PRESETS:
            raise UserError(f"unknown preset {name!r}; known: {', '.join(_MODEL_PRESETS)}")
        layers, hidden, heads, ffn, embedding, fraction = _MODEL_PRESETS[name]
        values = dict(
            num_layers=layers,
            hidden_size=hidden,
            num_heads=heads,
            intermediate_size=ffn,
            embedding_size=embedding,
            generator_fraction=fraction,
        )
        return cls(**{**values, **overrides})

    @classmethod
    def tiny(cls, **overrides: Any) -> ModelConfig:
        return cls.preset("tiny", **overrides)

    @classmethod
    def small(cls, **overrides: Any) -> ModelConfig:
        return cls.preset("small", **overrides)

    @classmethod
    def base(cls, **overrides: Any) -> ModelConfig:
        return cls.preset("base", **overrides)

    @classmethod
    def large(cls, **overrides: Any) -> ModelConfig:
        return cls.preset("large", **overrides)

    def generator(self) -> ModelConfig:
        """The paper's generator: the same embeddings, `generator_fraction` of the width and
        `generator_layers` of the depth (the paper's: all of it)."""
        hidden = max(1, round(self.hidden_size * self.generator_fraction))
        heads = max(1, round(self.num_heads * self.generator_fraction))
        while hidden % heads:
            heads -= 1
        return dataclasses.replace(
            self,
            hidden_size=hidden,
            num_heads=heads,
            intermediate_size=max(1, round(self.intermediate_size * self.generator_fraction)),
            num_layers=max(1, round(self.num_layers * self.generator_layers)),
        )


ACTIVATIONS = ("gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "relu")
# Model fields a user may set when pre-training; the vocabulary and padding id are the data's.
MODEL_FIELDS = tuple(
    f.name for f in fields(ModelConfig) if f.name not in ("vocab_size", "pad_token_id")
)


# Pre-training recipes (the paper's appendix A); `tiny` is sized for a few minutes on
# two CPU cores.  lr     batch  steps      seq_len mask_prob warmup_steps
_PRETRAIN_PRESETS: dict[str, tuple[float, int, int, int, float, int]] = {
    "tiny": (3e-4, 32, 600, 128, 0.15, 60),
    "small": (5e-4, 128, 1_000_000, 128, 0.15, 10_000),
    "base": (2e-4, 256, 766_000, 512, 0.15, 10_000),
    "large": (2e-4, 2048, 400_000, 512, 0.25, 10_000),
}
OBJECTIVES = ("rtd", "mlm")  # the one registry of objective names (classes: pretrain.objective)
FROM_DATA = ("seq_len",)  # pre-training fields whose default is the prepared data's
RUNTIMES = ("auto", "torch", "onnxruntime", "onnxruntime-int8")  # of detection and prediction
PRECISIONS = ("auto", "fp32", "bf16", "fp16")  # auto: bf16 where native, else fp32
ON_NONFINITE = ("skip", "stop")
# Where pre-training batches are read and packed: a worker process (free of the step's
# interpreter lock), a thread, or auto (the process on CUDA, the thread on CPU, as measured).
LOADERS = ("auto", "process", "thread")
# How the RTD generator and discriminator share embeddings: one module (ELECTRA), DeBERTa-V3's
# gradient-disentangled sharing (the discriminator's = the generator's, detached, + its own
# residual), or not at all.
SHARING = ("shared", "gdes", "none")


@dataclass
class PretrainConfig:
    """How to pre-train: objective, data, optimisation, bookkeeping. Saved as RUN_DIR/pretrain.json."""

    # objective
    objective: str = choice("rtd", OBJECTIVES)  # ELECTRA's rtd, or the BERT baseline mlm
    mask_prob: float = 0.15  # fraction of non-special tokens chosen for prediction
    mask_token_prob: float = 0.85  # of the chosen positions, shown as [MASK] (rest: original)
    temperature: float = 1.0  # of the generator softmax that replacements are sampled from
    gen_weight: float = 1.0  # weight of the generator (MLM) loss in the total
    disc_weight: float = 50.0  # weight of the discriminator loss in the total
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
    lr: float = 5e-4  # peak learning rate
    warmup_steps: int = 10_000  # optimizer steps
    weight_decay: float = 0.01  # not applied to LayerNorm weights and biases
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_eps: float = 1e-6
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
        if self.init_from and self.objective != "rtd":
            problems.append("init_from continues replaced-token detection: objective must be rtd")
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
    def preset(cls, name: str, **overrides: Any) -> PretrainConfig:
        if name not in _PRETRAIN_PRESETS:
            raise UserError(f"unknown preset {name!r}; known: {', '.join(_PRETRAIN_PRESETS)}")
        lr, batch, steps, seq_len, mask_prob, warmup = _PRETRAIN_PRESETS[name]
        values = dict(lr=lr, batch_size=batch, steps=steps, seq_len=seq_len, mask_prob=mask_prob)
        return cls(**{**values, "warmup_steps": warmup, **overrides})


@dataclass
class DetectConfig:
    """`electra detect`: how texts are scored and shown."""

    batch_size: int = 32  # texts scored together
    threshold: float = 0.5  # mark tokens whose probability of being replaced is above this
    runtime: str = choice(
        "auto", RUNTIMES
    )  # auto: onnxruntime for a directory from `electra export onnx`, else torch

    def __post_init__(self) -> None:
        if problems := not_chosen(self):
            raise UserError("; ".join(problems))
        if self.batch_size < 1:
            raise UserError(f"batch_size must be at least 1, got {self.batch_size}")
        if not 0 <= self.threshold <= 1:  # NaN fails too
            raise UserError(f"`threshold` {self.threshold} is not a probability in [0, 1]")


def to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)


def changed_settings(saved: T, new: T, free: tuple[str, ...] = ()) -> dict[str, tuple[Any, Any]]:
    """The fields of two configs of one class that differ (old, new), less the `free` ones."""
    return {f.name: (getattr(saved, f.name), getattr(new, f.name)) for f in fields(saved)
            if f.name not in free and getattr(saved, f.name) != getattr(new, f.name)}  # fmt: skip


def check_resume_changes(where: str, changes: dict[str, tuple[Any, Any]], allow: bool) -> None:
    """A resumed run continues its own trajectory: settings that shape it may change only when
    the user says so (`allow_changes`, `--allow-changes`)."""
    if changes and not allow:
        listed = "; ".join(f"{name} {old!r} -> {new!r}" for name, (old, new) in changes.items())
        raise UserError(f"{where}: resuming with settings that change the run: {listed}; resume "
                        "without them, or pass --allow-changes to apply them")  # fmt: skip


def record_changes(run_dir: Path, step: int, changes: dict[str, tuple[Any, Any]]) -> None:
    """Append what a resumed run changed, and from which step, to RUN_DIR/changes.jsonl."""
    if not changes:
        return
    line = {
        "step": step,
        "changes": {k: {"old": old, "new": new} for k, (old, new) in changes.items()},
    }
    with open(Path(run_dir) / "changes.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(line) + "\n")


def from_dict(cls: type[T], values: dict[str, Any], source: str = "config") -> T:
    """Build a dataclass from a dict, rejecting unknown keys with the names that were expected."""
    known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - known)
    if unknown:
        raise UserError(
            f"{source}: unknown fields {', '.join(unknown)}; expected some of {', '.join(sorted(known))}"
        )
    return cls(**values)


def save_json(config: Any, path: str | Path) -> None:
    """Write a config (or several, as a dict of name -> dataclass) as indented JSON."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (
        {k: to_dict(v) for k, v in config.items()} if isinstance(config, dict) else to_dict(config)
    )
    write_json(path, data)


# The paper's fine-tuning recipe (Clark et al. 2020, Table 7).
#              lr     layerwise_lr_decay
_FINETUNE_PRESETS: dict[str, tuple[float, float]] = {
    "tiny": (3e-4, 0.8),  # ours: as small
    "small": (3e-4, 0.8),
    "base": (1e-4, 0.8),
    "large": (5e-5, 0.9),
}


def recipe_size(model: ModelConfig) -> str:
    """Which row of the fine-tuning table a model follows: its preset, else the nearest by width.

    `tiny` and custom shapes narrower than base follow the small recipe.
    """
    for name in ("small", "base", "large"):
        layers, hidden = _MODEL_PRESETS[name][:2]
        if (model.num_layers, model.hidden_size) == (layers, hidden):
            return name
    if model.hidden_size >= 1024:
        return "large"
    return "base" if model.hidden_size >= 768 else "small"


@dataclass
class FinetuneConfig:
    """One fine-tuning run; `recipe(size, task)` fills in the paper's values, flags override them.

    Layer-wise learning-rate decay follows the official code (`model/optimization.py`): of a model
    with n encoder layers, the task head trains at `lr`, encoder layer i (1..n) at
    `lr * layerwise_lr_decay ** (n + 2 - i)` and the embeddings at `lr * decay ** (n + 2)`;
    `layerwise_rule="intended"` shifts every layer one step up (top encoder layer lr * decay),
    what the code's authors are reported to have meant. The optimizer is the official one, Adam
    without bias correction (`bias_correction` for PyTorch's AdamW); see `tasks.loop`.
    """

    lr: float = 3e-4  # peak learning rate of the head (and the top encoder layer)
    layerwise_lr_decay: float = 0.8  # 1.0 turns layer-wise decay off
    layerwise_rule: str = choice("official", ("official", "intended"))  # top layer: lr*d^2 or lr*d
    epochs: int = 3
    batch_size: int = 32  # training examples per step
    eval_batch_size: int = 128  # evaluation only needs forward passes: larger batches are cheaper
    max_seq_length: int = 128  # tokens per example, specials included; padded per batch
    warmup_fraction: float = 0.1  # linear warm-up over this fraction of the steps
    weight_decay: float = 0.0  # the paper's value (the official code's default is 0.01)
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
        for name in ("epochs", "batch_size", "eval_batch_size", "max_seq_length", "seeds"):
            if getattr(self, name) < 1:
                problems.append(f"`{name}` must be positive, got {getattr(self, name)}")
        if self.max_seq_length < 3:
            problems.append(
                f"max_seq_length {self.max_seq_length}: [CLS], [SEP] and a token need 3"
            )
        if self.max_seq_length > 512:
            problems.append(f"max_seq_length {self.max_seq_length} exceeds 512 positions")
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
    def recipe(cls, size: str, task: dict[str, Any], **overrides: Any) -> FinetuneConfig:
        """The paper's values for a model size and a task (the values its family's spec gives,
        `FamilySpec.recipe`); `overrides` (not None) win."""
        if size not in _FINETUNE_PRESETS:
            raise UserError(f"unknown model size {size!r}; known: {', '.join(_FINETUNE_PRESETS)}")
        lr, decay = _FINETUNE_PRESETS[size]
        values = dict(
            lr=lr,
            layerwise_lr_decay=decay,
            **task,
        )
        values.update({k: v for k, v in overrides.items() if v is not None})
        return from_dict(cls, values, source="fine-tuning config")
