"""`electra compare` end to end on a tiny budget: every arm pre-trains to the same FLOPs, each
checkpoint is fine-tuned over seeds beside a random-init control, and a re-run resumes."""

from __future__ import annotations

import json

import pytest

from electra.cli import main

SHAPE = ("--embedding-size 32 --hidden-size 32 --num-layers 2 --num-heads 2 --intermediate-size 64 "
         "--max-position-embeddings 64 --generator-fraction 0.5 --batch-size 8 --eval-batches 1").split()  # fmt: skip


@pytest.mark.slow
def test_compare_runs_every_arm_to_equal_flops_and_resumes(prepared, assets, tmp_path, capsys):
    from electra.config import ModelConfig
    from electra.pretraining.flops import MEASURED, OFFICIAL
    from electra.pretraining.objectives import step_flops

    shape = ModelConfig.preset("tiny", vocab_size=400, embedding_size=32, hidden_size=32,
                               num_layers=2, num_heads=2, intermediate_size=64,
                               max_position_embeddings=64, generator_fraction=0.5)  # fmt: skip
    budget = 6 * step_flops(shape, 32, 8, "rtd", c=OFFICIAL)  # 6 RTD steps; MLM's buy more
    out = tmp_path / "compare"
    argv = ["compare", "--data", str(prepared), "--out", str(out), "--flops-budget", str(budget),
            "--arms", "rtd,rtd+gdes,mlm", "--fractions", "0.5,1", "--tagging-dir",
            str(assets / "conll"), "--seeds", "2", "--max-train-examples", "16", "--epochs", "1",
            *SHAPE]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    summary = json.loads((out / "compare.json").read_text())
    arms = summary["arms"]
    assert arms["rtd"]["steps"] == arms["rtd+gdes"]["steps"] == 6
    assert arms["mlm"]["steps"] > 6  # equal FLOPs: MLM has no generator to pay for
    for arm in arms.values():
        final = arm["stages"][-1]
        assert final["flops"] <= budget < final["flops"] + arm["step_flops"]["official"]
        assert final["flops_official"] == final["flops"] > final["flops_measured"] > 0
        assert [s["fraction"] for s in arm["stages"]] == [0.5, 1.0]
    rows = summary["results"]
    assert len(rows) == 3 * 2 + 1  # three arms at two fractions, and the random-init control
    for row in rows:
        assert row["seeds"] == 2 and row["min"] <= row["median"] <= row["max"]
    rtd = next(r for r in rows if r["arm"] == "rtd" and r["fraction"] == 1.0)
    seed_dir = (
        out / "rtd" / f"step-{arms['rtd']['stages'][-1]['step']:08d}" / "finetune" / "tagging"
    )
    f1 = sorted(
        json.loads((seed_dir / f"seed{s}" / "results.json").read_text())["dev"]["f1"]
        for s in (0, 1)
    )
    assert rtd["median"] == pytest.approx(sum(f1) / 2) and (rtd["min"], rtd["max"]) == tuple(f1)
    assert "| rtd+gdes | 0.5 |" in printed and "| random-init | - |" in printed
    assert "| FLOPs (official) | FLOPs (measured) |" in printed
    # the paper's convention charges RTD's generator more than the measured one does
    ratio = {c: step_flops(shape, 32, 8, "rtd", c=c) / step_flops(shape, 32, 8, "mlm", c=c)
             for c in (OFFICIAL, MEASURED)}  # fmt: skip
    assert ratio[OFFICIAL] > ratio[MEASURED]
    assert (out / "compare.png").read_bytes().startswith(b"\x89PNG")
    assert summary["versions"]["torch"] and summary["command"]

    # Every stage is a finished directory: a re-run trains nothing and gives the same table.
    stamp = (seed_dir / "seed0" / "results.json").stat().st_mtime_ns
    assert main(argv) == 0
    assert capsys.readouterr().out == printed
    assert (seed_dir / "seed0" / "results.json").stat().st_mtime_ns == stamp


def test_compare_config_reads_every_kind_of_task(tmp_path):
    from electra.comparison import CompareConfig, _tasks
    from electra.errors import UserError

    config = CompareConfig(flops_budget=1e12, glue_dir=tmp_path, glue_tasks=("rte",),
                           tagging_dir=str(tmp_path), own_train=str(tmp_path / "mine.csv"),
                           own_dev=str(tmp_path / "dev.csv"), own_text_columns=("text",),
                           own_label_column="label")  # fmt: skip
    assert [(name, family) for name, family, _ in _tasks(config)] == [
        ("rte", "glue"), ("tagging", "tagging"), ("mine", "glue")]  # fmt: skip
    for bad, message in (({"arms": ("gan",)}, "arms"), ({"fractions": ("1", "0.5")}, "increasing"),
                         ({"flops_budget": 0.0}, "flops_budget"), ({"tagging_dir": None}, "nothing")):  # fmt: skip
        with pytest.raises(UserError, match=message):
            CompareConfig(
                **{"flops_budget": 1e12, "glue_dir": None, "tagging_dir": tmp_path, **bad}
            )


def test_a_signal_stopping_an_arm_exits_128_plus_it_saying_how_to_resume(
    prepared, assets, tmp_path, capsys, monkeypatch
):
    from electra.pretraining import trainer

    monkeypatch.setattr(trainer, "pretrain", lambda *a, **k: 130)  # SIGINT
    argv = ["compare", "--data", str(prepared), "--out", str(tmp_path / "c"), "--flops-budget",
            "1e12", "--arms", "rtd", "--tagging-dir", str(assets / "conll"), *SHAPE]  # fmt: skip
    assert main(argv) == 130
    (line,) = capsys.readouterr().err.strip().splitlines()[-1:]
    assert "stopped by a signal" in line and "again to resume" in line
