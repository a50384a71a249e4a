"""When a pre-training run logs, scores, saves and pauses: its schedule of bookkeeping."""

from __future__ import annotations

from dataclasses import dataclass

from electra.pretraining.options import PretrainConfig


@dataclass(frozen=True)
class CheckpointPolicy:
    """When a run logs, scores its held-out set, saves and pauses, and how many checkpoints it
    keeps. Counts are optimizer steps; the last step always logs and scores."""

    steps: int  # the schedule's length
    log_every: int
    eval_every: int  # 0: only at the end
    save_every: int  # 0: only at the end (the loop always saves the last step)
    keep: int  # newest checkpoints kept
    until: int | None = None  # checkpoint and pause after this step

    @classmethod
    def of(cls, config: PretrainConfig, until: int | None = None) -> CheckpointPolicy:
        return cls(config.steps, config.log_every, config.eval_every, config.save_every,
                   config.keep_checkpoints, until)  # fmt: skip

    def log_due(self, step: int) -> bool:
        return bool(self.log_every and step % self.log_every == 0) or step == self.steps

    def eval_due(self, step: int) -> bool:
        return bool(self.eval_every and step % self.eval_every == 0) or step == self.steps

    def save_due(self, step: int) -> bool:
        return bool(self.save_every and step % self.save_every == 0)

    def pause_due(self, step: int) -> bool:
        return self.until is not None and step >= self.until
