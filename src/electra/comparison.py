"""`electra compare`: the paper's central experiment on your data and budget. Each arm (RTD with
ELECTRA's shared embeddings, RTD with GDES, BERT-style MLM, ...) pre-trains on the same shards to
the same FLOPs (`pretraining/flops.py`, measured conventions); the checkpoints at fractions of the
budget are fine-tuned on the chosen tasks with the default recipe over several seeds, beside a
random-initialisation control; the table gives each task's median and spread per arm and
fraction, the plot downstream score against pre-training FLOPs (the paper's Figure 1).

Every stage is a directory that is skipped once finished (a pre-training pause with its export, a
fine-tuning run with its results.json), so a re-run continues where the last one stopped.
`OUT/compare.json` holds the config, the command, the versions and every number.
"""

from __future__ import annotations

import platform
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from electra.config import BACKBONE_NAMES, MODEL_FIELDS, choice, not_chosen
from electra.errors import Interrupted, UserError
from electra.files import one_writer, write_json, write_text
from electra.pretraining.flops import CONVENTIONS
from electra.pretraining.objectives import ARMS
from electra.pretraining.options import FLOPS_CONVENTIONS


@dataclass
class CompareConfig:
    """What `electra compare` runs."""

    flops_budget: float = field(
        default=0.0, metadata={"required": True}
    )  # pre-training FLOPs of every arm
    arms: tuple[str, ...] = ("rtd", "mlm")  # rtd, rtd+gdes, rtd+none, mlm, or BACKBONE:ARM
    fractions: tuple[str, ...] = (
        "0.25",
        "0.5",
        "1",
    )  # of the budget where checkpoints are fine-tuned
    flops_convention: str = choice("official", FLOPS_CONVENTIONS)  # what the budget counts
    preset: str = "tiny"  # model size and recipe of every arm (shape flags override it)
    glue_dir: Path | None = None  # GLUE root for glue_tasks
    glue_tasks: tuple[str, ...] = ()  # GLUE tasks to fine-tune (e.g. rte,sst2,mrpc)
    tagging_dir: Path | None = None  # CoNLL folder (train.txt, dev.txt) to fine-tune a tagger on
    own_train: Path | None = None  # your classification data (CSV, TSV, JSONL): training file
    own_dev: Path | None = None  # your classification data: dev file
    own_text_columns: tuple[str, ...] = ()  # your data: one or two text columns
    own_label_column: str | None = None  # your data: the label column
    seeds: int = 3  # fine-tuning seeds per checkpoint and task
    max_train_examples: int | None = 2000  # fine-tuning examples per task (None: all)
    epochs: int | None = None  # fine-tuning epochs (default: the recipe's)
    random_init: bool = True  # add the random-initialisation control

    def __post_init__(self) -> None:
        if problems := not_chosen(self):
            raise UserError("; ".join(problems))
        for name in ("glue_dir", "tagging_dir", "own_train", "own_dev"):
            if isinstance(getattr(self, name), str):
                setattr(self, name, Path(getattr(self, name)))
        unknown = [a for a in self.arms if not _known_arm(a)]
        if unknown or not self.arms:
            raise UserError(
                f"`arms` {', '.join(unknown) or '(none)'}: expected some of {', '.join(ARMS)}, "
                f"each optionally after a backbone ({', '.join(BACKBONE_NAMES)}) and a colon"
            )
        try:
            values = [float(f) for f in self.fractions]
        except ValueError:
            raise UserError(f"`fractions` {','.join(self.fractions)}: expected numbers") from None
        if not values or not all(0 < v <= 1 for v in values) or values != sorted(values):
            raise UserError(
                f"`fractions` {','.join(self.fractions)}: expected increasing numbers in (0, 1]"
            )
        if not self.flops_budget > 0:
            raise UserError(f"flops_budget must be positive, got {self.flops_budget}")
        if self.glue_tasks and self.glue_dir is None:
            raise UserError("glue_tasks need glue_dir")
        if not (self.glue_tasks or self.tagging_dir or self.own_train):
            raise UserError(
                "nothing to fine-tune: give glue_dir with glue_tasks, tagging_dir, or own_train"
            )
        if self.seeds < 1:
            raise UserError(f"`seeds` must be at least 1, got {self.seeds}")


def _known_arm(arm: str) -> bool:
    backbone, _, name = arm.rpartition(":")
    return name in ARMS and backbone in ("", *BACKBONE_NAMES)


def _arm_dir(out: Path, arm: str) -> Path:
    """An arm's directory: its name, the backbone's colon made a dash (deberta-v3-rtd+gdes)."""
    return out / arm.replace(":", "-")


def _tasks(config: CompareConfig) -> list[tuple[str, str, Any]]:
    """(name, family, data) of every fine-tuning task."""
    from electra.tasks.glue.options import ClassificationData
    from electra.tasks.tagging.options import TaggingData

    tasks = [(task, "glue", ClassificationData(task=task, data_dir=config.glue_dir))
             for task in config.glue_tasks]  # fmt: skip
    if config.tagging_dir is not None:
        tasks.append(("tagging", "tagging", TaggingData(data_dir=config.tagging_dir)))
    if config.own_train is not None:
        own = ClassificationData(train=config.own_train, dev=config.own_dev,
                                 text_columns=config.own_text_columns,
                                 label_column=config.own_label_column)  # fmt: skip
        tasks.append((config.own_train.stem, "glue", own))
    return tasks


def _pretrain_arm(
    data: Path, out: Path, arm: str, config: CompareConfig, options: dict, model: dict, progress: bool
) -> dict[str, Any]:  # fmt: skip
    """Pre-train one arm to the budget, pausing at each fraction to export its checkpoint into
    OUT/ARM/step-N; returns the arm's steps and stages."""
    from electra import checkpoint
    from electra.pretraining.export import export
    from electra.pretraining.objectives import step_flops
    from electra.pretraining.objectives.build import build
    from electra.pretraining.resolve import load_run_config, resolve_configs
    from electra.pretraining.trainer import pretrain
    from electra.tokenizer import SpecialIds, load_tokenizer

    backbone, _, name = arm.rpartition(":")
    objective, sharing, network = ARMS[name]
    run = _arm_dir(out, arm) / "run"
    overrides = {**options, "objective": objective, "embedding_sharing": sharing,
                 "flops_budget": config.flops_budget,
                 "flops_convention": config.flops_convention}  # fmt: skip
    model = {**model, "backbone": backbone} if backbone else model
    model_config, pretrain_config = resolve_configs(data, run, config.preset, overrides, model)
    steps = pretrain_config.steps
    per_step = {name: step_flops(model_config, pretrain_config.seq_len, pretrain_config.batch_size,
                                 objective, pretrain_config.mask_prob, convention)
                for name, convention in CONVENTIONS.items()}  # fmt: skip
    tokenizer = load_tokenizer(data)
    stages = []
    for fraction in (float(f) for f in config.fractions):
        step = max(1, round(steps * fraction))
        stage = _arm_dir(out, arm) / f"step-{step:08d}"
        if not (stage / network / "config.json").is_file():
            if not (checkpoint.path_for(run, step)).is_dir():
                resume = bool(checkpoint.all_checkpoints(run))
                status = pretrain(data, run, config.preset, None if resume else overrides,
                                  None if resume else model, resume, None,
                                  None if step == steps else step, progress)  # fmt: skip
                if status >= 128:  # a signal: the checkpoint is saved, the same command resumes
                    raise Interrupted(f"{run}: pre-training stopped by a signal; run the same "
                                      "command again to resume", status)  # fmt: skip
                if status:
                    raise UserError(
                        f"{run}: pre-training stopped (exit {status}); re-run to resume"
                    )
            saved_model, saved = load_run_config(run)
            module = build(saved_model, saved, SpecialIds.of(tokenizer))
            module.load_state_dict(checkpoint.load(checkpoint.path_for(run, step))["model"])
            export(module, stage, tokenizer)
        stages.append({"fraction": fraction, "step": step,
                       "flops": step * per_step[config.flops_convention],
                       **{f"flops_{name}": step * f for name, f in per_step.items()},
                       "model": str(stage / network)})  # fmt: skip
    return {"objective": objective, "embedding_sharing": sharing, "steps": steps,
            "step_flops": per_step, "stages": stages}  # fmt: skip


def _finetune(family: str, data: Any, model: str, out: Path, config: CompareConfig,
              progress: bool, random_init: bool = False) -> dict[str, Any]:  # fmt: skip
    from electra.tasks.verbs import finetune

    options = {"seeds": config.seeds, "max_train_examples": config.max_train_examples,
               "epochs": config.epochs}  # fmt: skip
    overrides = {k: v for k, v in options.items() if v is not None}
    result = finetune(family, data, model, out, overrides, random_init=random_init,
                      progress=progress, resume=True)  # fmt: skip
    run = result.runs[0]
    main = run["main_metric"]
    if "spread" in run:
        return {"metric": main, **run["spread"][main], "seeds": len(run["seeds"])}
    value = run["dev"][main]
    return {"metric": main, "median": value, "mean": value, "std": 0.0, "min": value,
            "max": value, "seeds": 1}  # fmt: skip


@one_writer("out")
def compare(
    data: str | Path, out: str | Path, config: CompareConfig, pretrain_options: dict | None = None,
    model_options: dict | None = None, progress: bool = True,
) -> dict[str, Any]:  # fmt: skip
    """Run the experiment (see the module docstring); returns what compare.json holds."""
    import torch

    from electra.files import writable_dir

    data, out = Path(data), writable_dir(out)
    unknown = [k for k in model_options or {} if k not in MODEL_FIELDS]
    if unknown:
        raise UserError(f"{', '.join(unknown)}: not model shape options")
    tasks = _tasks(config)
    arms = {arm: _pretrain_arm(data, out, arm, config, pretrain_options or {}, model_options or {},
                               progress) for arm in config.arms}  # fmt: skip
    results = []
    for arm, done in arms.items():
        for stage in done["stages"]:
            for name, family, task_data in tasks:
                where = _arm_dir(out, arm) / f"step-{stage['step']:08d}" / "finetune" / name
                score = _finetune(family, task_data, stage["model"], where, config, progress)
                counted = {k: v for k, v in stage.items() if k.startswith("flops")}
                results.append({"arm": arm, "fraction": stage["fraction"], "step": stage["step"],
                                **counted, "task": name, **score})  # fmt: skip
    if config.random_init:
        model = arms[config.arms[0]]["stages"][-1]["model"]
        for name, family, task_data in tasks:
            score = _finetune(family, task_data, model, out / "random-init" / name, config,
                              progress, random_init=True)  # fmt: skip
            results.append({"arm": "random-init", "fraction": 0.0, "step": 0, "flops": 0.0,
                            **{f"flops_{c}": 0.0 for c in CONVENTIONS}, "task": name,
                            **score})  # fmt: skip
    summary = {
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()},
        "pretrain_options": pretrain_options or {}, "model_options": model_options or {},
        "data": str(data), "command": sys.argv, "arms": arms, "results": results,
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "electra": _version()},
    }  # fmt: skip
    write_json(out / "compare.json", summary)
    write_text(out / "compare.md", table(results))
    plot(results, out / "compare.png")
    return summary


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("electra")
    except PackageNotFoundError:
        return "unknown"


def table(results: list[dict[str, Any]]) -> str:
    """Markdown: a row per arm and fraction, its pre-training FLOPs in both conventions (the
    paper's and the measured work), a column per task, median ± std (min-max)."""
    tasks = list(dict.fromkeys(r["task"] for r in results))
    rows = list(dict.fromkeys((r["arm"], r["fraction"], r.get("flops_official", r["flops"]),
                               r.get("flops_measured", r["flops"])) for r in results))  # fmt: skip
    by_key = {(r["arm"], r["fraction"], r["task"]): r for r in results}
    metrics = {r["task"]: r["metric"] for r in results}
    lines = ["| arm | budget | FLOPs (official) | FLOPs (measured) | " + " | ".join(f"{t} ({metrics[t]})" for t in tasks) + " |",
             "|---|---|---|---|" + "---|" * len(tasks)]  # fmt: skip
    for arm, fraction, official, measured in rows:
        cells = []
        for task in tasks:
            r = by_key.get((arm, fraction, task))
            cells.append("-" if r is None else
                         f"{100 * r['median']:.1f} ± {100 * r['std']:.1f} ({100 * r['min']:.1f}-{100 * r['max']:.1f})")  # fmt: skip
        budget = "-" if arm == "random-init" else f"{fraction:g}"
        lines.append(
            f"| {arm} | {budget} | {official:.3g} | {measured:.3g} | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines) + "\n"


def plot(results: list[dict[str, Any]], path: Path) -> None:
    """Downstream median (with its min-max range) against pre-training FLOPs, a panel per task."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from electra.files import atomic_path

    tasks = list(dict.fromkeys(r["task"] for r in results))
    figure, axes = plt.subplots(1, len(tasks), figsize=(5 * len(tasks), 3.6), squeeze=False)
    for ax, task in zip(axes.flat, tasks, strict=True):
        rows = [r for r in results if r["task"] == task]
        for arm in dict.fromkeys(r["arm"] for r in rows if r["arm"] != "random-init"):
            points = sorted(
                (r["flops"], r["median"], r["min"], r["max"]) for r in rows if r["arm"] == arm
            )
            x, y, low, high = zip(*points, strict=True)
            ax.errorbar(x, y, yerr=[[a - b for a, b in zip(y, low, strict=True)],
                                    [b - a for a, b in zip(y, high, strict=True)]],
                        marker="o", capsize=3, label=arm)  # fmt: skip
        for r in rows:
            if r["arm"] == "random-init":
                ax.axhline(r["median"], color="grey", linestyle="--", label="random init")
        ax.set_xscale("log")
        ax.set_title(f"{task} ({rows[0]['metric']}, median over seeds)")
        ax.set_xlabel("pre-training FLOPs")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=100, format="png")
    plt.close(figure)
