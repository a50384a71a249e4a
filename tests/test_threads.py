"""`--threads`: every compute command takes it, `auto` leaves the busy cores alone, and a run on
a machine already busy says that its threads will contend."""

from __future__ import annotations

import pytest
import torch

from electra import threads
from electra.cli import build_parser, main


def test_every_compute_command_takes_threads():
    parser = build_parser()
    for argv in (["pretrain", "--data", "d", "--out", "o"], ["detect", "--model", "m", "t"],
                 ["finetune", "glue", "--model", "m", "--out", "o"], ["vocab", "--default-corpus", "--out", "o"],
                 ["export", "onnx", "--model", "m", "--out", "o"]):  # fmt: skip
        assert parser.parse_args([*argv, "--threads", "1"]).threads == "1"
    with pytest.raises(SystemExit):
        parser.parse_args(["evaluate", "glue", "--threads", "1"])  # scoring computes nothing


def test_threads_are_set_and_bad_values_are_one_line(monkeypatch, capsys, tmp_path):
    before = torch.get_num_threads()
    try:
        assert main(["detect", "--threads", "1", "--model", str(tmp_path / "none"), "x"]) == 2
        assert torch.get_num_threads() == 1  # set before the command ran (and failed)
    finally:
        torch.set_num_threads(before)
    capsys.readouterr()
    assert main(["detect", "--threads", "many", "--model", "m", "x"]) == 2
    assert "threads 'many': expected a positive number or auto" in capsys.readouterr().err


def test_auto_takes_the_cores_the_load_leaves_and_a_busy_machine_gets_a_hint(monkeypatch):
    monkeypatch.setattr(threads, "cores", lambda: 2)
    monkeypatch.setattr(threads, "load", lambda: 6.0)
    assert threads.resolve("auto") == 1 and threads.resolve("3") == 3
    hint = threads.busy_hint(2)
    assert hint and "load 6.0 on 2 cores" in hint and "--threads 1" in hint
    assert threads.busy_hint(1) is None
    monkeypatch.setattr(threads, "load", lambda: 0.2)
    assert threads.resolve("auto") == 2 and threads.busy_hint(2) is None
