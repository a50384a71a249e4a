"""GLUE and own-data classification: readers on every shared task, metrics against independent
computations, prediction and leaderboard files, end-to-end runs, and bad-input messages."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from finetune_models import tiny_checkpoint
from pretrain_data import one_thread  # noqa: F401  (autouse: tiny models, one thread)
from scipy.stats import pearsonr, rankdata, spearmanr
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

from electra import hf
from electra.cli import main
from electra.config import ModelConfig
from electra.errors import UserError
from electra.tasks import tables
from electra.tasks.glue.catalog import GLUE, glue_dev_paths, hf_labels, task_dir
from electra.tasks.glue.family import build_task
from electra.tasks.glue.features import encode, targets
from electra.tasks.glue.model import SequenceClassifier
from electra.tasks.glue.scoring import glue_score, score, score_file
from electra.tokenizer import load_tokenizer

# Rows per file (train, dev, test), from ../shared/data/SOURCES.md.
SHARED_COUNTS = {
    "cola": (8551, 1043, 1063),
    "sst2": (67349, 872, 1821),
    "mrpc": (3668, 408, 1725),
    "stsb": (5749, 1500, 1379),
    "rte": (2490, 277, 3000),
    "wnli": (635, 71, 146),
}
# Independent parse of the labelled files: text column positions, label column, header or not.
RAW_LAYOUT = {
    "cola": ((3,), 1, False),
    "sst2": ((0,), 1, True),
    "mrpc": ((3, 4), 0, True),
    "stsb": ((7, 8), 9, True),
    "rte": ((1, 2), 3, True),
    "wnli": ((1, 2), 3, True),
}


def raw_rows(path: Path, task: str) -> list[tuple[tuple[str, ...], str]]:
    """(texts, label) by splitting lines on tabs: no csv module, no column names."""
    texts_at, label_at, header = RAW_LAYOUT[task]
    lines = path.read_bytes().decode("utf-8").split("\n")
    rows = [line.split("\t") for line in lines[1 if header else 0 :] if line]
    return [(tuple(r[i] for i in texts_at), r[label_at]) for r in rows]


def task_paths(shared: Path, task: str) -> Path:
    return shared / "glue" / GLUE[task].folder


@pytest.mark.parametrize("task", sorted(SHARED_COUNTS))
def test_readers_parse_every_shared_task_as_a_plain_split_does(shared_data, task):
    spec = GLUE[task]
    directory = task_paths(shared_data, task)
    counts = []
    for name, columns in (("train.tsv", spec.label_column), ("dev.tsv", spec.label_column)):
        examples = tables.read_examples(directory / name, spec.text_columns, columns, spec.header)
        counts.append(len(examples))
        raw = raw_rows(directory / name, task)
        assert [(e.texts, e.label) for e in examples] == raw
        assert [e.index for e in examples] == list(range(len(raw)))
        targets(spec, directory / name, examples)  # every label is in the task's label set
    test = tables.read_examples(directory / "test.tsv", spec.text_columns, None)
    counts.append(len(test))
    assert tuple(counts) == SHARED_COUNTS[task]
    # Test files' own index column is the row position the leaderboard files use.
    with (directory / "test.tsv").open(encoding="utf-8") as f:
        indices = [row[0] for row in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)][1:]
    assert indices == [str(i) for i in range(len(test))]


def test_quirks_bom_quotes_and_headerless_files(shared_data):
    mrpc = tables.read_examples(
        task_paths(shared_data, "mrpc") / "dev.tsv", ("#1 String", "#2 String"), "Quality"
    )
    assert mrpc[0].texts[1].startswith('"The foodservice pie business')  # a quote is text
    cola = tables.read_examples(
        task_paths(shared_data, "cola") / "dev.tsv",
        ("sentence",),
        "label",
        GLUE["cola"].header,
    )
    assert (
        cola[0].texts == ("The sailors rode the breeze clear of the rocks.",) and cola[0].line == 1
    )


def _mcc(gold, predicted):
    tp = np.sum((gold == 1) & (predicted == 1))
    tn = np.sum((gold == 0) & (predicted == 0))
    fp = np.sum((gold == 0) & (predicted == 1))
    fn = np.sum((gold == 1) & (predicted == 0))
    return (tp * tn - fp * fn) / np.sqrt(float((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)))


def _f1(gold, predicted):
    tp = np.sum((gold == 1) & (predicted == 1))
    return 2 * tp / (np.sum(gold == 1) + np.sum(predicted == 1))


ORACLES = {  # from the definitions, with numpy; and the libraries made for the job
    "accuracy": [lambda g, p: np.mean(g == p), accuracy_score],
    "f1": [_f1, f1_score],
    "mcc": [_mcc, matthews_corrcoef],
    "pearson": [lambda g, p: np.corrcoef(g, p)[0, 1], lambda g, p: pearsonr(g, p)[0]],
    "spearman": [
        lambda g, p: np.corrcoef(rankdata(g), rankdata(p))[0, 1],
        lambda g, p: spearmanr(g, p)[0],
    ],
}


@pytest.mark.parametrize("task", sorted(SHARED_COUNTS))
def test_official_metrics_match_independent_computations(shared_data, task):
    spec = GLUE[task]
    path = task_paths(shared_data, task) / "dev.tsv"
    gold = targets(
        spec, path, tables.read_examples(path, spec.text_columns, spec.label_column, spec.header)
    )
    raw = raw_rows(path, task)
    rng = np.random.default_rng(0)
    if spec.regression:
        gold_raw = np.array([float(label) for _, label in raw])
        predicted = gold_raw + rng.normal(0, 1.5, len(gold_raw))
    else:
        gold_raw = np.array([spec.labels.index(label) for _, label in raw])
        # Mostly right, so the metrics are far from 0 and a swapped label would show.
        predicted = np.where(rng.random(len(gold_raw)) < 0.7, gold_raw, 1 - gold_raw)
    metrics = score(spec, gold, predicted)
    assert list(metrics) == list(spec.metrics)
    for name, value in metrics.items():
        for oracle in ORACLES[name]:
            assert value == pytest.approx(float(oracle(gold_raw, predicted)), abs=1e-12), name
        assert abs(value) > 0.1
    expected_names = {"cola": {"mcc"}, "stsb": {"pearson", "spearman"}, "mrpc": {"accuracy", "f1"}}
    assert set(metrics) == expected_names.get(task, {"accuracy"})


def test_constant_predictions_score_zero_correlation_not_nan():
    spec = GLUE["stsb"]
    metrics = score(spec, [1.0, 2.0, 3.5], np.array([2.0, 2.0, 2.0]))
    assert metrics == {"spearman": 0.0, "pearson": 0.0}


def test_glue_score_is_the_papers_average_without_wnli():
    dev = {
        "cola": {"mcc": 0.5},
        "stsb": {"spearman": 0.8, "pearson": 0.9},
        "mrpc": {"accuracy": 0.7, "f1": 0.9},
        "wnli": {"accuracy": 0.1},
    }
    assert glue_score(dev) == pytest.approx(100 * (0.5 + 0.8 + 0.7) / 3)


def _write(path: Path, rows: list[list[str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join("\t".join(r) + "\n" for r in rows), encoding="utf-8")
    return path


MNLI_PARSES = ["(a)", "(b)", "(a)", "(b)"]


def _standard_layout(root: Path) -> None:
    """MNLI, QQP and QNLI in the layout (headers included) of download_glue_data.py; the shared
    data lacks them."""
    base = ["index", "promptID", "pairID", "genre", "sentence1_binary_parse",
            "sentence2_binary_parse", "sentence1_parse", "sentence2_parse", "sentence1", "sentence2"]  # fmt: skip
    labels = ["entailment", "neutral", "contradiction"]
    _write(root / "MNLI/train.tsv", [[*base, "label1", "gold_label"]] + [
        [str(i), "1", "1e", "fiction", *MNLI_PARSES, f"premise {i}", f"hypothesis {i}", labels[i % 3], labels[i % 3]]
        for i in range(6)
    ])  # fmt: skip
    for name in ("dev_matched.tsv", "dev_mismatched.tsv"):
        _write(root / "MNLI" / name, [[*base, *(f"label{k}" for k in range(1, 6)), "gold_label"]] + [
            [str(i), "1", "1e", "slate", *MNLI_PARSES, f"a {i}", f"b {i}", *[labels[i % 3]] * 5, labels[i % 3]]
            for i in range(5)
        ])  # fmt: skip
    for name, count in (("test_matched.tsv", 4), ("test_mismatched.tsv", 3)):
        _write(root / "MNLI" / name, [base] + [
            [str(i), "1", "1e", "slate", *MNLI_PARSES, f"a {i}", f"b {i}"] for i in range(count)
        ])  # fmt: skip
    _write(
        root / "diagnostic/diagnostic.tsv",
        [["index", "sentence1", "sentence2"], ["0", "x", "y"], ["1", "z", "w"]],
    )
    _write(root / "QQP/train.tsv", [
        ["id", "qid1", "qid2", "question1", "question2", "is_duplicate"],
        ["0", "1", "2", "how?", "why?", "0"],
        ["1", "3", "4", "a malformed row with a missing field", "1"],
        ["2", "5", "6", "what?", "what is it?", "1"],
    ])  # fmt: skip
    _write(
        root / "QNLI/dev.tsv",
        [["index", "question", "sentence", "label"], ["0", "q?", "s.", "not_entailment"]],
    )


def test_standard_layout_of_mnli_qqp_qnli(tmp_path, shared_data):
    _standard_layout(tmp_path)
    tokenizer = load_tokenizer(shared_data / "vocab" / "bert-base-uncased-vocab.txt")
    mnli = GLUE["mnli"]
    directory = task_dir(tmp_path, mnli)
    task = build_task(mnli, tokenizer, directory / "train.tsv", glue_dev_paths(mnli, directory), 32)
    assert [f["label"] for f in task.train] == [
        1,
        2,
        0,
        1,
        2,
        0,
    ]  # entailment, neutral, contradiction
    assert task.train[0]["input_ids"] == tokenizer.encode("premise 0", "hypothesis 0").ids

    def perfect(features):  # an oracle model: logits putting all mass on the gold label
        return [torch.nn.functional.one_hot(torch.tensor(f["label"]), 3).float() for f in features]

    metrics, rows = task.evaluate(perfect)
    assert metrics == {"accuracy": 1.0, "accuracy_mm": 1.0}
    assert set(rows) == {"dev_predictions.tsv", "dev_mismatched_predictions.tsv"}
    assert rows["dev_predictions.tsv"] == [
        "entailment",
        "neutral",
        "contradiction",
        "entailment",
        "neutral",
    ]

    qqp = GLUE["qqp"]
    examples = tables.read_examples(tmp_path / "QQP/train.tsv", qqp.text_columns, qqp.label_column,
                                  skip_malformed=qqp.skip_malformed)  # fmt: skip
    assert [e.texts for e in examples] == [("how?", "why?"), ("what?", "what is it?")]
    qnli = GLUE["qnli"]
    (example,) = tables.read_examples(
        tmp_path / "QNLI/dev.tsv", qnli.text_columns, qnli.label_column
    )
    assert example.texts == ("q?", "s.") and targets(qnli, Path("x"), [example]) == [1]


def test_predict_writes_mnli_leaderboard_files_and_ax(tmp_path, shared_data, capsys):
    _standard_layout(tmp_path / "glue")
    tokenizer = load_tokenizer(shared_data / "vocab" / "bert-base-uncased-vocab.txt")
    config = ModelConfig(vocab_size=tokenizer.get_vocab_size(), embedding_size=16, hidden_size=32,
                         num_layers=1, num_heads=2, intermediate_size=64)  # fmt: skip
    spec = GLUE["mnli"]
    model = SequenceClassifier(config, num_labels=3)
    hf.save(model, tmp_path / "model", tokenizer=tokenizer, config_extra=hf_labels(spec))
    out = tmp_path / "submission"
    argv = ["predict", "glue", "--task", "MNLI", "--data-dir", str(tmp_path / "glue"),
            "--model", str(tmp_path / "model"), "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    for name, count in (("MNLI-m.tsv", 4), ("MNLI-mm.tsv", 3), ("AX.tsv", 2)):
        lines = (out / name).read_text(encoding="utf-8").splitlines()
        assert lines[0] == "index\tprediction"
        assert [line.split("\t")[0] for line in lines[1:]] == [str(i) for i in range(count)]
        assert {line.split("\t")[1] for line in lines[1:]} <= set(spec.labels)
    # The same model's predictions, computed directly.
    examples = tables.read_examples(
        tmp_path / "glue/MNLI/test_matched.tsv", spec.text_columns, None
    )
    with torch.no_grad():
        expected = [
            spec.labels[model.eval()(torch.tensor([f["input_ids"]]), None, torch.tensor([f["token_type_ids"]])).argmax()]
            for f in encode(tokenizer, examples, 128)
        ]  # fmt: skip
    assert [
        line.split("\t")[1] for line in (out / "MNLI-m.tsv").read_text().splitlines()[1:]
    ] == expected


def _slice(source: Path, target: Path, rows: int, header: bool = True) -> None:
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("".join(lines[: rows + header]), encoding="utf-8")


def _read_predictions(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "index\tprediction"
    assert [line.split("\t")[0] for line in lines[1:]] == [str(i) for i in range(len(lines) - 1)]
    return [line.split("\t")[1] for line in lines[1:]]


@pytest.mark.slow
def test_finetune_all_on_rte_and_stsb_then_predict(tmp_path, shared_data, capsys):
    from transformers import ElectraForSequenceClassification

    glue_dir = tmp_path / "glue"
    for folder, train_rows, dev_rows in (("RTE", 48, 277), ("STS-B", 24, 200)):
        source = shared_data / "glue" / folder
        _slice(source / "train.tsv", glue_dir / folder / "train.tsv", train_rows)
        _slice(source / "dev.tsv", glue_dir / folder / "dev.tsv", dev_rows)
        _slice(source / "test.tsv", glue_dir / folder / "test.tsv", 40)
    tokenizer = load_tokenizer(shared_data / "vocab" / "bert-base-uncased-vocab.txt")
    tiny_checkpoint(tmp_path / "pre", tokenizer)
    out = tmp_path / "runs"
    argv = ["finetune", "glue", "--task", "all", "--data-dir", str(glue_dir), "--model",
            str(tmp_path / "pre"), "--out", str(out), "--epochs", "2", "--no-progress",
            "--head", "transformers"]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    summary = json.loads((out / "glue_results.json").read_text())
    assert set(summary["dev"]) == {"rte", "stsb"}
    assert f"{summary['glue_score']:.1f}" in printed and "GLUE score" in printed

    # RTE: the reported accuracy is that of dev_predictions.tsv against the gold labels.
    rte = json.loads((out / "rte" / "results.json").read_text())
    assert (rte["config"]["epochs"], rte["train_examples"], rte["steps"]) == (2, 48, 4)
    predicted = _read_predictions(out / "rte" / "dev_predictions.tsv")
    gold = [label for _, label in raw_rows(shared_data / "glue/RTE/dev.tsv", "rte")]
    assert rte["dev"]["accuracy"] == pytest.approx(accuracy_score(gold, predicted))
    assert summary["dev"]["rte"] == rte["dev"]
    for task, expected in (("rte", rte["dev"]), ("stsb", None)):
        argv = ["evaluate", "glue", "--task", task, "--data-dir", str(glue_dir),
                "--predictions", str(out / task / "dev_predictions.tsv")]  # fmt: skip
        assert main(argv) == 0
        printed = json.loads(capsys.readouterr().out)
        if expected is not None:
            assert printed == pytest.approx(expected, abs=1e-12)

    # STS-B: a regression head, trained on both orders of each pair; correlations from the file.
    stsb = json.loads((out / "stsb" / "results.json").read_text())
    assert stsb["train_examples"] == 48 and stsb["config"]["epochs"] == 2
    scores = np.array([float(p) for p in _read_predictions(out / "stsb" / "dev_predictions.tsv")])
    gold_scores = np.array(
        [float(s) for _, s in raw_rows(shared_data / "glue/STS-B/dev.tsv", "stsb")[:200]]
    )
    assert stsb["dev"]["pearson"] == pytest.approx(pearsonr(gold_scores, scores)[0], abs=1e-6)
    assert stsb["dev"]["spearman"] == pytest.approx(spearmanr(gold_scores, scores)[0], abs=1e-6)
    assert printed == pytest.approx(stsb["dev"], abs=1e-6)  # `electra evaluate glue` on the file

    for task, labels in (("rte", {0: "entailment", 1: "not_entailment"}), ("stsb", {0: "score"})):
        model, info = ElectraForSequenceClassification.from_pretrained(
            out / task / "model", output_loading_info=True
        )
        assert not info["missing_keys"] and not info["unexpected_keys"]
        assert model.config.id2label == labels
    assert model.config.problem_type == "regression" and model.config.num_labels == 1

    # Leaderboard file for RTE's test set.
    argv = ["predict", "glue", "--task", "rte", "--data-dir", str(glue_dir), "--model",
            str(out / "rte" / "model"), "--out", str(tmp_path / "submission")]  # fmt: skip
    assert main(argv) == 0
    assert set(_read_predictions(tmp_path / "submission" / "RTE.tsv")) <= {
        "entailment",
        "not_entailment",
    }
    assert len(_read_predictions(tmp_path / "submission" / "RTE.tsv")) == 40


def test_own_data_from_csv_and_jsonl(tmp_path, shared_data, capsys):
    source = raw_rows(shared_data / "glue/SST-2/dev.tsv", "sst2")
    names = {"0": "negative", "1": "positive"}
    with (tmp_path / "train.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "review", "sentiment"])
        writer.writerows([i, text, names[label]] for i, ((text,), label) in enumerate(source[:40]))
    (tmp_path / "dev.jsonl").write_text(
        "".join(
            json.dumps({"review": text, "sentiment": names[label]}) + "\n"
            for (text,), label in source[40:70]
        ),
        encoding="utf-8",
    )
    tokenizer = load_tokenizer(shared_data / "vocab" / "bert-base-uncased-vocab.txt")
    tiny_checkpoint(tmp_path / "pre", tokenizer, layers=1)
    argv = ["finetune", "glue", "--train", str(tmp_path / "train.csv"), "--dev", str(tmp_path / "dev.jsonl"),
            "--text-columns", "review", "--label-column", "sentiment", "--model", str(tmp_path / "pre"),
            "--out", str(tmp_path / "run"), "--epochs", "1", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    predicted = _read_predictions(tmp_path / "run" / "dev_predictions.tsv")
    gold = [names[label] for _, label in source[40:70]]
    assert results["dev"]["accuracy"] == pytest.approx(accuracy_score(gold, predicted))
    assert results["dev"]["macro_f1"] == pytest.approx(f1_score(gold, predicted, average="macro"))
    # the official head: the encoder in model/encoder/, nothing `transformers` would load with a
    # random classifier at the top
    assert not (tmp_path / "run" / "model" / "config.json").exists()
    config = json.loads((tmp_path / "run" / "model" / "encoder" / "config.json").read_text())
    assert config["id2label"] == {"0": "negative", "1": "positive"}

    argv = ["predict", "glue", "--test", str(tmp_path / "dev.jsonl"), "--text-columns", "review",
            "--model", str(tmp_path / "run" / "model"), "--out", str(tmp_path / "pred")]  # fmt: skip
    assert main(argv) == 0
    assert _read_predictions(tmp_path / "pred" / "test_predictions.tsv") == predicted


@pytest.mark.parametrize(
    "name, content, columns, message",
    [
        ("train.csv", "text,y\nhello,1\n", ("text",), r"train\.csv:1: no 'label' column; found 'text', 'y'"),
        ("dev.tsv", "sentence\tlabel\ngood\t1\nbad\n", ("sentence",), r"dev\.tsv:3: expected 2 fields"),
        ("empty.tsv", "", ("sentence",), r"empty\.tsv: no examples"),
        ("header.tsv", "sentence\tlabel\n", ("sentence",), r"header\.tsv: no examples"),
        ("bad.jsonl", '{"sentence": "a", "label": 1}\n{oops\n', ("sentence",), r"bad\.jsonl:2: not valid JSON"),
        ("miss.jsonl", '{"sentence": "a"}\n', ("sentence",), r"miss\.jsonl:1: no 'label' field"),
    ],
)  # fmt: skip
def test_bad_files_name_the_file_and_line(tmp_path, name, content, columns, message):
    (tmp_path / name).write_text(content, encoding="utf-8")
    with pytest.raises(UserError, match=message):
        tables.read_examples(tmp_path / name, columns, "label")


def test_labels_outside_the_label_set_name_the_line(tmp_path):
    path = _write(tmp_path / "dev.tsv", [["index", "sentence1", "sentence2", "label"], ["0", "a", "b", "entailment"],
                                         ["1", "c", "d", "maybe"]])  # fmt: skip
    spec = GLUE["rte"]
    examples = tables.read_examples(path, spec.text_columns, spec.label_column)
    with pytest.raises(
        UserError, match=r"dev\.tsv:3: label 'maybe' is not one of 'entailment', 'not_entailment'"
    ):
        targets(spec, path, examples)
    stsb = GLUE["stsb"]
    with pytest.raises(UserError, match=r"dev\.tsv:2: score 'entailment' is not a number"):
        targets(stsb, path, examples)


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["--task", "sst3", "--data-dir", "."],
            "--task 'sst3': not a GLUE task; expected one of cola, sst2",
        ),
        (["--task", "rte", "--data-dir", "/nonexistent"], "/nonexistent: no RTE/train.tsv"),
        (
            ["--train", "x.csv"],
            "your own data needs --train, --dev, --text-columns and --label-column",
        ),
    ],
)
def test_cli_reports_bad_input_in_one_line(tmp_path, capsys, argv, message):
    code = main(["finetune", "glue", *argv, "--model", str(tmp_path), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and message in err


def test_scoring_a_predictions_file_checks_every_line(tmp_path, shared_data):
    spec = GLUE["rte"]
    gold = shared_data / "glue" / "RTE" / "dev.tsv"
    labels = [label for _, label in raw_rows(gold, "rte")]
    rows = [["index", "prediction"]] + [[str(i), label] for i, label in enumerate(labels)]
    assert score_file(spec, gold, _write(tmp_path / "p.tsv", rows)) == {"accuracy": 1.0}
    bad = [row[:] for row in rows]
    bad[5][1] = "contradiction"
    with pytest.raises(UserError, match=r"p\.tsv:6: label 'contradiction' is not one of"):
        score_file(spec, gold, _write(tmp_path / "p.tsv", bad))
    with pytest.raises(UserError, match=r"p\.tsv: 276 predictions for the 277 examples"):
        score_file(spec, gold, _write(tmp_path / "p.tsv", rows[:-1]))
    with pytest.raises(UserError, match=r"p\.tsv:3: index '7', expected 1"):
        score_file(spec, gold, _write(tmp_path / "p.tsv", [rows[0], rows[1], ["7", "entailment"]]))


def test_all_tasks_over_seeds_print_the_table_of_medians(tmp_path, shared_data, capsys):
    glue_dir = tmp_path / "glue"
    for folder in ("RTE", "STS-B"):
        source = shared_data / "glue" / folder
        _slice(source / "train.tsv", glue_dir / folder / "train.tsv", 16)
        _slice(source / "dev.tsv", glue_dir / folder / "dev.tsv", 24)
    tiny_checkpoint(
        tmp_path / "pre", load_tokenizer(shared_data / "vocab" / "bert-base-uncased-vocab.txt")
    )
    out = tmp_path / "runs"
    argv = ["finetune", "glue", "--task", "all", "--data-dir", str(glue_dir), "--model",
            str(tmp_path / "pre"), "--out", str(out), "--epochs", "1", "--seeds", "2",
            "--max-seq-length", "64", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    summary = json.loads((out / "glue_results.json").read_text())
    assert summary["statistic"] == "median over seeds"
    for task, metric in (("rte", "accuracy"), ("stsb", "spearman")):
        seeds = [json.loads((out / task / f"seed{s}" / "results.json").read_text()) for s in (0, 1)]
        values = [r["dev"][metric] for r in seeds]
        assert summary["dev"][task][metric] == pytest.approx(sum(values) / 2)  # median of two
        row = next(line for line in printed.splitlines() if line.startswith(f"{task:<6} {metric} "))
        assert f"{100 * min(values):.1f}-{100 * max(values):.1f}" in row
    assert "average of the medians" in printed


def test_the_official_head_is_dropout_and_one_linear_layer_on_cls(tmp_path, assets, capsys):
    """`--head official` (the default): logits = dense([CLS]) at inference, no hidden layer; the
    encoder loads in transformers as ElectraModel and the head sits in head.safetensors."""
    from safetensors.torch import load_file
    from transformers import ElectraModel

    from electra.tasks.glue.family import FAMILY
    from electra.tasks.heads import HEAD_FILE

    rows = ["text,label"] + [f"{'good fine day' if i % 2 else 'bad awful night'} {i},{i % 2}"
                             for i in range(24)]  # fmt: skip
    (tmp_path / "own.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    tiny_checkpoint(tmp_path / "pre", load_tokenizer(assets / "vocab.txt"))
    out = tmp_path / "run"
    argv = ["finetune", "glue", "--train", str(tmp_path / "own.csv"), "--dev", str(tmp_path / "own.csv"),
            "--text-columns", "text", "--label-column", "label", "--model", str(tmp_path / "pre"),
            "--out", str(out), "--epochs", "1", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    head = load_file(out / "model" / HEAD_FILE)
    assert set(head) == {"classifier.out.weight", "classifier.out.bias"}
    assert head["classifier.out.weight"].shape == (2, 32)
    encoder, info = ElectraModel.from_pretrained(
        out / "model", subfolder="encoder", output_loading_info=True
    )
    assert not info["missing_keys"] and not info["unexpected_keys"]
    finetuned = FAMILY.load_finetuned(out / "model")
    ids = torch.randint(5, 1000, (3, 12))
    types = torch.zeros_like(ids)
    with torch.no_grad():
        cls = encoder.eval()(input_ids=ids, token_type_ids=types).last_hidden_state[:, 0]
        expected = cls @ head["classifier.out.weight"].T + head["classifier.out.bias"]
        torch.testing.assert_close(finetuned.model.eval()(ids, None, types), expected)
    (out / "model" / HEAD_FILE).unlink()
    capsys.readouterr()
    assert main(["predict", "glue", "--model", str(out / "model"), "--test", str(tmp_path / "own.csv"),
                 "--text-columns", "text", "--out", str(tmp_path / "pred")]) == 2  # fmt: skip
    assert "no classifier head" in capsys.readouterr().err
