"""Tagging reads CoNLL-U (Universal Dependencies): comments skipped, multiword tokens and empty
nodes left out, the tag column chosen by name; a tag set that is not chunks or entities (parts
of speech) is trained toward, and scored by, accuracy, with a per-tag report."""

from __future__ import annotations

import json
import random

import pytest

pytest.importorskip("conllu", reason="the conllu extra")

from electra.cli import main  # noqa: E402
from electra.errors import UserError  # noqa: E402
from electra.tasks.tagging.reader import read_conllu  # noqa: E402
from electra.tasks.tagging.scoring import score  # noqa: E402

SAMPLE = """# sent_id = 1
# text = Im Haus ist es warm.
1-2\tIm\t_\t_\t_\t_\t_\t_\t_\t_
1\tIn\tin\tADP\tAPPR\t_\t3\tcase\t_\t_
2\tdem\tder\tDET\tART\t_\t3\tdet\t_\t_
3\tHaus\tHaus\tNOUN\tNN\t_\t5\tobl\t_\t_
4\tist\tsein\tAUX\tVAFIN\t_\t5\tcop\t_\t_
5\tes\tes\tPRON\tPPER\t_\t0\troot\t_\t_
5.1\twarm\twarm\tADJ\tADJD\t_\t_\t_\t5:orphan\t_
6\t.\t.\tPUNCT\t$.\t_\t5\tpunct\t_\t_

# sent_id = 2
1\tJa\tja\tINTJ\tITJ\t_\t0\troot\t_\t_
"""


def test_conllu_words_are_syntactic_words_and_tags_come_by_name(tmp_path):
    path = tmp_path / "x.conllu"
    path.write_text(SAMPLE, encoding="utf-8")
    first, second = read_conllu(path)
    assert first.words == ("In", "dem", "Haus", "ist", "es", ".")  # not `Im`, not the empty node
    assert first.tags == ("ADP", "DET", "NOUN", "AUX", "PRON", "PUNCT")
    assert read_conllu(path, "xpos")[0].tags == ("APPR", "ART", "NN", "VAFIN", "PPER", "$.")
    assert second.words == ("Ja",) and second.tags == ("INTJ",)
    # an independent count: lines whose first column is a plain number
    integer_ids = [line for line in SAMPLE.splitlines() if line.split("\t")[0].isdigit()]
    assert len(integer_ids) == len(first.words) + len(second.words)


def test_a_malformed_conllu_file_is_one_line(tmp_path):
    path = tmp_path / "bad.conllu"
    path.write_text("1\tword\n2\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"bad\.conllu: (not valid CoNLL-U|no sentences)"):
        read_conllu(path)


def test_parts_of_speech_are_scored_by_accuracy_not_span_f1():
    gold = [["NOUN", "VERB", "DET", "NOUN"], ["PRON", "VERB"]]
    predicted = [["NOUN", "VERB", "NOUN", "NOUN"], ["PRON", "NOUN"]]
    scores = score(gold, predicted)
    assert set(scores) == {"accuracy", "macro_f1"} and scores["accuracy"] == pytest.approx(4 / 6)
    assert "f1" in score([["B-NP", "O"]], [["B-NP", "O"]])  # chunks keep span F1


def _treebank(path, sentences: int, seed: int) -> None:
    """A learnable CoNLL-U sample: determiners, nouns and verbs drawn from small word lists."""
    rng = random.Random(seed)
    words = {"DET": ["the", "a"], "NOUN": ["cat", "dog", "mat", "park"], "VERB": ["sat", "ran"]}
    lines = []
    for i in range(sentences):
        tags = ["DET", "NOUN", "VERB", "DET", "NOUN"]
        lines.append(f"# sent_id = {i}")
        for j, tag in enumerate(tags, 1):
            lines.append(f"{j}\t{rng.choice(words[tag])}\t_\t{tag}\t_\t_\t_\t_\t_\t_")
        lines.append("")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.slow
def test_finetune_predict_and_evaluate_parts_of_speech_from_conllu(
    tiny_checkpoint, tmp_path, capsys
):
    _treebank(tmp_path / "train.conllu", 60, 0)
    _treebank(tmp_path / "dev.conllu", 20, 1)
    out = tmp_path / "pos"
    argv = ["finetune", "tagging", "--data-dir", str(tmp_path), "--model", str(tiny_checkpoint),
            "--out", str(out), "--epochs", "3", "--lr", "3e-3", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["main_metric"] == "accuracy" and results["dev"]["accuracy"] >= 0.9
    capsys.readouterr()
    predictions = out / "dev_predictions.txt"
    assert main(["evaluate", "tagging", "--predictions", str(predictions)]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] == results["dev"]["accuracy"]
    assert main(["evaluate", "tagging", "--predictions", str(predictions), "--table"]) == 0
    report = capsys.readouterr().out
    assert all(tag in report for tag in ("DET", "NOUN", "VERB")) and "macro avg" in report
    assert main(["predict", "tagging", "--model", str(out / "model"), "--file",
                 str(tmp_path / "dev.conllu"), "--json"]) == 0  # fmt: skip
    first = json.loads(capsys.readouterr().out.splitlines()[0])
    assert len(first["tokens"]) == len(first["tags"]) == 5
