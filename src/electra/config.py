"""Configuration dataclasses: one per concern, presets as classmethods, saved as JSON beside runs.

A hyperparameter lives in exactly one field here and is read where it acts; derived values (head
size, the generator's width) are computed once, here.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

from electra.errors import UserError

T = TypeVar("T")

# The paper's sizes (../shared/ELECTRA.md, "Model sizes"); `tiny` is ours, for tests and CPU demos.
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

    def __post_init__(self) -> None:
        problems = []
        if self.hidden_size % self.num_heads:
            problems.append(f"hidden_size {self.hidden_size} is not divisible by num_heads {self.num_heads}")
        if self.hidden_act not in ACTIVATIONS:
            problems.append(f"hidden_act {self.hidden_act!r} is not one of {', '.join(ACTIVATIONS)}")
        if not 0 < self.generator_fraction <= 1:
            problems.append(f"generator_fraction {self.generator_fraction} is not in (0, 1]")
        for name in ("vocab_size", "embedding_size", "hidden_size", "num_layers", "num_heads", "intermediate_size"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be positive, got {getattr(self, name)}")
        if problems:
            raise UserError("model config: " + "; ".join(problems))

    @property
    def head_size(self) -> int:
        return self.hidden_size // self.num_heads

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
        """The paper's generator: same depth and embeddings, `generator_fraction` of the width."""
        hidden = max(1, round(self.hidden_size * self.generator_fraction))
        heads = max(1, round(self.num_heads * self.generator_fraction))
        while hidden % heads:
            heads -= 1
        return dataclasses.replace(
            self,
            hidden_size=hidden,
            num_heads=heads,
            intermediate_size=max(1, round(self.intermediate_size * self.generator_fraction)),
        )


ACTIVATIONS = ("gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "relu")


def to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)


def from_dict(cls: type[T], values: dict[str, Any], source: str = "config") -> T:
    """Build a dataclass from a dict, rejecting unknown keys with the names that were expected."""
    known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - known)
    if unknown:
        raise UserError(f"{source}: unknown fields {', '.join(unknown)}; expected some of {', '.join(sorted(known))}")
    return cls(**values)


def save_json(config: Any, path: str | Path) -> None:
    """Write a config (or several, as a dict of name -> dataclass) as indented JSON."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {k: to_dict(v) for k, v in config.items()} if isinstance(config, dict) else to_dict(config)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def load_json(cls: type[T], path: str | Path) -> T:
    path = Path(path)
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: not valid JSON ({e})") from None
    return from_dict(cls, values, source=str(path))
