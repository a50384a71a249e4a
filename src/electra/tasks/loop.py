"""The one fine-tuning loop, and the one loader of what it saves. Task families (see
`electra.tasks.family`) plug in.

A family builds a `Task`; `finetune(task, model_dir, config, out_dir)` does the rest:

    task = Task(
        name="rte",                           # names the run in logs and results.json
        model_class=SequenceClassifier,       # a class `electra.hf.load` knows
        model_kwargs={"num_labels": 2},       # passed to `electra.hf.load(path, model_class, ...)`
        train=[{"input_ids": [...], "token_type_ids": [...], "label": 1}, ...],  # features
        loss=lambda outputs, batch: F.cross_entropy(outputs, batch["label"]),
        evaluate=score_dev,                   # (predict) -> (metrics, predictions), see below
        main_metric="accuracy",               # picks the best epoch; higher is better
        write_predictions=write_dev_tsv,      # (predictions, out_dir) for the saved epoch
        pad_id=tokenizer.token_to_id("[PAD]"),
        config_extra={"id2label": ..., "label2id": ...},  # into the saved config.json
    )

Features are dicts. `input_ids` and `token_type_ids` (lists of ints) are required; `collate` pads
them per batch (with `pad_id` and 0) and adds `attention_mask` when the batch has padding; any key in `task.sequence_pad`
(e.g. tagging's `labels`, padded with -100) is padded the same way; other int or float values
become tensors; anything else (ids, offsets, texts) stays out of the batch but remains in the
feature for the family's own decoding. The model is called as `model(input_ids, attention_mask,
token_type_ids)`; `loss(outputs, batch)` returns the scalar to minimise.

`evaluate(predict)` is given `predict(features) -> list`, which runs the model in eval mode in
large, length-sorted batches and returns one output per feature, in the order given: a tensor row
(`outputs[i]`, still padded to its batch's length for token-level outputs; trim with the feature's
`len(input_ids)`), or a tuple of rows for models returning tuples (SQuAD's start and end logits).
A family with several dev sets (MNLI matched and mismatched) calls `predict` once per set.

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
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tokenizers import Tokenizer
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from electra import card, checkpoint, hf
from electra.backbones.electra.network import EncoderOnly
from electra.config import (
    FinetuneConfig,
    changed_settings,
    check_resume_changes,
    from_dict,
    record_changes,
    save_json,
)
from electra.errors import Interrupted, UserError
from electra.files import write_json
from electra.pretraining.logbook import Log
from electra.pretraining.processes import Process, Signals
from electra.runtime import (
    autocast,
    resolve_precision,
    seed_everything,
    to_device,
    use_fast_matmuls,
)
from electra.schedule import lr_factor
from electra.tasks.family import FAMILIES
from electra.tokenizer import load_tokenizer

Feature = dict[str, Any]
Predict = Callable[[Sequence[Feature]], list[Any]]
MODEL_DIR = "model"
RESULTS_FILE = "results.json"
CONFIG_FILE = "finetune_config.json"
SETTINGS_KEY = "electra_finetune"  # in a fine-tuned model's config.json: how it was fine-tuned


@dataclass
class Task:
    """What a task family supplies to the loop (see the module docstring)."""

    name: str
    model_class: type[nn.Module]
    model_kwargs: dict[str, Any]
    train: Sequence[Feature]
    loss: Callable[[Any, dict[str, Tensor]], Tensor]
    evaluate: Callable[[Predict], tuple[dict[str, float], Any]]
    main_metric: str
    write_predictions: Callable[[Any, Path], None]
    pad_id: int = 0
    config_extra: dict[str, Any] = field(default_factory=dict)
    sequence_pad: dict[str, int] = field(default_factory=dict)
    # Optional: a family's own parts beyond the Hugging Face head (SQuAD 2.0's answerability
    # classifier). `wrap_model` turns the loaded model into the module trained, which must keep
    # the encoder as `.electra`; `save_model(model, dir, tokenizer, config_extra)` then writes it.
    wrap_model: Callable[[nn.Module], nn.Module] | None = None
    save_model: Callable[[nn.Module, Path, Tokenizer | None, dict[str, Any]], Any] = hf.save
    # Batch keys the model takes as keyword arguments while training (SQuAD's joint head is fed
    # the gold start positions); prediction calls it without them.
    train_inputs: tuple[str, ...] = ()
    # How many terms `loss` averages over in a batch: examples, or (tagging) labelled tokens.
    # The official code sums them (`loss_reduction="sum"`), so the loop multiplies back.
    loss_terms: Callable[[dict[str, Tensor]], Any] = lambda batch: len(batch["input_ids"])


def collate(
    features: Sequence[Feature], pad_id: int, sequence_pad: dict[str, int]
) -> dict[str, Tensor]:
    """Pad the sequences of one batch to its longest member, not to the maximum length."""
    lengths = [len(f["input_ids"]) for f in features]
    shape = (len(features), max(lengths))
    padding = {"input_ids": pad_id, "token_type_ids": 0, **sequence_pad}
    batch: dict[str, Tensor] = {}
    for key, pad in padding.items():
        if key not in features[0]:
            continue
        array = np.full(shape, pad, dtype=np.int64)
        for row, f in enumerate(features):
            array[row, : len(f[key])] = f[key]
        batch[key] = torch.from_numpy(array)
    if min(lengths) < shape[1]:  # an unpadded batch goes without a mask: the fused attention path
        batch["attention_mask"] = torch.arange(shape[1])[None, :] < torch.tensor(lengths)[:, None]
    for key, value in features[0].items():
        if key not in padding and isinstance(value, (int, float)):
            batch[key] = torch.tensor([f[key] for f in features])
    return batch


def layer_lrs(
    model: nn.Module, learning_rate: float, decay: float, rule: str = "official"
) -> dict[str, float]:
    """Each parameter's learning rate, `learning_rate * decay ** (top - depth)`: the embeddings
    (and their projection) are depth 0, encoder layer i (0-based) depth i + 1, the task head
    (everything outside `model.electra`) depth n + 2. The official code (`_get_layer_lrs`) takes
    top = n + 2, so the head trains at `learning_rate`, the top encoder layer at lr * d^2 and the
    embeddings at lr * d^(n + 2); `rule="intended"` takes top = n + 1, the one-step-higher rates
    its authors are reported to have meant (top encoder layer lr * d)."""
    n = len(model.electra.encoder.layers)
    top = {"official": n + 2, "intended": n + 1}[rule]
    rates = {}
    for name, _ in model.named_parameters():
        if name.startswith("electra.encoder.layers."):
            depth = int(name.split(".")[3]) + 1
        elif name.startswith("electra."):
            depth = 0
        else:
            depth = n + 2
        rates[name] = learning_rate * decay ** max(top - depth, 0)
    return rates


class AdamWeightDecay(torch.optim.Optimizer):
    """The official ELECTRA/BERT optimizer (`AdamWeightDecayOptimizer`): Adam moments without
    bias correction, and decoupled weight decay, `p -= lr * (m / (sqrt(v) + eps) + wd * p)`.
    Without bias correction the early steps are larger (the first by sqrt(1 - beta2) / (1 - beta1),
    3.2x at the official betas), which over a short fine-tuning schedule is a different recipe:
    the published numbers were made with this one."""

    def __init__(self, params, lr: float, betas: tuple[float, float], eps: float,
                 weight_decay: float = 0.0) -> None:  # fmt: skip
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):  # noqa: ANN001 (torch's signature)
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                state = self.state[param]
                if not state:
                    state["m"], state["v"] = torch.zeros_like(param), torch.zeros_like(param)
                m, v = state["m"], state["v"]
                m.mul_(beta1).add_(param.grad, alpha=1 - beta1)
                v.mul_(beta2).addcmul_(param.grad, param.grad, value=1 - beta2)
                update = m / (v.sqrt() + group["eps"])
                if group["weight_decay"]:
                    update.add_(param, alpha=group["weight_decay"])
                param.add_(update, alpha=-group["lr"])


def build_optimizer(model: nn.Module, config: FinetuneConfig) -> torch.optim.Optimizer:
    """The official optimizer (or, with `bias_correction`, PyTorch's AdamW), one parameter group
    per (learning rate, decayed or not); no weight decay on biases and LayerNorm weights
    (`ndim < 2`). Each group keeps its peak rate as `base_lr`."""
    rates = layer_lrs(model, config.lr, config.layerwise_lr_decay, config.layerwise_rule)
    groups: dict[tuple[float, bool], list[nn.Parameter]] = {}
    for name, param in model.named_parameters():
        groups.setdefault((rates[name], param.ndim >= 2), []).append(param)
    param_groups = [
        {
            "params": params,
            "lr": lr,
            "base_lr": lr,
            "weight_decay": config.weight_decay if decayed else 0.0,
        }
        for (lr, decayed), params in sorted(groups.items(), key=lambda kv: kv[0])
    ]
    optimizer = torch.optim.AdamW if config.bias_correction else AdamWeightDecay
    return optimizer(
        param_groups,
        lr=config.lr,
        betas=(config.adam_beta1, config.adam_beta2),
        eps=config.adam_eps,
    )


def load_model(task: Task, model_dir: str | Path, random_init: bool = False) -> nn.Module:
    """The pre-trained encoder under a fresh task head; `random_init` keeps only its shape (the
    control run a benchmark compares pre-training against)."""
    if random_init:
        model = task.model_class(hf.load_config(model_dir), **task.model_kwargs)
    else:
        model = hf.load(model_dir, task.model_class, **task.model_kwargs)
    return task.wrap_model(model) if task.wrap_model else model


def make_predict(
    model: nn.Module,
    pad_id: int,
    batch_size: int,
    device: torch.device,
    sequence_pad: dict[str, int] | None = None,
) -> Predict:
    """`predict(features)` for `task.evaluate` (and test-set prediction): eval mode, no gradients,
    batches sorted by length so little is padded, one output per feature in the original order."""

    @torch.inference_mode()
    def predict(features: Sequence[Feature]) -> list[Any]:
        was_training = model.training
        model.eval()
        order = sorted(range(len(features)), key=lambda i: len(features[i]["input_ids"]))
        results: list[Any] = [None] * len(features)
        for start in range(0, len(order), batch_size):
            index = order[start : start + batch_size]
            batch = to_device(
                collate([features[i] for i in index], pad_id, sequence_pad or {}), device
            )
            outputs = model(
                batch["input_ids"], batch.get("attention_mask"), batch["token_type_ids"]
            )
            if isinstance(outputs, tuple):
                rows = list(zip(*(o.float().cpu() for o in outputs), strict=True))
            else:
                rows = list(outputs.float().cpu())
            for i, row in zip(index, rows, strict=True):
                results[i] = row
        model.train(was_training)
        return results

    return predict


def _subsample(train: Sequence[Feature], limit: int, seed: int) -> Sequence[Feature]:
    if not limit or limit >= len(train):
        return train
    index = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))[:limit]
    return [train[i] for i in sorted(index.tolist())]


def load_finetuned(
    model_dir: str | Path, model_class: type[nn.Module], family: str, **kwargs: Any
) -> tuple[nn.Module, Tokenizer, dict[str, Any]]:
    """A fine-tuned model of `family`, its tokenizer and the settings it was fine-tuned with. A
    directory whose task head was never trained (a pre-trained discriminator, another family's
    model) is refused in one line rather than predicting with a random head."""
    tokenizer = load_tokenizer(model_dir)
    hf.check_vocabulary(model_dir, tokenizer)
    model = hf.load(model_dir, model_class, **kwargs)
    if getattr(model, "head_initialized", False):
        raise UserError(
            f"{model_dir}: its {model_class.__name__} head was never trained (fine-tune it "
            f"first with `electra finetune {family}`)"
        )
    settings = hf.read_config_json(model_dir).get(SETTINGS_KEY)
    settings = settings if isinstance(settings, dict) else {}
    if settings.get("family", family) != family:
        raise UserError(
            f"{model_dir}: fine-tuned by `electra finetune {settings['family']}`, not {family}"
        )
    return model, tokenizer, settings


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
    micro-batches (this process's part of it under torchrun); returns the loss of those
    micro-batches, still on the device. The official code sums the per-example (tagging:
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
    if family is None:  # a task built outside the families (tests, experiments): no card
        return
    # a head beside the encoder (saved as the encoder's class) has no transformers class to run
    architecture = (
        None if hf.is_saved_as(model_dir, EncoderOnly) else hf.saved_architecture(model_dir)
    )
    card.finetuned(model_dir, results, family, FAMILIES[family].card_task, architecture)


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
