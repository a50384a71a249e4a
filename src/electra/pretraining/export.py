"""What a run leaves for users: the discriminator and generator in the Hugging Face layout, and the
checkpoints it resumes from.
"""

from __future__ import annotations

import os
import platform
import shutil
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from electra import card, checkpoint, hf
from electra.pretraining.options import departures
from electra.pretraining.setup import Run
from electra.processes import Process


def export(module: nn.Module, run_dir: Path, tokenizer: Any, run: Run | None = None) -> list[Path]:
    """Write each network of `module` to RUN_DIR/<name> in the Hugging Face layout, with its
    model card when `run` is given, swapping in a complete folder so a reader never sees half an
    export."""
    written = []
    for name, network in module.exported().items():
        final, tmp, old = run_dir / name, run_dir / f".{name}.tmp", run_dir / f".{name}.old"
        shutil.rmtree(tmp, ignore_errors=True)
        hf.save(network, tmp, tokenizer=tokenizer)
        if run is not None:
            card.pretrained(tmp, name, run_dir, run.train_set.shards.manifest, run.tokens_seen,
                            _hardware(run.process), time.perf_counter() - run.started,
                            departures(run.config))  # fmt: skip
        if final.exists():
            os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
        written.append(final)
    return written


def _hardware(process: Process) -> str:
    device = process.device
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else (
        platform.processor() or platform.machine() or "CPU")  # fmt: skip
    return f"{process.world_size} process(es) on {device.type} ({name})"


def save(run: Run) -> None:
    """Checkpoint the run at its current step (every process takes part), keeping as many as
    the policy says, and refresh the exported networks when the config asks for it."""
    process, step, state = run.process, run.step, None
    if process.rank == 0:
        state = {
            "step": step,
            "tokens_seen": run.tokens_seen,
            "rows_computed": run.rows_computed,
            "world_size": process.world_size,
            "model": run.module.state_dict(),
            "optimizer": run.optimizer.state_dict(),
            "scaler": run.scaler.state_dict(),
            "vocab_sha256": run.vocab_sha256,  # the shards a resume must read
        }
    checkpoint.save(run.run_dir, step, state, process.rank, run.policy.keep, process.barrier)
    if run.config.export_every_checkpoint and process.rank == 0:
        export(run.module, run.run_dir, run.tokenizer, run)
