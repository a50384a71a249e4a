"""The pre-training loop: one function, read top to bottom, for one process or many.

`torchrun --nproc_per_node N` sets RANK/WORLD_SIZE/LOCAL_RANK and the same code runs under
DistributedDataParallel (NCCL on GPUs, gloo on CPUs); every process reads its own share of the
batches and draws its own masks.

What the loop runs in lives beside it, one job a module: `resolve` (the run's configuration),
`setup` (device, data, model, optimizer, resumed state, the plan), `step` (one step, held-out
evaluation), `export` (the models users keep, checkpoints), `processes` (torchrun's environment,
signals) and `logbook` (metric windows, progress bar, metrics.jsonl, TensorBoard); checkpoints
are `electra.checkpoint`, shared with fine-tuning.
"""

from __future__ import annotations

import functools
import math
import os
import signal
import sys
from pathlib import Path
from typing import Any

from electra import checkpoint
from electra.config import ModelConfig
from electra.data.shards import iterate_batches
from electra.errors import UserError
from electra.files import one_writer, write_json
from electra.log import Log
from electra.pretraining.export import export, save
from electra.pretraining.logbook import (
    Forecast,
    MetricWindow,
    NonfiniteSteps,
)
from electra.pretraining.options import PretrainConfig
from electra.pretraining.packing import (
    batch_stream,
    close_stream,
    resolve_loader,
)
from electra.pretraining.resolve import resolve_configs
from electra.pretraining.setup import Run, _describe, lr_at, setup
from electra.pretraining.step import (
    EVAL_FILE,
    Counted,
    _check_nonfinite,
    evaluate,
    run_flops,
    train_step,
)
from electra.processes import Process, Signals, StepInterrupted


def pretrain(
    data_dir: str | Path,
    run_dir: str | Path,
    preset: str = "small",
    overrides: dict[str, Any] | None = None,
    model_overrides: dict[str, Any] | None = None,
    resume: bool = False,
    device: str | None = None,
    until: int | None = None,
    progress: bool = True,
    allow_changes: bool = False,
) -> int:
    """`electra pretrain`: resolve the configs (`resolve_configs`), then `train`."""
    model_config, config = resolve_configs(data_dir, run_dir, preset, overrides or {},
                                           model_overrides or {}, resume)  # fmt: skip
    return train(data_dir, run_dir, model_config, config, resume, device, until, progress,
                 allow_changes)  # fmt: skip


@one_writer("run_dir")
def train(
    data_dir: str | Path,
    run_dir: str | Path,
    model_config: ModelConfig,
    config: PretrainConfig,
    resume: bool = False,
    device: str | None = None,
    until: int | None = None,
    progress: bool = True,
    allow_changes: bool = False,
) -> int:
    """Pre-train on the prepared set `data_dir` into `run_dir`. Returns the exit code: 0 when
    the run finished or paused at step `until` (a checkpoint, no export: for jobs with a time
    limit; the schedule still spans `config.steps`), 128 + signal number when a signal stopped
    it after a checkpoint. A resumed run refuses settings that change its trajectory unless
    `allow_changes` (`RESUME_FREE`, and a longer schedule, never need it)."""
    stop_deadline()  # a bad ELECTRA_STOP_DEADLINE_S stops here, before any work
    process = Process(device)
    try:
        run = setup(process, Path(data_dir), Path(run_dir), model_config, config, resume, until,
                    allow_changes)  # fmt: skip
        return loop(run, progress)
    finally:
        process.close()


SYNC_EVERY = 100  # steps at most between two reads of the device (logged steps are read anyway)
STOP_DEADLINE_S = 5.0  # after a SIGTERM, a step still running this long is cut short


def stop_deadline() -> float:
    """Seconds a step may go on after a SIGTERM (`ELECTRA_STOP_DEADLINE_S`, else 5; 0: none)."""
    value = os.environ.get("ELECTRA_STOP_DEADLINE_S", str(STOP_DEADLINE_S))
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not (math.isfinite(seconds) and seconds >= 0):
        raise UserError(f"ELECTRA_STOP_DEADLINE_S={value}: expected a number of seconds >= 0")
    return seconds


def loop(run: Run, progress: bool = True) -> int:
    """Steps until the schedule ends, a signal arrives or the policy pauses; logs, held-out
    scores and checkpoints when the policy says; exports the networks at the end. Returns the
    exit code.

    The host reads the device only at a logged, scored, saved or pausing step (and every
    `SYNC_EVERY` steps): the metrics and the non-finite steps since the last read, and, with
    several processes, whether any of them received a signal."""
    config, process, policy = run.config, run.process, run.policy
    counted = Counted(process)
    batches = batch_stream(
        functools.partial(iterate_batches, run.train_set, run.micro_batch, config.seed,
                          process.rank, process.world_size, run.step * config.grad_accum,
                          words=config.whole_word_masking and run.train_set.has_words),
        run.special, pin=process.device.type == "cuda",
        loader=resolve_loader(config.loader, process.device))  # fmt: skip
    log = Log(run.run_dir, run.step, config.steps, enabled=process.rank == 0, bar=progress)
    # One process may cut a step short a few seconds after a SIGTERM; several must stop together.
    window, signals = MetricWindow(), Signals(stop_deadline() if process.world_size == 1 else None)
    nonfinite = NonfiniteSteps(process.device, SYNC_EVERY)
    forecast = Forecast(run.step, config.steps, process.device)
    last_saved, last_read = run.step, run.step
    try:
        while run.step < config.steps:
            before = checkpoint.rng_state() if signals.deadline_s else None
            try:
                result = train_step(run, batches, signals)
            except StepInterrupted:  # the last finished step, with the random state it left
                run.optimizer.zero_grad(set_to_none=True)
                checkpoint.set_rng_state(before)
                counted.read_into(run)
                save(run)
                log.message(f"electra: the step under way was cut short {signals.deadline_s:g} s "
                            f"after SIGTERM; stopped at step {run.step} with a checkpoint; "
                            "continue with --resume")  # fmt: skip
                return 128 + signal.SIGTERM
            nonfinite.add(run.step + 1, result.skipped, result.loss, result.grad_norm)
            window.add(result.metrics, config.grad_accum, result.skipped)
            run.step += 1
            counted.add(result)
            window.count_tokens(result.tokens)
            log.bar.update(1)
            step = run.step
            if said := forecast.step_done(step):
                log.message(said)
            due = (policy.log_due(step) or policy.eval_due(step) or policy.save_due(step)
                   or policy.pause_due(step) or step % SYNC_EVERY == 0)  # fmt: skip
            received = signals.received is not None and process.world_size == 1
            if not (due or received):
                continue
            _check_nonfinite(run, nonfinite, last_read, log)
            counted.read_into(run)
            last_read = step
            if policy.log_due(step):
                values = window.read(process)
                values.update(lr=lr_at(step - 1, config), grad_norm=result.grad_norm.item(),
                              tokens=run.tokens_seen, flops=run_flops(run))  # fmt: skip
                log.record(step, values)
            if policy.eval_due(step) and process.rank == 0 and len(run.heldout):
                with window.paused():  # tokens/s counts training only
                    results = evaluate(run.module, run.heldout, run.micro_batch, run.special,
                                       config, process.device)  # fmt: skip
                log.record(step, results, prefix="heldout")
                if step == config.steps:
                    write_json(run.run_dir / EVAL_FILE, results)
                    log.message(_describe(results))
            signalled = signals.anywhere(process)
            stopping = signalled or policy.pause_due(step)
            if policy.save_due(step) or stopping:
                save(run)
                last_saved = step
            if stopping:
                log.message(
                    f"electra: stopped at step {step}; continue with --resume (Python: resume=True)"
                )
                if not signalled:
                    return 0
                signum = signals.received or signal.SIGTERM  # another process may have got it
                return 128 + int(signum)
    finally:
        close_stream(batches)
        signals.restore()
        log.close()
    counted.read_into(run)
    if last_saved != run.step:
        save(run)
    if process.rank == 0:
        for path in export(run.module, run.run_dir, run.tokenizer, run):
            print(f"electra: exported {path}", file=sys.stderr)
    process.barrier()
    return 0
