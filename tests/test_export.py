"""`electra export onnx` for every model the toolkit makes: the graph in onnxruntime gives the
PyTorch model's outputs on padded batches of mixed lengths, and `detect` / `predict` take the
exported directory and print what the PyTorch model prints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from finetune_models import tiny_checkpoint

from electra.cli import main
from electra.onnx_export import load_model
from electra.onnx_runtime import INT8_FILE, ONNX_FILE, OnnxRunner
from electra.tokenizer import load_tokenizer

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

QUIET = ["--epochs", "1", "--batch-size", "8", "--no-progress"]
SQUAD = ["--max-seq-length", "96", "--doc-stride", "48", "--max-query-length", "24"]


@pytest.fixture(scope="module")
def models(tmp_path_factory, assets) -> dict[str, Path]:
    """Each kind of model, fine-tuned briefly from one tiny discriminator."""
    root = tmp_path_factory.mktemp("export")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    pre = tiny_checkpoint(root / "pre", load_tokenizer(assets / "vocab.txt"))
    rows = ["text,label"] + [f"{'good fine day' if i % 2 else 'bad awful night'} {i},{i % 2}"
                             for i in range(24)]  # fmt: skip
    (root / "own.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    own = ["--train", str(root / "own.csv"), "--dev", str(root / "own.csv"),
           "--text-columns", "text", "--label-column", "label"]  # fmt: skip
    conll = str(assets / "conll" / "dev.txt")
    squad = str(assets / "squad" / "dev-v2.0.json")
    runs = {
        "glue": ["glue", *own],
        "glue-transformers": ["glue", *own, "--head", "transformers"],
        "tagging": ["tagging", "--train", conll, "--dev", conll, "--max-train-examples", "16"],
        "squad-joint": ["squad", "--train", squad, "--dev", squad, *SQUAD],
        "squad": ["squad", "--train", squad, "--dev", squad, *SQUAD, "--head", "independent"],
    }
    made = {"discriminator": pre}
    made.update(_made_by_transformers(root, load_tokenizer(assets / "vocab.txt")))
    for name, (family, *args) in runs.items():
        out = root / name
        assert (
            main(["finetune", family, "--model", str(pre), "--out", str(out), *QUIET, *args]) == 0
        )
        made[name] = out / "model"
    torch.set_num_threads(threads)
    return made


# Task models users fine-tuned with `transformers` itself: no electra settings in config.json.
HF_MADE = {
    "hf-glue": ("ElectraForSequenceClassification", {"id2label": {0: "no", 1: "yes", 2: "maybe"}}),
    "hf-tagging": ("ElectraForTokenClassification", {"id2label": {0: "O", 1: "B-NP", 2: "I-NP"}}),
    "hf-squad": ("ElectraForQuestionAnswering", {}),
}


def _made_by_transformers(root: Path, tokenizer) -> dict[str, Path]:
    transformers = pytest.importorskip("transformers")
    from electra.tokenizer import save_tokenizer

    made = {}
    for name, (cls, extra) in HF_MADE.items():
        torch.manual_seed(0)
        config = transformers.ElectraConfig(vocab_size=tokenizer.get_vocab_size(), embedding_size=16,
                                            hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                            intermediate_size=64, max_position_embeddings=256, **extra)  # fmt: skip
        getattr(transformers, cls)(config).save_pretrained(root / name)
        save_tokenizer(tokenizer, root / name)
        made[name] = root / name
    return made


def _batch(vocab: int, length: int = 40) -> tuple[torch.Tensor, ...]:
    ids = torch.randint(5, vocab, (4, length))
    mask = torch.ones_like(ids)
    for row, size in enumerate((length, 23, 9, 31)):  # mixed lengths, one full row
        mask[row, size:] = 0
    types = torch.zeros_like(ids)
    types[:, 12:] = 1
    return ids, mask, types


@pytest.mark.parametrize(
    "kind",
    [
        "discriminator",
        "glue",
        "glue-transformers",
        "tagging",
        "squad",
        "squad-joint",
        *HF_MADE,
    ],  # fmt: skip
)
def test_the_graph_gives_the_pytorch_outputs_on_padded_batches(models, tmp_path, kind):
    out = tmp_path / "onnx"
    assert main(["export", "onnx", "--model", str(models[kind]), "--out", str(out)]) == 0
    model, found, _ = load_model(models[kind])
    assert found == kind.removesuffix("-transformers").removesuffix("-joint").removeprefix("hf-")
    runner = OnnxRunner(out / ONNX_FILE, model)
    ids, mask, types = _batch(model.config.vocab_size)
    with torch.no_grad():
        expected = model(ids, mask.bool(), types)
    got = runner(ids, mask, types)
    expected = expected if isinstance(expected, tuple) else (expected,)
    got = got if isinstance(got, tuple) else (got,)
    assert len(got) == len(expected)
    tokens = mask.bool()
    if kind == "squad-joint":  # a beam: ties among masked positions may come in any order,
        real_start = expected[0] > -1000  # so only beams over real candidates are compared
        real_end = real_start[..., None] & (expected[2] > -1000)
        for i, real in ((0, real_start), (1, real_start), (2, real_start), (3, real_end)):
            assert real.any()
            torch.testing.assert_close(got[i][real], expected[i][real], atol=1e-4, rtol=1e-4)
        got, expected = got[4:], expected[4:]
    for ours, theirs in zip(got, expected, strict=True):
        assert ours.shape == theirs.shape
        if ours.shape == tokens.shape:  # per token: padding positions are never read
            torch.testing.assert_close(ours[tokens], theirs[tokens], atol=1e-4, rtol=1e-4)
        else:
            torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=1e-4)
    # The export directory is a model directory: config, tokenizer and weights beside the graph.
    names = {p.name for p in out.iterdir()}
    assert {"tokenizer.json", "vocab.txt", "export.json"} <= names
    assert "config.json" in names or (out / "encoder" / "config.json").is_file()  # official heads


def test_detect_and_predict_run_the_export_as_pytorch_runs_the_model(models, tmp_path, capsys):
    exported = {}
    for kind in ("discriminator", "glue", "tagging", "squad-joint"):
        exported[kind] = tmp_path / kind
        argv = ["export", "onnx", "--model", str(models[kind]), "--out", str(exported[kind])]
        assert main([*argv, *(["--quantize", "int8"] if kind == "glue" else [])]) == 0
    capsys.readouterr()

    def printed(*argv: str) -> str:
        assert main(list(argv)) == 0
        return capsys.readouterr().out

    text = "the quick brown fox jumps over the lazy dog"
    onnx = json.loads(printed("detect", "--model", str(exported["discriminator"]), text, "--json"))
    torch_ = json.loads(printed("detect", "--model", str(models["discriminator"]), text, "--json"))
    assert onnx["tokens"] == torch_["tokens"]
    assert onnx["replaced_prob"] == pytest.approx(torch_["replaced_prob"], abs=1e-5)

    sentence = "the big dog sees a small cat ."
    tagged = [json.loads(printed("predict", "tagging", "--model", str(d), sentence, "--json", "--probs"))
              for d in (exported["tagging"], models["tagging"])]  # fmt: skip
    assert tagged[0]["tags"] == tagged[1]["tags"]
    assert tagged[0]["probs"] == pytest.approx(tagged[1]["probs"], abs=1e-5)

    test = tmp_path / "test.csv"
    test.write_text("text\na good fine day\nthe bad awful night\nday night\n", encoding="utf-8")
    columns = {}
    for name, (model, runtime) in {"torch": (models["glue"], "torch"),
                                   "onnx": (exported["glue"], "auto"),
                                   "int8": (exported["glue"], "onnxruntime-int8")}.items():  # fmt: skip
        printed("predict", "glue", "--model", str(model), "--test", str(test), "--text-columns",
                "text", "--out", str(tmp_path / name), "--probs", "--runtime", runtime)  # fmt: skip
        lines = (tmp_path / name / "test_predictions.tsv").read_text().splitlines()[1:]
        columns[name] = [line.split("\t") for line in lines]
    assert [r[1] for r in columns["onnx"]] == [r[1] for r in columns["torch"]]
    for onnx_row, torch_row in zip(columns["onnx"], columns["torch"], strict=True):
        assert [float(x) for x in onnx_row[2:]] == pytest.approx(
            [float(x) for x in torch_row[2:]], abs=1e-4
        )
    assert len(columns["int8"]) == 3  # int8 runs; how well it agrees is measured, not assumed

    squad = str(Path(__file__).parent / "assets" / "squad" / "dev-v2.0.json")
    for name, model in (("onnx", exported["squad-joint"]), ("torch", models["squad-joint"])):
        printed(
            "predict",
            "squad",
            "--model",
            str(model),
            "--data",
            squad,
            "--out",
            str(tmp_path / f"sq-{name}"),
        )
    answers = [
        json.loads((tmp_path / f"sq-{n}" / "predictions.json").read_text())
        for n in ("onnx", "torch")
    ]
    odds = [
        json.loads((tmp_path / f"sq-{n}" / "null_odds.json").read_text()) for n in ("onnx", "torch")
    ]
    assert answers[0] == answers[1] and odds[0] == pytest.approx(odds[1], abs=1e-4)


def test_runtimes_need_an_export(models, tmp_path, capsys):
    test = tmp_path / "test.csv"
    test.write_text("text\na good fine day\n", encoding="utf-8")
    argv = ["predict", "glue", "--model", str(models["glue"]), "--test", str(test), "--text-columns",
            "text", "--out", str(tmp_path / "p"), "--runtime", "onnxruntime"]  # fmt: skip
    assert main(argv) == 2
    assert "no model.onnx; export it first with `electra export onnx`" in capsys.readouterr().err
    out = tmp_path / "onnx"
    assert main(["export", "onnx", "--model", str(models["glue"]), "--out", str(out)]) == 0
    assert not (out / INT8_FILE).exists()
    assert main(["export", "onnx", "--model", str(tmp_path), "--out", str(tmp_path / "x")]) == 2


@pytest.mark.parametrize("kind", list(HF_MADE))
def test_a_model_fine_tuned_with_transformers_exports_with_its_own_outputs(models, tmp_path, kind):
    """Whoever trained it: `transformers`' own classifier, tagger and QA model export, and the
    graph gives what `transformers` gives."""
    transformers = pytest.importorskip("transformers")
    out = tmp_path / "onnx"
    assert main(["export", "onnx", "--model", str(models[kind]), "--out", str(out)]) == 0
    theirs = getattr(transformers, HF_MADE[kind][0]).from_pretrained(models[kind]).eval()
    model, _, _ = load_model(models[kind])
    ids, mask, types = _batch(model.config.vocab_size)
    with torch.no_grad():
        reference = theirs(input_ids=ids, attention_mask=mask, token_type_ids=types)
    got = OnnxRunner(out / ONNX_FILE, model)(ids, mask, types)
    got = got if isinstance(got, tuple) else (got,)
    if kind == "hf-glue":
        torch.testing.assert_close(got[0], reference.logits, atol=1e-4, rtol=1e-4)
    elif kind == "hf-tagging":
        tokens = mask.bool()
        torch.testing.assert_close(got[0][tokens], reference.logits[tokens], atol=1e-4, rtol=1e-4)
    else:  # start and end logits where an answer may be: the context
        context = mask.bool() & types.bool()
        for ours, expected in zip(got[:2], (reference.start_logits, reference.end_logits),
                                  strict=True):  # fmt: skip
            torch.testing.assert_close(ours[context], expected[context], atol=1e-4, rtol=1e-4)
