"""What a task family declares about itself: `FamilySpec`, the one place its knowledge lives.

A spec is plain data and imports nothing heavy, so the command line builds every family's flags and
`--help` without loading torch. Shared code (the commands, fine-tuning, ONNX export, model cards,
the recipe) reads a family's spec and never names a family.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_EPOCHS = 3  # the paper's table (Clark et al. 2020, Table 7) for every task it does not name


@dataclass(frozen=True)
class FamilySpec:
    """A family's name, commands, inputs, `transformers` classes, exported outputs, card task and
    recipe."""

    name: str
    module: str  # the implementation: a module whose `FAMILY` implements `Family`
    help: dict[str, str]  # verb -> one line
    examples: dict[str, str]  # verb -> an example command
    data: type  # `finetune` inputs
    input: type  # `predict` inputs
    scoring: type  # `evaluate` inputs
    settings: type | None = None  # saved beside the model; `finetune` and `predict` flags too
    hf_classes: tuple[str, ...] = ()  # its `transformers` classes, after the backbone's prefix
    onnx_outputs: tuple[str, ...] = ("logits",)  # the exported graph's outputs, by name
    card_task: str = "text-classification"  # the model card's task type (the hub's pipeline tag)
    max_seq_length: int = 128  # the recipe's tokens per example (and a saved model's when unsaid)
    epochs: dict[str, int] = field(default_factory=dict)  # recipe task -> epochs, where not 3

    def recipe(self, task: str) -> dict[str, int]:
        """The recipe values that depend on the task: epochs and example length."""
        return {
            "epochs": self.epochs.get(task, DEFAULT_EPOCHS),
            "max_seq_length": self.max_seq_length,
        }

    def default_length(self, positions: int) -> int:
        """Tokens per example of a model whose fine-tuning did not say: the recipe's, within the
        model's positions."""
        return min(self.max_seq_length, positions)
