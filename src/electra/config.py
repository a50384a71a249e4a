"""Configuration shared by every layer: the model's shape (`ModelConfig`, with presets), the
checks every options dataclass uses, and saving configs as JSON beside runs. Each layer keeps its
own options beside it (`electra.data.options`, `electra.pretraining.options`,
`electra.tasks.options`); a hyperparameter lives in exactly one field and is read where it acts.
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
# DeBERTa-V3's sizes (microsoft/DeBERTa experiments/language_model/rtd_*.json): the generator at
# the discriminator's width and half its depth; `tiny` is ours. Same columns as above.
_DEBERTA_PRESETS: dict[str, tuple[int, int, int, int, int, float]] = {
    "tiny": (4, 128, 4, 512, 128, 1.0),
    "xsmall": (12, 384, 6, 1536, 384, 1.0),
    "small": (6, 768, 12, 3072, 768, 1.0),
    "base": (12, 768, 12, 3072, 768, 1.0),
    "large": (24, 1024, 16, 4096, 1024, 1.0),
}
BACKBONE_NAMES = ("electra", "deberta-v3")  # the encoders replaced-token detection trains
PRESETS_BY_BACKBONE = {"electra": _MODEL_PRESETS, "deberta-v3": _DEBERTA_PRESETS}
PRESET_NAMES = tuple(dict.fromkeys([*_MODEL_PRESETS, *_DEBERTA_PRESETS]))  # every backbone's
# What DeBERTa-V3's configs set beyond the sizes: no segment embeddings, its LayerNorm epsilon.
_DEBERTA_DEFAULTS = dict(type_vocab_size=0, layer_norm_eps=1e-7, generator_layers=0.5)


@dataclass
class ModelConfig:
    """The shape of one encoder (a discriminator, or a generator via `generator()`): ELECTRA's, or
    DeBERTa-V3's (`backbone`), whose relative positions take the last two fields."""

    backbone: str = choice("electra", BACKBONE_NAMES)  # the encoder: electra or deberta-v3
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
    generator_num_heads: int | None = None  # the generator's heads (default: at its width's share)
    generator_intermediate_size: int | None = None  # its feed-forward width (default: its share)
    position_buckets: int = 256  # deberta-v3: relative distances in log-spaced buckets, each way
    max_relative_positions: int = -1  # deberta-v3: the farthest distance told apart (-1: positions)

    def __post_init__(self) -> None:
        check_types(self, "model config")
        problems = not_chosen(self) + not_finite(self)
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
            or self.type_vocab_size < (self.backbone == "electra")
            or not self.layer_norm_eps > 0
        ):
            problems.append(
                "max_position_embeddings, type_vocab_size and layer_norm_eps must be positive"
            )
        if self.backbone == "deberta-v3":
            if self.embedding_size != self.hidden_size:
                problems.append(f"deberta-v3 embeds at the hidden width: embedding_size "
                                f"{self.embedding_size} must equal hidden_size {self.hidden_size}")  # fmt: skip
            if self.generator_fraction != 1:
                problems.append(f"deberta-v3's generator shares the embeddings at the hidden "
                                f"width: generator_fraction must be 1, got {self.generator_fraction}")  # fmt: skip
            if self.position_buckets < 1:
                problems.append(f"`position_buckets` must be positive, got {self.position_buckets}")
            elif (
                self.max_relative_positions != -1
                and self.max_relative_positions <= self.position_buckets // 2 + 1
            ):
                problems.append(f"`max_relative_positions` must be -1 (the positions) or more than "
                                f"position_buckets / 2 + 1 ({self.position_buckets // 2 + 1}), where "
                                f"the log buckets begin; got {self.max_relative_positions}")  # fmt: skip
        for name in ("generator_fraction", "generator_layers"):
            if not 0 < getattr(self, name) <= 1:
                problems.append(f"`{name}` {getattr(self, name)} is not in (0, 1]")
        for name in ("generator_num_heads", "generator_intermediate_size"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                problems.append(f"`{name}` must be positive, got {getattr(self, name)}")
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
        if self.backbone == "deberta-v3":  # no absolute positions; relative ones per bucket
            embeddings = (self.vocab_size + self.type_vocab_size + 2) * e
            embeddings += (2 * self.position_buckets + 2) * h
        else:
            embeddings = (
                self.vocab_size + self.max_position_embeddings + self.type_vocab_size + 2
            ) * e
        projection = (e + 1) * h if e != h else 0
        layer = 4 * (h * h + h) + 2 * h * i + i + h + 4 * h
        return embeddings + projection + self.num_layers * layer

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> ModelConfig:
        """A preset of the backbone in `overrides` (ELECTRA's when not given)."""
        backbone = overrides.get("backbone", "electra")
        presets = PRESETS_BY_BACKBONE.get(backbone)
        if presets is None:
            raise UserError(f"unknown backbone {backbone!r}; known: {', '.join(BACKBONE_NAMES)}")
        if name not in presets:
            raise UserError(f"unknown {backbone} preset {name!r}; known: {', '.join(presets)}")
        layers, hidden, heads, ffn, embedding, fraction = presets[name]
        values = dict(
            **(_DEBERTA_DEFAULTS if backbone == "deberta-v3" else {}),
            num_layers=layers,
            hidden_size=hidden,
            num_heads=heads,
            intermediate_size=ffn,
            embedding_size=embedding,
            generator_fraction=fraction,
        )
        if backbone == "deberta-v3" and "embedding_size" not in overrides:
            values["embedding_size"] = overrides.get("hidden_size", hidden)  # embeds at its width
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
        heads = self.generator_num_heads or max(1, round(self.num_heads * self.generator_fraction))
        while hidden % heads:
            heads -= 1
        intermediate = self.generator_intermediate_size or max(
            1, round(self.intermediate_size * self.generator_fraction)
        )
        return dataclasses.replace(
            self,
            hidden_size=hidden,
            num_heads=heads,
            intermediate_size=intermediate,
            num_layers=max(1, round(self.num_layers * self.generator_layers)),
            generator_num_heads=None,
            generator_intermediate_size=None,
        )


ACTIVATIONS = ("gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "relu")


# Model fields a user may set when pre-training; the vocabulary and padding id are the data's.
MODEL_FIELDS = tuple(
    f.name for f in fields(ModelConfig) if f.name not in ("vocab_size", "pad_token_id")
)
ALGORITHMS = ("wordpiece", "unigram", "bpe")  # vocabularies `electra vocab` learns
SEGMENTERS = ("none", "jieba", "fugashi")  # word segmenters for languages written without spaces
FORMS = ("none", "nfc", "nfkc")  # Unicode normal forms applied before the vocabulary's normaliser
RUNTIMES = ("auto", "torch", "onnxruntime", "onnxruntime-int8")  # of detection and prediction
PRECISIONS = ("auto", "fp32", "bf16", "fp16")  # auto: bf16 where native, else fp32


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
