"""Checkpoints saved by the installed `transformers` (which writes tokenizer.json and no vocab.txt)
run through every command that takes one, and ours load in `transformers` from either file."""

from __future__ import annotations

import json

import pytest
import torch

from electra import hf
from electra.cli import main
from electra.tokenizer import (
    SPECIAL_TOKENS_FILE,
    TOKENIZER_CONFIG_FILE,
    TOKENIZER_FILE,
    VOCAB_FILE,
    load_tokenizer,
    save_tokenizer,
)

transformers = pytest.importorskip("transformers")

TEXTS = ["The quick brown fox jumps over the lazy dog.", "Return a new sorted list, naïvely."]


def hf_config(vocab_size: int):
    return transformers.ElectraConfig(vocab_size=vocab_size, embedding_size=16, hidden_size=32,
                                      num_hidden_layers=2, num_attention_heads=2,
                                      intermediate_size=64, max_position_embeddings=128)  # fmt: skip


def hf_tokenizer(assets, tmp_path, **options):
    """transformers' tokenizer of the assets' vocabulary (read from a folder holding vocab.txt:
    transformers 5 ignores a `vocab_file` given to the constructor)."""
    (tmp_path / "vocab_only").mkdir(exist_ok=True)
    (tmp_path / "vocab_only" / VOCAB_FILE).write_bytes((assets / "vocab.txt").read_bytes())
    return transformers.ElectraTokenizerFast.from_pretrained(tmp_path / "vocab_only", **options)


@pytest.fixture
def hf_checkpoint(assets, tmp_path):
    """A discriminator and its tokenizer, each saved by transformers' own save_pretrained."""
    torch.manual_seed(0)
    tokenizer = hf_tokenizer(assets, tmp_path)
    assert tokenizer.vocab_size == 1000
    model = transformers.ElectraForPreTraining(hf_config(tokenizer.vocab_size)).eval()
    directory = tmp_path / "hf"
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def test_transformers_writes_no_vocab_txt_and_we_read_what_it_writes(hf_checkpoint, assets):
    assert not (hf_checkpoint / VOCAB_FILE).exists() and (hf_checkpoint / TOKENIZER_FILE).exists()
    ours = load_tokenizer(hf_checkpoint)
    theirs = transformers.AutoTokenizer.from_pretrained(hf_checkpoint)
    for text in TEXTS:
        assert ours.encode(text).ids == theirs(text)["input_ids"]
    assert ours.get_vocab() == load_tokenizer(assets / "vocab.txt").get_vocab()


def test_casing_is_read_from_the_checkpoint(assets, tmp_path):
    cased = transformers.ElectraTokenizerFast(
        vocab_file=str(assets / "vocab.txt"), do_lower_case=False
    )
    cased.save_pretrained(tmp_path)
    ours = load_tokenizer(tmp_path)
    assert (
        ours.encode("Return").tokens != load_tokenizer(assets / "vocab.txt").encode("Return").tokens
    )
    assert ours.encode("Return A").ids == cased("Return A")["input_ids"]


@pytest.mark.parametrize("keep", [VOCAB_FILE, TOKENIZER_FILE])
def test_our_files_load_in_transformers_from_either_vocabulary_file(keep, assets, tmp_path):
    ours = load_tokenizer(assets / "vocab.txt")
    save_tokenizer(ours, tmp_path)
    for name in (VOCAB_FILE, TOKENIZER_FILE, TOKENIZER_CONFIG_FILE, SPECIAL_TOKENS_FILE):
        assert (tmp_path / name).is_file(), name
    (tmp_path / ({VOCAB_FILE, TOKENIZER_FILE} - {keep}).pop()).unlink()
    theirs = transformers.AutoTokenizer.from_pretrained(tmp_path)
    for text in TEXTS:
        assert theirs(text)["input_ids"] == ours.encode(text).ids
    assert load_tokenizer(tmp_path).get_vocab() == ours.get_vocab()


def test_a_transformers_checkpoint_runs_through_detect_prepare_and_finetune(
    hf_checkpoint, assets, tmp_path, capsys
):
    assert main(["detect", "--model", str(hf_checkpoint), "--json", *TEXTS]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    theirs = transformers.AutoTokenizer.from_pretrained(hf_checkpoint)
    assert [r["tokens"] for r in rows] == [theirs.tokenize(t) for t in TEXTS]

    corpus = str(assets / "corpus" / "a.txt")
    argv = ["prepare", "--corpus", corpus, "--vocab", str(hf_checkpoint), "--out", str(tmp_path / "shards"),
            "--seq-len", "32", "--workers", "1", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    reference = ["prepare", "--corpus", corpus, "--vocab", str(assets / "vocab.txt"),
                 "--out", str(tmp_path / "ref"), "--seq-len", "32", "--workers", "1", "--no-progress"]  # fmt: skip
    assert main(reference) == 0
    manifests = [
        json.loads((tmp_path / d / "manifest.json").read_text()) for d in ("shards", "ref")
    ]
    assert manifests[0]["vocab_sha256"] == manifests[1]["vocab_sha256"]
    assert (tmp_path / "shards" / "shard-00000.bin").read_bytes() == (
        tmp_path / "ref" / "shard-00000.bin"
    ).read_bytes()

    argv = ["finetune", "tagging", "--data-dir", str(assets / "conll"), "--model", str(hf_checkpoint),
            "--out", str(tmp_path / "tagger"), "--epochs", "1", "--max-train-examples", "16", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    model_dir = tmp_path / "tagger" / "model"
    for name in (VOCAB_FILE, TOKENIZER_FILE, TOKENIZER_CONFIG_FILE, SPECIAL_TOKENS_FILE):
        assert (model_dir / name).is_file(), f"{name}: not written beside the fine-tuned model"
    assert main(["predict", "tagging", "--model", str(model_dir), "the dog saw a river ."]) == 0


def hf_classifier(assets, tmp_path, seed: int):
    """A two-label classifier and its tokenizer saved by transformers into tmp_path/clf."""
    tokenizer = hf_tokenizer(assets, tmp_path)
    config = hf_config(tokenizer.vocab_size)
    config.id2label, config.label2id = {0: "neg", 1: "pos"}, {"neg": 0, "pos": 1}
    torch.manual_seed(seed)
    model = transformers.ElectraForSequenceClassification(config).eval()
    model.save_pretrained(tmp_path / "clf")
    tokenizer.save_pretrained(tmp_path / "clf")
    return model, tokenizer


def test_a_classifier_fine_tuned_with_transformers_predicts_here(assets, tmp_path, capsys):
    model, tokenizer = hf_classifier(assets, tmp_path, seed=0)
    (tmp_path / "test.csv").write_text("text\na fine day\nnot a good list\n", encoding="utf-8")
    argv = ["predict", "glue", "--model", str(tmp_path / "clf"), "--test", str(tmp_path / "test.csv"),
            "--text-columns", "text", "--out", str(tmp_path / "out")]  # fmt: skip
    assert main(argv) == 0
    rows = (tmp_path / "out" / "test_predictions.tsv").read_text().splitlines()[1:]
    with torch.no_grad():
        logits = model(
            **tokenizer(["a fine day", "not a good list"], padding=True, return_tensors="pt")
        ).logits
    assert [r.split("\t")[1] for r in rows] == [
        model.config.id2label[int(i)] for i in logits.argmax(-1)
    ]


def test_predict_probs_are_the_classifier_softmax(assets, tmp_path):
    model, tokenizer = hf_classifier(assets, tmp_path, seed=1)
    texts = ["a fine day", "not a good list"]
    (tmp_path / "test.csv").write_text("text\n" + "\n".join(texts) + "\n", encoding="utf-8")
    argv = ["predict", "glue", "--model", str(tmp_path / "clf"), "--test", str(tmp_path / "test.csv"),
            "--text-columns", "text", "--out", str(tmp_path / "out"), "--probs"]  # fmt: skip
    assert main(argv) == 0
    header, *rows = (tmp_path / "out" / "test_predictions.tsv").read_text().splitlines()
    assert header.split("\t") == ["index", "prediction", "prob_neg", "prob_pos"]
    with torch.no_grad():
        expected = model(**tokenizer(texts, padding=True, return_tensors="pt")).logits.softmax(-1)
    found = torch.tensor([[float(x) for x in row.split("\t")[2:]] for row in rows])
    torch.testing.assert_close(found, expected, atol=1e-5, rtol=0)


def test_a_discriminator_without_architectures_loads_under_a_task_head(tmp_path):
    """Older converted checkpoints omit `architectures`; they are discriminators, whose head is
    left out (not refused as unexpected weights) when a task head is loaded over them."""
    from electra.backbones.models import Discriminator
    from electra.config import ModelConfig
    from electra.tasks.tagging.model import TokenClassifier

    config = ModelConfig(vocab_size=50, embedding_size=16, hidden_size=16, num_layers=1,
                         num_heads=2, intermediate_size=32, max_position_embeddings=16)  # fmt: skip
    hf.save(Discriminator(config), tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    del saved["architectures"]
    (tmp_path / "config.json").write_text(json.dumps(saved))
    assert hf.load(tmp_path, TokenClassifier, num_labels=3).head_initialized


def test_no_transformers_class_builds_a_random_head_from_an_official_head_model(tmp_path):
    """The official GLUE head (and SQuAD's joint one) has no `transformers` class: its directory
    must not let `AutoModelForSequenceClassification` build a randomly headed classifier (only a
    warning would say so); the encoder loads from its subfolder, and ours runs the whole model."""
    transformers = pytest.importorskip("transformers")
    from electra.backbones.models import EncoderOnly
    from electra.config import ModelConfig
    from electra.tasks.glue.model import LinearClassifier

    torch.manual_seed(0)
    config = ModelConfig(vocab_size=99, embedding_size=16, hidden_size=32, num_layers=1,
                         num_heads=2, intermediate_size=37)  # fmt: skip
    model = LinearClassifier(EncoderOnly(config), num_labels=3).eval()
    extra = {"id2label": {"0": "a", "1": "b", "2": "c"}, "label2id": {"a": 0, "b": 1, "c": 2}}
    model.save(tmp_path, None, extra)
    with pytest.raises((OSError, ValueError), match="config.json"):  # an error, not a warning
        transformers.AutoModelForSequenceClassification.from_pretrained(tmp_path)
    encoder = transformers.ElectraModel.from_pretrained(tmp_path, subfolder="encoder").eval()
    ids = torch.tensor([[5, 6, 7, 8]])
    loaded = LinearClassifier.load(tmp_path, hf.load(tmp_path, EncoderOnly), num_labels=3).eval()
    with torch.no_grad():
        torch.testing.assert_close(encoder(ids).last_hidden_state, loaded._base[0](ids))
        torch.testing.assert_close(loaded(ids), model(ids))
