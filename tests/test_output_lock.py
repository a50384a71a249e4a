"""One writer per output: a second job writing into a held output is refused in one line naming
the holder, a killed holder never blocks a rerun, and a job nested in its own output passes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from electra.errors import UserError
from electra.files import output_lock

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "assets" / "corpus"


def holder(path: Path, file: bool = False) -> subprocess.Popen:
    """Another process holding `path` until killed."""
    code = ("import sys, time\nfrom electra.files import output_lock\n"
            f"with output_lock(sys.argv[1], file={file}):\n"
            "    print('held', flush=True)\n    time.sleep(120)\n")  # fmt: skip
    child = subprocess.Popen([sys.executable, "-c", code, str(path), "--a-flag"],
                             stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert child.stdout.readline().strip() == "held"
    return child


def electra(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "electra.cli", *args], capture_output=True,
                          text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})  # fmt: skip


def test_a_second_job_into_a_held_output_is_refused_naming_the_holder(tmp_path):
    out = tmp_path / "vocab"
    first = holder(out)
    try:
        done = electra("vocab", "--corpus", str(CORPUS), "--size", "300", "--out", str(out))
        assert done.returncode == 2
        (line,) = done.stderr.strip().splitlines()
        assert f"pid {first.pid}" in line and "--a-flag" in line and "another job" in line
        assert not (out / "vocab.txt").exists()
    finally:
        first.kill()
        first.wait()


def test_a_killed_holder_never_blocks_a_rerun(tmp_path):
    out = tmp_path / "vocab"
    first = holder(out)
    os.kill(first.pid, signal.SIGKILL)  # no chance to clean up: its holder note stays
    first.wait()
    done = electra("vocab", "--corpus", str(CORPUS), "--size", "300", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert (out / "vocab.txt").exists() or (out / "tokenizer.json").exists()


def test_an_output_file_is_held_by_itself(tmp_path):
    out = tmp_path / "preds.jsonl"
    first = holder(out, file=True)
    try:
        with (
            pytest.raises(UserError, match="another job is writing here"),
            output_lock(out, file=True),
        ):
            pass
        with output_lock(tmp_path / "other.jsonl", file=True):  # the folder is not taken
            pass
    finally:
        first.kill()
        first.wait()


def test_the_same_process_may_claim_its_output_again_and_it_is_free_after(tmp_path):
    with output_lock(tmp_path / "out") as out, output_lock(out):
        assert (out / ".electra.lock.holder").exists()
    assert not list(out.iterdir())  # nothing of the lock is left behind
    child = holder(out)  # another process takes it at once
    child.kill()
    child.wait()


def test_two_prepare_jobs_into_one_output_leave_one_complete_set(tmp_path):
    """The probe's case: two `prepare` runs racing into one --out."""
    vocab = tmp_path / "vocab"
    assert electra("vocab", "--corpus", str(CORPUS), "--size", "300", "--out", str(vocab)).returncode == 0  # fmt: skip
    command = [sys.executable, "-m", "electra.cli", "prepare", "--corpus", str(CORPUS), "--vocab",
               str(vocab), "--out", str(tmp_path / "data")]  # fmt: skip
    jobs = [subprocess.Popen(command, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    time.sleep(0.1)
    results = [(job.wait(), job.stderr.read()) for job in jobs]
    codes = sorted(code for code, _ in results)
    if codes == [0, 2]:  # they overlapped: the second was refused
        refused = next(err for code, err in results if code == 2)
        assert "another job is writing here" in refused
    else:  # the first had finished before the second began: the second found it complete
        assert codes == [0, 0]
    assert (tmp_path / "data" / "manifest.json").exists()
