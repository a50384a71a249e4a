"""Checkpoints that never lose a run: RUN_DIR/checkpoints/step-NNNNNNNN folders, written whole.

A checkpoint is written into `step-N.tmp` and renamed to `step-N` only when every file is on disk,
so a crash mid-write leaves the previous checkpoint as the latest one. It holds the training state
(model, optimizer, gradient scaler, step, tokens and batches seen: the data position) and one RNG
file per process, because each process draws its own masks and dropout. The learning rate is a
pure function of the step, so the step is the scheduler's whole state. The newest K are kept.
Pre-training and fine-tuning both checkpoint here (pre-training says when: `electra.pretraining.policy`).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import pickle
import random
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from electra.errors import UserError
from electra.files import write_json

STATE_FILE = "state.pt"
CHECKSUMS_FILE = "checksums.json"  # written last: a checkpoint without it was never finished
_NAME = re.compile(r"^step-(\d{8})$")


def directory(run_dir: str | Path) -> Path:
    return Path(run_dir) / "checkpoints"


def path_for(run_dir: str | Path, step: int) -> Path:
    return directory(run_dir) / f"step-{step:08d}"


def all_checkpoints(run_dir: str | Path) -> list[Path]:
    """Complete checkpoints, oldest first (unfinished `.tmp` folders are ignored)."""
    root = directory(run_dir)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and _NAME.match(p.name))


def latest(run_dir: str | Path) -> Path | None:
    found = all_checkpoints(run_dir)
    return found[-1] if found else None


def step_of(path: Path) -> int:
    """The step a checkpoint folder (`step-00001234`) was written at."""
    return int(path.name.removeprefix("step-"))


def rng_state() -> dict[str, Any]:
    """Every RNG a step may draw from, in types `torch.load(weights_only=True)` accepts."""
    numpy_state = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": (numpy_state[0], torch.from_numpy(numpy_state[1].copy()), *numpy_state[2:]),
        "python": random.getstate(),
    }


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"]:
        torch.cuda.set_rng_state_all(state["cuda"])
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, keys.numpy(), *rest))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))


def _save_file(obj: Any, path: Path) -> None:
    try:
        with open(path, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
    except (OSError, RuntimeError) as e:  # torch reports a failed write as a RuntimeError
        shutil.rmtree(path.parent, ignore_errors=True)  # never left to look like a checkpoint
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e).split("\n")[0]
        if shutil.disk_usage(path.parent.parent).free < 1 << 20:  # torch's message hides ENOSPC
            reason = os.strerror(errno.ENOSPC)
        raise UserError(f"{path}: cannot write the checkpoint ({reason})") from None


def save(
    run_dir: str | Path,
    step: int,
    state: dict[str, Any] | None,
    rank: int = 0,
    keep: int = 3,
    barrier: Callable[[], None] = lambda: None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write `state` (rank 0's, None elsewhere) and every process's RNG state, with its own
    `extra` state (what only it knows, e.g. its part of a running sum), as checkpoint `step`.

    Every process must call it; `barrier` synchronises them around the shared folder."""
    final = path_for(run_dir, step)
    tmp = final.with_name(final.name + ".tmp")
    if rank == 0:
        shutil.rmtree(tmp, ignore_errors=True)  # left by a crash while writing
        tmp.mkdir(parents=True)
    barrier()
    _save_file({**rng_state(), "extra": extra or {}}, tmp / f"rng-{rank}.pt")
    if rank == 0:
        _save_file(state, tmp / STATE_FILE)
    barrier()
    if rank == 0:
        write_json(tmp / CHECKSUMS_FILE, {f.name: _sha256(f) for f in sorted(tmp.iterdir())})
        if final.exists():  # the same step saved again (e.g. a signal right after a save)
            shutil.rmtree(final)
        os.replace(tmp, final)
        for old in all_checkpoints(run_dir)[:-keep]:
            shutil.rmtree(old)
    barrier()
    return final


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def damage(path: Path) -> str | None:
    """What is wrong with checkpoint `path` (a missing or altered file), or None when every
    file matches the checksums written last."""
    try:
        recorded = json.loads((path / CHECKSUMS_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return f"no {CHECKSUMS_FILE} (never finished)"
    except (ValueError, OSError) as e:
        return f"{CHECKSUMS_FILE} unreadable ({e})"
    for name, expected in recorded.items():
        if not (path / name).is_file():
            return f"{name} is missing"
        if _sha256(path / name) != expected:
            return f"{name} does not match its checksum"
    return None


def load(path: Path, rank: int = 0, world_size: int = 1) -> dict[str, Any]:
    """Training state of checkpoint `path`, after restoring this process's RNG states from it;
    under `extra`, what this process saved of its own."""
    problem = damage(path)
    if problem:
        raise UserError(f"{path}: damaged checkpoint: {problem}")
    try:
        state = torch.load(path / STATE_FILE, map_location="cpu", weights_only=True)
        rng = torch.load(path / f"rng-{rank}.pt", weights_only=True)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as e:
        raise UserError(f"{path}: damaged checkpoint: unreadable ({e})") from None
    if state["world_size"] != world_size:
        raise UserError(
            f"{path}: written by {state['world_size']} processes; resume with the same number "
            f"(got {world_size}) so each one continues its own data share and random stream"
        )
    set_rng_state(rng)
    return {**state, "extra": rng.get("extra", {})}


def load_latest(
    run_dir: str | Path, rank: int = 0, world_size: int = 1
) -> tuple[Path, dict[str, Any]]:
    """The newest intact checkpoint and its state; damaged ones are skipped, each with a line
    saying which and why. Every process verifies the same files, so all choose alike."""
    found = all_checkpoints(run_dir)
    for path in reversed(found):
        try:
            return path, load(path, rank, world_size)
        except UserError as e:
            if "damaged checkpoint" not in str(e):
                raise
            if rank == 0:
                print(f"electra: skipped {e}", file=sys.stderr)
    raise UserError(
        f"{directory(run_dir)}: no intact checkpoint to resume from ({len(found)} damaged); "
        "start afresh in another out directory, or delete the checkpoints folder"
    )
