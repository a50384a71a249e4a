"""Task families: the one small interface every family implements, and what its calls return.

A family (classification incl. GLUE and your own tables, tagging, SQuAD, multiple choice) is one
package under `electra.tasks`: its `__init__` declares a `FamilySpec` (`electra.tasks.spec`), its
modules read, encode, model, decode and score, and one of them exposes a `Family` as `FAMILY`. It
shares the fine-tuning loop (`electra.tasks.loop`), the loader of fine-tuned models
(`electra.tasks.loading`) and the calls of `electra.tasks.verbs`. Adding a family is its package
and one entry in `electra.tasks.registry.FAMILIES`; the commands `finetune`, `predict` and `evaluate` then have it,
with flags made from its dataclasses. This module imports nothing heavy, so `--help` starts at once.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from electra.tasks import options as o
from electra.tasks.spec import FamilySpec

if TYPE_CHECKING:  # torch and tokenizers: loaded where a family runs
    from tokenizers import Tokenizer
    from torch import nn

    from electra.tasks.options import FinetuneConfig
    from electra.tasks.task import Task


@dataclass
class Finetuned:
    """A fine-tuned model directory, loaded: what any family's prediction needs."""

    model: nn.Module
    tokenizer: Tokenizer
    labels: tuple[str, ...]  # output i is labels[i]; () for regression and span heads
    max_seq_length: int  # as fine-tuned (or the model's positions, capped at 512, when unsaid)
    saved: dict[str, Any] = field(default_factory=dict)  # the family's settings, as saved


@dataclass
class Run:
    """One fine-tuning run of a family's data (GLUE `all` makes several)."""

    recipe_task: str  # the row of the recipe (epochs, length): "rte", "tagging", "squad"
    data: Any  # the family's data for this run
    out_dir: Path


@dataclass
class FinetuneResult:
    """What `finetune` did: each run's results.json contents, and a summary to print."""

    runs: list[dict[str, Any]]
    summary: str


@dataclass
class Scores:
    """What `evaluate` found: the scores, and how the family prints them."""

    values: dict[str, Any]
    text: str


@dataclass
class Prediction:
    """What `predict` made: text for standard output, a line about files written."""

    stdout: str = ""
    message: str = ""


class Family(ABC):
    """A task family. `build_task` turns data into the loop's `Task`; the model the loop saves
    carries `Task.config_extra`, from which `load_finetuned` restores what `predict` needs."""

    spec: FamilySpec

    def runs(self, data: Any, out_dir: Path) -> list[Run]:
        return [Run(self.spec.name, data, out_dir)]

    @abstractmethod
    def build_task(
        self, data: Any, tokenizer: Tokenizer, config: FinetuneConfig, settings: Any
    ) -> Task: ...

    @abstractmethod
    def load_finetuned(self, model_dir: Path) -> Finetuned: ...

    @abstractmethod
    def predict(
        self, finetuned: Finetuned, input: Any, config: o.PredictConfig, settings: dict[str, Any]
    ) -> Prediction: ...

    @abstractmethod
    def score_file(self, scoring: Any) -> dict[str, Any]: ...

    def show_scores(self, scores: dict[str, Any], scoring: Any = None) -> str:
        """What `evaluate` prints: the scores as JSON (a family may follow an official format,
        or offer others through its `scoring` options)."""
        return json.dumps(scores, indent=2)

    def saved_length(self, saved: dict[str, Any], model: nn.Module) -> int:
        """Tokens per example of a fine-tuned model: as fine-tuned, else (a model fine-tuned
        elsewhere) the recipe's within the model's positions. The one rule for every family."""
        positions = model.config.max_position_embeddings
        return saved.get("max_seq_length") or self.spec.default_length(positions)

    def onnx_outputs(self, model: nn.Module) -> tuple[str, ...]:
        """The names of what `model` returns, as its exported graph names them."""
        return self.spec.onnx_outputs

    def report(self, data: Any, results: list[dict[str, Any]], out_dir: Path) -> str:
        """What `finetune` prints (a line per run), after writing any summary file."""
        return "\n".join(_summary(r) for r in results)


def _summary(results: dict[str, Any]) -> str:
    metrics = ", ".join(f"{name} {value:.4f}" for name, value in results["dev"].items())
    out = Path(results["out_dir"])
    if "seeds" in results:
        main = results["spread"][results["main_metric"]]
        return (f"{results['task']}: median of {len(results['seeds'])} seeds: {metrics} "
                f"({results['main_metric']} std {main['std']:.4f}, range {main['min']:.4f}-"
                f"{main['max']:.4f}; {results['wall_seconds']:.0f} s); median seed's model in "
                f"{results['kept_model']}, results in {out / 'results.json'}")  # fmt: skip
    return (f"{results['task']}: {metrics} (epoch {results['saved_epoch']}, "
            f"{results['wall_seconds']:.0f} s); model in {out / 'model'}, "
            f"results in {out / 'results.json'}")  # fmt: skip
