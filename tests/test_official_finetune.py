"""Fine-tuning details against the official code (google-research/electra at 8a46635): the
tagging head and segment ids (`finetune/tagging/tagging_tasks.py`), the official span F1
(`tagging_metrics.EntityLevelF1Scorer` over `tagging_utils.get_span_labels`), SQuAD 1.1's
answerability classifier (`finetune/qa/qa_tasks.py`), and `--recipe paper|code`
(`configure_finetuning.py`)."""

from __future__ import annotations

import json
import math

import pytest
import torch
from finetune_models import tiny_checkpoint
from pretrain_data import one_thread  # noqa: F401  (autouse: tiny models, one thread)

from electra.cli import main
from electra.tasks.options import FinetuneConfig
from electra.tasks.registry import FAMILIES
from electra.tasks.tagging.features import encode
from electra.tasks.tagging.model import TokenClassifier
from electra.tasks.tagging.reader import Sentence
from electra.tasks.tagging.scoring import official_f1, official_spans, score
from electra.tokenizer import load_tokenizer


def get_span_labels(sentence_tags):
    """`tagging_utils.get_span_labels`, transcribed as written (a list, in order)."""
    span_labels, last, start = [], "O", -1
    for i, tag in enumerate(sentence_tags):
        pos, _ = (None, "O") if tag == "O" else tag.split("-")
        if (pos == "S" or pos == "B" or tag == "O") and last != "O":
            span_labels.append((start, i - 1, last.split("-")[-1]))
        if pos == "B" or pos == "S" or last == "O":
            start = i
        last = tag
    if sentence_tags[-1] != "O":
        span_labels.append((start, len(sentence_tags) - 1, sentence_tags[-1].split("-")[-1]))
    return span_labels


CASES = [
    ["B-NP", "E-NP", "O", "S-VP"],
    ["B-NP", "E-VP"],  # one VP span officially; two chunks for conlleval
    ["I-NP", "I-NP", "B-PP", "O", "E-NP", "E-NP"],
    ["O", "O"],
    ["S-NP", "S-NP", "I-VP"],
]


@pytest.mark.parametrize("tags", CASES)
def test_official_spans_match_the_transcription(tags):
    assert official_spans(tags) == set(get_span_labels(tags))


def test_the_official_f1_is_more_lenient_than_conlleval():
    gold = [["B-NP", "E-NP", "S-VP"]]
    predicted = [["B-NP", "E-VP", "S-VP"]]  # type slip inside a chunk
    assert official_f1(gold, predicted) == pytest.approx(2 * 0.5 * 0.5 / 1.0)
    iob = [["B-NP", "I-NP", "B-VP"]], [["B-NP", "B-VP", "B-VP"]]
    assert score(*iob)["f1"] < official_f1(gold, predicted) + 0.5


def test_the_tagging_head_is_the_official_dense_and_segments_are_one(assets):
    torch.manual_seed(0)
    tokenizer = load_tokenizer(assets / "vocab.txt")
    model = TokenClassifier(_config(tokenizer), num_labels=5)
    assert not any(isinstance(m, torch.nn.Dropout) or "Dropout" in type(m).__name__
                   for m in model.modules() if m is not model.electra and m not in model.electra.modules())  # fmt: skip
    bound = math.sqrt(6 / (32 + 5))
    weight = model.out.weight.detach()
    assert float(weight.abs().max()) <= bound and float(weight.std()) > 0.1
    assert not model.out.bias.detach().any()
    features = encode(tokenizer, [Sentence(("He", "reckons"), ("B-NP", "O"), 1)], ["B-NP", "O"], 16)
    assert set(features[0]["token_type_ids"]) == {1}


def _config(tokenizer):
    from electra.config import ModelConfig

    return ModelConfig(vocab_size=tokenizer.get_vocab_size(), embedding_size=16, hidden_size=32,
                       num_layers=1, num_heads=2, intermediate_size=64,
                       max_position_embeddings=64)  # fmt: skip


@pytest.mark.slow
def test_a_saved_tagger_gives_transformers_users_the_same_outputs_with_segment_0(assets, tmp_path):
    transformers = pytest.importorskip("transformers")
    tokenizer = load_tokenizer(assets / "vocab.txt")
    model = tiny_checkpoint(tmp_path / "m", tokenizer, layers=1)
    out = tmp_path / "chunk"
    assert main(["finetune", "tagging", "--data-dir", str(assets / "conll"), "--model", str(model),
                 "--out", str(out), "--epochs", "1", "--max-train-examples", "32",
                 "--no-progress"]) == 0  # fmt: skip
    results = json.loads((out / "results.json").read_text())
    assert 0 <= results["dev"]["official_f1"] <= 1 and "f1" in results["dev"]
    theirs = transformers.ElectraForTokenClassification.from_pretrained(out / "model").eval()
    from electra import hf

    ours = hf.load(out / "model", TokenClassifier, num_labels=theirs.config.num_labels).eval()
    ids = torch.tensor([load_tokenizer(out / "model").encode("He reckons the deficit").ids])
    with torch.no_grad():
        expected = ours(ids, token_type_ids=torch.ones_like(ids))
        torch.testing.assert_close(theirs(ids).logits, expected)  # segment 0, as pipelines give
        trained = ours.electra.embeddings.token_type.weight
        torch.testing.assert_close(trained[0], trained[1])


def test_the_recipe_names_its_source():
    task = FAMILIES["glue"].recipe("sst2")
    paper = FinetuneConfig.for_task("small", task)
    code = FinetuneConfig.for_task("small", task, recipe="code")
    assert (paper.recipe, paper.lr, paper.weight_decay) == ("paper", 3e-4, 0.0)
    assert (code.recipe, code.lr, code.weight_decay, code.layerwise_lr_decay) == (
        "code",
        1e-4,
        0.01,
        0.8,
    )
    large = FinetuneConfig.for_task("large", task, recipe="code")
    assert (large.lr, large.layerwise_lr_decay) == (5e-5, 0.9)
    assert FinetuneConfig.for_task("small", task, recipe="code", lr=2e-4).lr == 2e-4  # flags win


@pytest.mark.slow
def test_squad_1_1_trains_the_answerability_classifier_with_labels_0(assets, tmp_path):
    from electra.tasks.squad.model import squad_loss

    start, end = torch.zeros(2, 8), torch.zeros(2, 8)
    null = torch.tensor([3.0, -1.0])
    batch = {"start_positions": torch.tensor([1, 2]), "end_positions": torch.tensor([1, 2]),
             "is_impossible": torch.zeros(2)}  # fmt: skip
    spans = squad_loss((start, end, torch.zeros(2)), batch, 0.0)
    with_classifier = squad_loss((start, end, null), batch, 0.5)
    expected = 0.5 * torch.nn.functional.binary_cross_entropy_with_logits(null, torch.zeros(2))
    torch.testing.assert_close(with_classifier - spans, expected)
    tokenizer = load_tokenizer(assets / "vocab.txt")
    model = tiny_checkpoint(tmp_path / "m", tokenizer, layers=1)
    for name in ("train", "dev"):  # the 2.0 sample's answerable questions, as a 1.1 file
        dataset = json.loads((assets / "squad" / f"{name}-v2.0.json").read_text())
        for article in dataset["data"]:
            for paragraph in article["paragraphs"]:
                paragraph["qas"] = [{k: v for k, v in qa.items() if k != "is_impossible"}
                                    for qa in paragraph["qas"] if not qa.get("is_impossible")]  # fmt: skip
        (tmp_path / f"{name}-v1.1.json").write_text(json.dumps({**dataset, "version": "1.1"}))
    out = tmp_path / "squad"
    train, dev = tmp_path / "train-v1.1.json", tmp_path / "dev-v1.1.json"
    assert main(["finetune", "squad", "--train", str(train), "--dev", str(dev), "--model",
                 str(model), "--out", str(out), "--epochs", "1", "--max-seq-length", "64",
                 "--doc-stride", "32", "--max-query-length", "16", "--no-progress"]) == 0  # fmt: skip
    from safetensors.torch import load_file

    assert any(
        k.startswith("answerability.") for k in load_file(out / "model" / "head.safetensors")
    )
    assert "exact_match" in json.loads((out / "results.json").read_text())["dev"]
    from electra.tasks.registry import family

    loaded = family("squad").load_finetuned(out / "model")
    assert loaded.model.answerability is not None and loaded.saved["version_2"] is False
