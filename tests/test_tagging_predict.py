"""`electra predict tagging`: a fine-tuned tagger tags CoNLL files and plain text, end to end."""

from __future__ import annotations

import dataclasses
import json
import random
import re
from pathlib import Path

import pytest
import torch
from finetune_models import tiny_checkpoint
from pretrain_data import one_thread  # noqa: F401  (autouse: tiny models, one thread)

from electra import hf
from electra.cli import main
from electra.config import ModelConfig
from electra.tasks.tagging.decoding import decode
from electra.tasks.tagging.family import FAMILY, build_task
from electra.tasks.tagging.features import encode, label_set, retag
from electra.tasks.tagging.model import TokenClassifier
from electra.tasks.tagging.reader import read_conll
from electra.tasks.tagging.scoring import score
from electra.tasks.task import SETTINGS_KEY, make_predict
from electra.tasks.windows import budget_windows
from electra.tokenizer import SpecialIds, load_tokenizer, train_tokenizer


def conlleval_scores(scores: dict) -> dict:
    """What `evaluate tagging` gives of a fine-tuning's scores: all but the official scorer's F1,
    which needs the raw BIOES predictions a predictions file no longer has."""
    return {k: v for k, v in scores.items() if k != "official_f1"}


WORDS = {
    ("DT", "B-NP"): ["the", "a", "this"],
    ("JJ", "I-NP"): ["big", "small", "red", "old"],
    ("NN", "I-NP"): ["cat", "dog", "house", "car", "tree", "idea"],
    ("VBZ", "B-VP"): ["sees", "likes", "builds", "finds"],
    ("IN", "B-PP"): ["in", "on", "near"],
}


def _sentence(rng: random.Random) -> list[tuple[str, str, str]]:
    """A toy chunked sentence: `word POS chunk` rows, NP VP NP [PP NP] ."""

    def pick(pos: str, tag: str) -> tuple[str, str, str]:
        return rng.choice(WORDS[pos, tag]), pos, tag

    def noun_phrase() -> list[tuple[str, str, str]]:
        adjectives = [pick("JJ", "I-NP") for _ in range(rng.randrange(2))]
        return [pick("DT", "B-NP"), *adjectives, pick("NN", "I-NP")]

    rows = [*noun_phrase(), pick("VBZ", "B-VP"), *noun_phrase()]
    if rng.random() < 0.5:
        rows += [pick("IN", "B-PP"), *noun_phrase()]
    return [*rows, (".", ".", "O")]


def _write_conll(path: Path, sentences: list[list[tuple[str, str, str]]], docstart: bool) -> None:
    head = "-DOCSTART- -X- O\n\n" if docstart else ""
    blocks = ["".join(f"{w} {p} {t}\n" for w, p, t in s) for s in sentences]
    path.write_text(head + "\n".join(blocks), encoding="utf-8")


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """A tiny tagger fine-tuned by `electra finetune tagging` (its dev file has a -DOCSTART-)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("tagger")
    rng = random.Random(0)
    data = root / "data"
    data.mkdir()
    _write_conll(data / "train.txt", [_sentence(rng) for _ in range(48)], docstart=False)
    _write_conll(data / "dev.txt", [_sentence(rng) for _ in range(24)], docstart=True)
    lines = [" ".join(w for w, _, _ in _sentence(rng)) for _ in range(200)]
    tiny_checkpoint(root / "pre", train_tokenizer(lines, vocab_size=60))
    argv = ["finetune", "tagging", "--data-dir", str(data), "--model", str(root / "pre"),
            "--out", str(root / "run"), "--epochs", "2", "--batch-size", "8", "--lr", "1e-2",
            "--max-seq-length", "64", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    torch.set_num_threads(threads)
    return root


def _rows(text: str) -> list[list[list[str]]]:
    """Sentences of rows of tab-separated columns; asserts one blank line after each sentence."""
    assert text.endswith("\n\n") and "\n\n\n" not in text
    return [[line.split("\t") for line in block.split("\n")] for block in text[:-2].split("\n\n")]


def test_conll_output_is_dev_scorings_tags_and_evaluate_scores_it(run, tmp_path, capsys):
    dev = run / "data" / "dev.txt"
    out = tmp_path / "tagged" / "dev.tagged"
    argv = ["predict", "tagging", "--model", str(run / "run" / "model"), "--file", str(dev)]
    assert main([*argv, "--out", str(out)]) == 0
    assert "tagged 24 sentences" in capsys.readouterr().err  # standard output: tags only
    rows = _rows(out.read_text(encoding="utf-8"))

    # The input's columns, then the predicted tag; -DOCSTART- dropped as the reader drops it.
    gold = read_conll(dev, keep_columns=True)
    assert [[r[:-1] for r in s] for s in rows] == [[list(c) for c in s.columns] for s in gold]
    # The tags the fine-tuning loop's dev scoring gave (dev_predictions.txt: word gold predicted).
    expected = (run / "run" / "dev_predictions.txt").read_text(encoding="utf-8")
    scored = [[line.split(" ") for line in b.split("\n")] for b in expected.strip().split("\n\n")]
    assert [[r[-1] for r in s] for s in rows] == [[r[2] for r in s] for s in scored]
    assert len({r[-1] for s in rows for r in s}) > 1  # not a constant tagger: the test can fail

    # gold in the last input column, predicted appended: `evaluate tagging` scores it as is.
    assert main(["evaluate", "tagging", "--predictions", str(out)]) == 0
    results = json.loads((run / "run" / "results.json").read_text())
    assert json.loads(capsys.readouterr().out) == pytest.approx(
        conlleval_scores(results["dev"]), abs=1e-12
    )

    # The same model and file through the in-process evaluation path, as a second witness.
    tokenizer = load_tokenizer(run / "run" / "model")
    task = build_task(tokenizer, run / "data" / "train.txt", dev, 64)
    tagger = FAMILY.load_finetuned(run / "run" / "model")
    model, labels, length = tagger.model, tagger.labels, tagger.max_seq_length
    assert length == 64 and labels == tuple(task.config_extra["id2label"].values())
    predict = make_predict(model, SpecialIds.of(tokenizer).pad, 5, torch.device("cpu"))
    _, dev_rows = task.evaluate(predict)
    assert [[r[-1] for r in s] for s in rows] == [
        [line.split(" ")[2] for line in block.splitlines() if line] for block in dev_rows
    ]


def test_text_arguments_text_files_and_json_tag_as_conll_does(run, tmp_path, capsys):
    model = str(run / "run" / "model")
    dev = run / "data" / "dev.txt"
    sentences = read_conll(dev)[:5]
    texts = [" ".join(s.words) for s in sentences]
    assert main(["predict", "tagging", "--model", model, "--file", str(dev)]) == 0
    conll = _rows(capsys.readouterr().out)[:5]  # standard output without --out

    assert main(["predict", "tagging", "--model", model, *texts]) == 0
    plain = _rows(capsys.readouterr().out)
    assert all(len(r) == 2 for s in plain for r in s)  # token<TAB>tag
    assert plain == [[[r[0], r[-1]] for r in s] for s in conll]

    text_file = tmp_path / "in.txt"
    text_file.write_text("\n".join(["", texts[0], "  ", *texts[1:]]) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    argv = ["predict", "tagging", "--model", model, "--text-file", str(text_file), "--json"]
    assert main([*argv, "--out", str(out)]) == 0
    objects = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert objects == [{"tokens": [r[0] for r in s], "tags": [r[1] for r in s]} for s in plain]


def test_long_sentences_are_tagged_in_overlapping_windows(run, capsys):
    model = str(run / "run" / "model")
    tokenizer = load_tokenizer(model)
    words = [w for s in read_conll(run / "data" / "dev.txt")[:4] for w in s.words]
    lengths = [len(tokenizer.encode([w], is_pretokenized=True, add_special_tokens=False).ids)
               for w in words]  # fmt: skip
    spans = budget_windows(lengths, 16 - 2)
    assert len(spans) > 3 and spans[0][0] == 0 and spans[-1][1] == len(words)

    argv = ["predict", "tagging", "--model", model, "--max-seq-length", "16"]
    assert main([*argv, " ".join(words)]) == 0
    (long,) = _rows(capsys.readouterr().out)
    assert [r[0] for r in long] == words
    # Each window tagged on its own, as a sentence that fits; every word takes its tag from the
    # window where it sits furthest from both edges, then the longest, then the first.
    assert main([*argv, *(" ".join(words[a:b]) for a, b in spans)]) == 0
    alone = _rows(capsys.readouterr().out)
    best: dict[int, tuple[int, str]] = {}
    for (a, b), window in zip(spans, alone, strict=True):
        for i in range(a, b):
            room = min(i - a, b - 1 - i) + 0.01 * (b - a)
            if i not in best or room > best[i][0]:
                best[i] = (room, window[i - a][1])
    assert [r[1] for r in long] == [best[i][1] for i in range(len(words))]
    assert len({r[1] for r in long}) > 1


def test_dev_scoring_tags_long_sentences_in_windows_as_predict_does(run, tmp_path, capsys):
    """Dev sentences past `max_seq_length` (the tagger's own 64): fine-tuning's dev scoring gives
    `predict tagging`'s windowed tags and `evaluate tagging`'s scores, not `O` past the limit."""
    model_dir = run / "run" / "model"
    tokenizer = load_tokenizer(model_dir)
    short = read_conll(run / "data" / "dev.txt", keep_columns=True)
    dev = tmp_path / "long.txt"  # 3 sentences, each 8 dev sentences end to end
    lines = ["".join(" ".join(c) + "\n" for s in short[i : i + 8] for c in s.columns)
             for i in range(0, 24, 8)]  # fmt: skip
    dev.write_text("\n".join(lines), encoding="utf-8")
    tagger = FAMILY.load_finetuned(model_dir)
    model, labels, length = tagger.model, tagger.labels, tagger.max_seq_length
    task = build_task(tokenizer, run / "data" / "train.txt", dev, length, labels=labels)
    predict = make_predict(model, SpecialIds.of(tokenizer).pad, 5, torch.device("cpu"))
    metrics, dev_rows = task.evaluate(predict)

    out = tmp_path / "long.tagged"
    argv = ["predict", "tagging", "--model", str(model_dir), "--file", str(dev), "--out", str(out)]
    assert main(argv) == 0
    capsys.readouterr()
    tagged = _rows(out.read_text(encoding="utf-8"))
    assert ["".join(f"{r[0]} {r[-2]} {r[-1]}\n" for r in s) + "\n" for s in tagged] == dev_rows
    assert main(["evaluate", "tagging", "--predictions", str(out)]) == 0
    assert json.loads(capsys.readouterr().out) == pytest.approx(
        conlleval_scores(metrics), abs=1e-12
    )

    # The old dev scoring, truncation, tagged every word past the limit O whatever its gold tag.
    sentences = read_conll(dev)
    untagged = [dataclasses.replace(s, tags=()) for s in sentences]  # the tags train in BIOES
    cut = encode(tokenizer, untagged, labels, length)
    old = decode(cut, predict(cut), labels)
    late = [f["first"].index(-1) for f in cut]
    assert all(len(s.words) - start > 20 for s, start in zip(sentences, late, strict=True))
    assert all(set(tags[start:]) == {"O"} for tags, start in zip(old, late, strict=True))
    right = [
        r[-2] == r[-1] != "O" for s, start in zip(tagged, late, strict=True) for r in s[start:]
    ]
    assert sum(right) > 10  # late words with chunk tags, which windows tag and truncation cannot
    assert metrics["f1"] > score([s.tags for s in sentences], old)["f1"]


@pytest.mark.parametrize(
    "lengths, budget, spans",
    [
        ([1, 2, 3], 6, [(0, 3)]),  # fits: one window, exactly what dev scoring encodes
        ([1, 1, 1, 1, 1], 2, [(0, 2), (1, 3), (2, 4), (3, 5)]),
        ([2, 2, 2, 2, 2, 2], 6, [(0, 3), (1, 4), (2, 5), (3, 6)]),
        ([9, 1, 1], 4, [(0, 1), (1, 3)]),  # a word longer than a window: alone, cut by encode
        ([0, 2, 0, 2], 2, [(0, 3), (1, 3), (2, 4)]),  # words with no sub-words take no room
    ],
)
def test_windows_cover_every_word_and_overlap(lengths, budget, spans):
    assert budget_windows(lengths, budget) == spans


def _tagger_without_labels(directory: Path, tokenizer_source: Path) -> Path:
    """A token classifier whose config.json lacks id2label (e.g. hand-edited or foreign)."""
    tokenizer = load_tokenizer(tokenizer_source)
    config = ModelConfig(vocab_size=tokenizer.get_vocab_size(), embedding_size=16, hidden_size=32,
                         num_layers=1, num_heads=2, intermediate_size=64)  # fmt: skip
    hf.save(TokenClassifier(config, num_labels=3), directory, tokenizer=tokenizer)
    raw = json.loads((directory / "config.json").read_text())
    del raw["id2label"]
    (directory / "config.json").write_text(json.dumps(raw))
    return directory


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing model", r"nowhere: no such directory"),
        ("no id2label", r"config\.json: no id2label, so no tag names"),
        ("discriminator", r"config\.json: no id2label"),
        ("no head", r"its TokenClassifier head was never trained"),
        ("missing file", r"absent\.txt: cannot read \(No such file or directory\)"),
        ("empty conll", r"empty\.txt: no sentences"),
        ("empty text file", r"empty\.txt: no sentences \(expected one sentence per line\)"),
        ("empty text", r"a text to tag is empty"),
        ("no input", r"give one input: TEXTS as arguments, --file \(CoNLL\) or --text-file"),
        ("two inputs", r"give one input: .* \(got TEXTS and --file\)"),
        ("too long", r"--max-seq-length 999: the model has 256 positions"),
        ("no room", r"--max-seq-length 2: \[CLS\], \[SEP\] and a token need at least 3"),
    ],
)
def test_bad_input_is_one_line(run, tmp_path, capsys, case, message):
    model = run / "run" / "model"
    (tmp_path / "empty.txt").write_text("\n \n\n", encoding="utf-8")
    inputs = ["--file", str(run / "data" / "dev.txt")]
    if case == "missing model":
        model = tmp_path / "nowhere"
    elif case == "no id2label":
        model = _tagger_without_labels(tmp_path / "foreign", model)
    elif case == "discriminator":
        model = run / "pre"
    elif case == "no head":
        model = tmp_path / "disc"
        tiny_checkpoint(model, load_tokenizer(run / "pre"))
        raw = json.loads((model / "config.json").read_text())
        (model / "config.json").write_text(json.dumps({**raw, "id2label": {"0": "O", "1": "B"}}))
    elif case == "missing file":
        inputs = ["--file", str(tmp_path / "absent.txt")]
    elif case == "empty conll":
        inputs = ["--file", str(tmp_path / "empty.txt")]
    elif case == "empty text file":
        inputs = ["--text-file", str(tmp_path / "empty.txt")]
    elif case == "empty text":
        inputs = ["the cat", "  "]
    elif case == "no input":
        inputs = []
    elif case == "two inputs":
        inputs = ["the cat", *inputs]
    elif case == "too long":
        inputs += ["--max-seq-length", "999"]
    elif case == "no room":
        inputs += ["--max-seq-length", "2"]  # [CLS] and [SEP] only
    code = main(["predict", "tagging", "--model", str(model), *inputs])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert captured.err.count("\n") == 1 and captured.err.startswith("electra: error: ")
    assert re.search(message, captured.err.strip()), captured.err


def test_help_shows_the_inputs_and_an_example(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "1000")
    with pytest.raises(SystemExit) as exit:
        main(["predict", "tagging", "--help"])
    help = capsys.readouterr().out
    assert exit.value.code == 0 and help.startswith("usage: electra predict tagging ")
    for flag in ("--file", "--text-file", "--out", "--json", "--max-seq-length", "example"):
        assert flag in help


@pytest.mark.shared_data
def test_conll2000_test_set_tags_as_dev_scoring_does(shared_data, tmp_path, capsys):
    """A random-headed tagger over the BERT vocabulary on all of CoNLL-2000's test set: the
    command's tags are those of the fine-tuning loop's dev scoring, sentence for sentence."""
    test = shared_data / "conll2000" / "test.txt"
    tokenizer = load_tokenizer(shared_data / "vocab" / "bert-base-uncased-vocab.txt")
    labels = label_set([(test, read_conll(test))])
    torch.manual_seed(0)
    config = ModelConfig(vocab_size=tokenizer.get_vocab_size(), embedding_size=16, hidden_size=32,
                         num_layers=1, num_heads=2, intermediate_size=64)  # fmt: skip
    model = TokenClassifier(config, num_labels=len(labels))
    extra = {
        "id2label": dict(enumerate(labels)),
        SETTINGS_KEY: {"family": "tagging", "max_seq_length": 128},
    }
    hf.save(model, tmp_path / "model", tokenizer=tokenizer, config_extra=extra)

    out = tmp_path / "tagged.txt"
    argv = ["predict", "tagging", "--model", str(tmp_path / "model"), "--file", str(test)]
    assert main([*argv, "--out", str(out)]) == 0
    capsys.readouterr()
    rows = _rows(out.read_text(encoding="utf-8"))
    assert len(rows) == 2012 and sum(map(len, rows)) == 47377

    # A model saved without `label_encoding` predicts the file's own tags.
    task = build_task(tokenizer, test, test, 128, labels=labels, label_encoding="file")
    predict = make_predict(model, SpecialIds.of(tokenizer).pad, 256, torch.device("cpu"))
    metrics, dev_rows = task.evaluate(predict)
    assert ["".join(f"{r[0]} {r[-2]} {r[-1]}\n" for r in s) + "\n" for s in rows] == dev_rows
    assert main(["evaluate", "tagging", "--predictions", str(out)]) == 0
    assert json.loads(capsys.readouterr().out) == pytest.approx(
        conlleval_scores(metrics), abs=1e-12
    )


def test_probs_are_the_softmax_of_each_words_tag(run, capsys):
    """`--probs`: each word's probability of its tag, as transformers' tagger computes it."""
    from transformers import ElectraForTokenClassification

    model_dir = run / "run" / "model"
    sentence = "the big dog sees a small cat ."
    argv = ["predict", "tagging", "--model", str(model_dir), sentence, "--probs"]
    assert main([*argv, "--json"]) == 0
    (row,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert main(argv) == 0
    conll = _rows(capsys.readouterr().out)[0]
    assert [r[2] for r in conll] == [f"{p:.4f}" for p in row["probs"]]

    tokenizer = load_tokenizer(model_dir)
    encoding = tokenizer.encode(sentence.split(), is_pretokenized=True)
    firsts = [encoding.word_ids.index(w) for w in range(len(sentence.split()))]
    theirs = ElectraForTokenClassification.from_pretrained(model_dir).eval()
    with torch.no_grad():
        logits = theirs(input_ids=torch.tensor([encoding.ids]),
                        token_type_ids=torch.tensor([encoding.type_ids])).logits[0]  # fmt: skip
    probs = logits.softmax(-1)[firsts]
    assert row["probs"] == pytest.approx(probs.max(-1).values.tolist(), abs=1e-5)
    labels = [theirs.config.id2label[i] for i in probs.argmax(-1).tolist()]
    assert [retag(labels, "IOB2")] == [row["tags"]]
