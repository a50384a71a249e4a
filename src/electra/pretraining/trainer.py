"""The pre-training loop: one function, read top to bottom, for one process or many.

`torchrun --nproc_per_node N` sets RANK/WORLD_SIZE/LOCAL_RANK and the same code runs under
DistributedDataParallel (NCCL on GPUs, gloo on CPUs); every process reads its own share of the
batches and draws its own masks. The optimizer is AdamW with the official betas, epsilon and
decay (none on biases and LayerNorm weights). The official TensorFlow optimizer has no bias
correction; we keep PyTorch's bias-corrected AdamW: the two differ only while the second-moment
average is young (the first ~1-2k steps), which the 10k-step warm-up covers, and the corrected
form is the safer one for the short warm-ups of small runs.

What the loop runs in lives beside it, one job a module: `processes` (torchrun's environment,
signals), `logbook` (metric windows, progress bar, metrics.jsonl, TensorBoard); checkpoints are
`electra.checkpoint`, shared with fine-tuning.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import platform
import shutil
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import average_precision_score, roc_auc_score
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from electra import card, checkpoint, hf
from electra.backbones.electra.network import Discriminator, Generator
from electra.checkpoint import CheckpointPolicy
from electra.config import (
    FROM_DATA,
    ModelConfig,
    PretrainConfig,
    changed_settings,
    check_resume_changes,
    from_dict,
    record_changes,
    save_json,
)
from electra.data.shards import ExampleRange, Shards, iterate_batches
from electra.errors import UserError
from electra.files import one_writer, writable_dir, write_json
from electra.pretraining import flops
from electra.pretraining.logbook import (
    Forecast,
    Log,
    MetricWindow,
    NonfiniteSteps,
    accumulate,
    summarise,
)
from electra.pretraining.objective import build
from electra.pretraining.packing import (
    Packing,
    batch_stream,
    close_stream,
    estimate_packing,
    pack_rows,
    resolve_loader,
)
from electra.pretraining.processes import Process, Signals, StepInterrupted
from electra.runtime import (
    autocast,
    resolve_precision,
    seed_everything,
    to_device,
    use_fast_matmuls,
)
from electra.schedule import lr_factor
from electra.tokenizer import SpecialIds, load_tokenizer, vocab_sha256

CONFIG_FILE = "pretrain.json"  # {"model": ModelConfig, "pretrain": PretrainConfig}
EVAL_FILE = "eval.json"
MAX_CONSECUTIVE_NONFINITE = 20  # with on_nonfinite=skip: a run that only skips is broken, stop


def lr_at(step: int, config: PretrainConfig) -> float:
    return config.lr * lr_factor(step, config.steps, config.warmup_steps)


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Weight decay on matrices and embeddings only, not on biases and LayerNorm weights."""
    params = list(model.parameters())  # each shared parameter once
    return [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]


def make_optimizer(
    module: nn.Module, config: PretrainConfig, device: torch.device
) -> torch.optim.AdamW:
    """AdamW with the official betas and epsilon, as one fused kernel where PyTorch has one."""
    return torch.optim.AdamW(
        parameter_groups(module, config.weight_decay),
        lr=config.lr,
        betas=(config.adam_beta1, config.adam_beta2),
        eps=config.adam_eps,
        fused=device.type in ("cpu", "cuda"),
    )


def load_run_config(run_dir: str | Path) -> tuple[ModelConfig, PretrainConfig]:
    path = Path(run_dir) / CONFIG_FILE
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
        return from_dict(ModelConfig, values["model"], str(path)), from_dict(
            PretrainConfig, values["pretrain"], str(path)
        )
    except FileNotFoundError:
        raise UserError(
            f"{path}: no such file; is {run_dir} a pre-training run directory?"
        ) from None
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise UserError(
            f"{path}: expected JSON with 'model' and 'pretrain' objects ({e!r})"
        ) from None


def _inputs(ids: np.ndarray, special: SpecialIds, device: torch.device) -> dict[str, Tensor]:
    """Packed model inputs (no compute on padding) on the device."""
    return to_device(pack_rows(ids, special), device)


def evaluate(
    module: nn.Module,
    examples: ExampleRange,
    batch_size: int,
    special: SpecialIds,
    config: PretrainConfig,
    device: torch.device,
) -> dict[str, float]:
    """The objective's metrics on held-out examples, dropout off, with fixed masks and samples.
    For RTD also two threshold-free scores of the discriminator's ranking, which show skill
    before many tokens cross the 0.5 threshold: the ROC AUC (chance 0.5, as the official code
    logs it) and the average precision over replaced tokens (chance: the replaced fraction)."""
    window: dict[str, Tensor] = {}
    scores, labels = [], []
    starts = range(0, len(examples), batch_size)
    module.eval()
    with torch.no_grad(), torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(config.seed)
        for start in starts:
            ids = examples.examples(np.arange(start, min(start + batch_size, len(examples))))
            inputs = _inputs(ids, special, device)
            with autocast(device, config.precision):
                output = module(**inputs)
            accumulate(window, output.metrics())
            if output.disc_logits is not None:
                is_token = inputs["input_ids"] != special.pad
                scores.append(output.disc_logits[is_token].float().cpu())
                labels.append(output.is_replaced[is_token].cpu())
    module.train()
    results = {"sequences": len(examples), **summarise(window, len(starts))}
    if scores and torch.cat(labels).unique().numel() == 2:
        labels, scores = torch.cat(labels).numpy(), torch.cat(scores).numpy()
        results["disc_auc"] = float(roc_auc_score(labels, scores))
        results["disc_average_precision"] = float(average_precision_score(labels, scores))
    return results


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
                            _hardware(run.process), time.perf_counter() - run.started)  # fmt: skip
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


@dataclass
class Run:
    """Everything the loop works with, built once by `setup`."""

    process: Process
    run_dir: Path
    config: PretrainConfig
    module: nn.Module  # the objective (`build`), whose networks are exported
    network: nn.Module  # what a step calls: `module`, wrapped in DDP and/or compiled
    ddp: DistributedDataParallel | None
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    tokenizer: Any
    special: SpecialIds
    heldout: ExampleRange
    micro_batch: int  # sequences per process per micro-batch
    train_set: ExampleRange
    policy: CheckpointPolicy
    vocab_sha256: str  # of the shards' vocabulary: checked on resume, saved in checkpoints
    step_flops: float  # training FLOPs of a step of full rows (pretraining/flops.py, MEASURED)
    step: int = 0
    tokens_seen: int = 0  # real (non-padding) tokens trained on, every process's
    rows_computed: int = 0  # rows the networks computed (packed rows: fewer than sequences)
    started: float = field(default_factory=time.perf_counter)  # this session's start


@dataclass
class StepResult:
    """One optimizer step, still on the device: the host has read none of it."""

    loss: Tensor
    grad_norm: Tensor
    metrics: dict[str, Tensor]
    skipped: Tensor  # 0-d bool: not finite, so the update was not applied
    tokens: Tensor  # 0-d: the real (non-padding) tokens of this process's micro-batches
    rows: int  # the rows they were packed into: what the networks computed


def resolve_configs(
    data_dir: str | Path,
    run_dir: str | Path,
    preset: str,
    overrides: dict[str, Any],
    model_overrides: dict[str, Any],
    resume: bool = False,
) -> tuple[ModelConfig, PretrainConfig]:
    """The run's configs: the preset (or the resumed run's saved ones) with the overrides; the
    vocabulary size and, unless overridden, the sequence length are the data's."""
    if resume:
        if model_overrides:
            raise UserError(f"{', '.join(model_overrides)}: a resumed run keeps its model shape")
        model_config, config = load_run_config(run_dir)
        return model_config, dataclasses.replace(config, **overrides)
    shards = Shards(data_dir)
    from_data = {name: getattr(shards, name) for name in FROM_DATA}
    config = PretrainConfig.preset(preset, **{**from_data, **overrides})
    if config.init_from:
        if model_overrides:
            raise UserError(f"{', '.join(model_overrides)}: the model's shape is init_from's")
        model_config = initial_model_config(config, preset)
    else:
        model_config = ModelConfig.preset(preset, vocab_size=shards.vocab_size, **model_overrides)
    return model_config, _within_budget(model_config, config, shards)


def data_packing(
    shards: Shards | ExampleRange, config: PretrainConfig, pad_id: int | None = None
) -> Packing:
    """How the run's micro-batches of `shards` pack (rows computed a step, real tokens);
    `pad_id` when the caller has the tokenizer already (else it is read from the shards)."""
    if pad_id is None:
        pad_id = SpecialIds.of(load_tokenizer(shards.directory)).pad
    micro = max(1, config.batch_size // config.grad_accum)
    packing = estimate_packing(iterate_batches(shards, micro, config.seed), pad_id)
    return Packing(packing.rows_per_batch * config.grad_accum, packing.fill)


def _within_budget(
    model_config: ModelConfig, config: PretrainConfig, shards: Shards
) -> PretrainConfig:
    """With a FLOP budget, the schedule is as many steps as it pays for, a step costing the
    rows its packed batch computes (warm-up kept under a tenth of them when the preset's would
    not fit)."""
    if config.flops_budget is None:
        return config
    rows = data_packing(shards, config).rows_per_batch
    per_step = flops.step_flops(model_config, config.seq_len, config.batch_size,
                                config.objective, config.mask_prob) * rows / config.batch_size  # fmt: skip
    steps = int(config.flops_budget // per_step)
    if steps < 1:
        raise UserError(
            f"flops_budget {config.flops_budget:.3g} buys no step (one costs {per_step:.3g} FLOPs)"
        )
    warmup = config.warmup_steps if config.warmup_steps < steps else steps // 10
    return dataclasses.replace(config, steps=steps, warmup_steps=warmup)


def initial_model_config(config: PretrainConfig, preset: str) -> ModelConfig:
    """The shape of the checkpoints a run continues from: the discriminator's config, with the
    generator's width as a fraction of it (the preset's when no generator is given)."""
    assert config.init_from is not None
    model = hf.load_config(hf.resolve(config.init_from))
    if not config.init_generator:
        return dataclasses.replace(
            model, generator_fraction=ModelConfig.preset(preset).generator_fraction
        )
    generator = hf.load_config(hf.resolve(config.init_generator))
    fraction = generator.hidden_size / model.hidden_size
    model = dataclasses.replace(model, generator_fraction=fraction)
    shape = ("hidden_size", "num_heads", "intermediate_size", "num_layers", "embedding_size",
             "vocab_size", "max_position_embeddings", "type_vocab_size")  # fmt: skip
    differ = [n for n in shape if getattr(model.generator(), n) != getattr(generator, n)]
    if differ:
        raise UserError(
            f"{config.init_generator}: its {', '.join(n.replace('_', ' ') for n in differ)} differ "
            f"from a generator at {fraction:.3g} of {config.init_from}'s width (the pair shares "
            "embeddings and depth)"
        )
    return model


def _initialise(module: nn.Module, config: PretrainConfig, vocabulary: str) -> None:
    """Weights from the checkpoints (the generator's first, so that the shared embeddings are
    the discriminator's), after checking they were made with the shards' vocabulary."""
    assert config.init_from is not None
    sources = [(config.init_generator, Generator, module.generator),
               (config.init_from, Discriminator, module.discriminator)]  # fmt: skip
    for name, cls, network in sources:
        if not name:
            continue
        directory = hf.resolve(name)
        if vocab_sha256(load_tokenizer(directory)) != vocabulary:
            raise UserError(
                f"{name}: its vocabulary is not the one the shards were prepared with "
                f"(prepare them with --vocab {name})"
            )
        loaded = hf.load(directory, cls)
        if getattr(loaded, "head_initialized", False):
            raise UserError(
                f"{name}: not a {cls.__name__.lower()} checkpoint (no {cls.__name__} head)"
            )
        network.load_state_dict(loaded.state_dict())


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


def _check_data(shards: Shards, model_config: ModelConfig, config: PretrainConfig) -> None:
    if shards.seq_len != config.seq_len:
        raise UserError(
            f"{shards.directory}: examples are {shards.seq_len} tokens long, seq_len is {config.seq_len}"
        )
    if shards.vocab_size != model_config.vocab_size:
        raise UserError(
            f"{shards.directory}: vocabulary of {shards.vocab_size} tokens, the model has {model_config.vocab_size}"
        )
    if config.seq_len > model_config.max_position_embeddings:
        raise UserError(
            f"seq_len {config.seq_len} exceeds max_position_embeddings {model_config.max_position_embeddings}"
        )


def setup(
    process: Process,
    data_dir: Path,
    run_dir: Path,
    model_config: ModelConfig,
    config: PretrainConfig,
    resume: bool,
    until: int | None = None,
    allow_changes: bool = False,
) -> Run:
    """Check the data against the configs, build the networks and optimizer, restore a
    checkpoint when resuming (after comparing the settings with the run's), and save the
    resolved configs beside the run."""
    if process.rank == 0:
        writable_dir(run_dir)
    use_fast_matmuls(process.device)
    config = dataclasses.replace(
        config, precision=resolve_precision(config.precision, process.device)
    )
    shards = Shards(data_dir)
    _check_data(shards, model_config, config)
    parts = config.grad_accum * process.world_size
    if config.batch_size > len(shards):
        raise UserError(f"batch_size {config.batch_size:,}: more than the {len(shards):,} examples in "
                        f"{data_dir}; a step would repeat them (a smaller --batch-size)")  # fmt: skip
    micro_batch, rest = divmod(config.batch_size, parts)
    if rest or not micro_batch:
        raise UserError(
            f"batch_size {config.batch_size} is not a multiple of grad_accum x processes = {parts}"
        )
    previous = checkpoint.latest(run_dir)
    if previous is not None and not resume:
        raise UserError(
            f"{run_dir}: holds checkpoints already; pass `resume` to continue, or choose another `out`"
        )
    if resume and previous is None:
        raise UserError(f"{run_dir}: no checkpoint to resume from")
    changes = _resume_changes(run_dir, model_config, config, allow_changes) if resume else {}
    tokenizer = load_tokenizer(shards.directory)
    vocabulary = vocab_sha256(tokenizer)
    special = SpecialIds.of(tokenizer)
    # Held out for the held-out scores: the set's last examples, never trained on.
    heldout_size = min(config.eval_batches * micro_batch, len(shards) // 10)
    train_set = ExampleRange(shards, 0, len(shards) - heldout_size)
    heldout = ExampleRange(shards, len(shards) - heldout_size, len(shards))

    torch.manual_seed(config.seed)  # the same initial weights in every process
    module = build(model_config, config, special)
    if config.init_from and not resume:
        _initialise(module, config, vocabulary)
    module = module.to(process.device)
    optimizer = make_optimizer(module, config, process.device)
    scaler = torch.amp.GradScaler(process.device.type, enabled=config.precision == "fp16")
    seed_everything(config.seed + process.rank)  # each process its own masks and dropout
    network: nn.Module = module
    ddp = None
    if process.world_size > 1:
        network = ddp = DistributedDataParallel(
            module, device_ids=[process.device] if process.device.type == "cuda" else None
        )
    if config.compile:
        network = torch.compile(network)
    step_flops = flops.step_flops(model_config, config.seq_len, config.batch_size,
                                  config.objective, config.mask_prob)  # fmt: skip
    run = Run(process, run_dir, config, module, network, ddp, optimizer, scaler, tokenizer,
              special, heldout, micro_batch, train_set, CheckpointPolicy.of(config, until), vocabulary,
              step_flops)  # fmt: skip
    if resume:
        _, state = checkpoint.load_latest(run_dir, process.rank, process.world_size)
        module.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scaler.load_state_dict(state["scaler"])
        run.step, run.tokens_seen = state["step"], state["tokens_seen"]
        # (checkpoints before real counts counted every sequence as a full row)
        run.rows_computed = state.get("rows_computed", run.step * config.batch_size)
        if state.get("vocab_sha256", vocabulary) != vocabulary:
            raise UserError(
                f"{data_dir}: prepared with another vocabulary than the run in {run_dir} "
                "(same size, other tokens): resume with the shards it was trained on"
            )
    if process.rank == 0:
        record_changes(run_dir, run.step, changes)
        save_json({"model": model_config, "pretrain": config}, run_dir / CONFIG_FILE)
        sizes = [sum(p.numel() for p in g["params"]) for g in optimizer.param_groups]
        print(
            f"electra: {sizes[0] + sizes[1]:,} parameters ({sizes[1]:,} without weight decay), "
            f"{process.world_size} process(es) on {process.device}, from step {run.step}",
            file=sys.stderr,
        )
        for line in _plan(config, train_set, step_flops, special.pad):
            print(line, file=sys.stderr)
    return run


# Settings a resumed run may change freely: they decide what is logged, scored, saved and how
# fast, not what is computed (a longer `steps` is allowed too: the schedule is extended).
RESUME_FREE = ("log_every", "save_every", "keep_checkpoints", "export_every_checkpoint",
               "eval_every", "compile", "loader", "on_nonfinite")  # fmt: skip


def _resume_changes(
    run_dir: Path, model_config: ModelConfig, config: PretrainConfig, allow: bool
) -> dict[str, tuple[Any, Any]]:
    """What `config` changes in the run's saved settings, refused unless `allow`."""
    saved_model, saved = load_run_config(run_dir)
    changes = changed_settings(saved, config, RESUME_FREE)
    if "steps" in changes and changes["steps"][1] > changes["steps"][0]:
        changes.pop("steps")  # a longer schedule: allowed, and recorded
    check_resume_changes(str(run_dir), changes | changed_settings(saved_model, model_config), allow)
    return changed_settings(saved, config)


def train_step(
    run: Run, batches: Iterator[dict[str, Tensor]], signals: Signals | None = None
) -> StepResult:
    """One optimizer step, queued without waiting for the device: the learning rate for this
    step, `grad_accum` micro-batches (DDP synchronises gradients on the last only), the
    global-norm clip, and the update, which the optimizer itself drops when the step is not
    finite. Nothing here reads a tensor, so a GPU is never left idle while the host waits."""
    config, process, optimizer = run.config, run.process, run.optimizer
    for group in optimizer.param_groups:
        group["lr"] = lr_at(run.step, config)
    metrics: dict[str, Tensor] = {}
    loss = torch.zeros((), device=process.device)
    tokens = torch.zeros((), dtype=torch.long, device=process.device)
    rows = 0
    for micro in range(config.grad_accum):
        inputs = to_device(next(batches), process.device)  # packed (and pinned) in the background
        tokens += (inputs["input_ids"] != run.special.pad).sum()
        rows += inputs["input_ids"].shape[0]
        if config.compile:  # packing varies the rows: compile for any count, once
            for tensor in inputs.values():
                torch._dynamo.maybe_mark_dynamic(tensor, 0)
        last = micro == config.grad_accum - 1
        with nullcontext() if run.ddp is None or last else run.ddp.no_sync():
            with autocast(process.device, config.precision):
                output = run.network(**inputs)
            run.scaler.scale(output.loss / config.grad_accum).backward()
        loss += output.loss.detach()
        accumulate(metrics, output.metrics())
    with signals.updating() if signals is not None else nullcontext():
        run.scaler.unscale_(optimizer)
        grad_norm = torch.nn.utils.clip_grad_norm_(
            run.module.parameters(), config.max_grad_norm or math.inf
        )
        if (
            config.precision == "fp16"
        ):  # the scaler drops steps with inf gradients, lowers its scale
            skipped = ~torch.isfinite(loss)
            run.scaler.step(optimizer)
        else:  # the gradients are all-reduced, so every process decides alike
            skipped = ~torch.isfinite(grad_norm)
            step_unless(optimizer, skipped)
        run.scaler.update()
        optimizer.zero_grad(set_to_none=True)
    return StepResult(loss, grad_norm, metrics, skipped, tokens, rows)


def step_unless(optimizer: torch.optim.Optimizer, skip: Tensor) -> None:
    """`optimizer.step()` unless `skip` (0-d bool). Fused AdamW takes the flag on the device,
    as `GradScaler` hands it over, and leaves weights, moments and step count as they were;
    another optimizer needs the host to read it."""
    if not optimizer.defaults.get("fused"):
        if not skip.item():
            optimizer.step()
        return
    optimizer.found_inf = skip.float()  # type: ignore[attr-defined]
    try:
        optimizer.step()
    finally:
        del optimizer.found_inf  # type: ignore[attr-defined]


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


class Counted:
    """Real tokens (on the device) and rows computed (on the host) since the last read; `read_into`
    adds every process's to the run's totals, in one synchronisation the loop makes anyway."""

    def __init__(self, process: Process) -> None:
        self.process = process
        self.tokens = torch.zeros((), dtype=torch.float64, device=process.device)
        self.rows = 0

    def add(self, result: StepResult) -> None:
        self.tokens += result.tokens
        self.rows += result.rows

    def read_into(self, run: Run) -> None:
        rows = torch.tensor(float(self.rows), dtype=torch.float64, device=self.process.device)
        tokens, rows = self.process.sum(torch.stack((self.tokens, rows))).tolist()
        run.tokens_seen += round(tokens)
        run.rows_computed += round(rows)
        self.tokens.zero_()
        self.rows = 0


def run_flops(run: Run) -> float:
    """The training FLOPs computed so far: the rows the networks ran, not the sequences."""
    return run.rows_computed * run.step_flops / run.config.batch_size


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
                          process.rank, process.world_size, run.step * config.grad_accum),
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
                    f"electra: stopped at step {step}; continue with --resume (resume=True)"
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


def _check_nonfinite(run: Run, nonfinite: NonfiniteSteps, since: int, log: Log) -> None:
    """Say which steps since step `since` were not finite (their updates were skipped), and stop
    the run with a checkpoint when the config says so or when it only skips."""
    count, longest, (first, loss, norm) = nonfinite.read(run.process)
    if not count:
        return
    problem = (f"step {first}: non-finite loss ({loss:.4g}) or gradient norm ({norm:.4g}); "
               f"{count} such step(s) in steps {since + 1}-{run.step}, their updates skipped")  # fmt: skip
    if run.config.on_nonfinite == "stop" or longest >= MAX_CONSECUTIVE_NONFINITE:
        save(run)  # no non-finite update was applied: a good state
        raise UserError(
            f"{problem}; run stopped with a checkpoint at step {run.step} (try a lower lr)"
        )
    log.message(f"electra: {problem} (on_nonfinite=skip)")


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


LOW_FILL = 0.5  # below this share of a row, a sequence holds few tokens: the plan says so


def _plan(
    config: PretrainConfig, train_set: ExampleRange, step_flops: float, pad_id: int
) -> list[str]:
    """The run before it starts, in real tokens and the rows packing computes; a warning when
    the examples fill less than half a row, so a step trains on far fewer tokens than it seems."""
    packing = data_packing(train_set, config, pad_id)
    sequences = config.steps * config.batch_size
    tokens = sequences * config.seq_len * packing.fill
    passes = sequences / max(len(train_set), 1)
    total_flops = config.steps * step_flops * packing.rows_per_batch / config.batch_size
    lines = [f"electra: plan: {config.steps:,} steps of {config.batch_size} sequences x "
             f"{config.seq_len} tokens, packed into ~{packing.rows_per_batch:,.0f} rows = "
             f"~{tokens:,.0f} real tokens, {passes:,.1f} passes over {len(train_set):,} training "
             f"examples, {total_flops:.3g} FLOPs"]  # fmt: skip
    if packing.fill < LOW_FILL:
        lines.append(f"electra: warning: the examples fill {packing.fill:.0%} of a row on average, "
                     f"so a step trains on ~{config.batch_size * config.seq_len * packing.fill:,.0f} "
                     f"real tokens, not {config.batch_size * config.seq_len:,}: raise --batch-size "
                     "for more tokens a step")  # fmt: skip
    return lines


def _describe(results: dict[str, float]) -> str:
    text = f"electra: held-out ({results['sequences']} sequences): generator accuracy {results['gen_acc']:.3f}"
    if "disc_precision" in results:
        text += (
            f"; replaced tokens found with precision {results['disc_precision']:.3f}, recall "
            f"{results['disc_recall']:.3f} (chance precision: {results['replaced_frac']:.3f}), "
            f"average precision {results.get('disc_average_precision', float('nan')):.3f}, "
            f"ROC AUC {results.get('disc_auc', float('nan')):.3f} (chance: 0.5)"
        )
    return text
