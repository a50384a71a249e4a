"""German, Japanese and Chinese end to end on real treebanks (../shared/data/ud), one vocabulary
algorithm each, and Japanese named entities: vocabulary -> prepare -> a short pre-training ->
UPOS (or NER) tagging -> predict -> evaluate, the tokenizer's round trip losing no character
beyond its normalisation, and the export loading in `transformers` with identical ids and
outputs. The figures of a longer run are in benchmarks/RESULTS.md (benchmarks/languages.py)."""

from __future__ import annotations

import json

import pytest
import torch

from electra.cli import main
from electra.tokenizer import load_tokenizer

pytestmark = [pytest.mark.slow, pytest.mark.shared_data]
SHAPE = ("--embedding-size 32 --hidden-size 32 --num-layers 1 --num-heads 2 --intermediate-size 64 "
         "--max-position-embeddings 128 --batch-size 16 --eval-batches 1").split()  # fmt: skip


def _sentences(path, count):
    return "\n\n".join(path.read_text(encoding="utf-8").split("\n\n")[:count]).strip() + "\n\n"


def _corpus(treebank, out):
    lines = [line.removeprefix("# text = ").strip()
             for line in (treebank / "test.conllu").read_text(encoding="utf-8").splitlines()
             if line.startswith("# text = ")]  # fmt: skip
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return lines


def _round_trip_loss(tokenizer, lines):
    """Characters of the normalised text the decoded tokens do not give back (spaces aside)."""
    lost = 0
    for line in lines:
        expected = "".join(tokenizer.normalizer.normalize_str(line).split())
        ids = tokenizer.encode(line, add_special_tokens=False).ids
        lost += expected != "".join(tokenizer.decode(ids).split())
    return lost


def _pretrain(tmp_path, corpus, algorithm):
    vocab, data, run = tmp_path / "vocab", tmp_path / "data", tmp_path / "run"
    assert main(["vocab", "--algorithm", algorithm, "--corpus", str(corpus), "--size", "1500",
                 "--out", str(vocab)]) == 0  # fmt: skip
    assert main(["prepare", "--corpus", str(corpus), "--vocab", str(vocab), "--out", str(data),
                 "--seq-len", "64", "--no-progress"]) == 0  # fmt: skip
    assert json.loads((data / "manifest.json").read_text())["num_unknown"] == 0
    assert main(["pretrain", "--preset", "tiny", "--data", str(data), "--out", str(run),
                 "--steps", "6", "--no-progress", *SHAPE]) == 0  # fmt: skip
    return vocab, run / "discriminator"


def _same_in_transformers(model_dir, lines):
    transformers = pytest.importorskip("transformers")
    from electra import hf
    from electra.backbones.models import Discriminator

    theirs = transformers.ElectraForPreTraining.from_pretrained(model_dir).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir)
    ours, model = load_tokenizer(model_dir), hf.load(model_dir, Discriminator).eval()
    for line in lines[:20]:
        inputs = tokenizer(line, return_tensors="pt", truncation=True, max_length=128)
        assert inputs["input_ids"][0].tolist() == ours.encode(line).ids[:128]
        with torch.no_grad():
            torch.testing.assert_close(model(inputs["input_ids"]), theirs(**inputs).logits)


def _tag(tmp_path, model, train, dev, capsys, words):
    out = tmp_path / "tagger"
    assert main(["finetune", "tagging", "--train", str(train), "--dev", str(dev), "--model",
                 str(model), "--out", str(out), "--epochs", "1", "--no-progress"]) == 0  # fmt: skip
    results = json.loads((out / "results.json").read_text())
    capsys.readouterr()
    assert main(["evaluate", "tagging", "--predictions", str(out / "dev_predictions.txt")]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert evaluated[results["main_metric"]] == pytest.approx(
        results["dev"][results["main_metric"]]
    )
    assert main(["predict", "tagging", "--model", str(out / "model"), " ".join(words)]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines() if line]
    assert [r[0] for r in rows] == words
    return results


@pytest.mark.parametrize(("name", "algorithm"), [("de_gsd", "wordpiece"), ("ja_gsd", "unigram"),
                                                 ("zh_gsd", "bpe")])  # fmt: skip
def test_a_treebank_language_end_to_end(name, algorithm, shared_data, tmp_path, capsys):
    treebank = shared_data / "ud" / name
    lines = _corpus(treebank, tmp_path / "corpus.txt")
    vocab, model = _pretrain(tmp_path, tmp_path / "corpus.txt", algorithm)
    assert _round_trip_loss(load_tokenizer(vocab), lines) == 0
    _same_in_transformers(model, lines)
    (tmp_path / "train.conllu").write_text(_sentences(treebank / "dev.conllu", 150), "utf-8")
    (tmp_path / "dev.conllu").write_text(_sentences(treebank / "test.conllu", 40), "utf-8")
    words = (treebank / "test.conllu").read_text(encoding="utf-8").split("\n\n")[0]
    words = [row.split("\t")[1] for row in words.splitlines() if row[:1].isdigit()][:8]
    results = _tag(tmp_path, model, tmp_path / "train.conllu", tmp_path / "dev.conllu", capsys,
                   [w for w in words if "-" not in w])  # fmt: skip
    assert results["main_metric"] == "accuracy" and 0 < results["dev"]["accuracy"] <= 1


def test_japanese_named_entities_are_scored_by_span_f1(shared_data, tmp_path, capsys):
    ner = shared_data / "ja_gsd_ner"
    lines = _corpus(shared_data / "ud" / "ja_gsd", tmp_path / "corpus.txt")
    _, model = _pretrain(tmp_path, tmp_path / "corpus.txt", "unigram")
    del lines
    (tmp_path / "train.bio").write_text(_sentences(ner / "train.bio", 150), "utf-8")
    (tmp_path / "dev.bio").write_text(_sentences(ner / "dev.bio", 40), "utf-8")
    results = _tag(tmp_path, model, tmp_path / "train.bio", tmp_path / "dev.bio", capsys,
                   ["私", "は", "東京", "に", "行く"])  # fmt: skip
    assert results["main_metric"] == "f1" and 0 <= results["dev"]["f1"] <= 1
