"""`electra export onnx`: a model directory to an ONNX graph beside its files."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(commands) -> None:
    parser = commands.add_to_group(
        "export", "onnx",
        "export a discriminator or a fine-tuned model to ONNX (onnxruntime runs it)",
        epilog="example: electra export onnx --model runs/sst2/model --out runs/sst2/onnx "
        "--quantize int8",
    )  # fmt: skip
    parser.add_argument("--model", type=Path, required=True,
                        help="a discriminator or a fine-tuned model directory")  # fmt: skip
    parser.add_argument("--out", type=Path, required=True,
                        help="directory for model.onnx and a copy of the model's files")  # fmt: skip
    parser.add_argument("--quantize", choices=("int8",),
                        help="also write model.int8.onnx (dynamic int8 quantization)")  # fmt: skip
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from electra.onnx_export import export_onnx

    exported = export_onnx(args.model, args.out, args.quantize)
    print(
        f"exported the {exported.kind} model to {', '.join(exported.files)} in {exported.out_dir}"
    )
