"""Everything a run needs before its first step: the device and processes, the data stream, the
objective's model, the optimizer and its schedule, a resumed checkpoint's state, and the plan line
that says what will run.

The optimizer is the official one (`electra.adam.AdamWeightDecay`: Adam without bias correction,
decoupled weight decay, none on biases and LayerNorm weights) with the official betas and
epsilon; `bias_correction` departs from it to PyTorch's AdamW, whose early steps are smaller (the
two differ while the second-moment average is young, the first ~1-2k steps).
"""

from __future__ import annotations

import dataclasses
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from electra import checkpoint
from electra.adam import AdamWeightDecay
from electra.config import (
    ModelConfig,
    changed_settings,
    check_resume_changes,
    record_changes,
    save_json,
)
from electra.data.shards import ExampleRange, Shards
from electra.errors import UserError
from electra.files import writable_dir
from electra.pretraining.objectives import step_flops
from electra.pretraining.objectives.build import build
from electra.pretraining.options import PretrainConfig
from electra.pretraining.policy import CheckpointPolicy
from electra.pretraining.resolve import CONFIG_FILE, _initialise, data_packing, load_run_config
from electra.processes import Process
from electra.runtime import (
    resolve_precision,
    seed_everything,
    use_fast_matmuls,
)
from electra.schedule import lr_factor
from electra.threads import busy_hint
from electra.tokenizer import SpecialIds, load_tokenizer, vocab_sha256, word_starts


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
) -> torch.optim.Optimizer:
    """The official optimizer (no bias correction), or with `bias_correction` PyTorch's AdamW as
    one fused kernel where PyTorch has one; the official betas and epsilon either way."""
    groups = parameter_groups(module, config.weight_decay)
    betas = (config.adam_beta1, config.adam_beta2)
    if not config.bias_correction:
        return AdamWeightDecay(groups, lr=config.lr, betas=betas, eps=config.adam_eps)
    return torch.optim.AdamW(groups, lr=config.lr, betas=betas, eps=config.adam_eps,
                             fused=device.type in ("cpu", "cuda"))  # fmt: skip


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
    words = torch.tensor(word_starts(tokenizer)) if config.whole_word_masking else None
    module = build(model_config, config, special, words)
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
    flops_per_step = step_flops(model_config, config.seq_len, config.batch_size,
                                  config.objective, config.mask_prob)  # fmt: skip
    run = Run(process, run_dir, config, module, network, ddp, optimizer, scaler, tokenizer,
              special, heldout, micro_batch, train_set, CheckpointPolicy.of(config, until), vocabulary,
              flops_per_step)  # fmt: skip
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
        on_cpu = process.device.type == "cpu"
        cpu = f" with {torch.get_num_threads()} threads" if on_cpu else ""
        print(
            f"electra: {sizes[0] + sizes[1]:,} parameters ({sizes[1]:,} without weight decay), "
            f"{process.world_size} process(es) on {process.device}{cpu}, from step {run.step}",
            file=sys.stderr,
        )
        if on_cpu and (hint := busy_hint(torch.get_num_threads())):
            print(hint, file=sys.stderr)
        for line in _plan(config, train_set, flops_per_step, special.pad):
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
