"""One optimisation step (forward, backward, clipping, update), what it counted, the guard against
non-finite losses, and the held-out evaluation.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.metrics import average_precision_score, roc_auc_score
from torch import Tensor, nn

from electra.data.shards import ExampleRange
from electra.errors import UserError
from electra.log import Log
from electra.pretraining.export import save
from electra.pretraining.logbook import (
    NonfiniteSteps,
    accumulate,
    summarise,
)
from electra.pretraining.options import PretrainConfig
from electra.pretraining.packing import (
    pack_rows,
)
from electra.pretraining.setup import Run, lr_at
from electra.processes import Process, Signals
from electra.runtime import (
    autocast,
    to_device,
)
from electra.tokenizer import SpecialIds

EVAL_FILE = "eval.json"
MAX_CONSECUTIVE_NONFINITE = 20  # with on_nonfinite=skip: a run that only skips is broken, stop


def _inputs(
    ids: np.ndarray, special: SpecialIds, device: torch.device, word_starts: np.ndarray | None
) -> dict[str, Tensor]:
    """Packed model inputs (no compute on padding) on the device."""
    return to_device(pack_rows(ids, special, word_starts), device)


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
            indices = np.arange(start, min(start + batch_size, len(examples)))
            words = examples.word_starts(indices) if config.whole_word_masking else None
            inputs = _inputs(examples.examples(indices), special, device, words)
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


@dataclass
class StepResult:
    """One optimizer step, still on the device: the host has read none of it."""

    loss: Tensor
    grad_norm: Tensor
    metrics: dict[str, Tensor]
    skipped: Tensor  # 0-d bool: not finite, so the update was not applied
    tokens: Tensor  # 0-d: the real (non-padding) tokens of this process's micro-batches
    rows: int  # the rows they were packed into: what the networks computed


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
    """`optimizer.step()` unless `skip` (0-d bool). Fused AdamW and `AdamWeightDecay` take the
    flag on the device, as `GradScaler` hands it over, and leave weights and moments as they
    were; another optimizer needs the host to read it."""
    if not (optimizer.defaults.get("fused") or getattr(optimizer, "skips_on_device", False)):
        if not skip.item():
            optimizer.step()
        return
    optimizer.found_inf = skip.float()  # type: ignore[attr-defined]
    try:
        optimizer.step()
    finally:
        del optimizer.found_inf  # type: ignore[attr-defined]


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
