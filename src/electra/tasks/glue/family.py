"""Classification as a family: the `Task` the shared loop trains, predictions on test sets and
your own files, and the calls of `finetune glue`, `predict glue` and `evaluate glue`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from tokenizers import Tokenizer

from electra import hf
from electra.backbones.models import EncoderOnly
from electra.errors import UserError
from electra.files import write_json
from electra.runtime import choose_device
from electra.tasks.family import Family, Finetuned, Prediction, Run
from electra.tasks.glue import SPEC
from electra.tasks.glue.catalog import (
    GLUE,
    OPTIONAL_TEST_SETS,
    Spec,
    custom_spec,
    glue_dev_paths,
    glue_spec,
    hf_labels,
    spec_from_config,
    task_dir,
)
from electra.tasks.glue.features import encode, labelled_features
from electra.tasks.glue.model import LinearClassifier, SequenceClassifier
from electra.tasks.glue.options import (
    ClassificationData,
    ClassificationInput,
    ClassificationScoring,
)
from electra.tasks.glue.scoring import (
    decode,
    glue_score,
    glue_table,
    prediction_strings,
    score,
    score_file,
    write_predictions,
)
from electra.tasks.loading import load_finetuned
from electra.tasks.options import FinetuneConfig, PredictConfig
from electra.tasks.tables import read_examples
from electra.tasks.task import SETTINGS_KEY, Predict, Task, make_predict
from electra.tokenizer import SpecialIds


def build_task(
    spec: Spec,
    tokenizer: Tokenizer,
    train_path: Path,
    dev_paths: Sequence[tuple[Path, str, str]],
    max_seq_length: int,
    swap_pairs: bool = True,
    head: str = "official",
) -> Task:
    """The loop's `Task` for `spec`: train features, and an evaluation over each dev set
    (`(path, metric suffix, prediction file)`) that returns metrics and prediction rows. `head`:
    the official dropout + linear classifier, or `transformers`' (see `ClassificationData`)."""
    needed = 2 * len(spec.text_columns) + 1  # [CLS] a [SEP] (b [SEP]): a token of each text
    if max_seq_length < needed:
        raise UserError(f"max_seq_length {max_seq_length}: {spec.name}'s {len(spec.text_columns)} "
                        f"text(s) need at least {needed} tokens with their special tokens")  # fmt: skip
    _, train = labelled_features(
        spec, train_path, tokenizer, max_seq_length, swap=swap_pairs and spec.swap_pairs
    )
    dev_sets = [
        (labelled_features(spec, path, tokenizer, max_seq_length)[1], suffix, out_name)
        for path, suffix, out_name in dev_paths
    ]

    def evaluate(predict: Predict) -> tuple[dict[str, float], dict[str, list[str]]]:
        metrics: dict[str, float] = {}
        rows: dict[str, list[str]] = {}
        for features, suffix, out_name in dev_sets:
            predicted = decode(spec, predict(features))
            gold = [
                f["label"] * spec.target_scale if spec.regression else f["label"] for f in features
            ]
            metrics.update(score(spec, gold, predicted, suffix))
            rows[out_name] = prediction_strings(spec, predicted)
        return metrics, rows

    if spec.regression:

        def loss(outputs: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
            return F.mse_loss(outputs[:, 0], batch["label"].float())

    elif spec.multi_label:  # a sigmoid per label; an example's loss sums its labels'

        def loss(outputs: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
            losses = F.binary_cross_entropy_with_logits(
                outputs.float(), batch["label"].float(), reduction="none"
            )
            return losses.sum(-1).mean()

    else:

        def loss(outputs: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
            return F.cross_entropy(outputs, batch["label"])

    num_labels = len(spec.labels) or 1
    official = head == "official"
    return Task(
        name=spec.name,
        model_class=EncoderOnly if official else SequenceClassifier,
        model_kwargs={} if official else {"num_labels": num_labels},
        wrap_model=(lambda base: LinearClassifier(base, num_labels)) if official else None,
        save_model=(lambda model, out, tokenizer, extra: model.save(out, tokenizer, extra))
        if official
        else hf.save,
        train=train,
        loss=loss,
        evaluate=evaluate,
        main_metric=spec.metrics[0],
        write_predictions=write_predictions,
        pad_id=SpecialIds.of(tokenizer).pad,
        config_extra={**hf_labels(spec), SETTINGS_KEY: {"text_columns": len(spec.text_columns)}},
    )


def predict_file(
    spec: Spec,
    path: Path,
    tokenizer: Tokenizer,
    predict: Predict,
    max_seq_length: int,
    probs: bool = False,
) -> list[str]:
    """Label strings (or scores) for every example of an unlabelled file; with `probs`, each
    followed by the softmax probability of every label, tab-separated, in the labels' order."""
    examples = read_examples(path, spec.text_columns, None)
    outputs = predict(encode(tokenizer, examples, max_seq_length))
    labels = prediction_strings(spec, decode(spec, outputs))
    if not probs or spec.regression:
        return labels
    logits = torch.stack(list(outputs)).float()
    probabilities = (logits.sigmoid() if spec.multi_label else logits.softmax(-1)).tolist()
    return [
        "\t".join((label, *(f"{p:.6f}" for p in row)))
        for label, row in zip(labels, probabilities, strict=True)
    ]


class Classification(Family):
    """GLUE tasks from their standard layout, and your own tables (`ClassificationData`)."""

    spec = SPEC

    def runs(self, data: ClassificationData, out_dir: Path) -> list[Run]:
        if data.train is not None:
            return [Run("custom", data, out_dir)]
        assert data.task is not None and data.data_dir is not None
        if data.task != "all":
            spec = glue_spec(data.task)
            task_dir(data.data_dir, spec)  # there before any model is loaded
            return [Run(spec.name, data, out_dir)]
        present = [s for s in GLUE.values() if (data.data_dir / s.folder).is_dir()]
        if not present:
            raise UserError(f"{data.data_dir}: no GLUE task folders (expected CoLA/, SST-2/, ...)")
        return [Run(s.name, replace(data, task=s.name), out_dir / s.name) for s in present]

    def build_task(
        self, data: ClassificationData, tokenizer: Tokenizer, config: FinetuneConfig, settings: Any
    ) -> Task:
        if data.train is not None:
            spec = custom_spec(data.text_columns, data.label_column or "", data.train,
                               data.labels, data.regression, multi_label=data.multi_label)  # fmt: skip
            return build_task(spec, tokenizer, data.train, [(data.dev, "", "dev_predictions.tsv")],
                              config.max_seq_length, head=data.head)  # fmt: skip
        spec = glue_spec(data.task or "")
        directory = task_dir(data.data_dir or Path(), spec)
        return build_task(spec, tokenizer, directory / "train.tsv",
                          glue_dev_paths(spec, directory), config.max_seq_length,
                          data.swap_pairs, data.head)  # fmt: skip

    def load_finetuned(self, model_dir: Path) -> Finetuned:
        """The head follows config.json's architecture: `ElectraModel` with the official head in
        `head.safetensors`, or `ElectraForSequenceClassification` (e.g. made by transformers)."""
        raw = hf.read_config_json(model_dir)
        labels = spec_from_config(raw, Spec("", (), "", (), ())).labels
        if hf.is_saved_as(model_dir, EncoderOnly):
            base, tokenizer, saved = load_finetuned(model_dir, EncoderOnly, "glue")
            model = LinearClassifier.load(model_dir, base, len(labels) or 1)
        else:
            model, tokenizer, saved = load_finetuned(model_dir, SequenceClassifier, "glue",
                                                     num_labels=len(labels) or 1)  # fmt: skip
        return Finetuned(model, tokenizer, labels, self.saved_length(saved, model), saved)

    def predict(
        self,
        finetuned: Finetuned,
        input: ClassificationInput,
        config: PredictConfig,
        settings: dict,
    ) -> Prediction:
        if input.test is not None:
            base = Spec("custom", input.text_columns, "", (), ())
            files = [(input.test, "test_predictions.tsv")]
            trained = finetuned.saved.get("text_columns")
            if trained is not None and trained != len(input.text_columns):
                raise UserError(f"text_columns: the model was fine-tuned on {trained} text(s) an "
                                f"example, {len(input.text_columns)} given ({', '.join(input.text_columns)})")  # fmt: skip
        else:
            base = glue_spec(input.task or "")
            directory = task_dir(input.data_dir or Path(), base)
            files = [(directory / name, out) for name, out in base.test_sets]
        spec = replace(base, labels=finetuned.labels)
        if input.test is None and spec.labels != base.labels:
            raise UserError(
                f"model labels {', '.join(spec.labels) or '(regression)'} do not match "
                f"{base.name}'s {', '.join(base.labels) or '(regression)'}"
            )
        device = choose_device()
        pad = SpecialIds.of(finetuned.tokenizer).pad
        predict = make_predict(finetuned.model.to(device), pad, config.batch_size, device)
        length = config.max_seq_length or finetuned.max_seq_length
        rows, skipped = {}, []
        for path, out_name in files:
            if not path.is_file() and out_name in OPTIONAL_TEST_SETS:
                skipped.append(f"{out_name}: skipped, no {path.resolve()}")
                continue
            rows[out_name] = predict_file(
                spec, path, finetuned.tokenizer, predict, length, input.probs
            )
        columns = [f"prob_{label}" for label in spec.labels] if input.probs else []
        write_predictions(rows, input.out, columns)
        written = [f"{input.out}/{name}: {len(r):,} predictions" for name, r in rows.items()]
        return Prediction(message="\n".join([*skipped, *written]))

    def score_file(self, scoring: ClassificationScoring) -> dict[str, Any]:
        spec = glue_spec(scoring.task)
        directory = task_dir(scoring.data_dir, spec)
        return score_file(
            spec, directory / (scoring.dev_file or spec.dev_sets[0][0]), scoring.predictions
        )

    def report(self, data: ClassificationData, results: list[dict[str, Any]], out_dir: Path) -> str:
        lines = super().report(data, results, out_dir)
        if data.task != "all":
            return lines
        dev = {r["task"]: r["dev"] for r in results}
        spread = {r["task"]: r["spread"] for r in results if "spread" in r} or None
        summary = {"dev": dev, "glue_score": glue_score(dev)}
        if spread:
            summary.update(statistic="median over seeds", spread=spread)
        write_json(out_dir / "glue_results.json", summary)
        return lines + "\n" + glue_table(dev, spread)


FAMILY = Classification()
