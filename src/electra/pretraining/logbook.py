"""What a pre-training run measures: metric windows summed on the device and summarised when
logged (`electra.log` writes them), the forecast of its end, and its run of non-finite steps.

Metrics stay tensors on the device until a window is summarised, so they cost one
host-device synchronisation (and one all-reduce) per logged window, not one per metric per step.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from electra.pretraining.objectives.masking import COUNT_METRICS

if TYPE_CHECKING:
    from electra.processes import Process


def accumulate(window: dict[str, Tensor], metrics: dict[str, Tensor]) -> None:
    """Add a micro-batch's metrics to `window`'s sums, in float64 so long windows keep digits."""
    for name, value in metrics.items():
        window[name] = window.get(name, 0) + value.double()


def summarise(
    window: dict[str, Tensor],
    micro_batches: int,
    process: Process | None = None,
    skipped: str | None = None,
) -> dict[str, float]:
    """Window sums -> means over the micro-batches of every process (counts stay sums), in one
    synchronisation; `process=None` summarises this process alone. `window[skipped]`, when
    named, counts micro-batches whose metrics were left out; none left, no metrics."""
    if not window:
        return {}
    names = sorted(window)
    totals = torch.stack([torch.as_tensor(window[n]) for n in names])
    if process is not None:
        totals = process.sum(totals)
        micro_batches *= process.world_size
    values = dict(zip(names, totals.tolist(), strict=True))
    if skipped is not None:
        micro_batches -= round(values.pop(skipped))
        if micro_batches <= 0:
            return {}
    values = {n: v if n in COUNT_METRICS else v / micro_batches for n, v in values.items()}
    if "true_positives" in values:  # the discriminator on replaced tokens
        values["disc_precision"] = values["true_positives"] / max(values["predicted_replaced"], 1.0)
        values["disc_recall"] = values["true_positives"] / max(values["replaced"], 1.0)
        for name in COUNT_METRICS:
            del values[name]
    return values


class MetricWindow:
    """The metrics of one logging window: sums on the device, the micro-batches and tokens they
    cover, and the training time they took; `read` summarises them (one synchronisation) and
    opens the next window. A step whose update was skipped adds no metrics: it is masked on the
    device, so the host need not know which steps those were until it reads the window. A step
    costs a few small device operations, whatever the number of metrics."""

    def __init__(self) -> None:
        self._open(time.perf_counter())

    def _open(self, now: float) -> None:
        self.names: list[str] = []
        self.sums: Tensor | None = None  # the metrics' sums, in `names` order
        self.skipped: Tensor | int = 0  # micro-batches of skipped steps
        self.micro_batches, self.tokens, self.started = 0, 0, now

    def add(self, metrics: dict[str, Tensor], micro_batches: int, skipped: Tensor) -> None:
        """`skipped` (0-d bool on the device): the step's update was not applied."""
        self.names = self.names or sorted(metrics)
        values = torch.stack([metrics[name] for name in self.names]).double()
        kept = torch.where(skipped, 0.0, values)  # NaN * 0 would be NaN
        self.sums = kept if self.sums is None else self.sums + kept
        self.skipped = self.skipped + skipped * micro_batches
        self.micro_batches += micro_batches

    def count_tokens(self, tokens: Tensor) -> None:
        """Real (non-padding) tokens trained on, a 0-d tensor on the device: summed there."""
        self.tokens = self.tokens + tokens

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Time spent in the block (held-out scoring) is not training time."""
        started = time.perf_counter()
        yield
        self.started += time.perf_counter() - started

    def read(self, process: Process | None = None) -> dict[str, float]:
        """The window's means (over the micro-batches of the steps applied) and tokens/s."""
        now = time.perf_counter()
        window = {} if self.sums is None else dict(zip(self.names, self.sums, strict=True))
        if window:
            window[_SKIPPED] = torch.as_tensor(self.skipped, dtype=torch.float64)
        values = summarise(window, self.micro_batches, process, skipped=_SKIPPED)
        tokens = torch.as_tensor(self.tokens, dtype=torch.float64).clone()
        tokens = process.sum(tokens) if process is not None else tokens
        values["tokens_per_s"] = tokens.item() / (now - self.started)
        self._open(now)
        return values


_SKIPPED = "_skipped_micro_batches"


class NonfiniteSteps:
    """Which steps met a non-finite loss or gradient norm. Each step copies its flag, loss and
    gradient norm into a small device buffer (no synchronisation); `read`, when the loop
    synchronises anyway (at most `capacity` steps apart), brings the buffer over in one transfer
    and finds how many there were, the first of them with its values, and the longest unbroken
    run (a run that only skips is broken), counting the run the previous window ended with."""

    def __init__(self, device: torch.device, capacity: int) -> None:
        self.buffer = torch.zeros(capacity, 3, dtype=torch.float64, device=device)
        self.steps: list[int] = []  # the steps recorded since the last read, in buffer order
        self.run = 0  # consecutive non-finite steps up to the last step read

    def add(self, step: int, bad: Tensor, loss: Tensor, grad_norm: Tensor) -> None:
        """`bad` (0-d bool): step `step` was not finite (its update skipped on the device)."""
        row = self.buffer[len(self.steps)]
        for column, value in enumerate((bad, loss, grad_norm)):
            row[column].copy_(value)
        self.steps.append(step)

    def read(self, process: Process) -> tuple[int, int, tuple[int, float, float]]:
        """(non-finite steps, longest run, (first step, its loss, its gradient norm)) since the
        last read; the counts are the largest over processes, so all decide alike."""
        rows = self.buffer[: len(self.steps)].tolist()
        count, longest, first = 0, self.run, (0, 0.0, 0.0)
        for step, (bad, loss, norm) in zip(self.steps, rows, strict=True):
            self.run = self.run + 1 if bad else 0
            longest = max(longest, self.run)
            if bad and not count:
                first = (step, loss, norm)
            count += int(bool(bad))
        self.steps = []
        agreed = process.max(torch.tensor([count, longest], device=self.buffer.device))
        count, longest = agreed.tolist()
        return count, longest, first


class Forecast:
    """How long the run will take, said once: timed over a few steps after the first (which
    pays for allocation and compilation), with a warning when it is more than a day."""

    TIMED_STEPS = 2  # steps timed after the first

    def __init__(self, start_step: int, total_steps: int, device: object) -> None:
        self.start, self.total, self.device = start_step, total_steps, device
        self.timer: float | None = None

    def step_done(self, step: int) -> str | None:
        if step == self.start + 1:
            self.timer = time.perf_counter()
        if self.timer is None or step != self.start + 1 + self.TIMED_STEPS or step >= self.total:
            return None
        rate = self.TIMED_STEPS / (time.perf_counter() - self.timer)  # steps/s
        seconds = (self.total - step) / rate
        text = f"electra: at {rate:.2f} steps/s the remaining {self.total - step:,} steps take ~{_duration(seconds)}"
        if seconds > 86_400:
            text += (
                f"; more than a day on {self.device}: pass --steps for a shorter run, or use a GPU"
            )
        return text


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86_400:,.1f} days"
