"""How many CPU threads a command computes with (`--threads`), and a hint when the machine is
busier than that: on a loaded 2-core machine 2 threads ran 4-8x slower than 1 (each step waits
for the slowest thread, and a busy core makes every thread slow)."""

from __future__ import annotations

import os

from electra.errors import UserError

ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "RAYON_NUM_THREADS")  # torch's pools, tokenizers'


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def load() -> float | None:
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def resolve(threads: str | int) -> int:
    """`auto`: the cores the last minute's load leaves free (at least 1); else the number given."""
    if str(threads) == "auto":
        busy = load() or 0.0
        return max(1, min(cores(), round(cores() - busy)))
    if not str(threads).isdigit() or int(threads) < 1:
        raise UserError(f"threads {threads!r}: expected a positive number or auto")
    return int(threads)


def use(threads: int) -> None:
    """Compute with `threads` threads, in this process and the ones it starts."""
    for name in ENV:
        os.environ[name] = str(threads)
    import torch

    torch.set_num_threads(threads)


def busy_hint(threads: int) -> str | None:
    """One line when other work already keeps the cores busy, so `threads` would contend."""
    current = load()
    if current is None or threads < 2 or current < cores():
        return None
    return (f"electra: hint: the machine is busy (load {current:.1f} on {cores()} cores): "
            f"{threads} threads will wait on each other; --threads 1 (or auto) may run faster")  # fmt: skip
