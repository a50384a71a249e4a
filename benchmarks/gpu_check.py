"""The GPU path in one command, within a budget that counts everything (default 300 s), so that
the first minutes of a lent GPU return their figures. Run through `benchmarks/gpu_check.sh`.

Data is prepared on a CPU beforehand and carried to the GPU machine, so device time goes to
device work:

    bash benchmarks/gpu_check.sh prepare          # here: runs/gpu_data (vocabulary + shards)
    OUT_DIR=$OUT bash benchmarks/gpu_check.sh     # there, with runs/gpu_data carried along

Stages, most valuable first, each a child process with a hard cap (shortened to what the budget
has left, skipped with a reason when too little is left): the device tests one by one; the step
benchmark (bf16, ours against the `transformers` step) for small at 128 x 128 and base at
64 x 512 (its recipe's length and a quarter of its batch), with peak memory; the loader; a short pre-training run stopped by SIGINT
whose losses must fall; the compiled training test; small compiled (our step only); DeBERTa-V3
xsmall at 64 x 512, eager, against `transformers`' DebertaV2 classes. Each stage
appends its figures to OUT_DIR/figures.jsonl the moment it ends and rewrites OUT_DIR/summary.md,
so a later failure loses nothing; a failing child's last output lines are kept. OUT_DIR holds
only those two files and log.txt; the runs' files live in a scratch directory removed at the end.
It installs nothing: what needs a missing package (pytest, transformers) is skipped, saying so.
`DEVICE=cpu QUICK=1` runs every stage, shrunk, on a CPU.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPORT_RESERVE_S = 5  # kept back for the summary


@dataclass
class Check:
    """The budget, the output files and the figures so far."""

    args: argparse.Namespace
    out: Path
    scratch: Path
    started: float = field(default_factory=time.monotonic)
    records: list[dict] = field(default_factory=list)

    def left(self) -> float:
        return self.args.budget - (time.monotonic() - self.started) - REPORT_RESERVE_S

    def say(self, line: str) -> None:
        stamped = f"gpu_check [{time.monotonic() - self.started:5.0f} s] {line}"
        print(stamped, flush=True)
        with open(self.out / "log.txt", "a", encoding="utf-8") as f:
            f.write(stamped + "\n")

    def record(self, **figures) -> None:
        """One line in figures.jsonl, now, and the summary rewritten."""
        self.records.append(figures)
        with open(self.out / "figures.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(figures) + "\n")
        (self.out / "summary.md").write_text(summary(self), encoding="utf-8")

    def run(self, stage: str, command: list[str], cap: float, minimum: float = 10,
            env: dict | None = None, stop_signal: int | None = None) -> tuple[str, str, float]:  # fmt: skip
        """`command` for at most `cap` seconds (or what the budget has left): its outcome
        (`ok`, `failed`, `timeout`, `skipped`), its output and its seconds. With `stop_signal`,
        reaching the cap sends that signal and waits for the child to finish (a run that saves
        on SIGINT), which is an `ok`."""
        cap = min(cap, self.left())
        if cap < minimum:
            self.say(f"{stage}: skipped, {max(self.left(), 0):.0f} s of the budget left")
            return "skipped", "", 0.0
        start = time.monotonic()
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 text=True, cwd=ROOT, env={**child_env(self.args), **(env or {})},
                                 start_new_session=True)  # fmt: skip
        try:
            output, _ = child.communicate(timeout=cap)
            outcome = "ok" if child.returncode == 0 else "failed"
        except subprocess.TimeoutExpired:
            if stop_signal is not None:
                os.killpg(child.pid, stop_signal)
                try:
                    output, _ = child.communicate(timeout=min(30, max(self.left(), 5)))
                    outcome = "ok" if child.returncode in (0, 130) else "failed"
                except subprocess.TimeoutExpired:
                    outcome = "timeout"
            else:
                outcome = "timeout"
            if outcome == "timeout":
                os.killpg(child.pid, signal.SIGKILL)
                output, _ = child.communicate()
        seconds = time.monotonic() - start
        with open(self.out / "log.txt", "a", encoding="utf-8") as f:
            f.write(output)
        self.say(f"{stage}: {outcome} in {seconds:.0f} s")
        return outcome, output, seconds


def pure_python_packages(data: Path) -> Path:
    """Where `prepare` puts the pure-Python test runner (pytest) that a GPU machine may lack."""
    return Path(data).parent / "pylib"


def child_env(args: argparse.Namespace) -> dict[str, str]:
    """The children import electra from src/ and, when this Python has no pytest, the one
    carried beside the data."""
    paths = [str(ROOT / "src")]
    if importlib.util.find_spec("pytest") is None:
        paths.append(str(pure_python_packages(args.data)))
    paths += [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths), "HF_HUB_OFFLINE": "1",
            "PYTHONUNBUFFERED": "1"}  # fmt: skip


def tail(output: str, lines: int = 15) -> str:
    return "\n".join(output.strip().splitlines()[-lines:])


def device_tests(check: Check, compiled: bool) -> None:
    """Each device test alone, under its own cap: one that hangs costs only its cap."""
    carried = pure_python_packages(check.args.data) / "pytest"
    if importlib.util.find_spec("pytest") is None and not carried.exists():
        check.record(stage="device test", outcome="skipped",
                     why="pytest is neither installed nor carried (gpu_check.sh prepare)")  # fmt: skip
        return
    source = (ROOT / "tests" / "test_device.py").read_text(encoding="utf-8")
    names = re.findall(r"^def (test_\w+)", source, re.MULTILINE)
    for name in names:
        if ("compiled" in name) != compiled:
            continue
        command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs", "-m",
                   "device", f"tests/test_device.py::{name}"]  # fmt: skip
        cap = check.args.compile_cap if compiled else check.args.test_cap
        outcome, output, seconds = check.run(f"test {name}", command, cap,
                                             env={"ELECTRA_TEST_DEVICE": check.args.device})  # fmt: skip
        if outcome == "ok" and re.search(r"\b1 skipped\b", output):
            outcome = "skipped"
        check.record(stage="device test", test=name, outcome=outcome, seconds=round(seconds, 1),
                     **({"output": tail(output)} if outcome in ("failed", "timeout", "skipped") else {}))  # fmt: skip


def step_benchmark(check: Check, preset: str, batch: int, seq_len: int, compile_: bool,
                   backbone: str = "electra") -> None:  # fmt: skip
    """Ours against the `transformers` step (eager), or ours compiled alone."""
    figures = check.scratch / "steps.jsonl"
    figures.unlink(missing_ok=True)
    quick = check.args.quick
    steps, warmup = (3, 1) if quick else (10, 3)
    cap = check.args.compile_cap if compile_ else check.args.step_cap
    peer = importlib.util.find_spec("transformers") is not None
    command = [sys.executable, "benchmarks/pretrain_step.py", "--preset", preset, "--device",
               check.args.device, "--precision", "bf16", "--batch-size", str(batch), "--seq-len",
               str(seq_len), "--steps", str(steps), "--warmup", str(warmup), "--json", str(figures),
               "--child-timeout", str(max(10, min(cap, check.left()) / (1 if compile_ or not peer else 2))),
               "--backbone", backbone]  # fmt: skip
    if compile_:
        command += ["--compile", "--no-peer"]
    elif not peer:
        command.append("--no-peer")
    label = preset if backbone == "electra" else f"{backbone} {preset}"
    stage = f"step {label} {batch}x{seq_len} {'compiled' if compile_ else 'eager'}"
    outcome, output, seconds = check.run(stage, command, cap)
    results = (
        [json.loads(line) for line in figures.read_text().splitlines()] if figures.exists() else []
    )
    for r in results:
        check.record(stage="step", **r)
    if outcome != "ok" or not results:
        check.record(stage="step", impl="-", preset=label, compile=compile_, outcome=outcome,
                     output=tail(output), why="" if peer else "transformers is not installed")  # fmt: skip


def loader(check: Check) -> None:
    figures = check.scratch / "loader.json"
    command = [sys.executable, "benchmarks/loader.py", "--data", str(check.args.data),
               "--batch-size", "128", "--batches", "20" if check.args.quick else "100",
               "--json", str(figures)]  # fmt: skip
    outcome, output, _ = check.run("loader", command, check.args.loader_cap)
    if figures.exists():
        check.record(stage="loader", **json.loads(figures.read_text()))
    else:
        check.record(stage="loader", outcome=outcome, output=tail(output))


def pretraining(check: Check) -> None:
    """A short run stopped by SIGINT (the checkpoint-on-signal path): did its losses fall?"""
    run_dir = check.scratch / "run"
    preset = "tiny" if check.args.quick else "small"
    command = [sys.executable, "-m", "electra.cli", "pretrain", "--preset", preset, "--data",
               str(check.args.data), "--out", str(run_dir), "--device", check.args.device,
               "--steps", "100000", "--warmup-steps", "100", "--log-every", "20", "--save-every", "0",
               "--eval-every", "0", "--no-progress"]  # fmt: skip
    outcome, output, seconds = check.run("pre-training", command, check.args.pretrain_cap,
                                         minimum=min(30, check.args.pretrain_cap),
                                         stop_signal=signal.SIGINT)  # fmt: skip
    metrics = run_dir / "metrics.jsonl"
    logged = (
        [json.loads(line) for line in metrics.read_text().splitlines()] if metrics.exists() else []
    )
    train = [r for r in logged if "gen_loss" in r]
    if len(train) < 2:
        check.record(stage="pretraining", outcome=outcome, windows=len(train), output=tail(output))
        return
    first, last = train[0], train[-1]
    keep = ("step", "gen_loss", "disc_loss", "tokens_per_s")
    check.record(stage="pretraining", outcome=outcome, preset=preset, seconds=round(seconds),
                 first={k: first.get(k) for k in keep}, last={k: last.get(k) for k in keep},
                 losses_fell=last["gen_loss"] < first["gen_loss"] and last["disc_loss"] < first["disc_loss"],
                 checkpoint_on_signal=any((run_dir / "checkpoints").glob("step-*")))  # fmt: skip
    shutil.rmtree(run_dir, ignore_errors=True)


def hardware() -> dict:
    info = {"python": platform.python_version(), "cpu": platform.processor() or platform.machine()}
    try:
        import torch

        info["torch"], info["cuda"] = torch.__version__, torch.version.cuda
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        info["torch"] = None
    return info


def summary(check: Check) -> str:
    """The figures so far as a dated Markdown section for benchmarks/RESULTS.md."""
    hw = next((r for r in check.records if r.get("stage") == "hardware"), {})
    lines = [f"## GPU check ({datetime.date.today().isoformat()}, {hw.get('gpu') or 'CPU ' + str(hw.get('cpu'))}, "
             f"torch {hw.get('torch')}, CUDA {hw.get('cuda')})", "",
             f"`{check.args.command_line}`, {time.monotonic() - check.started:.0f} s of a {check.args.budget} s budget.", ""]  # fmt: skip
    tests = [r for r in check.records if r.get("stage") == "device test"]
    if tests:
        lines.append(
            "- Device tests: "
            + ", ".join(f"{r.get('test', '')} {r['outcome']}" for r in tests)
            + "."
        )
    steps = [
        r for r in check.records if r.get("stage") == "step" and r.get("impl") not in ("-", "ratio")
    ]
    if steps:
        lines += ["", "| preset | batch | compile | implementation | tokens/s | model TFLOP/s | MFU | peak MB |",
                  "|---|---|---|---|---|---|---|---|"]  # fmt: skip
        for r in steps:
            mfu = f"{r['mfu']:.1%}" if r.get("mfu") is not None else "-"
            batch = "x".join(map(str, r.get("batch", [])))
            lines.append(f"| {r['preset']} | {batch} | {'on' if r['compile'] else 'off'} | {r['impl']} | "
                         f"{r['tokens_per_s']:,.0f} | {r['model_tflops']:.2f} | {mfu} | {r['peak_mb']:,.0f} |")  # fmt: skip
    for r in check.records:
        if r.get("stage") == "step" and r.get("impl") == "ratio":
            lines.append(
                f"- {r['preset']}: ours / transformers = {r['ratio_to_transformers']:.2f}x."
            )
        elif r.get("stage") == "step" and r.get("impl") == "-":
            why = r.get("why") or (
                "the budget was spent" if r["outcome"] == "skipped" else "see log.txt"
            )
            lines.append(f"- Step {r['preset']} (compile {r['compile']}): {r['outcome']} ({why}).")
        elif r.get("stage") == "loader" and "tokens_per_s" in r:
            figures = ", ".join(f"{k} {v:,.0f}" for k, v in r["tokens_per_s"].items())
            delays = ", ".join(f"{k} +{v:.0%}" for k, v in r["delay_beside_busy_step"].items())
            lines.append(f"- Loader (real tokens/s, one core): {figures}; beside a step busy "
                         f"{r['busy_ms']:g} ms a batch, the stream delayed it: {delays}.")  # fmt: skip
        elif r.get("stage") == "pretraining" and "first" in r:
            f, la = r["first"], r["last"]
            lines.append(f"- Pre-training ({r['preset']}, SIGINT after {r['seconds']} s): step {f['step']} -> {la['step']}, "
                         f"generator loss {f['gen_loss']:.3f} -> {la['gen_loss']:.3f}, discriminator loss "
                         f"{f['disc_loss']:.3f} -> {la['disc_loss']:.3f} (fell: {r['losses_fell']}); "
                         f"{la['tokens_per_s']:,.0f} tokens/s last; checkpoint on SIGINT: {r['checkpoint_on_signal']}.")  # fmt: skip
        elif r.get("stage") in ("pretraining", "loader"):
            lines.append(f"- {r['stage']}: {r.get('outcome')}.")
        elif r.get("outcome") == "skipped" and r.get("why"):
            lines.append(f"- {r['stage']}: skipped ({r['why']}).")
    return "\n".join(lines) + "\n"


def check_run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in ("figures.jsonl", "summary.md", "log.txt"):
        (out / name).unlink(missing_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="gpu_check-"))
    check = Check(args, out, scratch)
    try:
        import torch

        if tuple(int(x) for x in re.findall(r"\d+", torch.__version__)[:2]) < (2, 6):
            sys.exit(f"gpu_check: torch {torch.__version__}: expected 2.6 or newer")
        check.record(stage="hardware", **hardware())
        quick = args.quick
        small, base = ("tiny", "tiny") if quick else ("small", "base")
        device_tests(check, compiled=False)
        step_benchmark(check, small, 8 if quick else 128, 128, compile_=False)
        # base at the recipe's length, a quarter of its batch (the recipe's 256 x 512 under
        # --grad-accum 4): the whole batch at once needs ~240 GB (benchmarks/peak_memory.py)
        step_benchmark(check, base, 16 if quick else 64, 128 if quick else 512, compile_=False)
        loader(check)
        pretraining(check)
        device_tests(check, compiled=True)
        step_benchmark(check, small, 8 if quick else 128, 128, compile_=True)
        # the second backbone, eager against `transformers`' DebertaV2 classes, last: what the
        # budget leaves (DeBERTa-V3 xsmall at its recipe's length)
        step_benchmark(check, "tiny" if quick else "xsmall", 8 if quick else 64,
                       128 if quick else 512, compile_=False, backbone="deberta-v3")  # fmt: skip
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        check.say(f"done; figures in {out / 'figures.jsonl'}, summary in {out / 'summary.md'}")
        if args.append and check.records:
            with open(ROOT / "benchmarks" / "RESULTS.md", "a", encoding="utf-8") as f:
                f.write("\n" + summary(check))
    print(summary(check))
    return 0


def prepare(args: argparse.Namespace) -> int:
    """The embedded corpus's vocabulary and shards, on this machine's CPU, into `--data`."""
    data = Path(args.data)
    cli = [sys.executable, "-m", "electra.cli"]
    vocab, shards = data.parent / "vocab", data
    if not (vocab / "tokenizer.json").exists() and not (vocab / "vocab.txt").exists():
        subprocess.run(
            [*cli, "vocab", "--default-corpus", "--size", "8000", "--out", str(vocab)], check=True
        )
    subprocess.run([*cli, "prepare", "--default-corpus", "--vocab", str(vocab), "--out", str(shards),
                    "--overwrite"], check=True)  # fmt: skip
    pylib = pure_python_packages(data)
    if not (pylib / "pytest").exists():  # pure Python: runs on the GPU machine's Python too
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--target", str(pylib),
                        "pytest"], check=True)  # fmt: skip
    print(f"gpu_check: carry {data.parent} to the GPU machine (DATA={data})")
    return 0


def quick_data(scratch_parent: Path) -> Path:
    """A few hundred examples of the suite's own corpus, for a CPU run without prepared data."""
    data = scratch_parent / "quick-data"
    cli = [sys.executable, "-m", "electra.cli"]
    corpus = str(ROOT / "tests" / "assets" / "corpus")
    if not (data / "shards" / "manifest.json").exists():
        subprocess.run([*cli, "vocab", "--corpus", corpus, "--size", "2000", "--out", str(data / "vocab"),
                        "--overwrite"], check=True, capture_output=True)  # fmt: skip
        subprocess.run([*cli, "prepare", "--corpus", corpus, "--vocab", str(data / "vocab"), "--out",
                        str(data / "shards"), "--overwrite"], check=True, capture_output=True)  # fmt: skip
    return data / "shards"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", nargs="?", choices=("run", "prepare"), default="run")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--data", help="prepared shards (default: runs/gpu_data/shards)")
    parser.add_argument("--out", default="runs/gpu_check")
    parser.add_argument("--budget", type=int, default=300, help="seconds for everything")
    parser.add_argument(
        "--quick", action="store_true", help="every stage, shrunk (a CPU rehearsal)"
    )
    parser.add_argument("--append", action="store_true", help="append the summary to RESULTS.md")
    parser.add_argument("--test-cap", type=int, default=45)
    parser.add_argument("--step-cap", type=int, default=75)
    parser.add_argument("--compile-cap", type=int, default=90)
    parser.add_argument("--loader-cap", type=int, default=20)
    parser.add_argument("--pretrain-cap", type=int, default=40)
    args = parser.parse_args()
    args.command_line = "bash benchmarks/gpu_check.sh" + (" (QUICK=1)" if args.quick else "")
    if args.quick:  # a CPU rehearsal: shorter runs, so every stage fits
        args.pretrain_cap = min(args.pretrain_cap, 20)
    default_data = ROOT / "runs" / "gpu_data" / "shards"
    if args.action == "prepare":
        args.data = args.data or default_data
        return prepare(args)
    if args.data is None:
        if default_data.joinpath("manifest.json").exists():
            args.data = default_data
        elif args.quick:
            args.data = quick_data(Path(tempfile.gettempdir()) / "electra-gpu-check")
        else:
            sys.exit(f"gpu_check: no prepared data: run `bash benchmarks/gpu_check.sh prepare` on a "
                     f"CPU first (it writes {default_data.parent}) and carry it, or set DATA")  # fmt: skip
    if not Path(args.data, "manifest.json").exists():
        sys.exit(
            f"gpu_check: DATA={args.data}: no manifest.json there; expected `electra prepare` output"
        )
    return check_run(args)


if __name__ == "__main__":
    sys.exit(main())
