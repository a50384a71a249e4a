"""Sequence tagging (CoNLL-2000 chunking, CoNLL-2003 NER) as a family.

Training examples are cut at `max_seq_length`: the words past it are simply not trained on. Dev
scoring during fine-tuning tags every word as `predict tagging` does, so the dev F1 that
fine-tuning reports is what `predict tagging` then `evaluate tagging` give on the same file; only a
word that tokenizes to nothing is predicted `O`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from tokenizers import Tokenizer

from electra import hf
from electra.errors import UserError
from electra.files import write_text
from electra.runtime import choose_device
from electra.tasks.family import Family, Finetuned, Prediction, Run
from electra.tasks.loading import load_finetuned
from electra.tasks.options import FinetuneConfig, PredictConfig
from electra.tasks.tagging import SPEC
from electra.tasks.tagging.decoding import conll_text, tag, tag_windows
from electra.tasks.tagging.features import (
    CHUNK_PREFIXES,
    IGNORE,
    OUTSIDE,
    _retagged,
    encode,
    encode_windows,
    is_chunk_tagging,
    label_set,
    retag,
)
from electra.tasks.tagging.model import TokenClassifier, save_tagger
from electra.tasks.tagging.options import TaggingData, TaggingInput, TaggingScoring
from electra.tasks.tagging.reader import (
    DEV_FILES,
    TRAIN_FILES,
    Sentence,
    find_file,
    read_tagged,
    read_text,
    text_sentences,
)
from electra.tasks.tagging.scoring import (
    conlleval_report,
    main_metric,
    official_f1,
    read_scored,
    score,
    score_file,
)
from electra.tasks.task import SETTINGS_KEY, Predict, Task, make_predict
from electra.tokenizer import SpecialIds

PREDICTIONS_FILE = "dev_predictions.txt"
REPORT_FILE = "dev_conlleval.txt"


def saved_labels(model_dir: str | Path) -> tuple[str, ...]:
    """The tags of a fine-tuned tagger: config.json's `id2label`, checked."""
    raw = hf.read_config_json(model_dir)
    config_file = Path(model_dir) / hf.CONFIG_FILE
    id2label = raw.get("id2label")
    if not id2label or not isinstance(id2label, dict):
        raise UserError(
            f"{config_file}: no id2label, so no tag names (expected a tagger fine-tuned by "
            "`electra finetune tagging`)"
        )
    try:
        by_id = {int(k): str(v) for k, v in id2label.items()}
    except ValueError:
        raise UserError(f"{config_file}: id2label keys are not integers") from None
    if sorted(by_id) != list(range(len(by_id))):
        raise UserError(f"{config_file}: id2label keys are not 0..{len(by_id) - 1}")
    return tuple(by_id[i] for i in range(len(by_id)))


def write_predictions(rows: list[str], out_dir: Path) -> None:
    """`word gold predicted` per line, a blank line between sentences (conlleval's input), and
    conlleval's per-type report of it."""
    write_text(out_dir / PREDICTIONS_FILE, "".join(rows))
    write_text(out_dir / REPORT_FILE, conlleval_report(*read_scored(out_dir / PREDICTIONS_FILE)))


def build_task(
    tokenizer: Tokenizer,
    train_path: Path,
    dev_path: Path,
    max_seq_length: int,
    tag_column: int = -1,
    labels: Sequence[str] = (),
    name: str = "tagging",
    label_encoding: str = "BIOES",
    tag_field: str = "upos",
    fields: tuple[str, str] = ("tokens", "ner_tags"),
) -> Task:
    """`finetune tagging`: trains on examples cut at `max_seq_length`, and scores the dev file in
    windows, as `predict tagging` tags it, so that its F1 is the one `evaluate tagging` gives.
    Chunk tags train in `label_encoding` (see the module docstring); the dev file is scored on its
    own tags."""
    train_sentences = read_tagged(train_path, tag_column, tag_field, False, *fields)
    dev_sentences = read_tagged(dev_path, tag_column, tag_field, False, *fields)
    files = [(train_path, train_sentences), (dev_path, dev_sentences)]
    bioes = label_encoding == "BIOES" and is_chunk_tagging(train_sentences + dev_sentences)
    if bioes:
        train_sentences = _retagged(train_sentences, "BIOES")
        files = [(path, _retagged(sentences, "BIOES")) for path, sentences in files]
        if labels and not any(t[:2] in ("E-", "S-") for t in labels):  # IOB names given
            kinds = {t[2:] for t in labels if t[:2] in CHUNK_PREFIXES}
            labels = sorted({OUTSIDE, *(p + kind for kind in kinds for p in CHUNK_PREFIXES)})
    label_names = label_set(files, labels)
    train = encode(tokenizer, train_sentences, label_names, max_seq_length)  # cut: see above
    dev = encode_windows(tokenizer, dev_sentences, label_names, max_seq_length)  # as `tag` does

    def evaluate(predict: Predict) -> tuple[dict[str, float], list[str]]:
        predicted, _ = tag_windows(dev, label_names, predict)
        official = None
        if bioes:
            gold = [retag(s.tags, "BIOES") for s in dev_sentences]
            official = official_f1(gold, predicted)  # the official scorer, on the raw tags
            predicted = [retag(tags, "IOB2") for tags in predicted]
        metrics = score([s.tags for s in dev_sentences], predicted)
        if official is not None:
            metrics["official_f1"] = official
        rows = [
            "".join(f"{w} {g} {p}\n" for w, g, p in zip(s.words, s.tags, tags, strict=True)) + "\n"
            for s, tags in zip(dev_sentences, predicted, strict=True)
        ]
        return metrics, rows

    def loss(outputs: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return F.cross_entropy(
            outputs.flatten(0, 1), batch["labels"].flatten(), ignore_index=IGNORE
        )

    return Task(
        name=name,
        model_class=TokenClassifier,
        save_model=save_tagger,
        model_kwargs={"num_labels": len(label_names)},
        train=train,
        loss=loss,
        evaluate=evaluate,
        main_metric=main_metric(s.tags for s in train_sentences + dev_sentences),
        write_predictions=write_predictions,
        pad_id=SpecialIds.of(tokenizer).pad,
        config_extra={
            "id2label": {str(i): label for i, label in enumerate(label_names)},
            "label2id": {label: i for i, label in enumerate(label_names)},
            SETTINGS_KEY: {"label_encoding": "BIOES" if bioes else "file"},
        },
        sequence_pad={"labels": IGNORE},
        loss_terms=lambda batch: (batch["labels"] != IGNORE).sum(),  # official: per token
    )


def _read_input(input: TaggingInput) -> list[Sentence]:
    if input.file is not None:
        return read_tagged(input.file, tag_column=None, keep_columns=True)
    if input.text_file is not None and str(input.text_file) == "-":
        sentences = text_sentences(sys.stdin)
        if not sentences:
            raise UserError("standard input: no sentences (expected one sentence per line)")
        return sentences
    if input.text_file is not None:
        return read_text(input.text_file)
    sentences = text_sentences(input.texts)
    if len(sentences) != len(input.texts):
        raise UserError("a text to tag is empty (each argument is one sentence)")
    return sentences


class Tagging(Family):
    """Sequence tagging on CoNLL files (`TaggingData`)."""

    spec = SPEC

    def runs(self, data: TaggingData, out_dir: Path) -> list[Run]:
        self._files(data)  # there before any model is loaded
        return super().runs(data, out_dir)

    def _files(self, data: TaggingData) -> tuple[Path, Path]:
        train = data.train or find_file(data.data_dir or Path(), TRAIN_FILES, "training")
        dev = data.dev or find_file(data.data_dir or Path(), DEV_FILES, "dev or test")
        return train, dev

    def build_task(
        self, data: TaggingData, tokenizer: Tokenizer, config: FinetuneConfig, settings: Any
    ) -> Task:
        train, dev = self._files(data)
        return build_task(tokenizer, train, dev, config.max_seq_length, data.tag_column,
                          data.labels, label_encoding=data.label_encoding,
                          tag_field=data.tag_field,
                          fields=(data.tokens_field, data.tags_field))  # fmt: skip

    def load_finetuned(self, model_dir: Path) -> Finetuned:
        labels = saved_labels(model_dir)
        model, tokenizer, saved = load_finetuned(
            model_dir, TokenClassifier, "tagging", num_labels=len(labels)
        )
        return Finetuned(model, tokenizer, labels, self.saved_length(saved, model), saved)

    def predict(
        self, finetuned: Finetuned, input: TaggingInput, config: PredictConfig, settings: dict
    ) -> Prediction:
        sentences = _read_input(input)
        device = choose_device()
        pad = SpecialIds.of(finetuned.tokenizer).pad
        predict = make_predict(finetuned.model.to(device), pad, config.batch_size, device)
        length = config.max_seq_length or finetuned.max_seq_length
        tags, probs = tag(finetuned.tokenizer, sentences, finetuned.labels, length, predict)
        if finetuned.saved.get("label_encoding") == "BIOES":
            tags = [retag(t, "IOB2") for t in tags]
        if input.json:
            rows = [
                {"tokens": list(s.words), "tags": t} for s, t in zip(sentences, tags, strict=True)
            ]
            if input.probs:
                for row, p in zip(rows, probs, strict=True):
                    row["probs"] = p
            text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        else:
            text = conll_text(sentences, tags, probs if input.probs else None)
        if input.out is None:
            return Prediction(stdout=text)
        write_text(input.out, text)
        words = sum(len(s.words) for s in sentences)
        return Prediction(
            message=f"tagged {len(sentences)} sentences ({words} words); written to {input.out}"
        )

    def score_file(self, scoring: TaggingScoring) -> dict[str, Any]:
        return score_file(scoring.predictions)

    def show_scores(self, scores: dict[str, Any], scoring: TaggingScoring | None = None) -> str:
        """JSON, or with `table` conlleval's report with its per-type lines."""
        if scoring is not None and scoring.table:
            return conlleval_report(*read_scored(scoring.predictions)).rstrip("\n")
        return super().show_scores(scores)

    def report(self, data: TaggingData, results: list[dict[str, Any]], out_dir: Path) -> str:
        train, dev = self._files(data)
        return f"tagging: trained on {train}, scored on {dev}\n" + super().report(
            data, results, out_dir
        )


FAMILY = Tagging()
