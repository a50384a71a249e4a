"""Settings every family shares (`PredictConfig`) and the helpers the families' option dataclasses
use. Plain dataclasses, importing nothing heavy: the command line makes its flags from them
(`electra.commands.flags`), and the trailing comment of a field is its flag's help.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from electra.config import RUNTIMES, choice, not_chosen
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
        if self.max_seq_length is not None and self.max_seq_length < 3:
            raise UserError(f"max_seq_length must be at least 3, got {self.max_seq_length}")
