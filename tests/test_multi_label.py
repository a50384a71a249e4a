"""`--multi-label`: any number of labels per example, a sigmoid each with binary cross-entropy,
scored by micro and macro F1 (scikit-learn's), predicted with each label's probability."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from finetune_models import tiny_checkpoint
from pretrain_data import one_thread  # noqa: F401  (autouse: tiny models, one thread)
from sklearn.metrics import f1_score

from electra.cli import main
from electra.tasks.glue.catalog import custom_spec
from electra.tasks.glue.features import targets
from electra.tasks.glue.scoring import decode, prediction_strings
from electra.tasks.tables import read_examples
from electra.tokenizer import load_tokenizer

QUIET = ["--epochs", "2", "--batch-size", "8", "--no-progress"]


def _data(tmp_path):
    rows = []
    for i in range(48):
        labels = [name for name, on in (("sports", i % 2), ("politics", i % 3 == 0)) if on]
        words = " ".join(["game"] * (i % 2) + ["vote"] * (i % 3 == 0) + ["today"])
        rows.append({"text": f"{words} {i}", "labels": labels})
    train = tmp_path / "train.jsonl"
    train.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    dev = tmp_path / "dev.csv"
    dev.write_text("text,labels\n" + "".join(f"{r['text']},{'|'.join(r['labels'])}\n"
                                             for r in rows[:24]), encoding="utf-8")  # fmt: skip
    return train, dev


def test_labels_are_lists_or_joined_and_become_one_target_each(tmp_path):
    train, dev = _data(tmp_path)
    spec = custom_spec(("text",), "labels", train, multi_label=True)
    assert spec.labels == ("politics", "sports") and spec.metrics == ("micro_f1", "macro_f1")
    hot = targets(spec, dev, read_examples(dev, ("text",), "labels"))
    assert hot[0] == [1.0, 0.0] and hot[1] == [0.0, 1.0] and hot[6] == [1.0, 0.0]
    assert hot[3] == [1.0, 1.0] and hot[2] == [0.0, 0.0]  # both, and none
    predicted = decode(spec, [torch.tensor([2.0, -1.0]), torch.tensor([-3.0, -0.1])])
    assert prediction_strings(spec, predicted) == ["politics", ""]


@pytest.mark.slow
def test_finetune_predict_and_evaluate_multi_label(assets, tmp_path, capsys):
    train, dev = _data(tmp_path)
    model = tiny_checkpoint(tmp_path / "pre", load_tokenizer(assets / "vocab.txt"), layers=1)
    out = tmp_path / "run"
    argv = ["finetune", "glue", "--train", str(train), "--dev", str(dev), "--text-columns", "text",
            "--label-column", "labels", "--multi-label", "--model", str(model), "--out", str(out),
            "--lr", "1e-3", *QUIET]  # fmt: skip
    assert main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["main_metric"] == "micro_f1"
    rows = [line.split("\t") for line in (out / "dev_predictions.tsv").read_text().splitlines()[1:]]
    spec = custom_spec(("text",), "labels", train, multi_label=True)
    gold = np.array(targets(spec, dev, read_examples(dev, ("text",), "labels")))
    names = [set(r[1].split("|")) - {""} for r in rows]
    predicted = np.array([[float(label in n) for label in spec.labels] for n in names])
    assert results["dev"]["micro_f1"] == pytest.approx(f1_score(gold, predicted, average="micro"))
    assert results["dev"]["macro_f1"] == pytest.approx(f1_score(gold, predicted, average="macro",
                                                                zero_division=0))  # fmt: skip
    config = json.loads((out / "model" / "encoder" / "config.json").read_text())
    assert config["problem_type"] == "multi_label_classification"
    test = tmp_path / "test.csv"
    test.write_text("text\ngame vote today\n", encoding="utf-8")
    assert main(["predict", "glue", "--model", str(out / "model"), "--test", str(test),
                 "--text-columns", "text", "--out", str(tmp_path / "pred"), "--probs"]) == 0  # fmt: skip
    header, row = (tmp_path / "pred" / "test_predictions.tsv").read_text().splitlines()
    probs = [float(x) for x in row.split("\t")[2:]]
    assert len(probs) == 2 and all(0 <= p <= 1 for p in probs)  # a sigmoid each: no sum to 1
    chosen = {label for label, p in zip(spec.labels, probs, strict=True) if p > 0.5}
    assert set(row.split("\t")[1].split("|")) - {""} == chosen


def test_multi_label_with_regression_or_a_glue_task_is_one_line(tmp_path, capsys):
    train, dev = _data(tmp_path)
    argv = ["finetune", "glue", "--train", str(train), "--dev", str(dev), "--text-columns", "text",
            "--label-column", "labels", "--multi-label", "--regression", "--model", "m", "--out",
            str(tmp_path / "o")]  # fmt: skip
    assert main(argv) == 2
    assert "--multi-label is for your own labelled data" in capsys.readouterr().err
