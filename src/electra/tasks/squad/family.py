"""SQuAD 1.1 and 2.0 as a family: the `Task` the shared loop trains, answers over every window of a
question, the prediction files the official scripts score, and the calls of `finetune squad`,
`predict squad` and `evaluate squad`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer
from torch import Tensor, nn

from electra import hf
from electra.backbones.models import EncoderOnly
from electra.config import from_dict
from electra.errors import UserError
from electra.files import write_json
from electra.runtime import choose_device
from electra.tasks.family import Family, Finetuned, Prediction
from electra.tasks.loading import load_finetuned
from electra.tasks.options import FinetuneConfig, PredictConfig
from electra.tasks.squad import SPEC
from electra.tasks.squad.decoding import Answer, Beams, decode
from electra.tasks.squad.features import Features, build_features
from electra.tasks.squad.model import (
    QuestionAnswerer,
    _load_heads,
    build_model,
    save_model,
    squad_loss,
)
from electra.tasks.squad.options import SquadConfig, SquadData, SquadInput, SquadScoring
from electra.tasks.squad.reader import Example, load_squad, read_json
from electra.tasks.squad.scoring import detect_version, evaluate_v1, evaluate_v2, iter_questions
from electra.tasks.task import SETTINGS_KEY, Predict, Task, make_predict
from electra.tokenizer import SpecialIds

PREDICTIONS_FILE = "predictions.json"
NULL_ODDS_FILE = "null_odds.json"


def loop_features(features: Features) -> list[dict[str, Any]]:
    """`Features` as the loop's per-window dicts: unpadded ids and the training targets."""
    lengths = features.attention_mask.sum(1).tolist()
    return [
        {
            "input_ids": features.input_ids[i, :n].tolist(),
            "token_type_ids": features.token_type_ids[i, :n].tolist(),
            "start_positions": int(features.start_positions[i]),
            "end_positions": int(features.end_positions[i]),
            "is_impossible": float(features.is_impossible[i]),
        }
        for i, n in enumerate(lengths)
    ]


def predict_answers(
    predict: Predict,
    examples: Sequence[Example],
    features: Features,
    config: SquadConfig,
    version_2: bool,
    joint: bool,
    has_classifier: bool,
) -> dict[str, Answer]:
    """Run `predict` (from `finetune.make_predict`) over every window and decode the answers."""
    rows = predict(loop_features(features))
    null = np.array([float(row[-1]) for row in rows], dtype=np.float32) if has_classifier else None
    if joint:
        return decode(examples, features, _stack_beams(rows), None, null, config, version_2)
    start = np.zeros(features.input_ids.shape, dtype=np.float32)  # (N, L), padding never decoded
    end = np.zeros_like(start)
    for i, (start_row, end_row, _) in enumerate(rows):
        start[i, : len(start_row)] = start_row.numpy()
        end[i, : len(end_row)] = end_row.numpy()
    return decode(examples, features, start, end, null, config, version_2)


def _stack_beams(rows: list[tuple[Tensor, ...]]) -> Beams:
    """One `Beams` from per-window beams, whose width is smaller in batches shorter than the beam:
    the missing entries get log-probability -inf at position 0 ([CLS], never a valid start)."""
    k = max(len(row[0]) for row in rows)
    beams = Beams(
        np.full((len(rows), k), -np.inf, np.float32),
        np.zeros((len(rows), k), np.int64),
        np.full((len(rows), k, k), -np.inf, np.float32),
        np.zeros((len(rows), k, k), np.int64),
    )
    for i, (start_lp, start_index, end_lp, end_index, _) in enumerate(rows):
        n = len(start_lp)
        beams.start_log_probs[i, :n] = start_lp.numpy()
        beams.start_index[i, :n] = start_index.numpy()
        beams.end_log_probs[i, :n, :n] = end_lp.numpy()
        beams.end_index[i, :n, :n] = end_index.numpy()
    return beams


def write_predictions(answers: dict[str, Answer], out_dir: Path) -> None:
    """`predictions.json` ({id: text}) and, for SQuAD 2.0, `null_odds.json` ({id: odds}): the
    files the official evaluation scripts read as the prediction and `--na-prob-file`. As the
    official code writes them, every question carries its best span's text and the null odds
    decide at scoring (`na_prob_thresh`) which become "no answer"."""
    write_json(out_dir / PREDICTIONS_FILE, {qid: a.text for qid, a in answers.items()})
    if any(a.null_odds is not None for a in answers.values()):
        write_json(out_dir / NULL_ODDS_FILE, {qid: a.null_odds for qid, a in answers.items()})


# The official scripts' percentages, given as fractions (0-1) like every other score we print.
PERCENTAGES = ("exact_match", "f1", "exact", "HasAns_exact", "HasAns_f1", "NoAns_exact",
               "NoAns_f1", "best_exact", "best_f1")  # fmt: skip


def as_fractions(scores: dict[str, Any]) -> dict[str, Any]:
    """The official metrics on one scale with the rest of the toolkit: percentages / 100 (counts
    and thresholds as they are)."""
    return {k: v / 100 if k in PERCENTAGES else v for k, v in scores.items()}


def score(dataset: dict[str, Any], answers: dict[str, Answer], version_2: bool,
          null_threshold: float) -> dict[str, Any]:  # fmt: skip
    """The official metrics of `answers` against a validated SQuAD file's contents (as
    fractions); SQuAD 2.0's `exact`/`f1` at `null_threshold`, and `best_exact`/`best_f1` over
    every threshold."""
    predictions = {qid: a.text for qid, a in answers.items()}
    if not version_2:
        return as_fractions(evaluate_v1(dataset["data"], predictions))
    odds = {qid: a.null_odds for qid, a in answers.items()}
    return as_fractions(evaluate_v2(dataset["data"], predictions, odds, null_threshold))


def squad_task(
    train: Sequence[Example],
    dev: Sequence[Example],
    dev_dataset: dict[str, Any],
    tokenizer: Tokenizer,
    config: SquadConfig,
    max_seq_length: int,
    version_2: bool,
) -> Task:
    """SQuAD as a `Task` of the shared fine-tuning loop; the best epoch is chosen by dev F1."""
    train_features = build_features(train, tokenizer, config, max_seq_length, training=True)
    dev_features = build_features(dev, tokenizer, config, max_seq_length, training=False)

    def evaluate(predict: Predict) -> tuple[dict[str, Any], dict[str, Answer]]:
        joint = config.head == "joint"
        answers = predict_answers(predict, dev, dev_features, config, version_2, joint, version_2)
        return score(dev_dataset, answers, version_2, config.null_threshold), answers

    weight = config.answerable_weight  # 1.1 too: all its labels are 0, as officially
    return Task(
        name="squad2" if version_2 else "squad",
        model_class=EncoderOnly if config.head == "joint" else QuestionAnswerer,
        model_kwargs={},
        train=loop_features(train_features),
        loss=lambda outputs, batch: squad_loss(outputs, batch, weight),
        evaluate=evaluate,
        main_metric="f1",
        write_predictions=write_predictions,
        pad_id=SpecialIds.of(tokenizer).pad,
        config_extra={
            SETTINGS_KEY: {"version": "2.0" if version_2 else "1.1", "squad": asdict(config)}
        },
        wrap_model=lambda base: build_model(base, config),
        save_model=save_model,
        train_inputs=("start_positions",) if config.head == "joint" else (),
    )


def _read_context(input: SquadInput) -> str:
    if input.context is not None:
        return input.context
    assert input.context_file is not None
    try:
        return input.context_file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{input.context_file}: no such file") from None
    except UnicodeDecodeError as e:
        raise UserError(
            f"{input.context_file}: not UTF-8 text ({e.reason} at byte {e.start})"
        ) from None


class Squad(Family):
    """SQuAD 1.1 and 2.0 (`SquadData`); `SquadConfig` is saved beside the model."""

    spec = SPEC

    def build_task(
        self, data: SquadData, tokenizer: Tokenizer, config: FinetuneConfig, settings: SquadConfig
    ) -> Task:
        train_data, train = load_squad(data.train)
        dev_data, dev = load_squad(data.dev)
        version = data.version or detect_version(train_data)
        if version == "1.1" and any(e.is_impossible for e in train):
            raise UserError(f"{data.train}: has is_impossible questions; they need `version` 2.0")
        return squad_task(train, dev, dev_data, tokenizer, settings, config.max_seq_length,
                          version == "2.0")  # fmt: skip

    def onnx_outputs(self, model: nn.Module) -> tuple[str, ...]:
        if model.joint is not None:  # the beam: the best starts, and the best ends of each
            return ("start_log_probs", "start_index", "end_log_probs", "end_index", "null_logits")
        return self.spec.onnx_outputs

    def load_finetuned(self, model_dir: Path) -> Finetuned:
        """The head follows config.json's architecture: `ElectraModel` carries the joint head in
        `head.safetensors`, `ElectraForQuestionAnswering` the independent one. A directory
        without the answerability head (e.g. fine-tuned with `transformers`) is 2.0 when its
        settings say so; its null odds then come from the [CLS] span scores."""
        # any other class is loaded as the independent head, and refused as an untrained one
        joint = hf.is_saved_as(model_dir, EncoderOnly)
        model_class = EncoderOnly if joint else QuestionAnswerer
        base, tokenizer, saved = load_finetuned(model_dir, model_class, "squad")
        source = f"{model_dir / hf.CONFIG_FILE} {SETTINGS_KEY}"
        head = "joint" if joint else "independent"
        squad = from_dict(SquadConfig, {**(saved.get("squad") or {}), "head": head}, source=source)
        model = _load_heads(model_dir, base, squad.beam_size).eval()
        version = saved.get("version")  # absent: saved when only 2.0 had the classifier
        version_2 = model.answerability is not None if version is None else str(version) == "2.0"
        return Finetuned(model, tokenizer, (), self.saved_length(saved, base),
                         {"version_2": version_2, "squad": squad})  # fmt: skip

    def predict(
        self, finetuned: Finetuned, input: SquadInput, config: PredictConfig, settings: dict
    ) -> Prediction:
        if input.data is not None:
            examples = load_squad(input.data, need_answers=False)[1]
        else:
            context = _read_context(input)
            examples = [Example(str(i), q, context) for i, q in enumerate(input.question)]
        model, tokenizer = finetuned.model, finetuned.tokenizer
        squad = replace(finetuned.saved["squad"], **settings)
        length = config.max_seq_length or finetuned.max_seq_length
        features = build_features(examples, tokenizer, squad, length, training=False)
        device = choose_device()
        predict = make_predict(
            model.to(device), SpecialIds.of(tokenizer).pad, config.batch_size, device
        )
        answers = predict_answers(predict, examples, features, squad, finetuned.saved["version_2"],
                                  model.joint is not None, model.answerability is not None)  # fmt: skip
        if input.data is not None:
            assert input.out is not None
            write_predictions(answers, input.out)
            return Prediction(message=f"wrote {len(answers)} answers to {input.out}")
        lines = []
        for example in examples:
            found = answers[example.qid]
            if input.json:
                row = {"question": example.question, "answer": found.answer(squad.null_threshold),
                       "best_span": found.text, "score": found.score}  # fmt: skip
                if found.null_odds is not None:
                    row["null_odds"] = found.null_odds
                if input.probs:
                    row["probability"] = found.probability
                lines.append(json.dumps(row, ensure_ascii=False))
            else:
                line = found.answer(squad.null_threshold) or "(no answer)"
                if input.probs and found.probability is not None:
                    line += f"\t{found.probability:.4f}"
                lines.append(line)
        return Prediction(stdout="".join(line + "\n" for line in lines))

    def show_scores(self, scores: dict[str, Any], scoring: SquadScoring | None = None) -> str:
        """As the official scripts print them: v1.1 on one line, v2.0 indented."""
        return json.dumps(scores, indent=None if "exact_match" in scores else 2)

    def score_file(self, scoring: SquadScoring) -> dict[str, Any]:
        dataset, _ = load_squad(scoring.data, check_offsets=False)  # scoring reads answer texts
        predictions = read_json(scoring.predictions)
        if not isinstance(predictions, dict):
            raise UserError(
                f"{scoring.predictions}: expected a JSON object {{question id: answer text}}"
            )
        version = scoring.version or detect_version(dataset)
        if version == "1.1":
            if scoring.na_probs is not None:
                raise UserError(
                    "na_probs scores SQuAD 2.0; this is 1.1 data (give `version` 2.0 to force)"
                )
            unanswered = sum(
                1 for qid, _ in iter_questions(dataset["data"]) if qid not in predictions
            )
            if unanswered:
                print(
                    f"electra: {unanswered} questions have no prediction and score 0",
                    file=sys.stderr,
                )
            return as_fractions(evaluate_v1(dataset["data"], predictions))
        na_probs = None
        if scoring.na_probs is not None:
            na_probs = read_json(scoring.na_probs)
            if not isinstance(na_probs, dict):
                raise UserError(
                    f"{scoring.na_probs}: expected a JSON object {{question id: null odds}}"
                )
        return as_fractions(
            evaluate_v2(dataset["data"], predictions, na_probs, scoring.na_prob_thresh)
        )


FAMILY = Squad()
