"""`electra finetune|evaluate|predict squad` end to end: SQuAD 2.0 on the suite's own questions
(tests/assets/squad), SQuAD 1.1 on slices of the shared dev set."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch
from finetune_models import tiny_checkpoint
from pretrain_data import one_thread  # noqa: F401 (fixture)

from electra import hf
from electra.cli import main
from electra.tasks.heads import HEAD_FILE
from electra.tasks.squad.family import FAMILY
from electra.tasks.squad.model import QuestionAnswerer
from electra.tokenizer import train_tokenizer

WINDOWS = ["--max-seq-length", "128", "--doc-stride", "64", "--max-query-length", "32"]
QUIET = ["--no-progress", "--warmup-fraction", "0", "--batch-size", "8", "--eval-batch-size", "32"]


def _slice(raw: dict, article: int, paragraphs: int, questions: int) -> list[dict]:
    data = copy.deepcopy(raw["data"][article])
    data["paragraphs"] = data["paragraphs"][:paragraphs]
    for paragraph in data["paragraphs"]:
        paragraph["qas"] = paragraph["qas"][:questions]
    return [data]


def _write(path: Path, data) -> str:
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


@pytest.fixture
def setup(shared_data, tmp_path):
    raw = json.loads((shared_data / "squad" / "dev-v1.1.json").read_text(encoding="utf-8"))
    contexts = [p["context"] for article in raw["data"][:6] for p in article["paragraphs"]]
    checkpoint = tiny_checkpoint(tmp_path / "discriminator", train_tokenizer(contexts, 1000))
    return raw, checkpoint


def _read(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.slow
def test_squad_1_learns_and_predicts_from_the_saved_model(setup, tmp_path, capsys) -> None:
    raw, checkpoint = setup
    data = _write(tmp_path / "train.json", {"version": "1.1", "data": _slice(raw, 1, 3, 5)})
    out = tmp_path / "run"
    argv = ["finetune", "squad", "--train", data, "--dev", data, "--model", str(checkpoint)]
    # Windows long enough for most contexts: few windows train [CLS] alone.
    whole = ["--max-seq-length", "256", "--doc-stride", "128", "--max-query-length", "32"]
    # A tiny model memorising 15 questions at 30x the recipe's rate: the official optimizer's
    # larger early steps (no bias correction) overshoot there, so this dynamics check uses AdamW.
    fast = ["--lr", "1e-2", "--epochs", "8", "--layerwise-lr-decay", "1", "--keep", "best",
            "--bias-correction"]  # fmt: skip
    assert main([*argv, "--out", str(out), *fast, *whole, *QUIET]) == 0
    results = _read(out / "results.json")
    first, best = results["epochs"][0]["f1"], results["dev"]["f1"]
    assert best > max(0.5, first + 0.25)  # it memorises the 15 questions (F1 as a fraction)
    assert set(results["dev"]) == {"exact_match", "f1"}

    # The predictions file scores what results.json says, with the official v1.1 output format.
    predictions = _read(out / "predictions.json")
    assert len(predictions) == 15 and not (out / "null_odds.json").exists()
    capsys.readouterr()
    assert (
        main(["evaluate", "squad", "--data", data, "--predictions", str(out / "predictions.json")])
        == 0
    )
    assert json.loads(capsys.readouterr().out) == results["dev"]

    # Prediction from the saved directory reproduces them, with the windows it was trained with.
    again = tmp_path / "again"
    command = ["predict", "squad", "--model", str(out / "model"), "--batch-size", "32"]
    assert main([*command, "--data", data, "--out", str(again)]) == 0
    assert _read(again / "predictions.json") == predictions
    context = raw["data"][1]["paragraphs"][0]["context"]
    question = raw["data"][1]["paragraphs"][0]["qas"][0]["question"]
    capsys.readouterr()
    assert main([*command, "--context", context, "--question", question, "--json", "--probs"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert 0 < answer.pop("probability") <= 1
    assert answer["answer"] == predictions[raw["data"][1]["paragraphs"][0]["qas"][0]["id"]]
    assert answer["answer"] in context and "null_odds" not in answer

    # The joint head has no transformers class: the encoder loads as ElectraModel, with our
    # encoder's outputs, and the head sits beside it.
    assert (out / "model" / HEAD_FILE).is_file()
    transformers = pytest.importorskip("transformers")
    theirs, info = transformers.ElectraModel.from_pretrained(
        out / "model", subfolder="encoder", output_loading_info=True
    )
    with pytest.raises((OSError, ValueError)):  # no randomly headed QA model from it
        transformers.AutoModelForQuestionAnswering.from_pretrained(out / "model")
    assert not info["missing_keys"] and not info["unexpected_keys"]
    ours = FAMILY.load_finetuned(out / "model").model
    assert ours.joint is not None and ours.out is None
    ids = torch.randint(5, 1000, (2, 40))
    types = (torch.arange(40) >= 12).long().expand(2, -1)
    with torch.no_grad():
        expected = theirs.eval()(input_ids=ids, token_type_ids=types).last_hidden_state
        torch.testing.assert_close(ours.electra(ids, None, types), expected)


def _as_v2(raw: dict) -> dict:
    """Every third question moved to a paragraph of another article: unanswerable there."""
    answerable, donors = _slice(raw, 2, 2, 6), _slice(raw, 3, 2, 2)
    targets = donors[0]["paragraphs"]
    for p, paragraph in enumerate(answerable[0]["paragraphs"]):
        for qa in paragraph["qas"]:
            qa["is_impossible"] = False
        for qa in paragraph["qas"][::3]:
            paragraph["qas"].remove(qa)
            qa.update(is_impossible=True, plausible_answers=qa["answers"], answers=[])
            targets[p % len(targets)]["qas"].append(qa)
    return {"version": "v2.0", "data": answerable + donors}


@pytest.mark.parametrize("head", ["joint", "independent"])
def test_squad_2_trains_the_answerability_head_and_writes_null_odds(
    assets, tiny_checkpoint, tmp_path, capsys, head
) -> None:
    checkpoint = tiny_checkpoint
    v2 = _read(assets / "squad" / "dev-v2.0.json")
    questions = [qa for article in v2["data"] for p in article["paragraphs"] for qa in p["qas"]]
    impossible = sum(qa.get("is_impossible", False) for qa in questions)
    data = _write(tmp_path / "train.json", v2)
    out = tmp_path / "run"
    argv = ["finetune", "squad", "--train", data, "--dev", data, "--model", str(checkpoint),
            "--head", head]  # fmt: skip
    assert main([*argv, "--out", str(out), "--lr", "3e-3", "--epochs", "2", *WINDOWS, *QUIET]) == 0
    results = _read(out / "results.json")
    assert results["task"] == "squad2" and results["dev"]["NoAns_total"] == impossible > 0
    assert {"HasAns_exact", "NoAns_f1", "best_exact", "best_f1_thresh"} <= set(results["dev"])
    odds = _read(out / "null_odds.json")
    predictions = _read(out / "predictions.json")
    assert set(odds) == set(predictions) == {qa["id"] for qa in questions}
    assert all(isinstance(v, float) for v in odds.values())
    # As the official code writes them: every question has its best span's text; the null odds
    # decide at scoring time, at the official threshold -2.75 by default.
    assert all(predictions.values())

    capsys.readouterr()
    evaluate = ["evaluate", "squad", "--data", data, "--predictions", str(out / "predictions.json"),
                "--na-probs", str(out / "null_odds.json")]  # fmt: skip
    assert main([*evaluate, "--na-prob-thresh", "-2.75"]) == 0
    assert json.loads(capsys.readouterr().out) == results["dev"]

    model_dir = out / "model"
    assert (model_dir / HEAD_FILE).is_file()
    finetuned = FAMILY.load_finetuned(model_dir)
    assert finetuned.saved["version_2"] and finetuned.max_seq_length == 128
    assert finetuned.saved["squad"].doc_stride == 64
    assert (finetuned.model.joint is not None) == (head == "joint")
    again = tmp_path / "again"
    command = ["predict", "squad", "--model", str(model_dir), "--batch-size", "32"]
    assert main([*command, "--data", data, "--out", str(again)]) == 0
    assert _read(again / "predictions.json") == predictions
    assert _read(again / "null_odds.json") == pytest.approx(odds, abs=1e-5)
    if head == "joint":
        (model_dir / HEAD_FILE).unlink()
        assert main([*command, "--data", data, "--out", str(tmp_path / "x")]) == 2
        assert "no joint span head" in capsys.readouterr().err
        return

    # transformers loads the independent head as ElectraForQuestionAnswering, same logits.
    transformers = pytest.importorskip("transformers")
    theirs = transformers.ElectraForQuestionAnswering.from_pretrained(model_dir).eval()
    ours = hf.load(model_dir, QuestionAnswerer).eval()
    ids = torch.randint(5, 1000, (2, 40))
    types = (torch.arange(40) >= 12).long().expand(2, -1)
    with torch.no_grad():
        expected = theirs(input_ids=ids, token_type_ids=types)
        start, end = ours(ids, None, types)
    torch.testing.assert_close(start, expected.start_logits)
    torch.testing.assert_close(end, expected.end_logits)
    # Without the extra file (a directory fine-tuned elsewhere), config.json still says 2.0 and
    # the null odds come from the [CLS] span scores.
    (model_dir / HEAD_FILE).unlink()
    fallback = FAMILY.load_finetuned(model_dir)
    assert fallback.saved["version_2"] and fallback.model.answerability is None
    assert main([*command, "--data", data, "--out", str(tmp_path / "cls")]) == 0
    assert set(_read(tmp_path / "cls" / "null_odds.json")) == set(odds)


def test_bad_training_data_is_one_line_naming_the_question(setup, tmp_path, capsys) -> None:
    raw, checkpoint = setup
    articles = _slice(raw, 1, 1, 2)
    qa = articles[0]["paragraphs"][0]["qas"][1]
    qa["answers"][0]["answer_start"] += 1
    bad = _write(tmp_path / "bad.json", {"version": "1.1", "data": articles})
    argv = ["finetune", "squad", "--train", bad, "--dev", bad, "--model", str(checkpoint)]
    assert main([*argv, "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"question {qa['id']}: answer_start" in err
    impossible = _write(tmp_path / "v2.json", _as_v2(raw))
    argv = ["finetune", "squad", "--train", impossible, "--dev", impossible, "--version", "1.1"]
    assert main([*argv, "--model", str(checkpoint), "--out", str(tmp_path / "run")]) == 2
    assert "need --version 2.0" in capsys.readouterr().err
