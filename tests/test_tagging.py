"""Sequence tagging: CoNLL reading, first-sub-word labels, conlleval span F1, an end-to-end run."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest
import torch
from finetune_models import tiny_checkpoint
from pretrain_data import one_thread  # noqa: F401  (autouse: tiny models, one thread)

from electra.cli import main
from electra.errors import UserError
from electra.tasks.tagging.decoding import decode
from electra.tasks.tagging.features import encode, is_chunk_tagging, label_set, retag
from electra.tasks.tagging.reader import Sentence, read_conll
from electra.tasks.tagging.scoring import score
from electra.tokenizer import load_tokenizer


def conlleval_scores(scores: dict) -> dict:
    """What `evaluate tagging` gives of a fine-tuning's scores: all but the official scorer's F1,
    which needs the raw BIOES predictions a predictions file no longer has."""
    return {k: v for k, v in scores.items() if k != "official_f1"}


def conlleval_chunks(tags: list[str]) -> set[tuple[int, int, str]]:
    """(start, end, type) chunks by conlleval's rules for IOB tags: a chunk starts at B-X, or at
    I-X after O or after another type; it continues over I-X of the same type."""
    chunks, start, kind = set(), None, None
    for i, tag in enumerate([*tags, "O"]):
        prefix, _, tag_type = tag.partition("-")
        continues = prefix == "I" and kind == tag_type and start is not None
        if start is not None and not continues:
            chunks.add((start, i, kind))
            start, kind = None, None
        if prefix == "B" or (prefix == "I" and start is None):
            start, kind = i, tag_type
    return chunks


def conlleval(gold: list[list[str]], predicted: list[list[str]]) -> dict[str, float]:
    correct = found = expected = tokens = right = 0
    offset = 0
    for g, p in zip(gold, predicted, strict=True):
        gold_chunks = {(s + offset, e + offset, k) for s, e, k in conlleval_chunks(g)}
        predicted_chunks = {(s + offset, e + offset, k) for s, e, k in conlleval_chunks(p)}
        correct += len(gold_chunks & predicted_chunks)
        found += len(predicted_chunks)
        expected += len(gold_chunks)
        tokens += len(g)
        right += sum(a == b for a, b in zip(g, p, strict=True))
        offset += len(g)
    precision = correct / found if found else 0.0
    recall = correct / expected if expected else 0.0
    return {
        "f1": 2 * precision * recall / (precision + recall) if correct else 0.0,
        "precision": precision,
        "recall": recall,
        "accuracy": right / tokens,
    }


def test_reads_shared_conll2000_with_either_tag_column(shared_data):
    train = read_conll(shared_data / "conll2000" / "train.txt")
    test = read_conll(shared_data / "conll2000" / "test.txt")
    assert (len(train), sum(len(s.words) for s in train)) == (8936, 211727)
    assert (len(test), sum(len(s.words) for s in test)) == (2012, 47377)
    assert train[0].words[:3] == ("Confidence", "in", "the")
    assert train[0].tags[:3] == ("B-NP", "B-PP", "B-NP") and train[0].line == 1
    pos = read_conll(shared_data / "conll2000" / "train.txt", tag_column=1)
    assert [s.words for s in pos] == [s.words for s in train]
    assert pos[0].tags[:3] == ("NN", "IN", "DT")
    # The tag set comes from every file scored: CoNLL-2000's test set has an I-LST train lacks.
    labels = label_set([(Path("train"), train), (Path("test"), test)])
    assert "I-LST" in labels and len(labels) == 23


def test_conll2003_layout_docstart_and_tag_column(tmp_path):
    path = tmp_path / "eng.train"
    path.write_text(
        "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\nPeter NNP B-NP B-PER\n",
        encoding="utf-8",
    )
    sentences = read_conll(path)
    assert [(s.words, s.tags, s.line) for s in sentences] == [
        (("EU", "rejects"), ("B-ORG", "O"), 3),
        (("Peter",), ("B-PER",), 6),
    ]
    assert read_conll(path, tag_column=2)[0].tags == ("B-NP", "B-VP")


def test_labels_sit_on_each_words_first_sub_word(shared_data):
    tokenizer = load_tokenizer(shared_data / "vocab" / "bert-base-uncased-vocab.txt")
    sentence = Sentence(("Confidence", "in", "U.S.", "\x00", "pounds"), ("B-NP", "B-PP", "B-NP", "I-NP", "I-NP"), 1)  # fmt: skip
    labels = ("B-NP", "B-PP", "I-NP")
    (feature,) = encode(tokenizer, [sentence], labels, max_seq_length=32)
    tokens = [tokenizer.id_to_token(i) for i in feature["input_ids"]]
    assert tokens == ["[CLS]", "confidence", "in", "u", ".", "s", ".", "pounds", "[SEP]"]
    assert feature["labels"] == [-100, 0, 1, 0, -100, -100, -100, 2, -100]
    assert feature["first"] == [1, 2, 3, -1, 7]  # the control character tokenizes to nothing
    # Cut off by the length limit (`encode` alone, as for training): the last word has no
    # position, and is predicted O.
    (short,) = encode(tokenizer, [sentence], labels, max_seq_length=6)
    assert short["first"] == [1, 2, 3, -1, -1]
    logits = torch.zeros(6, 3)
    logits[:, 2] = 1.0
    assert decode([short], [logits], labels) == [["I-NP", "I-NP", "I-NP", "O", "O"]]


def _corrupt(tags: list[list[str]], seed: int) -> list[list[str]]:
    """Predictions with typical tagger mistakes: wrong types, I- starting chunks, splits."""
    rng = random.Random(seed)
    kinds = ["NP", "VP", "PP", "ADJP"]
    out = []
    for sentence in tags:
        new = list(sentence)
        for i in range(len(new)):
            roll = rng.random()
            if roll < 0.05:
                new[i] = "O"
            elif roll < 0.10:
                new[i] = "I-" + rng.choice(kinds)
            elif roll < 0.15:
                new[i] = "B-" + rng.choice(kinds)
        out.append(new)
    return out


def test_span_f1_matches_a_conlleval_reimplementation(shared_data):
    gold = [list(s.tags) for s in read_conll(shared_data / "conll2000" / "test.txt")[:600]]
    for seed in (0, 1):
        predicted = _corrupt(gold, seed)
        ours = score(gold, predicted)
        reference = conlleval(gold, predicted)
        assert ours == pytest.approx(reference, abs=1e-12)
        assert 0.5 < ours["f1"] < 0.95
    assert score(gold, gold)["f1"] == 1.0
    # conlleval's rule that matters most: an I- after O starts a chunk.
    assert score([["B-NP", "I-NP", "O"]], [["I-NP", "I-NP", "O"]])["f1"] == 1.0
    assert score([["B-NP", "B-NP"]], [["B-NP", "I-NP"]])["f1"] == 0.0


def _write_slice(source: Path, target: Path, sentences: int) -> None:
    blocks = source.read_text(encoding="utf-8").split("\n\n")[:sentences]
    target.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")


def assert_report_is_conllevals(report: str, gold, predicted) -> None:
    """Every number of the report against the reimplementation above, type by type."""
    offset, gold_chunks, found_chunks = 0, set(), set()
    for g, p in zip(gold, predicted, strict=True):
        gold_chunks |= {(s + offset, e + offset, k) for s, e, k in conlleval_chunks(g)}
        found_chunks |= {(s + offset, e + offset, k) for s, e, k in conlleval_chunks(p)}
        offset += len(g)
    head, overall, *rows = report.splitlines()
    correct = gold_chunks & found_chunks
    assert head == (f"processed {offset} tokens with {len(gold_chunks)} phrases; found: "
                    f"{len(found_chunks)} phrases; correct: {len(correct)}.")  # fmt: skip
    kinds = sorted({k for *_, k in gold_chunks | found_chunks})
    assert [row.split(":")[0].strip() for row in rows] == kinds
    for kind, row in zip(kinds, rows, strict=True):
        n_gold = sum(k == kind for *_, k in gold_chunks)
        n_found = sum(k == kind for *_, k in found_chunks)
        n_right = sum(k == kind for *_, k in correct)
        precision = n_right / n_found if n_found else 0.0
        recall = n_right / n_gold if n_gold else 0.0
        f1 = 2 * precision * recall / (precision + recall) if n_right else 0.0
        numbers = [float(x) for x in re.findall(r"[\d.]+(?=%)|(?<=FB1: )\s*[\d.]+", row)]
        assert numbers == pytest.approx([100 * precision, 100 * recall, 100 * f1], abs=0.006)
        assert row.endswith(f"  {n_found}")


def official_bioes(tags: list[str]) -> list[str]:
    """A transcription of the official `tagging_utils.get_span_labels` then `get_tags(..,
    "BIOES")`: a span starts at B-/S- or after O and runs until the next start or O."""
    spans, last, start = [], "O", -1
    for i, tag in enumerate(tags):
        prefix = None if tag == "O" else tag.split("-")[0]
        if (prefix in ("S", "B") or tag == "O") and last != "O":
            spans.append((start, i - 1, last.split("-")[-1]))
        if prefix in ("B", "S") or last == "O":
            start = i
        last = tag
    if tags[-1] != "O":
        spans.append((start, len(tags) - 1, tags[-1].split("-")[-1]))
    out = ["O"] * len(tags)
    for s, e, kind in spans:
        out[s : e + 1] = ["I-" + kind] * (e + 1 - s)
        out[e], out[s] = "E-" + kind, "B-" + kind
        if s == e:
            out[s] = "S-" + kind
    return out


def random_iob2(rng: random.Random, length: int) -> list[str]:
    tags, previous = [], "O"
    for _ in range(length):
        kind = rng.choice(["NP", "VP", "PP"])
        choice = rng.random()
        if choice < 0.3:
            tags.append("O")
        elif choice < 0.6 or previous == "O" or previous[2:] != kind:
            tags.append("B-" + kind)
        else:
            tags.append("I-" + kind)
        previous = tags[-1]
    return tags


def test_bioes_retagging_matches_the_official_conversion_and_round_trips():
    rng = random.Random(0)
    for _ in range(500):
        iob2 = random_iob2(rng, rng.randint(1, 12))
        bioes = retag(iob2, "BIOES")
        assert bioes == official_bioes(iob2), iob2
        assert retag(bioes, "IOB2") == iob2
        assert conlleval_chunks(retag(bioes, "IOB2")) == conlleval_chunks(iob2)
    # IOB1 (a chunk may open with I-) and type changes without B- are read as conlleval reads them.
    assert retag(["I-NP", "I-NP", "I-VP", "O", "I-PP"], "BIOES") == [
        "B-NP", "E-NP", "S-VP", "O", "S-PP"]  # fmt: skip
    assert not is_chunk_tagging([Sentence(("a",), ("NN",), 1)])


@pytest.mark.slow
def test_finetune_tagging_end_to_end(tmp_path, assets, capsys):
    from transformers import ElectraForTokenClassification

    data = tmp_path / "chunking"
    data.mkdir()
    _write_slice(assets / "conll" / "train.txt", data / "train.txt", 64)
    _write_slice(assets / "conll" / "dev.txt", data / "test.txt", 40)
    tokenizer = load_tokenizer(assets / "vocab.txt")
    tiny_checkpoint(tmp_path / "pre", tokenizer)
    argv = ["finetune", "tagging", "--data-dir", str(data), "--model", str(tmp_path / "pre"),
            "--out", str(tmp_path / "run"), "--epochs", "2", "--batch-size", "8", "--lr", "1e-2", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    assert "scored on" in capsys.readouterr().out
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["config"]["max_seq_length"] == 256 and results["train_examples"] == 64

    # dev_predictions.txt is conlleval's input; the reported scores are conlleval's on it.
    blocks = (tmp_path / "run" / "dev_predictions.txt").read_text().strip("\n").split("\n\n")
    rows = [[line.split(" ") for line in block.split("\n")] for block in blocks]
    gold_sentences = read_conll(data / "test.txt")
    assert [[r[0] for r in sentence] for sentence in rows] == [
        list(s.words) for s in gold_sentences
    ]
    gold = [[r[1] for r in sentence] for sentence in rows]
    predicted = [[r[2] for r in sentence] for sentence in rows]
    assert conlleval_scores(results["dev"]) == pytest.approx(conlleval(gold, predicted), abs=1e-12)
    assert results["dev"]["f1"] > 0.2  # it learned: predicting the commonest tag scores 0
    argv = ["evaluate", "tagging", "--predictions", str(tmp_path / "run" / "dev_predictions.txt")]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out) == pytest.approx(
        conlleval_scores(results["dev"]), abs=1e-12
    )

    # conlleval's per-type report, beside the predictions and from `evaluate tagging --table`.
    report = (tmp_path / "run" / "dev_conlleval.txt").read_text()
    assert main([*argv, "--table"]) == 0
    assert capsys.readouterr().out == report
    assert_report_is_conllevals(report, gold, predicted)

    model, info = ElectraForTokenClassification.from_pretrained(
        tmp_path / "run" / "model", output_loading_info=True
    )
    assert not info["missing_keys"] and not info["unexpected_keys"]
    assert "B-NP" in model.config.label2id and model.config.num_labels == len(model.config.id2label)
    # Trained in BIOES, as the official code trains chunk tags; scored and written in IOB2.
    assert {"E-NP", "S-NP"} <= set(model.config.label2id)
    assert not {t[:2] for t in predicted for t in t} & {"E-", "S-"}


@pytest.mark.parametrize(
    "content, tag_column, message",
    [
        ("a DT B-NP\nb NN\n", -1, r"x\.txt:2: 2 columns, but earlier lines have 3"),
        (
            "a DT B-NP\n",
            3,
            r"x\.txt:1: tag_column 3 is not a tag column of a line with 3 columns",
        ),
        ("a DT B-NP\n", 0, r"x\.txt:1: tag_column 0 is not a tag column"),
        ("\n\n", -1, r"x\.txt: no sentences"),
    ],
)
def test_bad_conll_files_name_the_file_and_line(tmp_path, content, tag_column, message):
    (tmp_path / "x.txt").write_text(content, encoding="utf-8")
    with pytest.raises(UserError, match=message):
        read_conll(tmp_path / "x.txt", tag_column)


def test_tags_outside_the_given_label_set_name_the_line(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("a DT B-NP\n\nb NN B-NP\nc VB B-VP\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"x\.txt:4: tag 'B-VP' is not one of B-NP, O"):
        label_set([(path, read_conll(path))], ["B-NP", "O"])


def test_cli_without_files_is_one_line(tmp_path, capsys):
    code = main(
        [
            "finetune",
            "tagging",
            "--data-dir",
            str(tmp_path),
            "--model",
            str(tmp_path),
            "--out",
            str(tmp_path),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "no training file (looked for train.txt" in err


def test_the_recipe_length_stays_within_the_model_positions(assets, tmp_path, capsys):
    """The tagging recipe's 256 tokens on a model of 64 positions: examples of 64 (a long
    Japanese sentence crashed the embedding before); asking for more is one line."""
    model = tiny_checkpoint(tmp_path / "m", load_tokenizer(assets / "vocab.txt"), positions=64)
    argv = ["finetune", "tagging", "--data-dir", str(assets / "conll"), "--model", str(model),
            "--epochs", "1", "--max-train-examples", "16", "--no-progress"]  # fmt: skip
    assert main([*argv, "--out", str(tmp_path / "a")]) == 0
    saved = json.loads((tmp_path / "a" / "finetune_config.json").read_text())
    assert saved["max_seq_length"] == 64
    capsys.readouterr()
    assert main([*argv, "--out", str(tmp_path / "b"), "--max-seq-length", "100"]) == 2
    assert "--max-seq-length 100 exceeds 64 positions of" in capsys.readouterr().err
