"""Gather what `benchmarks/gpu_check.sh` left in its directory into one JSON and one dated
Markdown section (appended to benchmarks/RESULTS.md with `--append 1`).

    python benchmarks/gpu_report.py runs/gpu_check --append 1
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import xml.etree.ElementTree as ET
from pathlib import Path

import torch

RESULTS = Path(__file__).with_name("RESULTS.md")


def _jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def tests(path: Path) -> dict:
    """Counts and the failing tests' names from pytest's JUnit XML."""
    if not path.is_file():
        return {"ran": False}
    suite = ET.parse(path).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    cases = list(suite.iter("testcase"))
    failed = [c.get("name") for c in cases if c.find("failure") is not None or c.find("error") is not None]  # fmt: skip
    skipped = [c.get("name") for c in cases if c.find("skipped") is not None]
    return {"ran": True, "total": len(cases), "failed": failed, "skipped": skipped,
            "passed": len(cases) - len(failed) - len(skipped)}  # fmt: skip


def pretraining(run_dir: Path) -> dict:
    """The run's first and last logged losses and its throughput: did it learn, how fast."""
    logged = [r for r in _jsonl(run_dir / "metrics.jsonl") if "gen_loss" in r]
    if len(logged) < 2:
        return {"ran": False, "logged_windows": len(logged)}
    first, last = logged[0], logged[-1]
    saved = json.loads((run_dir / "pretrain.json").read_text(encoding="utf-8"))
    model = saved["model"]
    return {
        "ran": True,
        "steps": last["step"],
        "model": f"{model['num_layers']} layers x {model['hidden_size']} hidden",
        "precision": saved["pretrain"]["precision"],
        "first": {k: first[k] for k in ("step", "gen_loss", "disc_loss", "loss") if k in first},
        "last": {k: last[k] for k in ("step", "gen_loss", "disc_loss", "loss") if k in last},
        "losses_fell": last["gen_loss"] < first["gen_loss"] and last["disc_loss"] < first["disc_loss"],
        "tokens_per_s_last_window": last["tokens_per_s"],
        "checkpoint_on_signal": any((run_dir / "checkpoints").glob("step-*")),
    }  # fmt: skip


def hardware() -> dict:
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"gpu": gpu, "cpu": platform.processor() or platform.machine(), "torch": torch.__version__,
            "cuda": torch.version.cuda, "python": platform.python_version()}  # fmt: skip


def markdown(report: dict) -> str:
    hw = report["hardware"]
    lines = [f"## GPU check ({report['date']}, {hw['gpu'] or 'CPU ' + hw['cpu']}, torch {hw['torch']})",
             "", f"`{report['command']}`, {report['seconds']} s in all.", ""]  # fmt: skip
    t = report["tests"]
    lines.append(f"- Device tests: {t.get('passed', 0)} passed, failed: {t.get('failed') or 'none'}"
                 f", skipped: {t.get('skipped') or 'none'}." if t["ran"] else "- Device tests: did not run.")  # fmt: skip
    lines += ["", "| preset | compile | implementation | tokens/s | model TFLOP/s | MFU | peak MB | ratio |",
              "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in report["steps"]:
        mfu = f"{r['mfu']:.1%}" if r.get("mfu") is not None else "-"
        ratio = f"{r['ratio_to_transformers']:.2f}x" if r["impl"] == "electra" else ""
        lines.append(f"| {r['preset']} | {'on' if r['compile'] else 'off'} | {r['impl']} | {r['tokens_per_s']:,.0f} | "
                     f"{r['model_tflops']:.2f} | {mfu} | {r['peak_mb']:,.0f} | {ratio} |")  # fmt: skip
    if report["loader"]:
        figures = ", ".join(
            f"{k} {v:,.0f} tokens/s" for k, v in report["loader"]["tokens_per_s"].items()
        )
        lines += ["", f"- Loader, one core: {figures}."]
    p = report["pretraining"]
    if p["ran"]:
        lines.append(
            f"- Pre-training ({p['model']}), {p['precision']}: {p['steps']} steps; generator loss "
            f"{p['first']['gen_loss']:.3f} -> {p['last']['gen_loss']:.3f}, discriminator loss "
            f"{p['first']['disc_loss']:.3f} -> {p['last']['disc_loss']:.3f} (fell: {p['losses_fell']}); "
            f"{p['tokens_per_s_last_window']:,.0f} tokens/s in the last window; checkpoint on SIGINT: "
            f"{p['checkpoint_on_signal']}.")  # fmt: skip
    else:
        lines.append("- Pre-training: no run with two logged windows.")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--append", type=int, default=0, help="1: append the section to RESULTS.md")
    parser.add_argument("--seconds", type=int, default=0, help="the check's wall time")
    args = parser.parse_args()
    loader = args.out_dir / "loader.json"
    report = {
        "date": datetime.date.today().isoformat(),
        "command": "bash benchmarks/gpu_check.sh",
        "seconds": args.seconds,
        "hardware": hardware(),
        "tests": tests(args.out_dir / "tests.xml"),
        "steps": _jsonl(args.out_dir / "steps.jsonl"),
        "loader": json.loads(loader.read_text()) if loader.is_file() and loader.stat().st_size else None,
        "pretraining": pretraining(args.out_dir / "run"),
    }  # fmt: skip
    (args.out_dir / "gpu_check.json").write_text(json.dumps(report, indent=2) + "\n")
    section = markdown(report)
    (args.out_dir / "gpu_check.md").write_text(section)
    print(section)
    if args.append:
        with open(RESULTS, "a", encoding="utf-8") as f:
            f.write("\n" + section)


if __name__ == "__main__":
    main()
