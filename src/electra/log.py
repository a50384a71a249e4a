"""Where a run's metrics go, pre-training or fine-tuning: the progress bar, RUN_DIR/metrics.jsonl
and TensorBoard scalars, written by the lead process only."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tqdm import tqdm

from electra.files import write_text

METRICS_FILE = "metrics.jsonl"
TENSORBOARD_DIR = "tensorboard"


class Log:
    """What the user sees (rank 0 only): progress bar, metrics.jsonl, TensorBoard scalars.
    The other ranks get a disabled one, so the loop calls it the same way everywhere."""

    def __init__(
        self,
        run_dir: Path,
        start_step: int,
        total_steps: int,
        enabled: bool,
        bar: bool = True,
        desc: str | None = None,
    ) -> None:
        self.enabled = enabled
        self.bar = tqdm(
            total=total_steps,
            desc=desc,
            initial=start_step,
            unit="step",
            dynamic_ncols=True,
            disable=not (enabled and bar),
        )
        if not enabled:
            return
        from torch.utils.tensorboard import SummaryWriter  # imports tensorboard: only where used

        self.metrics_path = run_dir / METRICS_FILE
        _truncate_metrics(self.metrics_path, start_step)
        self.writer = SummaryWriter(str(run_dir / TENSORBOARD_DIR), purge_step=start_step + 1)

    def record(self, step: int, values: dict[str, float], prefix: str = "train") -> None:
        if not self.enabled:
            return
        named = values if prefix == "train" else {f"{prefix}_{k}": v for k, v in values.items()}
        with open(self.metrics_path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"step": step, **named}) + "\n")
        for name, value in values.items():
            self.writer.add_scalar(f"{prefix}/{name}", value, step)
        self.writer.flush()
        if prefix == "train":
            shown = {
                k: f"{values[k]:.4g}"
                for k in ("gen_loss", "disc_loss", "disc_acc", "loss")
                if k in values
            }
            if "tokens_per_s" in values:
                shown["tok_s"] = f"{values['tokens_per_s']:.0f}"
            self.bar.set_postfix(**shown, refresh=False)

    def message(self, text: str) -> None:
        if self.enabled:
            self.bar.write(text, file=sys.stderr)

    def close(self) -> None:
        self.bar.close()
        if self.enabled:
            self.writer.close()


def _truncate_metrics(path: Path, step: int) -> None:
    """Drop lines logged after `step`: a resumed run rewrites them, so curves never double back."""
    if not path.is_file():
        return
    kept = [
        line
        for line in path.read_text(encoding="utf-8").splitlines(keepends=True)
        if json.loads(line)["step"] <= step
    ]
    write_text(path, "".join(kept))
