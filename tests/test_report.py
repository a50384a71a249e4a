"""`electra report`: pre-training and fine-tuning curves, held-out beside training, chance levels
dashed, no empty panels."""

from __future__ import annotations

import json

from electra.cli import main
from electra.report import panels_for

PRETRAINING = [
    {"step": 10, "gen_loss": 6.0, "disc_loss": 0.5, "gen_acc": 0.1, "disc_acc": 0.85,
     "disc_precision": 0.0, "disc_recall": 0.0, "replaced_frac": 0.14, "lr": 1e-4, "tokens_per_s": 900.0},
    {"step": 20, "heldout_gen_loss": 5.9, "heldout_disc_loss": 0.45, "heldout_gen_acc": 0.12,
     "heldout_disc_acc": 0.86, "heldout_disc_auc": 0.6, "heldout_disc_average_precision": 0.2,
     "heldout_replaced_frac": 0.14},
]  # fmt: skip
FINETUNING = [
    {"step": 10, "loss": 5.0, "lr": 3e-4, "epoch": 1},
    {"step": 12, "dev_accuracy": 0.6, "dev_f1": 0.5, "dev_epoch": 1, "dev_train_loss": 5.5},
    {"step": 20, "loss": 4.0, "lr": 1e-4, "epoch": 2},
    {"step": 24, "dev_accuracy": 0.7, "dev_f1": 0.6, "dev_epoch": 2, "dev_train_loss": 4.5},
]


def test_pretraining_panels_put_held_out_beside_training_with_chance_levels():
    panels = {p.title: p for p in panels_for([dict(r) for r in PRETRAINING])}
    assert panels["discriminator loss"].metrics == ("disc_loss", "heldout_disc_loss")
    assert panels["generator accuracy (masked positions)"].metrics == ("gen_acc", "heldout_gen_acc")
    assert dict(panels["replaced tokens (held-out)"].chance)["chance ROC AUC"] == 0.5
    assert dict(panels["discriminator accuracy"].chance) == {
        "chance: all original": "original_frac"
    }
    assert "fine-tuning loss" not in panels and "dev scores (each epoch)" not in panels
    assert all(p.metrics for p in panels.values())


def test_finetuning_panels_draw_loss_and_dev_scores(tmp_path, capsys):
    panels = {p.title: p.metrics for p in panels_for([dict(r) for r in FINETUNING])}
    assert panels == {
        "fine-tuning loss": ("loss", "dev_train_loss"),
        "dev scores (each epoch)": ("dev_accuracy", "dev_f1"),
        "learning rate": ("lr",),
    }
    for name, records in (("ft", FINETUNING), ("pt", PRETRAINING)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "metrics.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in records)
        )
        assert main(["report", str(tmp_path / name)]) == 0
        png = (tmp_path / name / "curves.png").read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 10_000
