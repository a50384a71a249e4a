"""CPU inference of a fine-tuned classifier, side by side: PyTorch eager, onnxruntime fp32 and
onnxruntime with dynamic int8 quantization, at batch 1 (latency) and batch 32 (throughput).

The model is a sequence classifier of the chosen preset (default: small) saved by `electra`,
random weights unless `--model` names a fine-tuned one (speed does not depend on the weights);
`electra export onnx --quantize int8` makes the graphs. Every runtime gets the same batches of
`--seq-len` tokens (one row per batch padded to half length, so the mask is live), `--threads`
intra-op threads, a warm-up, then `--rounds` timed passes; the median is reported, with each
runtime's ratio to PyTorch's. With `--dev`, the predicted labels of the three runtimes on a GLUE
task's dev file are compared (agreement of int8 with fp32).

    python benchmarks/inference.py --preset small --threads 2
    python benchmarks/inference.py --model runs/sst2/model --dev ../shared/data/glue/SST-2/dev.tsv
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

from electra import hf
from electra.config import ModelConfig
from electra.onnx_export import export_onnx, load_model
from electra.onnx_runtime import INT8_FILE, ONNX_FILE, OnnxRunner
from electra.tasks.glue.model import SequenceClassifier
from electra.tasks.task import SETTINGS_KEY


def _model_dir(args: argparse.Namespace, work: Path) -> Path:
    if args.model is not None:
        return args.model
    from electra.tokenizer import load_tokenizer

    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(30517)]
    (work / "vocab.txt").write_text("\n".join(words) + "\n", encoding="utf-8")  # BERT's size
    tokenizer = load_tokenizer(work / "vocab.txt")
    config = ModelConfig.preset(args.preset, vocab_size=tokenizer.get_vocab_size())
    model = SequenceClassifier(config, num_labels=2)
    extra = {
        "id2label": {"0": "0", "1": "1"},
        SETTINGS_KEY: {"family": "glue", "max_seq_length": 128},
    }
    return hf.save(model, work / "model", tokenizer=tokenizer, config_extra=extra)


def _time(run, batch: tuple[torch.Tensor, ...], rounds: int) -> float:
    run(*batch)  # warm-up
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        run(*batch)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="small")
    parser.add_argument("--model", type=Path, help="a fine-tuned model directory")
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--dev", type=Path, help="a GLUE dev.tsv to compare predicted labels on")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        source = _model_dir(args, work)
        export_onnx(source, work / "onnx", quantize="int8")
        model, _, _ = load_model(source)
        runners = {
            "pytorch eager": lambda ids, mask, types: model(ids, mask.bool(), types),
            "onnxruntime fp32": OnnxRunner(work / "onnx" / ONNX_FILE, model, args.threads),
            "onnxruntime int8": OnnxRunner(work / "onnx" / INT8_FILE, model, args.threads),
        }
        rows = []
        for size in (1, 32):
            ids = torch.randint(1000, model.config.vocab_size, (size, args.seq_len))
            mask = torch.ones_like(ids)
            mask[-1, args.seq_len // 2 :] = 0
            types = torch.zeros_like(ids)
            with torch.inference_mode():
                seconds = {
                    name: _time(run, (ids, mask, types), args.rounds)
                    for name, run in runners.items()
                }
            base = seconds["pytorch eager"]
            for name, s in seconds.items():
                rows.append(
                    {
                        "batch": size,
                        "runtime": name,
                        "ms": round(1000 * s, 2),
                        "sequences_per_s": round(size / s, 1),
                        "speed_vs_pytorch": round(base / s, 2),
                    }
                )
        for row in rows:
            print(json.dumps(row))
        if args.dev is not None:
            print(json.dumps(_agreement(source, args.dev, runners)))


def _agreement(source: Path, dev: Path, runners: dict) -> dict:
    """Predicted labels of each runtime on a GLUE dev file, and int8's agreement with fp32."""
    from electra.tasks.glue.catalog import glue_spec
    from electra.tasks.glue.family import Classification
    from electra.tasks.glue.features import labelled_features
    from electra.tasks.task import make_predict

    finetuned = Classification().load_finetuned(source)
    task = dev.parent.name.lower().replace("-", "")
    spec = glue_spec(task)
    _, features = labelled_features(spec, dev, finetuned.tokenizer, finetuned.max_seq_length)
    gold = [f["label"] for f in features]
    labels = {}
    for name, runner in runners.items():
        run = finetuned.model if name == "pytorch eager" else runner
        predict = make_predict(run, 0, 32, torch.device("cpu"))
        labels[name] = [int(row.argmax()) for row in predict(features)]
    fp32, int8 = labels["onnxruntime fp32"], labels["onnxruntime int8"]
    return {
        "dev": str(dev),
        "examples": len(gold),
        "accuracy": {
            name: sum(p == g for p, g in zip(lab, gold, strict=True)) / len(gold)
            for name, lab in labels.items()
        },
        "int8_agrees_with_fp32": sum(a == b for a, b in zip(fp32, int8, strict=True)) / len(gold),
        "onnx_fp32_agrees_with_pytorch": sum(
            a == b for a, b in zip(fp32, labels["pytorch eager"], strict=True)
        )
        / len(gold),
    }


if __name__ == "__main__":
    main()
