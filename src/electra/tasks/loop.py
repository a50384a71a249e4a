"""The one fine-tuning loop: a family's `Task` (`electra.tasks.task`) in, a fine-tuned model out.

The loop owns everything else: seeds, AdamW with layer-wise learning-rate decay (see
`FinetuneConfig`), linear warm-up then linear decay, gradient clipping, a progress bar (step, loss,
ETA), evaluation after each epoch, saving the best (or last) model in the Hugging Face layout under
`OUT_DIR/model/`, the family's prediction file, and `OUT_DIR/results.json`. The saved config.json
carries `SETTINGS_KEY`: the family, the `max_seq_length` and whatever else the family needs to
predict as it trained, which `load_finetuned` reads back.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import signal
import sys
import threading
import time
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from electra import card, checkpoint, hf
from electra.backbones.models import EncoderOnly
from electra.config import (
    changed_settings,
    check_resume_changes,
    from_dict,
    record_changes,
    save_json,
)
from electra.errors import Interrupted, UserError
from electra.files import write_json
from electra.log import Log
from electra.processes import Process, Signals
from electra.runtime import (
    autocast,
    resolve_precision,
    seed_everything,
    to_device,
    use_fast_matmuls,
)
from electra.schedule import lr_factor
from electra.tasks.loading import load_model
from electra.tasks.optimizer import build_optimizer
from electra.tasks.options import FinetuneConfig
from electra.tasks.task import SETTINGS_KEY, Feature, Predict, Task, collate, make_predict

MODEL_DIR = "model"
RESULTS_FILE = "results.json"
CONFIG_FILE = "finetune_config.json"


def _subsample(train: Sequence[Feature], limit: int, seed: int) -> Sequence[Feature]:
    if not limit or limit >= len(train):
        return train
    index = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))[:limit]
    return [train[i] for i in sorted(index.tolist())]


@dataclass
class Progress:
    """Where a fine-tuning run stands: steps taken, epoch records, the kept epoch, and the
    position in the epoch under way (what a checkpoint needs to continue the same trajectory)."""

    total_steps: int
    warmup_steps: int
    step: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    kept: dict[str, Any] | None = None
    epoch: int = 1  # the epoch under way
    epoch_batches: int = 0  # its batches trained so far
    shuffle_state: Tensor | None = None  # the shuffling generator's state when it began


def train_step(
    model: nn.Module,
    task: Task,
    batches: Sequence[dict[str, Tensor]],
    optimizer: torch.optim.Optimizer,
    config: FinetuneConfig,
    progress: Progress,
    scaler: torch.amp.GradScaler,
    process: Process | None = None,
    share: float = 1.0,
) -> Tensor:
    """One optimizer step at this step's learning rate over one batch, given as `grad_accum`
    micro-batches (this process's part of it under torchrun); returns their loss per example
    (tagging: per token), still on the device, whatever the reduction the optimizer gets: a
    logged loss reads the same for a short last batch. The official code sums the per-example (tagging:
    per-token) losses of the batch before clipping; `loss_reduction="mean"` averages them. Either
    way the micro-batches, and the processes, add up to the whole batch's loss: DDP averages
    gradients over processes, so each scales its part by the world size. `share` 0 marks a
    process left without examples by a short last batch: it still steps, with no gradient."""
    for group in optimizer.param_groups:
        group["lr"] = group["base_lr"] * lr_factor(
            progress.step, progress.total_steps, progress.warmup_steps
        )
    world = process.world_size if process is not None else 1
    terms = [task.loss_terms(batch) for batch in batches]
    total_terms = sum(terms)
    if config.loss_reduction == "mean" and process is not None:
        total_terms = process.sum(torch.as_tensor(total_terms * share, dtype=torch.float32,
                                                  device=batches[0]["input_ids"].device))  # fmt: skip
    device = batches[0]["input_ids"].device
    loss_sum = torch.zeros((), device=device)
    for i, (batch, count) in enumerate(zip(batches, terms, strict=True)):
        extra = {key: batch[key] for key in task.train_inputs}
        last = i == len(batches) - 1
        with nullcontext() if last or world == 1 else model.no_sync():
            with autocast(device, config.precision):
                outputs = model(
                    batch["input_ids"], batch.get("attention_mask"), batch["token_type_ids"],
                    **extra,
                )  # fmt: skip
                loss = task.loss(outputs, batch).float()
            loss = loss * (count if config.loss_reduction == "sum" else count / total_terms)
            scaler.scale(loss * (world * share)).backward()
        loss_sum += loss.detach() * share
    scaler.unscale_(optimizer)
    nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
    scaler.step(optimizer)
    scaler.update()
    optimizer.zero_grad(set_to_none=True)
    progress.step += 1
    if config.loss_reduction == "sum":  # the optimizer's sum; the log's mean (no host read)
        counted = torch.as_tensor(total_terms * share, dtype=torch.float32, device=device)
        if process is not None:  # every process's part, so that their losses add up to the mean
            counted = process.sum(counted)
        return loss_sum / counted.clamp(min=1)
    return loss_sum


LOG_EVERY = 10  # steps between loss readings (a host sync) for the bar, metrics.jsonl, TensorBoard


def finetune(
    task: Task,
    model_dir: str | Path,
    config: FinetuneConfig,
    out_dir: str | Path,
    tokenizer: Tokenizer | None = None,
    random_init: bool = False,
    progress: bool = True,
    device: str | None = None,
    resume: bool = False,
    allow_changes: bool = False,
) -> dict[str, Any]:
    """Train `task` from the checkpoint at `model_dir`; write the model, predictions,
    results.json, metrics.jsonl and TensorBoard curves under `out_dir`; return the results.

    A checkpoint is written at the end of every epoch (and every `config.save_every` steps) into
    `out_dir/checkpoints/`; `resume` continues from the newest intact one on the very trajectory
    an uninterrupted run takes (same batches, same dropout, same model). The checkpoints are
    deleted once the run has finished. A loss that turns NaN or infinite stops the run with one
    line; no model is saved after it."""
    run = _setup(task, model_dir, config, Path(out_dir), tokenizer, random_init, progress,
                 device, resume, allow_changes)  # fmt: skip
    started = time.perf_counter()
    signals = _signals()
    try:
        while run.state.step < run.state.total_steps or run.state.epoch_batches:
            _train_epoch(run, signals)  # (the condition's second part: a save at the last step)
            _end_epoch(run)
    finally:
        run.log.close()
        if signals is not None:
            signals.restore()
    return _finish(run, model_dir, random_init, time.perf_counter() - started)


@dataclass
class _Run:
    """What one fine-tuning run works with, built once by `_setup`."""

    task: Task
    config: FinetuneConfig
    out_dir: Path
    tokenizer: Tokenizer | None
    process: Process
    model: nn.Module  # the module saved and evaluated
    trained: nn.Module  # what a step calls: `model`, wrapped in DDP under torchrun
    train: Sequence[Feature]
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    shuffle: torch.Generator  # the same batches in every process
    state: Progress
    predict: Predict
    log: Log
    loss_sum: Tensor  # this process's part of the epoch's loss so far

    @property
    def lead(self) -> bool:
        return self.process.rank == 0

    def save(self) -> None:
        _checkpoint(self.out_dir, self.model, self.optimizer, self.scaler, self.state,
                    self.loss_sum, self.process)  # fmt: skip

    def evaluate(self) -> dict[str, Any]:
        return _evaluate(self.task, self.model, self.predict, self.config, self.state,
                         self.out_dir, self.tokenizer, self.lead)  # fmt: skip


def _setup(
    task: Task, model_dir: str | Path, config: FinetuneConfig, out_dir: Path,
    tokenizer: Tokenizer | None, random_init: bool, progress: bool, device: str | None,
    resume: bool, allow_changes: bool = False,
) -> _Run:  # fmt: skip
    process = Process(device)
    where = process.device
    use_fast_matmuls(where)
    config = dataclasses.replace(config, precision=resolve_precision(config.precision, where))
    resuming = resume and bool(checkpoint.all_checkpoints(out_dir))
    changes = _resume_changes(out_dir, config, allow_changes) if resuming else {}
    if process.rank == 0:
        out_dir.mkdir(parents=True, exist_ok=True)
        if changes:
            record_changes(out_dir, checkpoint.step_of(checkpoint.latest(out_dir)), changes)
        save_json(config, out_dir / CONFIG_FILE)
    seed_everything(config.seed + process.rank)  # own dropout; DDP copies rank 0's weights
    model = load_model(task, model_dir, random_init).to(where)
    trained = model if process.world_size == 1 else DistributedDataParallel(model)
    train = _subsample(task.train, config.max_train_examples, config.seed)
    if not train:
        raise UserError(f"{task.name}: no training examples")
    total = config.max_steps or math.ceil(len(train) / config.batch_size) * config.epochs
    state = Progress(total, int(config.warmup_fraction * total))
    optimizer = build_optimizer(model, config)
    scaler = torch.amp.GradScaler(where.type, enabled=config.precision == "fp16")
    shuffle = torch.Generator().manual_seed(config.seed)
    loss_sum = torch.zeros((), device=where)
    if resuming:
        loss_sum = _restore(out_dir, model, optimizer, scaler, state, process).to(where)
        assert state.shuffle_state is not None
        shuffle.set_state(state.shuffle_state)
    predict = make_predict(model, task.pad_id, config.eval_batch_size, where, task.sequence_pad)
    log = Log(out_dir, state.step, total, enabled=process.rank == 0, bar=progress, desc=task.name)
    model.train()
    return _Run(task, config, out_dir, tokenizer, process, model, trained, train, optimizer,
                scaler, shuffle, state, predict, log, loss_sum)  # fmt: skip


# Settings a resumed fine-tuning run may change freely: they decide what is scored and saved,
# not what is trained.
RESUME_FREE = ("eval_batch_size", "save_every", "eval_every", "seeds")


def _resume_changes(
    out_dir: Path, config: FinetuneConfig, allow: bool
) -> dict[str, tuple[Any, Any]]:
    """What `config` changes in the run's saved settings, refused unless `allow`."""
    path = out_dir / CONFIG_FILE
    saved = from_dict(FinetuneConfig, json.loads(path.read_text(encoding="utf-8")), str(path))
    check_resume_changes(str(out_dir), changed_settings(saved, config, RESUME_FREE), allow)
    return changed_settings(saved, config)


def _signals() -> Signals | None:
    """SIGINT/SIGTERM handlers that let a step finish, then checkpoint (in the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return Signals()


def _stop_if_signalled(run: _Run, signals: Signals | None, saved: bool) -> None:
    """After a step: on a signal (in any process), checkpoint and stop, saying how to go on."""
    if signals is None or not signals.anywhere(run.process):
        return
    if not saved:
        run.save()
    signum = signals.received or signal.SIGTERM
    raise Interrupted(f"{signal.Signals(signum).name}: stopped at step {run.state.step} with a "
                      f"checkpoint in {run.out_dir}; continue with --resume", 128 + int(signum))  # fmt: skip


def _train_epoch(run: _Run, signals: Signals | None = None) -> None:
    """The epoch under way, from the batch it stands at (a resumed run's included); a signal
    stops it after the step it arrives in, with a checkpoint."""
    task, config, state, process = run.task, run.config, run.state, run.process
    if state.epoch_batches == 0:
        state.shuffle_state = run.shuffle.get_state()
    order = torch.randperm(len(run.train), generator=run.shuffle).split(config.batch_size)
    for index in order[state.epoch_batches :]:
        if state.step == state.total_steps:
            break
        mine = index[process.rank :: process.world_size]
        share = 1.0 if len(mine) else 0.0  # a short last batch: a stand-in, no gradient
        batches = [
            to_device(
                collate([run.train[i] for i in part], task.pad_id, task.sequence_pad),
                process.device,
            )
            for part in (mine if share else index[:1]).tensor_split(config.grad_accum)
            if len(part)
        ]
        loss = train_step(run.trained, task, batches, run.optimizer, config, state, run.scaler,
                          process, share)  # fmt: skip
        run.loss_sum += loss
        state.epoch_batches += 1
        run.log.bar.update()
        if state.step % LOG_EVERY == 0 or state.step == state.total_steps:
            value = _finite(process.sum(loss.clone()).item(), task, state.step)
            lr = max(group["lr"] for group in run.optimizer.param_groups)
            run.log.record(state.step, {"loss": value, "lr": lr, "epoch": state.epoch})
        if (config.eval_every and state.step % config.eval_every == 0
                and state.epoch_batches < len(order) and state.step < state.total_steps):  # fmt: skip
            record = run.evaluate()
            run.log.record(state.step, {k: v for k, v in record.items() if k != "step"},
                           prefix="dev")  # fmt: skip
        saved = bool(config.save_every and state.step % config.save_every == 0)
        if saved:
            run.save()
        _stop_if_signalled(run, signals, saved)


def _end_epoch(run: _Run) -> None:
    """Score the dev set at the epoch's end, log it, and checkpoint the next epoch's start."""
    state = run.state
    epoch_loss = run.process.sum(run.loss_sum.clone()).item() / state.epoch_batches
    train_loss = _finite(epoch_loss, run.task, state.step)
    record = run.evaluate()
    record.update(train_loss=train_loss)
    run.log.record(state.step, {k: v for k, v in record.items() if k != "step"}, prefix="dev")
    run.log.message(f"{run.task.name} epoch {state.epoch}: " + ", ".join(
        f"{k} {v:.4f}" for k, v in record.items() if k not in ("epoch", "step")))  # fmt: skip
    state.epoch, state.epoch_batches = state.epoch + 1, 0
    run.loss_sum = torch.zeros((), device=run.process.device)
    run.save()


def _finish(run: _Run, model_dir: str | Path, random_init: bool, seconds: float) -> dict[str, Any]:
    """results.json and the model card (the lead process), the checkpoints removed."""
    state = run.state
    assert state.kept is not None
    results = {
        "task": run.task.name,
        "main_metric": run.task.main_metric,
        "dev": state.kept["metrics"],
        "saved_epoch": state.kept["epoch"],
        "saved_step": state.kept["step"],
        "keep": run.config.keep,
        "epochs": state.history,
        "train_examples": len(run.train),
        "steps": state.total_steps,
        "wall_seconds": round(seconds, 1),
        "random_init": random_init,
        "model": str(model_dir),
        "device": str(run.process.device),
        "processes": run.process.world_size,
        "config": asdict(run.config),
    }
    run.process.barrier()
    if run.lead:
        write_json(run.out_dir / RESULTS_FILE, results)
        _write_card(run.task, run.out_dir / MODEL_DIR, results)
        shutil.rmtree(checkpoint.directory(run.out_dir), ignore_errors=True)
    return results


def _write_card(task: Task, model_dir: Path, results: dict[str, Any]) -> None:
    family = task.config_extra.get(SETTINGS_KEY, {}).get("family")
    if family is None or task.card_task is None:  # built outside the families: no card
        return
    # a head beside the encoder (saved as the encoder's class) has no transformers class to run
    architecture = (
        None if hf.is_saved_as(model_dir, EncoderOnly) else hf.saved_architecture(model_dir)
    )
    card.finetuned(model_dir, results, family, task.card_task, architecture)


def _checkpoint(
    out_dir: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    state: Progress,
    loss_sum: Tensor,
    process: Process,
) -> None:
    """The newest checkpoint only: fine-tuning checkpoints exist to resume, not to keep. Every
    process writes its RNG state (its own dropout) and its part of the epoch's loss."""
    lead = process.rank == 0
    checkpoint.save(out_dir, state.step, {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scaler": scaler.state_dict(),
        "progress": asdict(state),
        "world_size": process.world_size,
    } if lead else None, rank=process.rank, keep=1, barrier=process.barrier,
        extra={"loss_sum": loss_sum.detach().cpu()})  # fmt: skip


def _restore(
    out_dir: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    state: Progress,
    process: Process,
) -> Tensor:
    """Load the newest intact checkpoint into the run (RNGs included); this process's part of
    the epoch's loss so far."""
    path, saved = checkpoint.load_latest(out_dir, process.rank, process.world_size)
    if saved["progress"]["total_steps"] != state.total_steps:
        raise UserError(
            f"{path}: planned {saved['progress']['total_steps']} steps, this run "
            f"{state.total_steps}; resume with the settings it was started with"
        )
    model.load_state_dict(saved["model"])
    optimizer.load_state_dict(saved["optimizer"])
    scaler.load_state_dict(saved["scaler"])
    for key, value in saved["progress"].items():
        setattr(state, key, value)
    if process.rank == 0:
        print(f"electra: resuming {out_dir} from step {state.step}", file=sys.stderr)
    return saved["extra"]["loss_sum"]


def _finite(value: float, task: Task, step: int) -> float:
    if not math.isfinite(value):
        raise UserError(
            f"{task.name}: the training loss became {value} by step {step}; stopped, and nothing "
            "was saved after it (try a lower --lr, or --precision fp32)"
        )
    return value


def _evaluate(
    task: Task,
    model: nn.Module,
    predict: Predict,
    config: FinetuneConfig,
    state: Progress,
    out_dir: Path,
    tokenizer: Tokenizer | None,
    write: bool = True,
) -> dict[str, Any]:
    """Score the dev set (at an epoch's end, or every `eval_every` steps); save the model and
    predictions (`write`: the lead process) when this evaluation's model is the one to keep."""
    metrics, predictions = task.evaluate(predict)
    if task.main_metric not in metrics:
        raise KeyError(f"{task.name}: evaluate() returned no {task.main_metric!r}")
    record: dict[str, Any] = {"epoch": state.epoch, "step": state.step, **metrics}
    state.history.append(record)
    kept = state.kept
    if (
        config.keep == "last"
        or kept is None
        or metrics[task.main_metric] > kept["metrics"][task.main_metric]
    ):
        state.kept = {"epoch": state.epoch, "step": state.step, "metrics": metrics}
        if write:
            task.save_model(model, out_dir / MODEL_DIR, tokenizer, task.config_extra)
            task.write_predictions(predictions, out_dir)
    return record
