"""Running an exported graph: onnxruntime called as the PyTorch model it came from is called, and
the check that a graph is the one `electra export onnx` wrote. `onnx`, `onnxscript` and
`onnxruntime` are the `onnx` extra, imported only when a graph runs or is made.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from electra.config import RUNTIMES
from electra.errors import UserError

ONNX_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
EXPORT_FILE = "export.json"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def needs_onnx() -> None:
    try:
        import onnxruntime  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError:
        raise UserError(
            "ONNX needs the onnx extra: pip install 'electra[onnx]' (onnx, onnxscript, onnxruntime)"
        ) from None


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


def sha256(path: Path) -> str:
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
    if sha256(graph) != recorded:
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
    needs_onnx()
    check_graph(graph)
    return OnnxRunner(graph, model)
