"""Fine-tuning data in the layouts users hold: `datasets` folders (save_to_disk) with
`ClassLabel` names, and word lists in JSON Lines, for classification and tagging."""

from __future__ import annotations

import json

import pytest
from finetune_models import tiny_checkpoint
from pretrain_data import one_thread  # noqa: F401  (autouse: tiny models, one thread)

from electra.cli import main
from electra.tasks.tables import read_examples
from electra.tasks.tagging.reader import read_tagged
from electra.tokenizer import load_tokenizer

datasets = pytest.importorskip("datasets")
TAGS = ["O", "B-PER", "I-PER", "B-LOC"]
QUIET = ["--epochs", "1", "--batch-size", "8", "--no-progress"]


def _sentiment(path):
    features = datasets.Features({"sentence": datasets.Value("string"),
                                  "label": datasets.ClassLabel(names=["negative", "positive"])})  # fmt: skip
    rows = {"sentence": [f"{'good fine day' if i % 2 else 'bad awful night'} {i}" for i in range(24)],
            "label": [i % 2 for i in range(24)]}  # fmt: skip
    datasets.Dataset.from_dict(rows, features=features).save_to_disk(str(path))
    return path


def _people(path):
    features = datasets.Features({"tokens": datasets.Sequence(datasets.Value("string")),
                                  "ner_tags": datasets.Sequence(datasets.ClassLabel(names=TAGS))})  # fmt: skip
    rows = {"tokens": [["John", "Smith", "lives", "in", "Paris"], ["Mary", "went", "home"]] * 8,
            "ner_tags": [[1, 2, 0, 0, 3], [1, 0, 0]] * 8}  # fmt: skip
    datasets.Dataset.from_dict(rows, features=features).save_to_disk(str(path))
    return path


def test_a_datasets_folder_reads_with_its_class_label_names(tmp_path):
    folder = _sentiment(tmp_path / "sst")
    examples = read_examples(folder, ["sentence"], "label")
    assert (
        len(examples) == 24 and examples[1].label == "positive" and examples[0].label == "negative"
    )
    sentences = read_tagged(_people(tmp_path / "ner"))
    assert sentences[0].words == ("John", "Smith", "lives", "in", "Paris")
    assert sentences[0].tags == ("B-PER", "I-PER", "O", "O", "B-LOC")


def test_word_lists_in_json_lines(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text('{"tokens": ["Ann", "ran"], "ner_tags": ["B-PER", "O"]}\n'
                    '{"tokens": ["Bob"], "ner_tags": ["B-PER", "O"]}\n')  # fmt: skip
    with pytest.raises(
        Exception, match=r"train\.jsonl:2: 'ner_tags' is not a list of one tag per word"
    ):
        read_tagged(path)


@pytest.mark.slow
def test_finetune_classification_and_tagging_from_datasets_folders(assets, tmp_path):
    model = tiny_checkpoint(tmp_path / "pre", load_tokenizer(assets / "vocab.txt"), layers=1)
    folder = _sentiment(tmp_path / "sst")
    argv = ["finetune", "glue", "--train", str(folder), "--dev", str(folder), "--text-columns",
            "sentence", "--label-column", "label", "--model", str(model), "--out",
            str(tmp_path / "cls"), *QUIET]  # fmt: skip
    assert main(argv) == 0
    config = json.loads((tmp_path / "cls" / "model" / "encoder" / "config.json").read_text())
    assert set(config["id2label"].values()) == {"negative", "positive"}
    ner = _people(tmp_path / "ner")
    argv = ["finetune", "tagging", "--train", str(ner), "--dev", str(ner), "--model", str(model),
            "--out", str(tmp_path / "tag"), *QUIET]  # fmt: skip
    assert main(argv) == 0
    results = json.loads((tmp_path / "tag" / "results.json").read_text())
    assert results["main_metric"] == "f1" and 0 <= results["dev"]["f1"] <= 1


def test_squad_in_the_hub_layout_reads_as_the_file_does(assets, tmp_path):
    from electra.tasks.squad.reader import load_squad

    original, expected = load_squad(assets / "squad" / "dev-v2.0.json")
    rows = {"id": [], "title": [], "context": [], "question": [], "answers": []}
    for article in original["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                rows["id"].append(qa["id"])
                rows["title"].append(article.get("title", ""))
                rows["context"].append(paragraph["context"])
                rows["question"].append(qa["question"])
                rows["answers"].append({"text": [a["text"] for a in qa["answers"]],
                                        "answer_start": [a["answer_start"] for a in qa["answers"]]})  # fmt: skip
    datasets.Dataset.from_dict(rows).save_to_disk(str(tmp_path / "squad"))
    dataset, examples = load_squad(tmp_path / "squad")
    assert dataset["version"] == "2.0"
    assert [(e.qid, e.question, e.context, e.answers) for e in examples] == [
        (e.qid, e.question, e.context, e.answers) for e in expected
    ]
