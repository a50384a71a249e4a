"""A pre-training run's curves, from RUN_DIR/metrics.jsonl to one PNG (matplotlib, no display)."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 -- after choosing the display-free backend

from electra.errors import UserError  # noqa: E402
from electra.files import atomic_path, writable_dir  # noqa: E402

# (title, metrics drawn together); panels whose metrics the run did not log are left out.
PANELS = (
    ("generator loss (MLM)", ("gen_loss",)),
    ("discriminator loss", ("disc_loss",)),
    ("accuracy", ("gen_acc", "disc_acc")),
    ("replaced tokens (training batches)", ("disc_precision", "disc_recall", "replaced_frac")),
    (
        "replaced tokens (held-out)",
        ("heldout_disc_auc", "heldout_disc_average_precision", "heldout_replaced_frac"),
    ),
    ("learning rate", ("lr",)),
    ("tokens / s", ("tokens_per_s",)),
)


def read_metrics(path: str | Path) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file; is this a pre-training run directory?")
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise UserError(f"{path}:{number}: not a JSON object ({e.msg})") from None
    if not records:
        raise UserError(f"{path}: no metrics logged yet")
    return records


def draw_curves(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Plot every logged metric against the step; returns the PNG's path."""
    run_dir = Path(run_dir)
    out = Path(out) if out else run_dir / "curves.png"
    records = read_metrics(run_dir / "metrics.jsonl")
    writable_dir(out.parent)
    logged = {name for record in records for name in record}
    panels = [(title, [m for m in names if m in logged]) for title, names in PANELS]
    panels = [(title, names) for title, names in panels if names]
    columns = 3
    rows = -(-len(panels) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(5 * columns, 3.4 * rows), squeeze=False)
    for ax, (title, names) in zip(axes.flat, panels, strict=False):
        for name in names:
            points = [(r["step"], r[name]) for r in records if name in r]
            ax.plot(*zip(*points, strict=True), label=name)
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if len(names) > 1:
            ax.legend()
    for ax in axes.flat[len(panels) :]:
        ax.axis("off")
    figure.suptitle(str(run_dir))
    figure.tight_layout()
    with atomic_path(out) as tmp:
        figure.savefig(tmp, dpi=100, format="png")
    plt.close(figure)
    return out
