"""A short SQuAD 1.1 run on CPU: tiny pre-training by `electra pretrain`, then `electra finetune squad`.

Only `dev-v1.1.json` is available (no training file), so its articles are split: articles 4-47
train, articles 1-3 (Warsaw, Normans, Nikola_Tesla) are the dev set. The same fine-tuning from a
randomly initialised model of the same shape (`--random-init`) is the control.

    python benchmarks/squad_short_run.py --work /tmp/squad_bench [--steps 600] [--train-windows 3000]

Each stage is skipped when its output exists, so an interrupted run continues. Tiny models on a
busy 2-core machine run fastest on one thread (OMP_NUM_THREADS=1, set below).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
BOOKS = ("2600-0.txt", "1184-0.txt", "766-0.txt", "145-0.txt", "98-0.txt", "pg1661.txt")


def electra(*args: str) -> float:
    """Run one `electra` command; its wall time in seconds."""
    started = time.perf_counter()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    subprocess.run([sys.executable, "-m", "electra.cli", *args], check=True, env=env)
    return time.perf_counter() - started


def split(work: Path) -> tuple[Path, Path]:
    dataset = json.loads((SHARED / "squad" / "dev-v1.1.json").read_text(encoding="utf-8"))
    paths = []
    for name, articles in (("train", dataset["data"][4:]), ("dev", dataset["data"][1:4])):
        path = work / f"{name}.json"
        path.write_text(json.dumps({"version": "1.1", "data": articles}), encoding="utf-8")
        paths.append(path)
    return paths[0], paths[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/squad_bench"))
    parser.add_argument("--steps", type=int, default=600, help="pre-training steps (tiny preset)")
    parser.add_argument("--train-windows", type=int, default=3000, help="training windows used")
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    train, dev = split(work)
    times = {}
    if not (work / "shards" / "manifest.json").exists():
        corpus = [str(SHARED / "corpus" / "gutenberg" / book) for book in BOOKS]
        vocab = str(SHARED / "vocab" / "bert-base-uncased-vocab.txt")
        times["prepare"] = electra(
            "prepare", "--corpus", *corpus, "--vocab", vocab, "--out", str(work / "shards"),
            "--seq-len", "128", "--no-blanks-separate-docs", "--no-progress",
        )  # fmt: skip
    if not (work / "pt" / "discriminator" / "config.json").exists():
        resume = ["--resume"] if (work / "pt" / "checkpoints").exists() else []
        times["pretrain"] = electra(
            "pretrain", "--data", str(work / "shards"), "--out", str(work / "pt"),
            "--preset", "tiny", "--steps", str(args.steps), "--device", "cpu", *resume,
        )  # fmt: skip
    finetune = [
        "finetune", "squad", "--train", str(train), "--dev", str(dev),
        "--model", str(work / "pt" / "discriminator"), "--max-seq-length", "256",
        "--epochs", str(args.epochs), "--max-train-examples", str(args.train_windows),
        "--no-progress",
    ]  # fmt: skip
    for name, extra in (("pretrained", []), ("random_init", ["--random-init"])):
        out = work / f"squad_{name}"
        if not (out / "results.json").exists():
            times[name] = electra(*finetune, "--out", str(out), *extra)
        results = json.loads((out / "results.json").read_text(encoding="utf-8"))
        print(
            f"{name}: dev exact_match {results['dev']['exact_match']:.2f}, f1 {results['dev']['f1']:.2f}"
            f" (epoch {results['saved_epoch']} of {args.epochs}, {results['train_examples']} windows,"
            f" {results['steps']} steps, loop {results['wall_seconds']:.0f} s)"
        )
    print("wall seconds per stage run now:", {k: round(v) for k, v in times.items()})


if __name__ == "__main__":
    main()
