"""The runtime a training loop runs in: its place among torchrun's processes, and the signals
that ask it to stop.

Both exist so that the loop reads the same with one process or many, and whether it ends by
finishing or by being told to stop: the single-process case is the multi-process one with the
collective operations turned into no-ops, and a signal only raises a flag the loop reads
between steps.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor

from electra.runtime import choose_device


class Process:
    """This process's place in the job, from torchrun's environment variables (RANK,
    WORLD_SIZE, LOCAL_RANK; a plain `python` run is rank 0 of 1). `barrier` and `sum` do
    nothing in a job of one, so callers never branch on the world size and a single-process run
    needs no process group."""

    def __init__(self, device: str | None) -> None:
        self.world_size = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.device = choose_device(device)
        if self.device.type == "cuda" and self.device.index is None:
            # One GPU per process: NCCL, and anything put on plain "cuda", use this one, not GPU 0.
            self.device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(self.device)
        if self.world_size > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")

    def barrier(self) -> None:
        if self.world_size > 1:
            dist.barrier()

    def sum(self, values: Tensor) -> Tensor:
        """`values` summed over every process, in place: one synchronisation for many numbers."""
        if self.world_size > 1:
            dist.all_reduce(values)
        return values

    def max(self, values: Tensor) -> Tensor:
        """`values`' elementwise maximum over every process, in place."""
        if self.world_size > 1:
            dist.all_reduce(values, op=dist.ReduceOp.MAX)
        return values

    def close(self) -> None:
        if self.world_size > 1 and dist.is_initialized():
            dist.destroy_process_group()


class StepInterrupted(Exception):
    """A step cut short, before its update, because a SIGTERM's deadline passed."""


class Signals:
    """SIGINT/SIGTERM ask the loop to checkpoint and stop after the current step; a second
    SIGINT interrupts at once.

    The handler only records the signal: stopping mid-step would leave the gradients of a
    half-taken step, and processes that stopped at different steps would wait on each other
    forever. A single process reads `received` after every step (a host flag: no device
    synchronisation); several share it at the steps where the loop synchronises anyway (each
    logged step, at most `trainer.SYNC_EVERY` apart), so that all stop at the same step. A
    Ctrl-C or a scheduler's SIGTERM costs a resumable checkpoint and at most those steps. The
    second SIGINT is the way out when that step itself hangs.

    With `deadline_s` (one process), a SIGTERM also starts a clock: a step still running after
    that many seconds is cut short with `StepInterrupted` (raised in the main thread, never
    during the optimizer's update, which `updating` marks), so a scheduler's grace period is
    not spent waiting for a long step; the loop then checkpoints the last finished step."""

    def __init__(self, deadline_s: float | None = None) -> None:
        self.received: int | None = None
        self.deadline_s = deadline_s
        self.in_update = False
        handled = (signal.SIGINT, signal.SIGTERM) + ((signal.SIGALRM,) if deadline_s else ())
        self._previous = {
            s: signal.signal(s, self._deadline if s == signal.SIGALRM else self._handle)
            for s in handled
        }

    def _handle(self, signum: int, frame: Any) -> None:
        if self.received == signal.SIGINT == signum:
            raise KeyboardInterrupt
        self.received = signum
        print(
            f"\nelectra: {signal.Signals(signum).name}: saving a checkpoint, then stopping",
            file=sys.stderr,
        )
        if signum == signal.SIGTERM and self.deadline_s:
            signal.setitimer(signal.ITIMER_REAL, self.deadline_s)

    def _deadline(self, signum: int, frame: Any) -> None:
        if self.in_update:  # never half an update: look again once it is done
            signal.setitimer(signal.ITIMER_REAL, 0.05)
            return
        raise StepInterrupted

    @contextmanager
    def updating(self) -> Iterator[None]:
        """The optimizer's update, the end of a step: a deadline waits for it, and none is left
        once the step is whole (the checkpoint that follows takes the time it needs)."""
        self.in_update = True
        try:
            yield
        finally:
            self._cancel()
            self.in_update = False

    def _cancel(self) -> None:
        if self.deadline_s:
            signal.setitimer(signal.ITIMER_REAL, 0)

    def anywhere(self, process: Process) -> bool:
        """Whether this process or another received a signal: one all-reduce with several."""
        received = self.received is not None
        if process.world_size == 1:
            return received
        flag = torch.tensor([float(received)], device=process.device)
        return bool(process.sum(flag).item())

    def restore(self) -> None:
        """Put back the handlers found at construction, so the caller's Ctrl-C works again."""
        self._cancel()
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
