"""The pre-training objectives, by name: the one line a new objective adds, beside its module.

Each objective is a module (`rtd`, `mlm`) whose `OBJECTIVE` class (built by `build.build`) takes (model config, pre-training
config, special ids) and returns an `Output` (`masking`) from its forward; its `ObjectiveSpec` here
says how many FLOPs a step costs and which arms `electra compare` runs. Shared code (setup, FLOP
budgets, the comparison) goes through this registry and never names an objective.
"""

from __future__ import annotations

from electra.config import ModelConfig
from electra.pretraining.flops import MEASURED, Conventions, mlm_step_flops, rtd_step_flops
from electra.pretraining.objectives.spec import ObjectiveSpec

OBJECTIVES: dict[str, ObjectiveSpec] = {
    spec.name: spec
    for spec in (
        ObjectiveSpec(
            "rtd", "electra.pretraining.objectives.rtd", "ELECTRA's replaced-token detection",
            rtd_step_flops,
            {"rtd": ("shared", "discriminator"), "rtd+gdes": ("gdes", "discriminator"),
             "rtd+none": ("none", "discriminator")},
            continues=True,
        ),
        ObjectiveSpec(
            "mlm", "electra.pretraining.objectives.mlm", "the BERT baseline (masked LM)",
            mlm_step_flops, {"mlm": ("shared", "generator")},
        ),
    )
}  # fmt: skip
ARMS = {arm: (spec.name, *how) for spec in OBJECTIVES.values() for arm, how in spec.arms.items()}


def step_flops(model: ModelConfig, seq_len: int, batch: int, objective: str,
               mask_prob: float = 0.15, c: Conventions = MEASURED) -> float:  # fmt: skip
    """FLOPs of one pre-training step of this toolkit's model (`MEASURED` by default)."""
    return OBJECTIVES[objective].step_flops(model, seq_len, batch, mask_prob, c)
