"""ONNX export of every model the toolkit makes, and running what was exported.

`export_onnx(model_dir, out_dir)` writes `model.onnx` (and, with `quantize="int8"`, a dynamically
quantized `model.int8.onnx`) beside a copy of the model directory: config.json with the settings
prediction needs, the tokenizer files, the weights and any head file. So an export directory is
also a model directory: `electra detect` and every `electra predict` take it, and run the graph
in onnxruntime (`runtime`: `auto` picks onnxruntime for a directory holding `model.onnx`).

The graph takes `input_ids`, `attention_mask` (1 for tokens, 0 for padding: padding is always
honoured, never traced away) and `token_type_ids`, int64, with dynamic batch and sequence axes,
and returns what the PyTorch model returns, under the names of `OUTPUTS`. `onnx`, `onnxscript`
and `onnxruntime` are the `onnx` extra, imported only here.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
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
from electra.errors import UserError
from electra.files import atomic_path, one_writer, writable_dir, write_json
from electra.model import Discriminator

ONNX_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
EXPORT_FILE = "export.json"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
RUNTIMES = ("auto", "torch", "onnxruntime", "onnxruntime-int8")
OUTPUTS = {
    "discriminator": ("replaced_logits",),
    "glue": ("logits",),
    "tagging": ("logits",),
    "squad": ("start_logits", "end_logits", "null_logits"),
    "squad-joint": ("start_log_probs", "start_index", "end_log_probs", "end_index", "null_logits"),
}


def _needs_onnx() -> None:
    try:
        import onnxruntime  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError:
        raise UserError(
            "ONNX needs the onnx extra: pip install 'electra[onnx]' (onnx, onnxscript, onnxruntime)"
        ) from None


def load_model(model_dir: Path) -> tuple[nn.Module, str]:
    """The PyTorch model in `model_dir` (a pre-trained discriminator or any fine-tuned model) and
    its kind, a key of `OUTPUTS`."""
    from electra.tasks.family import family
    from electra.tasks.loop import SETTINGS_KEY

    settings = hf.read_config_json(model_dir).get(SETTINGS_KEY)
    name = settings.get("family") if isinstance(settings, dict) else None
    if name is None:
        if hf.architecture_class(model_dir) is not Discriminator:
            raise UserError(
                f"{model_dir}: neither a discriminator nor a model fine-tuned by electra; "
                "nothing to export"
            )
        return hf.load(model_dir, Discriminator).eval(), "discriminator"
    model = family(name).load_finetuned(model_dir).model.eval()
    if name == "squad" and model.joint is not None:
        return model, "squad-joint"
    return model, name


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
    _needs_onnx()
    if quantize not in (None, "int8"):
        raise UserError(f"`quantize` {quantize!r} is not int8")
    source, out = hf.resolve(model_dir), writable_dir(out_dir)
    if source.resolve() == out.resolve():
        raise UserError(f"{out}: export into another directory than the model's")
    model, kind = load_model(source)
    for path in source.iterdir():
        if path.is_file():  # whole or not at all: a full disk leaves no truncated copy
            with atomic_path(out / path.name) as tmp:
                shutil.copy2(path, tmp)
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
            output_names=list(OUTPUTS[kind]), dynamic_shapes=axes, dynamo=True, opset_version=opset,
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
                                   "outputs": list(OUTPUTS[kind]), "opset": opset,
                                   "files": files, "source": str(source),
                                   "sha256": {name: _sha256(out / name) for name in files}})  # fmt: skip
    return Exported(out, kind, files)


class OnnxRunner:
    """An exported graph in onnxruntime, called as the PyTorch model it came from is called
    (`model(input_ids, attention_mask, token_type_ids)` -> tensors); any other attribute
    (`config`, SQuAD's `joint`...) is the PyTorch model's."""

    def __init__(self, path: Path, like: nn.Module, threads: int | None = None) -> None:
        import onnxruntime

        self._like = like
        self.training = False
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        if threads is not None:
            options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        try:
            self.session = onnxruntime.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as e:  # onnxruntime's own exception types, whatever is wrong
            reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise UserError(f"{path}: not a graph onnxruntime can load ({reason})") from None

    def __call__(
        self, input_ids: Tensor, attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
    ) -> Tensor | tuple[Tensor, ...]:  # fmt: skip
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        feeds = {name: value.to("cpu", torch.long).numpy()
                 for name, value in zip(INPUTS, (input_ids, attention_mask, token_type_ids),
                                        strict=True)}  # fmt: skip
        outputs = [torch.from_numpy(o) for o in self.session.run(None, feeds)]
        return outputs[0] if len(outputs) == 1 else tuple(outputs)

    def eval(self) -> OnnxRunner:
        return self

    def train(self, mode: bool = True) -> OnnxRunner:
        return self

    def to(self, *args: Any, **kwargs: Any) -> OnnxRunner:
        return self  # onnxruntime's CPU session: inputs are moved to it at each call

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["_like"], name)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def check_graph(graph: Path) -> None:
    """An exported graph is the one `export_onnx` wrote: its digest, saved in export.json at
    export, must match (a graph altered afterwards can still be valid ONNX and answer wrongly)."""
    try:
        saved = json.loads((graph.parent / EXPORT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        saved = {}
    recorded = (saved.get("sha256") or {}).get(graph.name)
    if recorded is None:
        raise UserError(f"{graph}: no checksum in {graph.parent / EXPORT_FILE}; export the "
                        "model again with `electra export onnx`")  # fmt: skip
    if _sha256(graph) != recorded:
        raise UserError(f"{graph}: damaged or altered: it does not match the checksum saved "
                        "when it was exported")  # fmt: skip


def with_runtime(model: nn.Module, model_dir: Path, runtime: str) -> nn.Module | OnnxRunner:
    """`model` itself, or its exported graph in onnxruntime: `auto` takes the graph when
    `model_dir` holds one."""
    if runtime not in RUNTIMES:
        raise UserError(f"`runtime` {runtime!r} is not one of {', '.join(RUNTIMES)}")
    graph = model_dir / (INT8_FILE if runtime == "onnxruntime-int8" else ONNX_FILE)
    if runtime == "torch" or (runtime == "auto" and not graph.is_file()):
        return model
    if not graph.is_file():
        raise UserError(
            f"{model_dir}: no {graph.name}; export it first with `electra export onnx`"
            + (" --quantize int8" if runtime == "onnxruntime-int8" else "")
        )
    _needs_onnx()
    check_graph(graph)
    return OnnxRunner(graph, model)
