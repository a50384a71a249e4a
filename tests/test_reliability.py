"""Hostile conditions: a SIGKILL while a checkpoint or the export is written leaves a run that
resumes and finishes; a full disk is one line naming the path, with nothing left that looks done."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from pretrain_data import one_thread  # noqa: F401 (fixture)

from electra import checkpoint
from electra.cli import main

RUN = ["--preset", "tiny", "--hidden-size", "32", "--embedding-size", "32", "--num-layers", "2",
       "--num-heads", "2", "--intermediate-size", "64", "--max-position-embeddings", "64",
       "--generator-fraction", "0.5", "--batch-size", "8", "--warmup-steps", "1", "--eval-batches", "1",
       "--steps", "4", "--save-every", "2", "--no-progress"]  # fmt: skip


def killed_while(target: str, calls: int, argv: list[str]) -> int:
    """Run `electra` in a child that SIGKILLs itself inside the `calls`-th call of `target`
    (module:function), after that call has started writing; its exit code."""
    module, function = target.split(":")
    script = textwrap.dedent(f"""
        import os, signal, sys
        import {module} as m
        from electra.cli import main
        real, seen = m.{function}, []
        def dying(*args, **kwargs):
            seen.append(1)
            if len(seen) == {calls}:
                real(*args, **kwargs) if "{function}" == "_save_file" else None
                os.kill(os.getpid(), signal.SIGKILL)
            return real(*args, **kwargs)
        m.{function} = dying
        sys.exit(main({argv!r}))
    """)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-c", script], env=env, capture_output=True).returncode


def test_sigkill_while_a_checkpoint_is_written_leaves_a_run_that_resumes(prepared, tmp_path):
    run = tmp_path / "run"
    argv = ["pretrain", "--data", str(prepared), "--out", str(run), *RUN]
    # the 3rd file written is the second checkpoint's rng-0.pt: killed before its state.pt
    assert killed_while("electra.checkpoint:_save_file", 3, argv) == -9
    assert [p.name for p in checkpoint.all_checkpoints(run)] == ["step-00000002"]
    assert (run / "checkpoints" / "step-00000004.tmp").is_dir()  # half written, never renamed
    resume = ["pretrain", "--data", str(prepared), "--out", str(run), "--resume", "--no-progress"]
    assert main(resume) == 0
    assert (run / "discriminator" / "model.safetensors").is_file()
    assert checkpoint.damage(checkpoint.latest(run)) is None


def test_sigkill_during_the_export_leaves_a_run_that_exports_on_resume(prepared, tmp_path):
    run = tmp_path / "run"
    argv = ["pretrain", "--data", str(prepared), "--out", str(run), *RUN]
    assert killed_while("electra.hf:save", 1, argv) == -9
    assert not (run / "discriminator").exists()  # an export is swapped in whole, or not at all
    assert checkpoint.latest(run).name == "step-00000004"
    resume = ["pretrain", "--data", str(prepared), "--out", str(run), "--resume", "--no-progress"]
    assert main(resume) == 0
    assert (run / "discriminator" / "model.safetensors").is_file()
    assert (run / "generator" / "model.safetensors").is_file()


@pytest.fixture
def full_disk(tmp_path):
    """A 96 KB file system: writes fail with ENOSPC (needs root and tmpfs, as CI has)."""
    mount = tmp_path / "small"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", str(mount)],
                          capture_output=True)  # fmt: skip
    if made.returncode:
        pytest.skip(f"cannot mount a small tmpfs here: {made.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=False)


def test_a_full_disk_is_one_line_naming_the_path(full_disk, assets, prepared, capsys):
    argv = ["prepare", "--corpus", str(assets / "corpus"), "--vocab", str(assets / "vocab.txt"),
            "--out", str(full_disk / "shards"), "--seq-len", "32", "--workers", "1", "--no-progress"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "No space left on device" in err and str(full_disk) in err
    assert not (full_disk / "shards" / "manifest.json").exists()

    argv = ["pretrain", "--data", str(prepared), "--out", str(full_disk / "run"), *RUN]
    assert main(argv) == 2
    err = capsys.readouterr().err.splitlines()[-1]
    assert "No space left on device" in err and str(full_disk) in err
    assert not checkpoint.all_checkpoints(full_disk / "run")  # no checkpoint half-written as done


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signalled_finetune_saves_says_how_to_resume_and_resumes(
    tiny_checkpoint, tmp_path, signum
):
    """Ctrl-C (or a scheduler's SIGTERM) during fine-tuning: the step finishes, a checkpoint is
    written, one line says how to continue, exit 128 + signal; --resume then finishes."""
    rows = "".join(f"{'a fine day' if i % 2 else 'a bad day'} {i},{i % 2}\n" for i in range(400))
    (tmp_path / "train.csv").write_text("text,label\n" + rows)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "electra.cli", "finetune", "glue", "--train",
               str(tmp_path / "train.csv"), "--dev", str(tmp_path / "train.csv"), "--text-columns",
               "text", "--label-column", "label", "--model", str(tiny_checkpoint), "--out", str(out),
               "--epochs", "3", "--batch-size", "4", "--no-progress"]  # fmt: skip
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "OMP_NUM_THREADS": "1"})  # fmt: skip
    deadline = time.time() + 90
    while not (out / "metrics.jsonl").is_file() or not (out / "metrics.jsonl").read_text():
        assert process.poll() is None and time.time() < deadline, process.communicate()
        time.sleep(0.2)
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 128 + signum, err
    last = err.strip().splitlines()[-1]
    assert "stopped at step" in last and "continue with --resume" in last, last
    assert checkpoint.latest(out) is not None
    resumed = subprocess.run([*command, "--resume"], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert (out / "results.json").is_file() and not (out / "checkpoints").exists()


def test_an_export_onto_a_full_disk_names_its_own_file_and_leaves_no_part(
    full_disk, tiny_checkpoint, capsys
):
    pytest.importorskip("onnxruntime")
    out = full_disk / "onnx"
    assert main(["export", "onnx", "--model", str(tiny_checkpoint), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "No space left on device" in err and str(out) in err
    assert str(tiny_checkpoint) not in err  # the file that could not be written, not the source
    assert not any(p.name.endswith(".safetensors") for p in out.iterdir())


def test_a_finetune_onto_a_full_disk_is_one_line(full_disk, tiny_checkpoint, tmp_path, capsys):
    rows = "".join(f"{'good' if i % 2 else 'bad'} {i},{i % 2}\n" for i in range(8))
    (tmp_path / "train.csv").write_text("text,label\n" + rows)
    argv = ["finetune", "glue", "--train", str(tmp_path / "train.csv"), "--dev",
            str(tmp_path / "train.csv"), "--text-columns", "text", "--label-column", "label",
            "--model", str(tiny_checkpoint), "--out", str(full_disk / "ft"), "--epochs", "1",
            "--no-progress"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "No space left on device" in err[0] and "Traceback" not in err[0]
