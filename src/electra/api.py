"""The whole workflow from Python, one call per command, returning results instead of printing.

    import electra

    vocab = electra.vocab(["corpus/"], "runs/vocab", size=8000)
    data = electra.prepare(["corpus/"], "runs/vocab", "runs/shards")
    run = electra.pretrain("runs/shards", "runs/pt", preset="tiny", steps=200)
    tuned = electra.finetune("tagging", TaggingData(data_dir="conll"), run.discriminator, "runs/chunk")
    electra.predict("tagging", "runs/chunk/model", TaggingInput(texts=("He reckons .",))).stdout
    electra.export("runs/chunk/model", "runs/chunk/onnx", quantize="int8")

Options are the commands' own, by the same names: keyword arguments that are fields of the
command's config dataclasses (`PretrainConfig` and `ModelConfig` for `pretrain`,
`FinetuneConfig` for `finetune`, ...), checked by those dataclasses. The commands call these.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from electra.config import MODEL_FIELDS
from electra.errors import UserError


def _split(options: dict[str, Any], *kinds: tuple[type, tuple[str, ...] | None]) -> list[dict]:
    """`options` shared out among config dataclasses by field name; an unknown name is an error."""
    parts: list[dict[str, Any]] = [{} for _ in kinds]
    for name, value in options.items():
        for part, (cls, names) in zip(parts, kinds, strict=True):
            if name in (names or {f.name for f in fields(cls)}):
                part[name] = value
                break
        else:
            known = sorted(
                {n for cls, names in kinds for n in (names or [f.name for f in fields(cls)])}
            )
            raise UserError(f"unknown option {name!r}; known: {', '.join(known)}")
    return parts


def vocab(
    corpus: list[str], out: str | Path, default_corpus: bool = False, overwrite: bool = False,
    **options: Any,
) -> Any:  # fmt: skip
    """`electra vocab`: a WordPiece vocabulary learned from `corpus` (`VocabConfig` and `Reading`
    options: size, lowercase, strip_accents, min_frequency, text_field, skip_bad_records); one already in `out` is
    replaced only with `overwrite`."""
    from electra.data.options import Reading, VocabConfig
    from electra.data.vocabulary import learn_vocabulary

    config, reading = _split(options, (VocabConfig, None), (Reading, None))
    return learn_vocabulary(corpus, out, VocabConfig(**config), default_corpus, Reading(**reading),
                            overwrite)  # fmt: skip


def prepare(
    corpus: list[str], vocab: str | Path, out: str | Path, default_corpus: bool = False,
    overwrite: bool = False, progress: bool = True, **options: Any,
) -> Any:  # fmt: skip
    """`electra prepare`: `corpus` tokenized and packed into pre-training shards under `out`
    (`PrepareConfig` and `Reading` options: seq_len, workers, ..., text_field)."""
    from electra.data.options import PrepareConfig, Reading
    from electra.data.prepare import prepare as run

    config, reading = _split(options, (PrepareConfig, None), (Reading, None))
    if not Path(vocab).exists():  # a hub name, as every --model takes one (hf imports torch)
        from electra.hf import resolve

        vocab = resolve(vocab)
    return run(corpus, vocab, out, **asdict(PrepareConfig(**config)), reading=Reading(**reading),
               default_corpus=default_corpus, overwrite=overwrite, progress=progress)  # fmt: skip


@dataclass
class Pretrained:
    """What `pretrain` did: its exit status (0: finished or paused at `until`; 128 + signal:
    stopped by a signal after a checkpoint), where the networks are, the last held-out scores."""

    status: int
    run_dir: Path
    discriminator: Path | None
    generator: Path | None
    heldout: dict[str, float]


def pretrain(
    data: str | Path, out: str | Path, preset: str = "small", resume: bool = False,
    device: str | None = None, until: int | None = None, progress: bool = True,
    allow_changes: bool = False, **options: Any,
) -> Pretrained:  # fmt: skip
    """`electra pretrain`: pre-train on the shards in `data` into `out`; `options` are
    `PretrainConfig` fields (steps, lr, objective, ...) and model shape fields (hidden_size...).
    Resuming with settings that change the run's trajectory is refused unless `allow_changes`."""
    from electra.config import ModelConfig
    from electra.pretraining.options import PretrainConfig
    from electra.pretraining.trainer import pretrain as run

    config, model = _split(options, (PretrainConfig, None), (ModelConfig, MODEL_FIELDS))
    status = run(data, out, preset, config, model, resume, device, until, progress, allow_changes)
    run_dir = Path(out)
    heldout: dict[str, float] = {}
    metrics = run_dir / "metrics.jsonl"
    if metrics.is_file():
        for line in metrics.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if any(k.startswith("heldout_") for k in record):
                heldout = {k.removeprefix("heldout_"): v for k, v in record.items() if k != "step"}

    def exported(name: str) -> Path | None:
        return run_dir / name if (run_dir / name / "config.json").is_file() else None

    return Pretrained(status, run_dir, exported("discriminator"), exported("generator"), heldout)


def finetune(
    family: str, data: Any, model: str | Path, out: str | Path, preset: str | None = None,
    settings: Any = None, random_init: bool = False, progress: bool = True,
    device: str | None = None, overwrite: bool = False, resume: bool = False,
    allow_changes: bool = False, **options: Any,
) -> Any:  # fmt: skip
    """`electra finetune FAMILY`: the recipe for the model's size and task, `options`
    (`FinetuneConfig` fields: lr, epochs, seeds, ...) winning; returns a `FinetuneResult`.
    Resuming with settings that change a run's trajectory is refused unless `allow_changes`."""
    from electra.tasks.options import FinetuneConfig
    from electra.tasks.verbs import finetune as run

    (overrides,) = _split(options, (FinetuneConfig, None))
    return run(family, data, model, out, overrides, preset, settings, random_init, progress,
               device, overwrite, resume, allow_changes)  # fmt: skip


def predict(family: str, model: str | Path, input: Any, config: Any = None, **settings: Any) -> Any:
    """`electra predict FAMILY`: a fine-tuned model's predictions on `input` (the family's input
    dataclass); `settings` override the ones it was fine-tuned with. Returns a `Prediction`."""
    from electra.tasks.verbs import predict as run

    return run(family, model, input, config, settings)


def evaluate(family: str, scoring: Any) -> Any:
    """`electra evaluate FAMILY`: a predictions file's official scores (`Scores`)."""
    from electra.tasks.verbs import evaluate as run

    return run(family, scoring)


def export(model: str | Path, out: str | Path, quantize: str | None = None) -> Any:
    """`electra export onnx`: the model in `model` as an ONNX graph in `out` (`Exported`)."""
    from electra.onnx_export import export_onnx

    return export_onnx(model, out, quantize)


def compare(
    data: str | Path, out: str | Path, config: Any, pretrain_options: dict | None = None,
    model_options: dict | None = None, progress: bool = True,
) -> dict[str, Any]:  # fmt: skip
    """`electra compare`: arms pre-trained to equal FLOPs, each checkpoint fine-tuned (a
    `CompareConfig` says which); returns what OUT/compare.json holds."""
    from electra.comparison import compare as run

    return run(data, out, config, pretrain_options, model_options, progress)
