"""Checkpoints verify themselves: a damaged one is skipped for the newest intact one, in one line
each, and a resume refuses shards made with another vocabulary."""

from __future__ import annotations

import json

import torch
from pretrain_data import one_thread, tiny_model  # noqa: F401 (fixture)

from electra import checkpoint, hf
from electra.backbones.models import Discriminator
from electra.cli import main
from electra.pretraining.options import PretrainConfig
from electra.pretraining.trainer import train

SHAPE = ["--hidden-size", "32", "--embedding-size", "32", "--num-layers", "2", "--num-heads", "2",
         "--intermediate-size", "64", "--max-position-embeddings", "64", "--generator-fraction", "0.5"]  # fmt: skip
FLAGS = ["--preset", "tiny", "--batch-size", "8", "--warmup-steps", "1", "--eval-batches", "1",
         "--log-every", "1", "--no-progress"]  # fmt: skip


def config(**overrides) -> PretrainConfig:
    values = dict(seq_len=32, batch_size=8, steps=6, warmup_steps=1, log_every=1, save_every=2,
                  keep_checkpoints=3, eval_batches=1)  # fmt: skip
    return PretrainConfig(**{**values, **overrides})


def flip_bytes(path, at: float = 0.5, count: int = 64) -> None:
    data = bytearray(path.read_bytes())
    start = int(len(data) * at)
    data[start : start + count] = bytes(b ^ 0xFF for b in data[start : start + count])
    path.write_bytes(bytes(data))


def test_a_bit_flipped_checkpoint_is_skipped_for_the_previous_intact_one(
    prepared, tmp_path, capsys
):
    run = tmp_path / "run"
    assert train(prepared, run, tiny_model(400), config(), until=4) == 0
    newest = checkpoint.latest(run)
    assert newest.name == "step-00000004" and checkpoint.damage(newest) is None
    flip_bytes(newest / checkpoint.STATE_FILE)
    assert "state.pt does not match its checksum" in checkpoint.damage(newest)
    capsys.readouterr()
    assert train(prepared, run, tiny_model(400), config(), resume=True) == 0
    err = capsys.readouterr().err
    assert "electra: skipped" in err and "step-00000004: damaged checkpoint" in err
    assert "from step 2" in err  # the previous intact checkpoint
    exported = hf.load(run / "discriminator", Discriminator)
    assert all(torch.isfinite(p).all() for p in exported.state_dict().values())
    logged = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logged if "gen_loss" in r] == [1, 2, 3, 4, 5, 6]  # 3-4 redone once


def test_no_intact_checkpoint_is_one_line_saying_how_to_start_afresh(prepared, tmp_path, capsys):
    run = tmp_path / "run"
    argv = ["pretrain", "--data", str(prepared), "--out", str(run), *FLAGS, "--steps", "4",
            "--save-every", "2"]  # fmt: skip
    assert main([*argv, *SHAPE, "--until", "4"]) == 0
    for saved in checkpoint.all_checkpoints(run):
        (saved / checkpoint.CHECKSUMS_FILE).unlink() if saved.name.endswith("2") else flip_bytes(
            saved / "rng-0.pt", 0.9, 8
        )
    capsys.readouterr()
    assert main([*argv, "--resume"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len([line for line in err if line.startswith("electra: skipped")]) == 2
    assert (
        err[-1].startswith("electra: error: ") and "no intact checkpoint to resume from" in err[-1]
    )
    assert "start afresh" in err[-1]


def test_a_resume_refuses_shards_of_another_vocabulary(prepared, tmp_path, capsys):
    run = tmp_path / "run"
    argv = ["pretrain", "--out", str(run), *FLAGS, "--steps", "4", "--save-every", "2"]
    assert main([*argv, *SHAPE, "--data", str(prepared), "--until", "2"]) == 0
    other = tmp_path / "other"  # the same shards, two tokens of the vocabulary swapped
    other.mkdir()
    for path in prepared.iterdir():
        (other / path.name).write_bytes(path.read_bytes())
    tokens = (other / "vocab.txt").read_text(encoding="utf-8").splitlines()
    tokens[10], tokens[11] = tokens[11], tokens[10]
    (other / "vocab.txt").write_text("\n".join(tokens) + "\n", encoding="utf-8")
    (other / "tokenizer.json").unlink()
    capsys.readouterr()
    assert main([*argv, "--data", str(other), "--resume"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "prepared with another vocabulary than the run" in err


def test_a_damaged_export_is_one_line_and_transformers_still_reads_ours(tiny_checkpoint, capsys):
    transformers = __import__("pytest").importorskip("transformers")
    transformers.ElectraForPreTraining.from_pretrained(tiny_checkpoint)  # the metadata is harmless
    flip_bytes(tiny_checkpoint / hf.SAFETENSORS_FILE, at=0.6, count=64)
    capsys.readouterr()
    assert main(["detect", "--model", str(tiny_checkpoint), "a sentence"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "damaged: the weights do not match the checksum" in err


def test_weights_that_are_not_finite_are_never_saved(tiny_config, tmp_path):
    model = Discriminator(tiny_config)
    with torch.no_grad():
        model.head.out.weight[0, 0] = float("nan")
    with __import__("pytest").raises(Exception, match="NaN or infinite weights; nothing saved"):
        hf.save(model, tmp_path / "nan")
    assert not (tmp_path / "nan" / hf.SAFETENSORS_FILE).exists()


def test_a_resume_refuses_changed_settings_listing_each(prepared, tmp_path, capsys):
    """`--lr` and `--batch-size` would change the trajectory: refused, each old -> new; what
    only changes logging and a longer schedule pass; `--allow-changes` applies and records."""
    run = tmp_path / "run"
    argv = ["pretrain", "--data", str(prepared), "--out", str(run), *FLAGS, "--steps", "4",
            "--save-every", "2"]  # fmt: skip
    assert main([*argv, *SHAPE, "--until", "2"]) == 0
    saved = (run / "pretrain.json").read_text()
    capsys.readouterr()
    assert main([*argv, "--resume", "--lr", "0.1", "--batch-size", "16"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "lr 0.0003 -> 0.1" in line and "batch-size 8 -> 16" in line and "--allow-changes" in line
    assert (run / "pretrain.json").read_text() == saved  # nothing rewritten
    assert not (run / "changes.jsonl").exists()

    assert main([*argv, "--resume", "--log-every", "2", "--until", "3"]) == 0  # logging only
    assert main([*argv, "--resume", "--steps", "5", "--lr", "0.001", "--allow-changes"]) == 0
    lines = (run / "changes.jsonl").read_text().splitlines()
    logging, record = (json.loads(line) for line in lines)  # every change, from which step
    assert logging == {"step": 2, "changes": {"log_every": {"old": 1, "new": 2}}}
    assert record["step"] == 3
    assert record["changes"]["lr"] == {"old": 0.0003, "new": 0.001}
    assert record["changes"]["steps"] == {"old": 4, "new": 5}
    assert json.loads((run / "pretrain.json").read_text())["pretrain"]["lr"] == 0.001
