"""The GPU check's harness (benchmarks/gpu_check.py): every stage capped, the budget counting
everything, figures written the moment a stage ends, a failing child's output kept."""

from __future__ import annotations

import argparse
import importlib.util
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks" / "gpu_check.py")
gpu_check = importlib.util.module_from_spec(spec)
sys.modules["gpu_check"] = gpu_check  # dataclasses look their module up
spec.loader.exec_module(gpu_check)


def make_check(tmp_path: Path, budget: int = 60) -> gpu_check.Check:
    args = argparse.Namespace(budget=budget, data=tmp_path / "data" / "shards", quick=True,
                              command_line="test", device="cpu")  # fmt: skip
    return gpu_check.Check(args, tmp_path, tmp_path)


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_a_stage_past_its_cap_is_stopped_and_said(tmp_path):
    check = make_check(tmp_path)
    start = time.monotonic()
    outcome, output, _ = check.run("sleeper", python("print('started', flush=True)\nimport time; time.sleep(60)"), cap=2, minimum=1)  # fmt: skip
    assert outcome == "timeout" and time.monotonic() - start < 10
    assert "started" in output
    assert "sleeper: timeout" in (tmp_path / "log.txt").read_text()


def test_a_failing_child_keeps_its_error_output(tmp_path):
    check = make_check(tmp_path)
    outcome, output, _ = check.run("crash", python("import sys; sys.exit('the reason')"), cap=20)
    assert outcome == "failed" and "the reason" in output


def test_a_stage_the_budget_cannot_hold_is_skipped(tmp_path):
    check = make_check(tmp_path, budget=gpu_check.REPORT_RESERVE_S + 3)
    outcome, _, seconds = check.run("late", python("pass"), cap=30, minimum=10)
    assert (outcome, seconds) == ("skipped", 0.0)


def test_the_cap_shrinks_to_what_the_budget_has_left(tmp_path):
    check = make_check(tmp_path, budget=gpu_check.REPORT_RESERVE_S + 3)
    outcome, _, seconds = check.run("long", python("import time; time.sleep(30)"), cap=30, minimum=1)  # fmt: skip
    assert outcome == "timeout" and seconds < 8


def test_a_stop_signal_lets_the_child_finish_its_work(tmp_path):
    """The pre-training stage: SIGINT at the cap, the child saves and exits, which is an ok."""
    code = ("import signal, sys, time\n"
            "signal.signal(signal.SIGINT, lambda *a: (print('saved', flush=True), sys.exit(130)))\n"
            "time.sleep(60)")  # fmt: skip
    check = make_check(tmp_path)
    outcome, output, _ = check.run("run", python(code), cap=2, minimum=1, stop_signal=signal.SIGINT)
    assert outcome == "ok" and "saved" in output


def test_every_record_is_on_disk_at_once_with_the_summary(tmp_path):
    check = make_check(tmp_path)
    check.record(stage="hardware", cpu="x", torch="2", cuda=None)
    check.record(stage="device test", test="test_a", outcome="ok", seconds=1.0)
    lines = (tmp_path / "figures.jsonl").read_text().splitlines()
    assert [json.loads(line)["stage"] for line in lines] == ["hardware", "device test"]
    check.record(stage="step", impl="-", preset="small", compile=False, outcome="timeout")
    summary = (tmp_path / "summary.md").read_text()
    assert "test_a ok" in summary and "Step small (compile False): timeout" in summary


def test_without_prepared_data_a_full_run_refuses_in_one_line(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--device",
                           "cpu", "--data", str(tmp_path), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0 and "no manifest.json" in done.stderr


@pytest.mark.parametrize("value", ["abc", "-1"])
def test_the_script_refuses_a_bad_setting_before_any_work(tmp_path, value):
    done = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh")], capture_output=True,
                          text=True, env={"PATH": "/usr/bin:/bin", "BUDGET_S": value,
                                          "OUT_DIR": str(tmp_path)})  # fmt: skip
    assert done.returncode == 2 and "BUDGET_S" in done.stderr
    assert not (tmp_path / "log.txt").exists()
