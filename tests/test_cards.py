"""Model cards: every exported directory carries a README.md in the Hugging Face format whose
metadata parses and whose numbers are the run's own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from huggingface_hub import ModelCard

from electra.cli import main

MODEL = ("--preset tiny --embedding-size 32 --hidden-size 32 --num-layers 2 --num-heads 2 "
         "--intermediate-size 64 --max-position-embeddings 64 --generator-fraction 0.5").split()  # fmt: skip


def _scores(card: ModelCard) -> dict[str, float]:
    return {r.metric_type: r.metric_value for r in card.data.eval_results or []}


@pytest.fixture(scope="module")
def pretrained(prepared, tmp_path_factory):
    run = tmp_path_factory.mktemp("card") / "run"
    argv = ["pretrain", "--data", str(prepared), "--out", str(run), *MODEL, "--steps", "4",
            "--batch-size", "8", "--eval-every", "2", "--eval-batches", "2", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    return run


def test_pretrained_networks_carry_cards_with_the_runs_numbers(pretrained, prepared):
    records = [json.loads(line) for line in (pretrained / "metrics.jsonl").read_text().splitlines()]
    heldout = [r for r in records if "heldout_gen_acc" in r][-1]
    saved = json.loads((pretrained / "pretrain.json").read_text())
    for name in ("discriminator", "generator"):
        card = ModelCard.load(pretrained / name / "README.md")
        assert card.data.library_name == "transformers" and card.data.license == "unknown"
        scores = _scores(card)
        assert scores["gen_acc"] == heldout["heldout_gen_acc"]
        if name == "discriminator":
            for key in ("disc_precision", "disc_recall", "disc_auc", "disc_average_precision"):
                assert scores[key] == heldout[f"heldout_{key}"], key
            assert f"| {heldout['heldout_replaced_frac']:.4f} |" in card.text  # chance beside it
        assert json.dumps(saved, indent=2) in card.text  # the resolved config, verbatim
        assert "The official recipe's optimizer and initialisation." in card.text  # no departure
        if name == "discriminator":  # a command that runs as written, from where the run was made
            assert f"electra detect --model {pretrained / 'discriminator'} " in card.text
        last = [r for r in records if "tokens" in r][-1]  # the real tokens, as logged
        assert f"{last['tokens']:,} real (non-padding) tokens seen" in card.text
        assert last["tokens"] < 4 * 8 * 32  # the suite's set has padding
        manifest = json.loads((prepared / "manifest.json").read_text())
        sources = [Path(s["path"]).name for s in manifest.get("sources", [])]
        assert card.data.datasets == (sources or None)


def test_finetuned_and_exported_models_carry_cards(pretrained, tmp_path):
    rows = ["text,label"] + [f"{'good fine day' if i % 2 else 'bad awful night'} {i},{i % 2}"
                             for i in range(16)]  # fmt: skip
    (tmp_path / "own.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    argv = ["finetune", "glue", "--train", str(tmp_path / "own.csv"), "--dev", str(tmp_path / "own.csv"),
            "--text-columns", "text", "--label-column", "label", "--model",
            str(pretrained / "discriminator"), "--epochs", "1", "--batch-size", "8", "--no-progress"]  # fmt: skip
    for head in ("official", "transformers"):
        out = tmp_path / head
        assert main([*argv, "--out", str(out), "--head", head]) == 0
        results = json.loads((out / "results.json").read_text())
        card = ModelCard.load(out / "model" / "README.md")
        assert _scores(card) == {k: float(v) for k, v in results["dev"].items()}
        assert card.data.library_name == ("electra" if head == "official" else "transformers")
        assert json.dumps(results["config"], indent=2) in card.text
        assert f"electra predict glue --model {out / 'model'} " in card.text
        if head == "official":  # how to run a head transformers has no class for
            assert f'electra.predict("glue", "{out / "model"}"' in card.text
            assert 'subfolder=\\"encoder\\"' in card.text or 'subfolder="encoder"' in card.text
    pytest.importorskip("onnxruntime")
    assert main(["export", "onnx", "--model", str(tmp_path / "official" / "model"),
                 "--out", str(tmp_path / "onnx")]) == 0  # fmt: skip
    exported = ModelCard.load(tmp_path / "onnx" / "README.md")
    assert "onnx" in exported.data.tags and "## ONNX export" in exported.text
    assert _scores(exported) == _scores(
        ModelCard.load(tmp_path / "official" / "model" / "README.md")
    )
