"""`electra detect` on a transformers-made checkpoint gives transformers' probabilities."""

from __future__ import annotations

import json

import pytest
import torch

from electra.cli import main
from electra.tokenizer import SPECIAL_TOKENS

transformers = pytest.importorskip("transformers")

WORDS = "the quick brown fox jumps over lazy dog fake a cat sat on mat ##s ##ed ##ing run".split()
TEXTS = ["The quick brown fox fake over the lazy dog", "a cat sat on the mat", "jumps running dogs"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A randomly initialised transformers discriminator with its vocabulary, as users download."""
    directory = tmp_path_factory.mktemp("disc")
    vocab = list(SPECIAL_TOKENS) + WORDS
    (directory / "vocab.txt").write_text("\n".join(vocab) + "\n")
    torch.manual_seed(0)
    config = transformers.ElectraConfig(
        vocab_size=len(vocab),
        embedding_size=16,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
    )
    transformers.ElectraForPreTraining(config).save_pretrained(directory)
    return directory


def reference(directory, texts):
    tokenizer = transformers.ElectraTokenizerFast.from_pretrained(directory)
    model = transformers.ElectraForPreTraining.from_pretrained(directory).eval()
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        probs = torch.sigmoid(model(**batch).logits)
    out = []
    for row in range(len(texts)):
        n = int(batch["attention_mask"][row].sum())
        ids = batch["input_ids"][row, 1 : n - 1]
        out.append((tokenizer.convert_ids_to_tokens(ids.tolist()), probs[row, 1 : n - 1].tolist()))
    return out


def test_json_matches_transformers(checkpoint, capsys):
    assert main(["detect", "--model", str(checkpoint), "--json", *TEXTS]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == len(TEXTS)
    for line, text, (tokens, probs) in zip(lines, TEXTS, reference(checkpoint, TEXTS), strict=True):
        record = json.loads(line)
        assert list(record) == ["text", "tokens", "offsets", "replaced_prob"]
        assert record["text"] == text
        assert record["tokens"] == tokens
        assert record["replaced_prob"] == pytest.approx(probs, abs=1e-6)


def test_file_input_and_batching_give_the_same_answers(checkpoint, tmp_path, capsys):
    texts_file = tmp_path / "texts.txt"
    texts_file.write_text("\n".join(TEXTS) + "\n\n")
    assert (
        main(
            [
                "detect",
                "--model",
                str(checkpoint),
                "--json",
                "--batch-size",
                "2",
                "--file",
                str(texts_file),
            ]
        )
        == 0
    )
    from_file = capsys.readouterr().out
    assert main(["detect", "--model", str(checkpoint), "--json", *TEXTS]) == 0
    from_args = capsys.readouterr().out
    got = [json.loads(x) for x in from_file.splitlines()]
    want = [json.loads(x) for x in from_args.splitlines()]
    for a, b in zip(got, want, strict=True):
        assert a["tokens"] == b["tokens"]
        assert a["replaced_prob"] == pytest.approx(b["replaced_prob"], abs=1e-6)


def test_text_output_marks_tokens_above_threshold(checkpoint, capsys):
    assert main(["detect", "--model", str(checkpoint), "--threshold", "0.0", TEXTS[1]]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == TEXTS[1]
    assert out.count("<- replaced") == 6


@pytest.mark.parametrize(
    "setup, message",
    [
        (lambda d: d / "absent", "no such directory"),
        (lambda d: d, "no config.json"),
    ],
)
def test_bad_model_dir_is_one_line_exit_2(tmp_path, capsys, setup, message):
    assert main(["detect", "--model", str(setup(tmp_path)), "hello"]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_tokens_are_shown_as_the_text_they_cover_whatever_the_vocabulary(tmp_path, capsys):
    """Byte-level BPE spells a Japanese character in byte pieces (`æĹ¥`): the display shows the
    text each token covers, and JSON carries the offsets."""
    from finetune_models import tiny_checkpoint

    from electra.tokenizer import train_tokenizer

    tokenizer = train_tokenizer(["plain words here"] * 20, 300, algorithm="bpe")
    model = tiny_checkpoint(tmp_path / "m", tokenizer)
    text = "plain 日本"
    assert main(["detect", "--model", str(model), text]) == 0
    shown = [row.split()[0] for row in capsys.readouterr().out.splitlines()[1:] if row.strip()]
    assert shown[0] == "plain" and set(shown[1:]) - {"Ġ"} == {"日", "本"}  # Ġ: a bare word start
    assert main(["detect", "--model", str(model), "--json", text]) == 0
    found = json.loads(capsys.readouterr().out)
    assert [text[a:b] for a, b in found["offsets"]][0] == "plain"
    assert any(not t.isprintable() or t != text[a:b]
               for t, (a, b) in zip(found["tokens"], found["offsets"], strict=True))  # fmt: skip
