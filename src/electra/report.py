"""A run's curves, from RUN_DIR/metrics.jsonl to one PNG (matplotlib, no display): pre-training
(training and held-out side by side, chance levels dashed) and fine-tuning (loss, dev scores)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 -- after choosing the display-free backend

from electra.errors import UserError  # noqa: E402
from electra.files import atomic_path, writable_dir  # noqa: E402


@dataclass(frozen=True)
class Panel:
    """One plot: metrics drawn together (held-out beside training), and dashed chance levels, each
    a constant or a logged metric (e.g. the replaced fraction: the precision of guessing)."""

    title: str
    metrics: tuple[str, ...]
    chance: tuple[tuple[str, str | float], ...] = ()


# Panels whose metrics the run did not log are left out; `dev_*` fills the fine-tuning panel.
PANELS = (
    Panel("generator loss (MLM)", ("gen_loss", "heldout_gen_loss")),
    Panel("discriminator loss", ("disc_loss", "heldout_disc_loss")),
    Panel("generator accuracy (masked positions)", ("gen_acc", "heldout_gen_acc")),
    Panel(
        "discriminator accuracy",
        ("disc_acc", "heldout_disc_acc"),
        (("chance: all original", "original_frac"),),
    ),  # fmt: skip
    Panel(
        "replaced tokens (training batches)",
        ("disc_precision", "disc_recall"),
        (("chance precision", "replaced_frac"),),
    ),  # fmt: skip
    Panel(
        "replaced tokens (held-out)",
        (
            "heldout_disc_auc",
            "heldout_disc_average_precision",
            "heldout_disc_precision",
            "heldout_disc_recall",
        ),
        (("chance ROC AUC", 0.5), ("chance precision", "heldout_replaced_frac")),
    ),  # fmt: skip
    Panel("fine-tuning loss", ("loss", "dev_train_loss")),
    Panel("dev scores (each epoch)", ()),
    Panel("learning rate", ("lr",)),
    Panel("tokens / s", ("tokens_per_s",)),
)
_NOT_SCORES = {"dev_epoch", "dev_train_loss", "dev_step"}


def read_metrics(path: str | Path) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        raise UserError(
            f"{path}: no such file; is this a pre-training or fine-tuning run directory?"
        )
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise UserError(f"{path}:{number}: not a JSON object ({e.msg})") from None
    if not records:
        raise UserError(f"{path}: no metrics logged yet")
    return records


def panels_for(records: list[dict]) -> list[Panel]:
    """The panels a run's records fill, each with the metrics it logged; none is empty. Adds
    `original_frac` (the accuracy of always saying "original") where the replaced fraction was
    logged."""
    for record in records:
        if "replaced_frac" in record:
            record["original_frac"] = 1 - record["replaced_frac"]
    logged = {name for record in records for name in record}
    dev_scores = tuple(sorted(n for n in logged if n.startswith("dev_") and n not in _NOT_SCORES))
    panels = [
        replace(p, metrics=tuple(m for m in (p.metrics or dev_scores) if m in logged))
        for p in PANELS
    ]
    return [p for p in panels if p.metrics]


def draw_curves(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Plot every logged metric against the step; returns the PNG's path."""
    run_dir = Path(run_dir)
    if out is not None and (str(out).endswith(("/", os.sep)) or Path(out).is_dir()):
        out = Path(out) / "curves.png"  # a folder given: the usual name inside it
    out = Path(out) if out else run_dir / "curves.png"
    if out.suffix.lower() != ".png":
        raise UserError(f"{out}: expected a .png file (or a folder to write curves.png into)")
    records = read_metrics(run_dir / "metrics.jsonl")
    writable_dir(out.parent)
    panels = panels_for(records)
    logged = {name for record in records for name in record}
    if not panels:
        raise UserError(f"{run_dir / 'metrics.jsonl'}: none of the metrics it holds can be drawn")
    columns = min(3, len(panels))
    rows = -(-len(panels) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(5 * columns, 4.2 * rows), squeeze=False)
    for ax, panel in zip(axes.flat, panels, strict=False):
        for name in panel.metrics:
            points = [(r["step"], r[name]) for r in records if name in r]
            ax.plot(
                *zip(*points, strict=True), label=name, marker="o" if len(points) < 30 else None
            )
        for label, level in panel.chance:
            if isinstance(level, float):
                ax.axhline(level, color="grey", linestyle="--", label=label)
            elif level in logged:
                points = [(r["step"], r[level]) for r in records if level in r]
                ax.plot(*zip(*points, strict=True), color="grey", linestyle="--", label=label)
        ax.set_title(panel.title)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if len(ax.get_lines()) > 1:  # below the panel: a legend inside would hide a curve
            ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2,
                      frameon=False)  # fmt: skip
    for ax in axes.flat[len(panels) :]:
        ax.axis("off")
    figure.suptitle(str(run_dir))
    figure.tight_layout()
    with atomic_path(out) as tmp:
        figure.savefig(tmp, dpi=100, format="png")
    plt.close(figure)
    return out
