"""ONNX export of every model the toolkit makes, and running what was exported.

`export_onnx(model_dir, out_dir)` writes `model.onnx` (and, with `quantize="int8"`, a dynamically
quantized `model.int8.onnx`) beside a copy of the model directory: config.json with the settings
prediction needs, the tokenizer files, the weights and any head file. So an export directory is
also a model directory: `electra detect` and every `electra predict` take it, and run the graph
in onnxruntime (`runtime`: `auto` picks onnxruntime for a directory holding `model.onnx`).

The graph takes `input_ids`, `attention_mask` (1 for tokens, 0 for padding: padding is always
honoured, never traced away) and `token_type_ids`, int64, with dynamic batch and sequence axes,
and returns what the PyTorch model returns, under the names its family gives them
(`Family.onnx_outputs`). Running a graph is `electra.onnx_runtime`'s job.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from electra import card, hf
from electra.backbones.models import Discriminator
from electra.errors import UserError
from electra.files import atomic_path, one_writer, writable_dir, write_json
from electra.onnx_runtime import EXPORT_FILE, INPUTS, INT8_FILE, ONNX_FILE, needs_onnx, sha256
from electra.tasks.registry import FAMILIES, family
from electra.tasks.task import SETTINGS_KEY

DISCRIMINATOR_OUTPUTS = ("replaced_logits",)


def load_model(model_dir: Path) -> tuple[nn.Module, str, tuple[str, ...]]:
    """The PyTorch model in `model_dir` (a pre-trained discriminator or any fine-tuned model), its
    kind (`discriminator`, or the family that fine-tuned it) and the names of its outputs."""

    settings = hf.read_config_json(model_dir).get(SETTINGS_KEY)
    name = settings.get("family") if isinstance(settings, dict) else None
    if name is None:  # made elsewhere (`transformers`' Trainer, say): its class names the family
        architecture = hf.saved_architecture(model_dir)
        name = next((spec.name for spec in FAMILIES.values()
                     if any(architecture.endswith(c) for c in spec.hf_classes)), None)  # fmt: skip
    if name is None:
        if not hf.is_saved_as(model_dir, Discriminator):
            raise UserError(
                f"{model_dir}: saved as {hf.saved_architecture(model_dir)}, which is neither a "
                "discriminator nor a task model electra runs; nothing to export"
            )
        return hf.load(model_dir, Discriminator).eval(), "discriminator", DISCRIMINATOR_OUTPUTS
    implementation = family(name)
    model = implementation.load_finetuned(model_dir).model.eval()
    return model, name, implementation.onnx_outputs(model)


class _Graph(nn.Module):
    """The model as the graph sees it: an int attention mask (1 = token) in every call."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: Tensor, attention_mask: Tensor, token_type_ids: Tensor) -> Any:
        return self.model(input_ids, attention_mask.bool(), token_type_ids)


@contextmanager
def _quiet() -> Iterator[None]:
    """The exporter's and the quantizer's progress notes and warnings, kept off the terminal."""
    loggers = [logging.getLogger(), logging.getLogger("torch.onnx")]
    levels = [logger.level for logger in loggers]
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.setLevel(level)


@dataclass
class Exported:
    """What `export_onnx` wrote."""

    out_dir: Path
    kind: str
    files: list[str]


@one_writer("out_dir")
def export_onnx(
    model_dir: str | Path, out_dir: str | Path, quantize: str | None = None, opset: int = 18
) -> Exported:
    """Export the model in `model_dir` to `out_dir` (see the module docstring)."""
    needs_onnx()
    if quantize not in (None, "int8"):
        raise UserError(f"`quantize` {quantize!r} is not int8")
    source, out = hf.resolve(model_dir), writable_dir(out_dir)
    if source.resolve() == out.resolve():
        raise UserError(f"{out}: export into another directory than the model's")
    model, kind, outputs = load_model(source)
    for path in source.iterdir():
        if path.is_file():  # whole or not at all: a full disk leaves no truncated copy
            with atomic_path(out / path.name) as tmp:
                shutil.copy2(path, tmp)
        elif path.name == hf.ENCODER_DIR:  # an official head's encoder (see tasks.heads)
            staged = out / f".{path.name}.tmp"
            shutil.rmtree(staged, ignore_errors=True)
            shutil.copytree(path, staged)
            shutil.rmtree(out / path.name, ignore_errors=True)
            os.replace(staged, out / path.name)
    length = min(16, model.config.max_position_embeddings)
    ids = torch.full((2, length), 5, dtype=torch.long)
    mask = torch.ones_like(ids)
    mask[1, length // 2 :] = 0  # a padded row
    types = torch.zeros_like(ids)
    types[:, length // 2 :] = 1
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("sequence")
    axes = {name: {0: batch, 1: seq} for name in INPUTS}
    with torch.no_grad(), _quiet():
        program = torch.onnx.export(
            _Graph(model).eval(), (ids, mask, types), input_names=list(INPUTS),
            output_names=list(outputs), dynamic_shapes=axes, dynamo=True, opset_version=opset,
            verbose=False,
        )  # fmt: skip
    if program is None:
        raise UserError(f"{source}: the ONNX exporter returned no graph")
    program.save(str(out / ONNX_FILE))
    files = [ONNX_FILE]
    if quantize == "int8":
        from onnxruntime.quantization import QuantType, quantize_dynamic

        with _quiet():
            quantize_dynamic(out / ONNX_FILE, out / INT8_FILE, weight_type=QuantType.QInt8)
        files.append(INT8_FILE)
    card.exported(out, kind, files, source)
    write_json(out / EXPORT_FILE, {"kind": kind, "inputs": list(INPUTS),
                                   "outputs": list(outputs), "opset": opset,
                                   "files": files, "source": str(source),
                                   "sha256": {name: sha256(out / name) for name in files}})  # fmt: skip
    return Exported(out, kind, files)
