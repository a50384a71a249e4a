"""Multiple choice, the family added to prove the house: its package alone plus one registry line.

Checked against `transformers`' `ElectraForMultipleChoice` both ways (weights drawn large, so a
mapping error shows), then end to end from JSON Lines: fine-tuning learns a rule a tiny model can
learn, `predict` agrees with the dev predictions fine-tuning wrote, `evaluate` with the accuracy it
reported, and bad lines are one-line errors naming file and line.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch

from electra import hf
from electra.cli import main
from electra.config import ModelConfig
from electra.errors import UserError
from electra.tasks.choice.model import MultipleChoice
from electra.tasks.choice.reader import Fields, answer_index, read_questions

CONFIG = dict(vocab_size=120, embedding_size=16, hidden_size=32, num_layers=2, num_heads=2,
              intermediate_size=64, max_position_embeddings=64, hidden_dropout=0.0,
              attention_dropout=0.0)  # fmt: skip


def _large(model: torch.nn.Module) -> None:
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.5)


def _batch(n: int = 3, width: int = 7):
    """(B, N, S) ids with padding at the ends of some choices, and segment ids."""
    torch.manual_seed(1)
    ids = torch.randint(5, 120, (2, n, width))
    ids[:, :, 0] = 2
    ids[0, 1, 5:] = 0
    ids[1, 2, 3:] = 0
    types = torch.zeros_like(ids)
    types[:, :, 4:] = 1
    return ids, types


def test_ours_saved_is_transformers_multiple_choice_with_equal_logits(tmp_path):
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    ours = MultipleChoice(ModelConfig(**CONFIG), num_choices=3, pad_id=0).eval()
    _large(ours)
    hf.save(ours, tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["architectures"] == [
        "ElectraForMultipleChoice"
    ]
    theirs = transformers.ElectraForMultipleChoice.from_pretrained(tmp_path).eval()
    ids, types = _batch()
    with torch.no_grad():
        expected = theirs(
            input_ids=ids, attention_mask=(ids != 0).long(), token_type_ids=types
        ).logits
        got = ours(ids.flatten(1), None, types.flatten(1))
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    reloaded = hf.load(tmp_path, MultipleChoice, num_choices=3, pad_id=0).eval()
    with torch.no_grad():
        torch.testing.assert_close(reloaded(ids.flatten(1), None, types.flatten(1)), got)


def test_a_transformers_multiple_choice_model_loads_into_ours(tmp_path):
    transformers = pytest.importorskip("transformers")
    hf_config = transformers.ElectraConfig(**hf.config_to_hf(ModelConfig(**CONFIG)))
    theirs = transformers.ElectraForMultipleChoice(hf_config).eval()
    _large(theirs)
    theirs.save_pretrained(tmp_path)
    ours = hf.load(tmp_path, MultipleChoice, num_choices=3, pad_id=0).eval()
    assert not ours.head_initialized
    ids, types = _batch()
    with torch.no_grad():
        expected = theirs(
            input_ids=ids, attention_mask=(ids != 0).long(), token_type_ids=types
        ).logits
        torch.testing.assert_close(ours(ids.flatten(1), None, types.flatten(1)), expected,
                                   atol=1e-5, rtol=1e-5)  # fmt: skip


@pytest.mark.parametrize(
    "value, index",
    [(2, 2), ("2", 2), ("C", 2), ("c", 2), ("a pear", 1), (0, 0)],
)
def test_an_answer_is_an_index_a_letter_or_the_choice_text(value, index):
    assert answer_index(value, ("an apple", "a pear", "a plum"), "f:1") == index


@pytest.mark.parametrize("value", [3, "D", "a fig", True, None, 1.5])
def test_an_answer_outside_the_choices_is_refused(value):
    with pytest.raises(UserError, match=r"^f:1: label .* is not one of the 3 choices"):
        answer_index(value, ("an apple", "a pear", "a plum"), "f:1")


def _write(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_swag_layout_one_field_per_choice_and_race_letters(tmp_path):
    swag = _write(tmp_path / "swag.jsonl", [
        {"sent1": "He opens the door.", "sent2": "He", "ending0": "walks in.", "ending1": "flies.",
         "label": 0},
    ])  # fmt: skip
    (q,) = read_questions(swag, Fields("sent1", "sent2", ("ending0", "ending1"), "label"), True)
    assert (q.context, q.question, q.choices, q.label) == (
        "He opens the door.", "He", ("walks in.", "flies."), 0)  # fmt: skip
    race = _write(tmp_path / "race.jsonl", [
        {"article": "A text.", "question": "Which?", "options": ["a", "b", "c", "d"], "answer": "D"},
    ])  # fmt: skip
    (q,) = read_questions(race, Fields("article", "question", ("options",), "answer"), True)
    assert q.label == 3 and q.context == "A text."


@pytest.mark.parametrize(
    "line, message",
    [
        ("{not json", r"x\.jsonl:2: not valid JSON"),
        ('{"question": "q", "choices": ["a"], "label": 0}', r"x\.jsonl:2: 1 choice\(s\); a question needs two"),
        ('{"question": "q", "choices": ["a", "b", "c"], "label": 0}', r"x\.jsonl:2: 3 choices, but line 1 has 2"),
        ('{"question": "q", "choices": "a b", "label": 0}', r"x\.jsonl:2: 'choices' is not a list of texts"),
        ('{"question": "q", "choices": ["a", "b"]}', r"x\.jsonl:2: no 'label' field"),
        ('{"choices": ["a", "b"], "label": 0}', r"x\.jsonl:2: no 'question' field"),
        ('{"question": 3, "choices": ["a", "b"], "label": 0}', r"x\.jsonl:2: 'question' is int, expected text"),
    ],
)  # fmt: skip
def test_bad_lines_are_one_line_errors_naming_file_and_line(tmp_path, line, message):
    path = _write(
        tmp_path / "x.jsonl", ['{"question": "q", "choices": ["a", "b"], "label": 1}', line]
    )
    with pytest.raises(UserError, match=message):
        read_questions(path, Fields(), labelled=True)


def _questions(count: int, seed: int) -> list[dict]:
    """The right answer is the choice that says "the": a rule a tiny model learns in a few epochs,
    wherever the answer sits among the four choices."""
    rng = random.Random(seed)
    words = ["is", "to", "in", "an", "of", "no"]
    rows = []
    for _ in range(count):
        label = rng.randrange(4)
        choices = [" ".join(rng.choices(words, k=3)) for _ in range(4)]
        choices[label] = "the " + choices[label]
        rows.append({"context": " ".join(rng.choices(words, k=5)), "question": "which one",
                     "choices": choices, "label": "ABCD"[label]})  # fmt: skip
    return rows


@pytest.mark.slow
def test_finetune_predict_evaluate_from_json_lines(tiny_checkpoint, tmp_path, capsys):
    train = _write(tmp_path / "train.jsonl", _questions(160, 0))
    dev = _write(tmp_path / "dev.jsonl", _questions(40, 1))
    out = tmp_path / "mc"
    argv = ["finetune", "multiple-choice", "--train", str(train), "--dev", str(dev),
            "--model", str(tiny_checkpoint), "--out", str(out), "--epochs", "6", "--lr", "3e-3",
            "--batch-size", "16", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["dev"]["accuracy"] >= 0.9  # chance: 0.25
    config = json.loads((out / "model" / "config.json").read_text())
    assert config["architectures"] == ["ElectraForMultipleChoice"]
    capsys.readouterr()
    assert (
        main(["evaluate", "multiple-choice", "--predictions", str(out / "dev_predictions.jsonl")])
        == 0
    )
    scores = json.loads(capsys.readouterr().out)
    assert scores == {"accuracy": results["dev"]["accuracy"], "questions": 40}
    answers = tmp_path / "answers.jsonl"
    argv = ["predict", "multiple-choice", "--model", str(out / "model"), "--file", str(dev),
            "--out", str(answers), "--probs"]  # fmt: skip
    assert main(argv) == 0
    predicted = [json.loads(line) for line in answers.read_text().splitlines()]
    written = [
        json.loads(line) for line in (out / "dev_predictions.jsonl").read_text().splitlines()
    ]
    assert [p["prediction"] for p in predicted] == [w["prediction"] for w in written]
    assert all(abs(sum(p["probs"]) - 1) < 1e-4 and len(p["probs"]) == 4 for p in predicted)
    assert (out / "model" / "README.md").read_text().count("multiple-choice") >= 1
    pytest.importorskip("onnxruntime", reason="the onnx extra")
    assert (
        main(["export", "onnx", "--model", str(out / "model"), "--out", str(tmp_path / "onnx")])
        == 0
    )
    from_graph = tmp_path / "graph.jsonl"
    argv = ["predict", "multiple-choice", "--model", str(tmp_path / "onnx"), "--file", str(dev),
            "--out", str(from_graph), "--probs", "--runtime", "onnxruntime"]  # fmt: skip
    assert main(argv) == 0
    graph = [json.loads(line) for line in from_graph.read_text().splitlines()]
    assert [g["prediction"] for g in graph] == [p["prediction"] for p in predicted]
    pairs = zip(graph, predicted, strict=True)
    assert (
        max(abs(a - b) for g, p in pairs for a, b in zip(g["probs"], p["probs"], strict=True))
        < 1e-4
    )


def test_missing_files_are_refused_before_any_model_is_loaded(tmp_path, capsys):
    argv = ["finetune", "multiple-choice", "--train", str(tmp_path / "absent.jsonl"), "--dev",
            str(tmp_path / "absent.jsonl"), "--model", str(tmp_path / "no-model"), "--out",
            str(tmp_path / "out")]  # fmt: skip
    assert main(argv) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.endswith("absent.jsonl: no such file")
