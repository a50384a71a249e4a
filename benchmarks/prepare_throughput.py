"""Throughput and peak memory of `electra prepare` on a corpus and on the same corpus repeated.

    python benchmarks/prepare_throughput.py [--corpus ../shared/data/corpus] [--vocab VOCAB]
        [--repeats 1 4] [--workers 2]

Runs `electra prepare` in a subprocess for each repeat factor (the repeated corpus is a folder of
symbolic links to the original files, K times over) and samples the memory of the whole process
tree from /proc every 50 ms: the peak sum of PSS (shared pages split fairly between the forked
workers) and the largest single RSS. Peak memory must stay flat as the corpus grows.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"


def _tree(pid: int) -> list[int]:
    pids, frontier = [pid], [pid]
    while frontier:
        parent = frontier.pop()
        try:
            children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        except OSError:
            continue
        pids += map(int, children)
        frontier += map(int, children)
    return pids


def _memory_kb(pid: int, field: str) -> int:
    source = "smaps_rollup" if field == "Pss" else "status"
    try:
        for line in Path(f"/proc/{pid}/{source}").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def run(corpus: Path, vocab: str, out: Path, workers: int) -> dict:
    command = [sys.executable, "-m", "electra.cli", "prepare", "--corpus", str(corpus)]
    command += ["--vocab", vocab, "--out", str(out), "--workers", str(workers), "--quiet"]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    peak_pss = peak_rss = 0
    while process.poll() is None:
        pids = _tree(process.pid)
        peak_pss = max(peak_pss, sum(_memory_kb(p, "Pss") for p in pids))
        peak_rss = max(peak_rss, max(_memory_kb(p, "VmRSS") for p in pids))
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    if process.returncode:
        raise SystemExit(f"electra prepare failed with exit code {process.returncode}")
    manifest = json.loads((out / "manifest.json").read_text())
    text_mb = sum(s["text_bytes"] for s in manifest["sources"]) / 1e6
    return {
        "text_mb": text_mb,
        "examples": manifest["num_examples"],
        "tokens": manifest["num_tokens"],
        "wall_s": seconds,
        "mb_per_s": text_mb / seconds,
        "peak_pss_mb": peak_pss / 1024,
        "peak_rss_mb": peak_rss / 1024,
        "report": process.stdout.read().strip(),
    }


def repeated(corpus: Path, times: int, into: Path) -> Path:
    """`times` copies of the corpus as symbolic links, so the bytes are the original ones."""
    files = sorted(p for p in corpus.rglob("*.txt"))
    for k in range(times):
        (into / f"copy{k}").mkdir(parents=True)
        for f in files:
            (into / f"copy{k}" / f.name).symlink_to(f.resolve())
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=SHARED / "corpus")
    parser.add_argument("--vocab", default=str(SHARED / "vocab" / "bert-base-uncased-vocab.txt"))
    parser.add_argument("--repeats", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(f"cpu: {os.cpu_count()} cores; corpus {args.corpus}")
    with tempfile.TemporaryDirectory() as tmp:
        for times in args.repeats:
            corpus = repeated(args.corpus, times, Path(tmp) / f"corpus-x{times}")
            r = run(corpus, args.vocab, Path(tmp) / f"out-x{times}", args.workers)
            print(
                f"x{times}: {r['text_mb']:.1f} MB of text -> {r['examples']:,} examples "
                f"({r['tokens']:,} tokens) in {r['wall_s']:.1f} s = {r['mb_per_s']:.2f} MB/s; "
                f"peak PSS of all processes {r['peak_pss_mb']:.0f} MB, "
                f"largest RSS {r['peak_rss_mb']:.0f} MB"
            )
            print("   ", r["report"].replace("\n", "\n    "))


if __name__ == "__main__":
    main()
