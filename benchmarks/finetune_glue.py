"""Fine-tune a pre-trained discriminator and a randomly initialised copy on GLUE tasks.

Each run is the real command, `electra finetune glue --task T ...` (the control adds
`--random-init`: same shape, same recipe, no pre-trained weights), timed from start to exit. The
table gives each task's dev score (the paper's metric) for both, their wall times, and the
average over the tasks run.

    python benchmarks/finetune_glue.py --model runs/pt/discriminator \
        --data-dir ../shared/data/glue --out runs/bench_glue --tasks rte,mrpc,stsb,cola,sst2 \
        --train-limit sst2=8000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from electra.tasks.glue.catalog import GLUE
from electra.tasks.glue.scoring import glue_score

INITS = {"pre-trained": [], "random init": ["--random-init"]}


def run(
    task: str, init: str, args: argparse.Namespace, limits: dict[str, str]
) -> tuple[dict, float]:
    out = args.out / init.replace(" ", "-") / task
    command = [
        sys.executable, "-m", "electra.cli", "finetune", "glue", "--task", task,
        "--data-dir", str(args.data_dir), "--model", str(args.model), "--out", str(out),
        "--no-progress", *INITS[init], *args.flags,
    ]  # fmt: skip
    if task in limits:
        command += ["--max-train-examples", limits[task]]
    timing = out / "wall_seconds.txt"
    if not (args.reuse and timing.is_file()):
        print(" ".join(command), flush=True)
        started = time.perf_counter()
        subprocess.run(command, check=True)
        timing.write_text(f"{time.perf_counter() - started:.1f}\n")
    return json.loads((out / "results.json").read_text())["dev"], float(timing.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="pre-trained discriminator")
    parser.add_argument("--data-dir", type=Path, required=True, help="the GLUE root")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--tasks", default="rte,mrpc,stsb,cola,sst2")
    parser.add_argument("--train-limit", action="append", default=[],
                        help="TASK=N: train on a random N examples of TASK")  # fmt: skip
    parser.add_argument("--inits", default=",".join(INITS), help="which runs (default: both)")
    parser.add_argument("--reuse", action="store_true", help="keep runs already finished in --out")
    parser.add_argument("flags", nargs="*", help="after --: more `electra finetune glue` flags")
    args = parser.parse_args()
    inits = args.inits.split(",")
    limits = dict(item.split("=", 1) for item in args.train_limit)
    tasks = args.tasks.split(",")
    scores: dict[str, dict[str, dict]] = {init: {} for init in INITS}
    seconds: dict[str, dict[str, float]] = {init: {} for init in INITS}
    for task in tasks:
        for init in inits:
            scores[init][task], seconds[init][task] = run(task, init, args, limits)
    if len(inits) < len(INITS):
        return

    lines = [
        "| task (metric) | train examples | pre-trained | random init | time pre-trained | time random |",
        "|---|---|---|---|---|---|",
    ]
    for task in tasks:
        metric = GLUE[task].metrics[0]
        lines.append(
            f"| {task} ({metric}) | {limits.get(task, 'all')} "
            f"| {100 * scores['pre-trained'][task][metric]:.1f} "
            f"| {100 * scores['random init'][task][metric]:.1f} "
            f"| {seconds['pre-trained'][task]:.0f} s | {seconds['random init'][task]:.0f} s |"
        )
    lines.append(
        f"| average | | {glue_score(scores['pre-trained']):.1f} | {glue_score(scores['random init']):.1f} "
        f"| {sum(seconds['pre-trained'].values()):.0f} s | {sum(seconds['random init'].values()):.0f} s |"
    )
    table = "\n".join(lines)
    print(table)
    (args.out / "table.md").write_text(table + "\n", encoding="utf-8")
    (args.out / "scores.json").write_text(
        json.dumps({"dev": scores, "seconds": seconds}, indent=2) + "\n"
    )


if __name__ == "__main__":
    main()
