"""What a task family supplies to the fine-tuning loop (`electra.tasks.loop`), and how its
features become batches and predictions.

A family builds a `Task`; `loop.finetune(task, model_dir, config, out_dir)` does the rest:

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

"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tokenizers import Tokenizer
from torch import Tensor, nn

from electra import hf
from electra.runtime import (
    to_device,
)

Feature = dict[str, Any]


Predict = Callable[[Sequence[Feature]], list[Any]]


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
    card_task: str | None = None  # the model card's task type (the family's); None: no card


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
        vector = isinstance(value, list) and value and all(isinstance(x, float) for x in value)
        if key not in padding and (
            isinstance(value, (int, float)) or vector
        ):  # vector: multi-label
            batch[key] = torch.tensor([f[key] for f in features])
    return batch


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
