"""What an objective declares about itself: `ObjectiveSpec`, plain data that imports nothing heavy,
so the command line lists the objectives without loading torch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from electra.config import ModelConfig
from electra.pretraining.flops import Conventions

# (model, seq_len, batch, mask_prob, conventions) -> FLOPs of one step
StepFlops = Callable[[ModelConfig, int, int, float, Conventions], float]


@dataclass(frozen=True)
class ObjectiveSpec:
    """An objective's name, its implementation, its FLOP formula and its arms in `electra compare`."""

    name: str
    module: str  # the implementation: a module whose `OBJECTIVE` class is the pre-training network
    help: str  # one line for the `--objective` flag
    step_flops: StepFlops
    # `electra compare` arm -> (embedding sharing, the exported network that is fine-tuned)
    arms: dict[str, tuple[str, str]]
    continues: bool = False  # `init_from` can continue a released checkpoint with it
