"""The three calls the commands make of any family, by its name:

finetune("glue", ClassificationData(task="rte", data_dir=...), model_dir, out_dir)
predict("tagging", model_dir, TaggingInput(texts=("He reckons the deficit will narrow .",)))
evaluate("squad", SquadScoring(data=..., predictions=...))
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
from dataclasses import replace
from pathlib import Path
from typing import Any

from electra.errors import UserError
from electra.files import one_writer
from electra.tasks import options as o
from electra.tasks.family import FinetuneResult, Prediction, Scores
from electra.tasks.registry import family

VERBS = ("finetune", "predict", "evaluate")


@one_writer("out_dir")
def finetune(
    name: str,
    data: Any,
    model_dir: str | Path,
    out_dir: str | Path,
    overrides: dict[str, Any] | None = None,
    preset: str | None = None,
    settings: Any = None,
    random_init: bool = False,
    progress: bool = True,
    device: str | None = None,
    overwrite: bool = False,
    resume: bool = False,
    allow_changes: bool = False,
) -> FinetuneResult:
    """Fine-tune the discriminator in `model_dir` on a family's `data` with the paper's recipe
    for the model's size (or `preset`) and task, `overrides` (FinetuneConfig fields) winning;
    each run's model, predictions and results.json go under `out_dir`. An `out_dir` that already
    holds a run's results is refused unless `overwrite`. With `resume`, a finished run (a task of
    GLUE `all`, a seed) is kept as it is and an interrupted one continues from its checkpoint."""
    from electra import hf
    from electra.files import writable_dir, write_json
    from electra.tasks import loop
    from electra.tasks.options import FinetuneConfig, recipe_size
    from electra.tasks.task import SETTINGS_KEY
    from electra.tokenizer import load_tokenizer

    implementation = family(name)
    spec = implementation.spec
    from electra.runtime import choose_device

    FinetuneConfig(**(overrides or {}))  # bad values stop here, before any data is read
    choose_device(device)
    if settings is None and spec.settings is not None:
        settings = spec.settings()
    runs = implementation.runs(data, writable_dir(out_dir))  # checks the data's paths first
    if not (overwrite or resume):
        for path in (Path(out_dir), *(run.out_dir for run in runs)):
            if (path / loop.RESULTS_FILE).exists() or (path / loop.MODEL_DIR).exists():
                raise UserError(f"{path}: holds a fine-tuning run already (give `overwrite` "
                                "to replace it, or another `out`)")  # fmt: skip
    # An RTD run's generator (its discriminator beside it) is the helper, not the model to
    # keep; an MLM run's masked LM is its model and fine-tunes.
    discriminator = Path(model_dir).parent / "discriminator"
    architectures = hf.read_config_json(model_dir).get("architectures") or []
    if not random_init and "ElectraForMaskedLM" in architectures and discriminator.is_dir():
        raise UserError(f"{model_dir}: the generator of a replaced-token-detection run, not "
                        f"its discriminator: fine-tune {discriminator}")  # fmt: skip
    tokenizer = load_tokenizer(model_dir)
    hf.check_vocabulary(model_dir, tokenizer)
    model_config = hf.load_config(model_dir)
    size, positions = preset or recipe_size(model_config), model_config.max_position_embeddings
    lead = int(os.environ.get("RANK", "0")) == 0  # torchrun's: one process writes summaries
    results = []
    for run in runs:
        recipe = spec.recipe(run.recipe_task)  # within the model's positions, unless told
        recipe["max_seq_length"] = min(recipe["max_seq_length"], positions)
        config = FinetuneConfig.for_task(size, recipe, **(overrides or {}))
        if problems := o.length_problems(config.max_seq_length, positions):
            raise UserError(f"{problems[0]} of {model_dir}")
        task = implementation.build_task(run.data, tokenizer, config, settings)
        task.card_task = spec.card_task
        task.config_extra[SETTINGS_KEY] = {
            "family": name, "max_seq_length": config.max_seq_length, **task.config_extra.get(SETTINGS_KEY, {})
        }  # fmt: skip
        seeds = range(config.seed, config.seed + config.seeds)
        per_seed = []
        for seed in seeds:
            seed_dir = run.out_dir / f"seed{seed}" if config.seeds > 1 else run.out_dir
            done = None
            if resume and (seed_dir / loop.RESULTS_FILE).is_file():
                done = json.loads((seed_dir / loop.RESULTS_FILE).read_text(encoding="utf-8"))
            if not done or "dev" not in done or "seeds" in done:  # unfinished, or a summary
                done = loop.finetune(task, model_dir, replace(config, seed=seed), seed_dir,
                                     tokenizer, random_init=random_init, progress=progress,
                                     device=device, resume=resume,
                                     allow_changes=allow_changes)  # fmt: skip
            per_seed.append({**done, "out_dir": str(seed_dir)})
        if config.seeds == 1:
            results.append(per_seed[0])
            continue
        summary = over_seeds(per_seed)
        if lead:
            _keep_median_model(Path(summary["kept_model"]), run.out_dir / loop.MODEL_DIR)
            write_json(run.out_dir / loop.RESULTS_FILE, summary)
        results.append({**summary, "out_dir": str(run.out_dir)})
    _leave_process_group()
    if not lead:  # under torchrun: the lead process writes and reports
        return FinetuneResult(results, "")
    return FinetuneResult(results, implementation.report(data, results, Path(out_dir)))


def _leave_process_group() -> None:
    import torch.distributed as dist

    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def _keep_median_model(seed_model: Path, out: Path) -> None:
    """OUT/model: a copy of the median seed's model, so that `--seeds N` leaves a model where a
    single run does (swapped in whole: a reader never sees half of it)."""
    tmp, old = out.with_name(f".{out.name}.tmp"), out.with_name(f".{out.name}.old")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(seed_model, tmp)
    if out.exists():
        os.replace(out, old)
    os.replace(tmp, out)
    shutil.rmtree(old, ignore_errors=True)


def over_seeds(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One task's runs over several seeds: each dev metric's median (as the paper and the official
    README report GLUE), mean, sample standard deviation and range, and each seed's scores. The
    kept model is the median seed's (the lower middle one for an even count), named by `model`."""
    from electra.tasks.loop import MODEL_DIR

    main = runs[0]["main_metric"]
    numbers = [k for k, v in runs[0]["dev"].items() if isinstance(v, (int, float))]
    spread = {}
    for name in numbers:
        values = [float(r["dev"][name]) for r in runs]
        spread[name] = {
            "median": statistics.median(values),
            "mean": statistics.fmean(values),
            "std": statistics.stdev(values),
            "min": min(values),
            "max": max(values),
        }
    kept = sorted(runs, key=lambda r: r["dev"][main])[(len(runs) - 1) // 2]
    return {
        "task": runs[0]["task"],
        "main_metric": main,
        "dev": {name: stats["median"] for name, stats in spread.items()},
        "spread": spread,
        "seeds": [r["config"]["seed"] for r in runs],
        "per_seed": [
            {
                "seed": r["config"]["seed"],
                "dev": r["dev"],
                "saved_epoch": r["saved_epoch"],
                "out_dir": r["out_dir"],
            }
            for r in runs
        ],  # fmt: skip
        "kept_seed": kept["config"]["seed"],
        "kept_model": str(Path(kept["out_dir"]) / MODEL_DIR),
        "saved_epoch": kept["saved_epoch"],
        "wall_seconds": round(sum(r["wall_seconds"] for r in runs), 1),
        "random_init": runs[0]["random_init"],
    }


def predict(
    name: str,
    model_dir: str | Path,
    input: Any,
    config: o.PredictConfig | None = None,
    settings: dict[str, Any] | None = None,
) -> Prediction:
    """A fine-tuned model's predictions on a family's `input`; `settings` override the ones it
    was fine-tuned with (SQuAD's windows and decoding)."""
    from electra.files import output_lock, writable_dir

    out = getattr(input, "out", None)
    if out is None:
        return _predict(name, model_dir, input, config, settings)
    # where predictions go is checked, and held, before any model is loaded
    out_is_file = getattr(input, "OUT_IS_FILE", False)
    if out_is_file and out.is_dir():
        raise UserError(f"{out}: a directory; `out` takes the file to write")
    if out_is_file:
        writable_dir(out.parent)
    with output_lock(out, file=out_is_file):
        return _predict(name, model_dir, input, config, settings)


def _predict(
    name: str,
    model_dir: str | Path,
    input: Any,
    config: o.PredictConfig | None,
    settings: dict[str, Any] | None,
) -> Prediction:
    from electra.onnx_runtime import with_runtime

    implementation = family(name)

    config = config or o.PredictConfig()
    finetuned = implementation.load_finetuned(Path(model_dir))
    finetuned.model = with_runtime(finetuned.model, Path(model_dir), config.runtime)
    positions = finetuned.model.config.max_position_embeddings
    if config.max_seq_length is not None and config.max_seq_length > positions:
        raise UserError(
            f"max_seq_length {config.max_seq_length}: the model has {positions} positions"
        )
    return implementation.predict(finetuned, input, config, settings or {})


def evaluate(name: str, scoring: Any) -> Scores:
    """The family's official scores of a predictions file."""
    implementation = family(name)
    values = implementation.score_file(scoring)
    return Scores(values, implementation.show_scores(values, scoring))
