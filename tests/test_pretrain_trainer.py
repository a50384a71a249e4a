"""The pre-training loop: exact resume, 2-process gloo, signals, non-finite losses, the Hugging
Face export (loaded by `transformers`), the schedule and weight-decay groups, `electra report`."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from pretrain_data import make_prepared, one_thread, tiny_model  # noqa: F401 (fixture)

from electra import checkpoint, hf
from electra.backbones.models import Discriminator, Generator
from electra.cli import main
from electra.errors import UserError
from electra.pretraining import setup as pretrain_setup
from electra.pretraining import trainer
from electra.pretraining.options import PretrainConfig
from electra.pretraining.setup import lr_at, parameter_groups
from electra.pretraining.trainer import train
from electra.report import draw_curves
from electra.runtime import seed_everything

LOSSES = ("gen_loss", "disc_loss", "gen_acc", "disc_acc", "replaced_frac", "grad_norm")
# The tiny test model, as flags (the CLI's --preset tiny is 4 x 128).
MODEL_FLAGS = (
    "--preset tiny --embedding-size 32 --hidden-size 32 --num-layers 2 --num-heads 2 "
    "--intermediate-size 64 --max-position-embeddings 64 --generator-fraction 0.5"
).split()


@pytest.fixture
def data(prepared) -> Path:
    return prepared


def config(**overrides) -> PretrainConfig:
    values = dict(
        seq_len=32,
        batch_size=8,
        steps=6,
        lr=1e-3,
        warmup_steps=2,
        log_every=1,
        save_every=3,
        eval_batches=2,
    )
    return PretrainConfig(**{**values, **overrides})


def metrics(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1"}


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, env=ONE_THREAD, timeout=120)


def test_resume_continues_the_same_trajectory(data, tmp_path):
    model = tiny_model(400)
    run = config(eval_every=2)  # held-out scoring in between must not disturb the trajectory
    assert train(data, tmp_path / "whole", model, run) == 0
    assert train(data, tmp_path / "split", model, run, until=3) == 0
    assert not (tmp_path / "split" / "discriminator").exists()  # paused, not finished
    assert train(data, tmp_path / "split", model, run, resume=True) == 0
    whole, split = metrics(tmp_path / "whole"), metrics(tmp_path / "split")
    heldout = [r["step"] for r in split if "heldout_disc_auc" in r]
    assert heldout == [2, 4, 6]
    assert [r["step"] for r in split if "gen_loss" in r] == [1, 2, 3, 4, 5, 6]  # none twice
    for a, b in zip(whole, split, strict=True):
        names = LOSSES if "gen_loss" in a else ("heldout_disc_auc", "heldout_disc_loss")
        for name in names:
            assert a[name] == pytest.approx(b[name], abs=1e-6), (a["step"], name)
    final = json.loads((tmp_path / "split" / "eval.json").read_text())
    assert final["disc_auc"] == split[-1]["heldout_disc_auc"]  # eval.json: the last scores
    state = {
        k: checkpoint.load(checkpoint.latest(tmp_path / k))["model"] for k in ("whole", "split")
    }
    for name, tensor in state["whole"].items():
        torch.testing.assert_close(tensor, state["split"][name], rtol=0, atol=1e-6)
    assert [p.name for p in checkpoint.all_checkpoints(tmp_path / "whole")] == [
        "step-00000003",
        "step-00000006",
    ]
    assert json.loads((tmp_path / "whole" / "pretrain.json").read_text())["pretrain"]["steps"] == 6


def test_a_sigterm_cuts_a_long_step_short_and_the_resume_is_the_same_run(
    data, tmp_path, monkeypatch
):
    """A scheduler's SIGTERM during a step that would take long: within the deadline the step is
    dropped, the last finished one checkpointed with the random state it left (exit 143), and the
    resumed run is the uninterrupted one to the last weight."""
    model, run = tiny_model(400), config(save_every=0, eval_batches=0)
    assert train(data, tmp_path / "whole", model, run) == 0
    monkeypatch.setenv("ELECTRA_STOP_DEADLINE_S", "0.3")
    real, calls = trainer.train_step, []

    def long_third_step(run_, batches, signals=None):
        calls.append(1)
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(30)  # the step that will not end in time
        return real(run_, batches, signals)

    monkeypatch.setattr(trainer, "train_step", long_third_step)
    started = time.perf_counter()
    assert train(data, tmp_path / "cut", model, run) == 128 + signal.SIGTERM
    assert time.perf_counter() - started < 15
    assert checkpoint.latest(tmp_path / "cut").name == "step-00000002"
    monkeypatch.setattr(trainer, "train_step", real)
    assert train(data, tmp_path / "cut", model, run, resume=True) == 0
    state = {k: checkpoint.load(checkpoint.latest(tmp_path / k))["model"] for k in ("whole", "cut")}
    for name, tensor in state["whole"].items():
        torch.testing.assert_close(tensor, state["cut"][name], rtol=0, atol=1e-6)


def test_a_bad_stop_deadline_is_one_line(monkeypatch):
    monkeypatch.setenv("ELECTRA_STOP_DEADLINE_S", "soon")
    with pytest.raises(UserError, match="ELECTRA_STOP_DEADLINE_S=soon"):
        trainer.stop_deadline()


def test_export_loads_in_transformers_with_the_same_outputs(data, tmp_path):
    transformers = pytest.importorskip("transformers")
    model = tiny_model(400)
    train(data, tmp_path, model, config(steps=2, save_every=0))
    ids = torch.tensor([[2, 50, 60, 70, 3, 80, 90, 3]])
    theirs = transformers.ElectraForPreTraining.from_pretrained(tmp_path / "discriminator").eval()
    ours = hf.load(tmp_path / "discriminator", Discriminator).eval()
    torch.testing.assert_close(theirs(ids).logits, ours(ids), rtol=1e-4, atol=1e-5)
    theirs = transformers.ElectraForMaskedLM.from_pretrained(tmp_path / "generator").eval()
    ours = hf.load(tmp_path / "generator", Generator).eval()
    assert ours.config.hidden_size == 16  # the generator keeps its own width
    torch.testing.assert_close(theirs(ids).logits, ours(ids), rtol=1e-4, atol=1e-5)
    # Both carry the one shared embedding table, and the vocabulary the data was made with.
    embedding = "electra.embeddings.word_embeddings.weight"
    disc_state = transformers.ElectraForPreTraining.from_pretrained(
        tmp_path / "discriminator"
    ).state_dict()
    torch.testing.assert_close(theirs.state_dict()[embedding], disc_state[embedding])
    tokenizer = transformers.AutoTokenizer.from_pretrained(tmp_path / "discriminator")
    assert tokenizer.vocab_size == 400 and tokenizer.mask_token == "[MASK]"
    evaluation = json.loads((tmp_path / "eval.json").read_text())
    scores = {"disc_precision", "disc_recall", "disc_auc", "disc_average_precision"}
    assert scores | {"replaced_frac"} <= set(evaluation)
    assert all(0 <= evaluation[name] <= 1 for name in scores)


def poison_step(monkeypatch, step: int) -> None:
    """Networks built by the trainer whose loss is NaN at their `step`-th call."""
    real = pretrain_setup.build

    def poisoned(*args):
        module = real(*args)
        forward, calls = module.forward, []

        def nan_at_step(**inputs):
            out = forward(**inputs)
            calls.append(1)
            if len(calls) == step:
                out.loss = out.loss * float("nan")
            return out

        module.forward = nan_at_step
        return module

    monkeypatch.setattr(pretrain_setup, "build", poisoned)


def test_non_finite_loss_is_skipped_or_stops_the_run(data, tmp_path, monkeypatch, capsys):
    poison_step(monkeypatch, 3)
    model = tiny_model(400)
    assert train(data, tmp_path / "skip", model, config(steps=4, save_every=0, eval_batches=0)) == 0
    assert "step 3: non-finite loss (nan)" in capsys.readouterr().err
    logged = metrics(tmp_path / "skip")
    assert all(torch.isfinite(torch.tensor(r["gen_loss"])) for r in logged if "gen_loss" in r)
    assert "gen_loss" not in logged[2]  # the skipped step contributes no metrics
    # The device drops the update itself; the host learns of it when it next reads (step 4).
    with pytest.raises(UserError, match="step 3: non-finite loss.*1 such step.*steps 1-4.*"
                       "checkpoint at step 4"):  # fmt: skip
        train(
            data,
            tmp_path / "stop",
            model,
            config(steps=6, log_every=4, save_every=0, on_nonfinite="stop"),
        )
    state = checkpoint.load(checkpoint.latest(tmp_path / "stop"), rank=0, world_size=1)
    assert state["step"] == 4
    assert all(s["step"] == 3 for s in state["optimizer"]["state"].values())  # 3 updates applied
    assert all(torch.isfinite(w).all() for w in state["model"].values())


def test_a_training_step_never_waits_for_the_device(data, tmp_path, monkeypatch):
    """Reading a tensor's value on the host (item, tolist, bool, float, numpy, cpu) inside the
    step would stall a GPU: on CPU, each of them raises here while the step runs."""
    from electra.data.shards import iterate_batches
    from electra.pretraining.packing import packed_batches
    from electra.processes import Process

    run = pretrain_setup.setup(Process("cpu"), data, tmp_path, tiny_model(400), config(grad_accum=2, warmup_steps=0),
                        resume=False)  # fmt: skip
    loaded = packed_batches(iterate_batches(run.train_set, run.micro_batch, 0, 0, 1), run.special)
    batches = iter([next(loaded), next(loaded)])  # packed on the host, as the loader's thread does
    before = [p.detach().clone() for p in run.module.parameters()]

    def refuse(self, *args, **kwargs):
        raise AssertionError("the step read a tensor on the host")

    with monkeypatch.context() as patched:
        for name in ("item", "tolist", "__bool__", "__float__", "__int__", "numpy", "cpu"):
            patched.setattr(torch.Tensor, name, refuse)
        result = trainer.train_step(run, batches)
    assert not result.skipped and torch.isfinite(result.loss)
    assert any(not torch.equal(a, b) for a, b in zip(before, run.module.parameters(), strict=True))


def test_a_seed_fixes_every_random_stream_a_checkpoint_restores():
    def draws():
        return torch.rand(2).tolist(), np.random.rand(2).tolist(), [random.random() for _ in "ab"]

    seed_everything(3)
    first = draws()
    saved = checkpoint.rng_state()
    after = draws()
    seed_everything(3)
    assert draws() == first
    checkpoint.set_rng_state(saved)
    assert draws() == after != first


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])  # a scheduler's, Ctrl-C
def test_a_signal_writes_a_checkpoint_and_resume_finishes(data, tmp_path, signum):
    run = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "electra.cli",
        "pretrain",
        "--data",
        str(data),
        "--out",
        str(run),
    ]
    command += [
        *MODEL_FLAGS,
        "--steps",
        "100000",
        "--batch-size",
        "8",
        "--log-every",
        "1",
        "--save-every",
        "0",
    ]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=ONE_THREAD)
    deadline = time.time() + 60
    while not (run / "metrics.jsonl").is_file() or not metrics(run):
        assert process.poll() is None and time.time() < deadline, process.communicate()
        time.sleep(0.2)
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 128 + signum, err
    saved = checkpoint.latest(run)
    assert saved is not None and "continue with --resume" in err
    step = int(saved.name.split("-")[1])
    shorter = ["--steps", str(step + 2), "--eval-batches", "0", "--allow-changes"]  # deliberate
    assert main([*command[3:8], "--resume", *shorter]) == 0
    assert metrics(run)[-1]["step"] == step + 2


@pytest.mark.slow
def test_two_processes_with_gloo(data, tmp_path):
    torchrun = Path(sys.executable).with_name("torchrun")
    command = [str(torchrun), "--nproc_per_node", "2", "-m", "electra.cli", "pretrain"]
    command += ["--data", str(data), "--out", str(tmp_path), *MODEL_FLAGS]
    command += ["--steps", "4", "--batch-size", "8", "--log-every", "2", "--save-every", "2"]
    result = run_cli(*command)
    assert result.returncode == 0, result.stderr[-3000:]
    saved = checkpoint.latest(tmp_path)
    assert sorted(p.name for p in saved.iterdir()) == [
        "checksums.json",
        "rng-0.pt",
        "rng-1.pt",
        "state.pt",
    ]
    assert checkpoint.damage(saved) is None  # every process's file is covered
    assert checkpoint.load(saved, rank=1, world_size=2)["world_size"] == 2
    # The two processes drew different masks: their RNG streams differ.
    rngs = [torch.load(saved / f"rng-{r}.pt", weights_only=True)["torch"] for r in (0, 1)]
    assert not torch.equal(*rngs)
    assert [r["step"] for r in metrics(tmp_path) if "gen_loss" in r] == [2, 4]
    with pytest.raises(UserError, match="written by 2 processes"):
        checkpoint.load(saved, rank=0, world_size=1)


def test_cli_errors_are_one_line(data, tmp_path, capsys):
    common = ["pretrain", "--data", str(data), *MODEL_FLAGS, "--steps", "1", "--batch-size", "8"]
    assert main([*common, "--out", str(tmp_path / "a"), "--seq-len", "64"]) == 2
    assert "examples are 32 tokens long, --seq-len is 64" in capsys.readouterr().err
    assert main([*common, "--out", str(tmp_path / "b"), "--grad-accum", "3"]) == 2
    assert "--batch-size 8 is not a multiple of --grad-accum 3" in capsys.readouterr().err
    assert main([*common, "--out", str(tmp_path / "c"), "--eval-batches", "0"]) == 0
    assert main([*common, "--out", str(tmp_path / "c")]) == 2
    assert "holds checkpoints already; pass --resume" in capsys.readouterr().err
    assert main([*common, "--out", str(tmp_path / "c"), "--resume", "--hidden-size", "64"]) == 2
    assert "keeps its model shape" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "nowhere")]) == 2


def test_report_draws_the_curves(data, tmp_path):
    train(data, tmp_path, tiny_model(400), config(steps=3, save_every=0, eval_every=1))
    image = __import__("matplotlib.image").image.imread(draw_curves(tmp_path))
    # Seven panels, held-out scores among them: three rows of three.
    assert image.shape[0] > 900 and image.shape[1] > 900 and image.std() > 0.01


def test_schedule_and_weight_decay_groups():
    c = PretrainConfig(lr=1.0, steps=100, warmup_steps=10)
    # The official schedule: warm-up min(1, step / warmup) on a linear decay; step 0 at rate 0.
    assert [lr_at(s, c) for s in (0, 4, 9, 10, 50, 99)] == pytest.approx(
        [0.0, 0.4 * 0.96, 0.9 * 0.91, 0.9, 0.5, 0.01]
    )
    decay, no_decay = parameter_groups(Discriminator(tiny_model(100)), 0.01)
    assert decay["weight_decay"] == 0.01 and no_decay["weight_decay"] == 0.0
    assert all(p.ndim >= 2 for p in decay["params"]) and all(
        p.ndim == 1 for p in no_decay["params"]
    )
    names = {id(p): n for n, p in Discriminator(tiny_model(100)).named_parameters()}
    assert len(no_decay["params"]) == sum(
        n.endswith(("bias", "norm.weight")) for n in names.values()
    )


def test_a_plan_before_the_run_and_a_warning_when_it_would_take_days(data, tmp_path, capsys):
    common = ["pretrain", "--data", str(data), *MODEL_FLAGS, "--batch-size", "8", "--save-every", "0",
              "--eval-batches", "1"]  # fmt: skip
    assert main([*common, "--out", str(tmp_path / "a"), "--steps", "5"]) == 0
    err = capsys.readouterr().err
    assert re.search(r"plan: 5 steps of 8 sequences x 32 tokens, packed into ~\d rows = "
                     r"~1,\d{3} real tokens", err)  # fmt: skip
    assert (
        re.search(r"at [\d.]+ steps/s the remaining 2 steps take ~\d+ s", err)
        and "more than a day" not in err
    )
    assert main([*common, "--out", str(tmp_path / "b"), "--steps", "50000000", "--until", "4"]) == 0
    err = capsys.readouterr().err
    assert "plan: 50,000,000 steps" in err and "more than a day on cpu" in err
