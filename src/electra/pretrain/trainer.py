"""The pre-training loop: one function, read top to bottom, for one process or many.

`torchrun --nproc_per_node N` sets RANK/WORLD_SIZE/LOCAL_RANK and the same code runs under
DistributedDataParallel (NCCL on GPUs, gloo on CPUs); every process reads its own share of the
batches and draws its own masks. The optimizer is AdamW with the official betas, epsilon and
decay (none on biases and LayerNorm weights). The official TensorFlow optimizer has no bias
correction; we keep PyTorch's bias-corrected AdamW: the two differ only while the second-moment
average is young (the first ~1-2k steps), which the 10k-step warm-up covers, and the corrected
form is the safer one for the short warm-ups of small runs.

What the loop runs in lives beside it, one job a module: `processes` (torchrun's environment,
signals), `logbook` (metric windows, progress bar, metrics.jsonl, TensorBoard), `checkpoint`.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import average_precision_score, roc_auc_score
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from electra import hf
from electra.config import ModelConfig, PretrainConfig, from_dict, save_json
from electra.data.shards import ExampleRange, Shards, iterate_batches
from electra.errors import UserError
from electra.files import write_json
from electra.pretrain import checkpoint
from electra.pretrain.batches import pack
from electra.pretrain.logbook import Log, accumulate, summarise
from electra.pretrain.objective import build
from electra.pretrain.processes import Process, Signals
from electra.schedule import lr_factor
from electra.tokenizer import SpecialIds, load_tokenizer

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


def _autocast(device: torch.device, precision: str):
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    return torch.autocast(device.type, dtype=dtype) if dtype else nullcontext()


def _inputs(ids: np.ndarray, special: SpecialIds, device: torch.device) -> dict[str, Tensor]:
    """Packed model inputs (no compute on padding) on the device."""
    return {k: v.to(device, non_blocking=True) for k, v in pack(ids, special).items()}


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
            with _autocast(device, config.precision):
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


def export(module: nn.Module, run_dir: Path, tokenizer: Any) -> list[Path]:
    """Write each network of `module` to RUN_DIR/<name> in the Hugging Face layout, swapping in
    a complete folder so a reader never sees half an export."""
    written = []
    for name, network in module.exported().items():
        final, tmp, old = run_dir / name, run_dir / f".{name}.tmp", run_dir / f".{name}.old"
        shutil.rmtree(tmp, ignore_errors=True)
        hf.save(network, tmp, tokenizer=tokenizer)
        if final.exists():
            os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
        written.append(final)
    return written


def train(
    data_dir: str | Path,
    run_dir: str | Path,
    model_config: ModelConfig,
    config: PretrainConfig,
    resume: bool = False,
    device: str | None = None,
    until: int | None = None,
) -> int:
    """Pre-train on the prepared set `data_dir` into `run_dir`. Returns the exit code: 0 when
    the run finished or paused at step `until` (a checkpoint, no export: for jobs with a time
    limit; the schedule still spans `config.steps`), 128 + signal number when a signal stopped
    it after a checkpoint."""
    process = Process(device)
    run_dir = Path(run_dir)
    try:
        return _train(process, Path(data_dir), run_dir, model_config, config, resume, until)
    finally:
        process.close()


def _train(
    process: Process,
    data_dir: Path,
    run_dir: Path,
    model_config: ModelConfig,
    config: PretrainConfig,
    resume: bool,
    until: int | None,
) -> int:
    # The data, the tokenizer it was made with, and this process's share of each batch.
    shards = Shards(data_dir)
    if shards.seq_len != config.seq_len:
        raise UserError(
            f"{data_dir}: examples are {shards.seq_len} tokens long, --seq-len is {config.seq_len}"
        )
    if shards.vocab_size != model_config.vocab_size:
        raise UserError(
            f"{data_dir}: vocabulary of {shards.vocab_size} tokens, the model has {model_config.vocab_size}"
        )
    if config.seq_len > model_config.max_position_embeddings:
        raise UserError(
            f"--seq-len {config.seq_len} exceeds max_position_embeddings {model_config.max_position_embeddings}"
        )
    parts = config.grad_accum * process.world_size
    micro_batch, rest = divmod(config.batch_size, parts)
    if rest or not micro_batch:
        raise UserError(
            f"--batch-size {config.batch_size} is not a multiple of grad_accum x processes = {parts}"
        )
    tokenizer = load_tokenizer(shards.directory)
    special = SpecialIds.of(tokenizer)
    # Held out for the final precision/recall: the set's last examples, never trained on.
    heldout_size = min(config.eval_batches * micro_batch, len(shards) // 10)
    train_set = ExampleRange(shards, 0, len(shards) - heldout_size)
    heldout = ExampleRange(shards, len(shards) - heldout_size, len(shards))

    previous = checkpoint.latest(run_dir)
    if previous is not None and not resume:
        raise UserError(
            f"{run_dir}: holds checkpoints already; pass --resume to continue, or choose another --out"
        )
    if resume and previous is None:
        raise UserError(f"{run_dir}: no checkpoint to resume from")

    torch.manual_seed(config.seed)  # the same initial weights in every process
    module = build(model_config, config, special).to(process.device)
    optimizer = make_optimizer(module, config, process.device)
    scaler = torch.amp.GradScaler(process.device.type, enabled=config.precision == "fp16")
    checkpoint.seed_rngs(config.seed + process.rank)  # each process its own masks and dropout
    step, tokens_seen = 0, 0
    if resume:
        state = checkpoint.load(previous, process.rank, process.world_size)
        module.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scaler.load_state_dict(state["scaler"])
        step, tokens_seen = state["step"], state["tokens_seen"]
    if process.rank == 0:
        save_json({"model": model_config, "pretrain": config}, run_dir / CONFIG_FILE)
        sizes = [sum(p.numel() for p in g["params"]) for g in optimizer.param_groups]
        print(
            f"electra: {sizes[0] + sizes[1]:,} parameters ({sizes[1]:,} without weight decay), "
            f"{process.world_size} process(es) on {process.device}, from step {step}",
            file=sys.stderr,
        )

    network: nn.Module = module
    ddp = None
    if process.world_size > 1:
        network = ddp = DistributedDataParallel(
            module, device_ids=[process.device] if process.device.type == "cuda" else None
        )
    if config.compile:
        network = torch.compile(network)
    batches = iterate_batches(
        train_set,
        micro_batch,
        config.seed,
        process.rank,
        process.world_size,
        start_batch=step * config.grad_accum,
    )
    tokens_per_step = config.batch_size * config.seq_len

    def save(at_step: int) -> None:
        state = None
        if process.rank == 0:
            state = {
                "step": at_step,
                "tokens_seen": tokens_seen,
                "batches_seen": at_step * config.grad_accum,  # per process: the data cursor
                "world_size": process.world_size,
                "model": module.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scaler": scaler.state_dict(),
            }
        checkpoint.save(
            run_dir, at_step, state, process.rank, config.keep_checkpoints, process.barrier
        )
        if config.export_every_checkpoint and process.rank == 0:
            export(module, run_dir, tokenizer)

    log = Log(run_dir, step, config.steps, enabled=process.rank == 0)
    signals = Signals()
    window: dict[str, Tensor] = {}
    window_batches, window_start, window_tokens, consecutive_nonfinite = (
        0,
        time.perf_counter(),
        0,
        0,
    )
    last_saved = step if resume else -1
    try:
        while step < config.steps:
            lr = lr_at(step, config)
            for group in optimizer.param_groups:
                group["lr"] = lr
            step_metrics: dict[str, Tensor] = {}
            step_loss = torch.zeros((), device=process.device)
            for micro in range(config.grad_accum):
                inputs = _inputs(next(batches), special, process.device)
                last = micro == config.grad_accum - 1
                with nullcontext() if ddp is None or last else ddp.no_sync():
                    with _autocast(process.device, config.precision):
                        output = network(**inputs)
                    scaler.scale(output.loss / config.grad_accum).backward()
                step_loss += output.loss.detach()
                accumulate(step_metrics, output.metrics())
            scaler.unscale_(optimizer)
            grad_norm = torch.nn.utils.clip_grad_norm_(
                module.parameters(), config.max_grad_norm or math.inf
            )
            # fp16: the scaler itself skips steps with inf gradients and lowers its scale.
            checked = step_loss if config.precision == "fp16" else step_loss + grad_norm
            flags = torch.stack(
                [
                    (~torch.isfinite(checked)).float(),
                    torch.tensor(float(signals.received is not None), device=process.device),
                ]
            )
            nonfinite, stopping = (process.sum(flags) > 0).tolist()  # every process decides alike
            if nonfinite:
                consecutive_nonfinite += 1
                problem = f"step {step + 1}: non-finite loss ({step_loss.item():.4g}) or gradient norm ({grad_norm.item():.4g})"
                if (
                    config.on_nonfinite == "stop"
                    or consecutive_nonfinite >= MAX_CONSECUTIVE_NONFINITE
                ):
                    save(step)  # the last good state; no update was applied
                    raise UserError(
                        f"{problem}; run stopped with a checkpoint at step {step} (try a lower --lr)"
                    )
                log.message(f"electra: {problem}; update skipped (on_nonfinite=skip)")
            else:
                consecutive_nonfinite = 0
                scaler.step(optimizer)
                for name, value in step_metrics.items():
                    window[name] = window.get(name, 0) + value
                window_batches += config.grad_accum
            scaler.update()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            tokens_seen += tokens_per_step
            window_tokens += tokens_per_step
            log.bar.update(1)

            if (config.log_every and step % config.log_every == 0) or step == config.steps:
                now = time.perf_counter()
                values = summarise(window, window_batches, process)
                values.update(
                    lr=lr,
                    grad_norm=grad_norm.item(),
                    tokens=tokens_seen,
                    tokens_per_s=window_tokens / (now - window_start),
                )
                log.record(step, values)
                window, window_batches, window_start, window_tokens = {}, 0, now, 0
            evaluating = (
                config.eval_every and step % config.eval_every == 0
            ) or step == config.steps
            if evaluating and process.rank == 0 and len(heldout):
                started = time.perf_counter()
                results = evaluate(module, heldout, micro_batch, special, config, process.device)
                log.record(step, results, prefix="heldout")
                window_start += time.perf_counter() - started  # tokens/s counts training only
                if step == config.steps:
                    write_json(run_dir / EVAL_FILE, results)
                    log.message(_describe(results))
            pausing = until is not None and step >= until
            if (config.save_every and step % config.save_every == 0) or stopping or pausing:
                save(step)
                last_saved = step
            if stopping or pausing:
                log.message(f"electra: stopped at step {step}; continue with --resume")
                signum = signals.received or signal.SIGTERM  # another process may have got it
                return 128 + int(signum) if stopping else 0
    finally:
        signals.restore()
        log.close()

    if last_saved != step:
        save(step)
    if process.rank == 0:
        for path in export(module, run_dir, tokenizer):
            print(f"electra: exported {path}", file=sys.stderr)
    process.barrier()
    return 0


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
