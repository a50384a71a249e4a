"""Throughput and peak memory of `electra prepare` on a corpus and on the same corpus repeated.

    python benchmarks/prepare_throughput.py [--corpus ../shared/data/corpus] [--vocab VOCAB]
        [--repeats 1 4] [--workers 2]

Runs `electra prepare` in a subprocess for each repeat factor (the repeated corpus is a folder
of symbolic links to the original files, K times over). Throughput is timed by the wall clock and
by the CPU time of all its processes: MB per CPU-second hardly depends on what else the machine
runs. Memory is sampled from /proc every 250 ms over the whole process tree: the peak sum of PSS
(shared pages split fairly between the forked workers) and the largest single RSS. Peak memory
must stay flat as the corpus grows.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(corpus: Path, vocab: str, out: Path, workers: int, extra: tuple[str, ...] = ()) -> dict:
    command = [sys.executable, "-m", "electra.cli", "prepare", "--corpus", str(corpus)]
    command += [
        "--vocab",
        vocab,
        "--out",
        str(out),
        "--workers",
        str(workers),
        "--no-progress",
        *extra,
    ]
    cpu_before = _children_cpu_seconds()
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    peak_pss = peak_rss = peak_main = 0
    while process.poll() is None:
        pids = _tree(process.pid)
        peak_pss = max(peak_pss, sum(_memory_kb(p, "Pss") for p in pids))
        peak_rss = max(peak_rss, max(_memory_kb(p, "VmRSS") for p in pids))
        peak_main = max(peak_main, _memory_kb(process.pid, "VmRSS"))
        time.sleep(0.25)  # sparse: the sampler must not steal the CPU it measures
    seconds = time.perf_counter() - started
    cpu_seconds = _children_cpu_seconds() - cpu_before  # the workers were reaped by their parent
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
        "mb_per_cpu_s": text_mb / cpu_seconds,
        "peak_pss_mb": peak_pss / 1024,
        "peak_rss_mb": peak_rss / 1024,
        "peak_main_rss_mb": peak_main / 1024,
        "report": process.stdout.read().strip(),
    }


def tokenizer_alone(corpus: Path, vocab: str, megabytes: float = 4.0) -> float:
    """MB/s of the tokenizer by itself on one core: the ceiling for one worker."""
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    from electra.tokenizer import load_tokenizer

    tokenizer, lines, size = load_tokenizer(vocab), [], 0
    for path in sorted(corpus.rglob("*.txt")):
        for line in path.read_text(encoding="utf-8-sig").splitlines():
            lines.append(line.strip())
            size += len(line.encode()) + 1
        if size > megabytes * 1e6:
            break
    started = time.perf_counter()
    tokenizer.encode_batch([line for line in lines if line], add_special_tokens=False)
    return size / 1e6 / (time.perf_counter() - started)


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
    print(
        f"cpu: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; corpus {args.corpus}"
    )
    print(f"tokenizer alone, one process: {tokenizer_alone(args.corpus, args.vocab):.2f} MB/s")
    with tempfile.TemporaryDirectory() as tmp:
        for times in args.repeats:
            corpus = repeated(args.corpus, times, Path(tmp) / f"corpus-x{times}")
            r = run(corpus, args.vocab, Path(tmp) / f"out-x{times}", args.workers)
            print(
                f"x{times}: {r['text_mb']:.1f} MB of text -> {r['examples']:,} examples "
                f"({r['tokens']:,} tokens) in {r['wall_s']:.1f} s = {r['mb_per_s']:.2f} MB/s "
                f"({r['mb_per_cpu_s']:.2f} MB per CPU-second); "
                f"peak PSS of all processes {r['peak_pss_mb']:.0f} MB, "
                f"largest RSS {r['peak_rss_mb']:.0f} MB (main process {r['peak_main_rss_mb']:.0f} MB)"
            )
            print(f"    load average after the run: {os.getloadavg()[0]:.1f}")
            print("   ", r["report"].replace("\n", "\n    "))


if __name__ == "__main__":
    main()
