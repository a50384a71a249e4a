"""The task-family house: one registry drives every `finetune`, `predict` and `evaluate` command,
their flags come from the config dataclasses, and no family predicts with an untrained head."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

from electra.cli import build_parser, main
from electra.commands.flags import flag
from electra.tasks.options import FinetuneConfig, PredictConfig
from electra.tasks.registry import FAMILIES, family
from electra.tasks.verbs import VERBS


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_each_registered_family_implements_the_interface(name):
    implementation = family(name)
    assert implementation.spec is FAMILIES[name]
    for method in ("build_task", "load_finetuned", "predict", "score_file"):
        assert getattr(type(implementation), method).__qualname__.startswith(
            type(implementation).__name__
        ), f"{name} does not implement {method}"


def _options(parser) -> set[str]:
    return {option for action in parser._actions for option in action.option_strings}


def _subparser(parser, *names: str):
    for name in names:
        (choices,) = [a.choices for a in parser._actions if getattr(a, "choices", None)]
        parser = choices[name]
    return parser


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_every_verb_of_a_family_has_flags_from_its_dataclasses(name):
    parser, spec = build_parser(), FAMILIES[name]
    expected = {
        "finetune": [spec.data, FinetuneConfig] + ([spec.settings] if spec.settings else []),
        "predict": [spec.input, PredictConfig] + ([spec.settings] if spec.settings else []),
        "evaluate": [spec.scoring],
    }
    for verb in VERBS:
        options = _options(_subparser(parser, verb, name))
        for cls in expected[verb]:
            for field in dataclasses.fields(cls):
                if not field.metadata.get("positional"):
                    assert flag(field.name) in options, f"{verb} {name}: {flag(field.name)}"


def test_one_spelling_for_the_progress_bar_and_the_recipe_preset():
    parser = build_parser()
    for command in (("prepare",), *(("finetune", name) for name in FAMILIES)):
        options = _options(_subparser(parser, *command))
        assert "--no-progress" in options and "--quiet" not in options, command
    for name in FAMILIES:
        options = _options(_subparser(parser, "finetune", name))
        assert "--preset" in options and "--size" not in options


INPUTS = {
    "glue": ["--test", "{tmp}/test.csv", "--text-columns", "text", "--out", "{tmp}/out"],
    "tagging": ["a sentence to tag"],
    "squad": ["--context", "Paris is in France.", "--question", "Where is Paris?"],
    "multiple-choice": ["--file", "{tmp}/q.jsonl", "--out", "{tmp}/out/answers.jsonl"],
}


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_predict_refuses_a_model_whose_head_was_never_trained(
    name, tiny_checkpoint, tmp_path, capsys
):
    (tmp_path / "test.csv").write_text("text\nfine\n", encoding="utf-8")
    (tmp_path / "q.jsonl").write_text('{"question": "q", "choices": ["a", "b"]}\n')
    inputs = [part.format(tmp=tmp_path) for part in INPUTS[name]]
    assert main(["predict", name, "--model", str(tiny_checkpoint), *inputs]) == 2
    err = capsys.readouterr().err
    # (a tagger without tag names is refused before its head is looked at)
    assert err.count("\n") == 1 and re.search("head was never trained|no id2label", err), err
    assert re.search(rf"electra finetune {name}", err)
    written = list((tmp_path / "out").glob("*")) if (tmp_path / "out").exists() else []
    assert not written, "nothing written that looks like predictions"


def test_a_model_of_another_family_is_refused(tiny_checkpoint, tmp_path, capsys):
    """A SQuAD model's head cannot be read as a tagger's: the settings name its family."""
    from electra import hf
    from electra.tasks.tagging.model import TokenClassifier
    from electra.tasks.task import SETTINGS_KEY
    from electra.tokenizer import load_tokenizer

    model = hf.load(tiny_checkpoint, TokenClassifier, num_labels=2)
    extra = {"id2label": {"0": "O", "1": "B-NP"}, SETTINGS_KEY: {"family": "squad"}}
    hf.save(model, tmp_path / "m", tokenizer=load_tokenizer(tiny_checkpoint), config_extra=extra)
    assert main(["predict", "tagging", "--model", str(tmp_path / "m"), "a sentence"]) == 2
    assert "fine-tuned by `electra finetune squad`, not tagging" in capsys.readouterr().err


def test_the_library_calls_take_the_commands_options_as_dataclasses(
    assets, tiny_checkpoint, tmp_path
):
    """The Python API the commands call: paths as strings, results as objects, nothing printed."""
    from electra.tasks.tagging.options import TaggingData, TaggingInput, TaggingScoring
    from electra.tasks.verbs import evaluate, finetune, predict

    result = finetune("tagging", TaggingData(data_dir=str(assets / "conll")), str(tiny_checkpoint),
                      str(tmp_path / "run"), overrides={"epochs": 1, "max_train_examples": 16},
                      progress=False)  # fmt: skip
    (run,) = result.runs
    assert run["train_examples"] == 16 and "f1" in run["dev"] and "scored on" in result.summary
    tagged = predict(
        "tagging", tmp_path / "run" / "model", TaggingInput(texts=("the dog saw a river .",))
    )
    assert [
        line.split("\t")[0] for line in tagged.stdout.split("\n") if line
    ] == "the dog saw a river .".split()
    scores = evaluate(
        "tagging", TaggingScoring(predictions=str(tmp_path / "run" / "dev_predictions.txt"))
    )
    official = run["dev"].pop("official_f1")  # needs the raw BIOES tags a file no longer has
    assert scores.values == pytest.approx(run["dev"], abs=1e-12) and 0 <= official <= 1


def _seed_data(assets, tmp_path) -> dict[str, list[str]]:
    rows = ["text,label"] + [f"{'good fine day' if i % 2 else 'bad awful night'} {i},{i % 2}"
                             for i in range(24)]  # fmt: skip
    (tmp_path / "own.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    own = str(tmp_path / "own.csv")
    squad = str(assets / "squad" / "dev-v2.0.json")
    questions = [{"question": "which", "choices": ["the cat", "a dog", "an owl"], "label": i % 3}
                 for i in range(12)]  # fmt: skip
    (tmp_path / "q.jsonl").write_text("".join(json.dumps(q) + "\n" for q in questions))
    choice = str(tmp_path / "q.jsonl")
    return {
        "glue": ["--train", own, "--dev", own, "--text-columns", "text", "--label-column", "label"],
        "tagging": ["--train", str(assets / "conll" / "dev.txt"), "--dev", str(assets / "conll" / "dev.txt"),
                    "--max-train-examples", "16"],
        "squad": ["--train", squad, "--dev", squad, "--max-seq-length", "96", "--doc-stride", "48",
                  "--max-query-length", "24", "--max-train-examples", "24"],
        "multiple-choice": ["--train", choice, "--dev", choice],
    }  # fmt: skip


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_seeds_report_the_median_and_spread_for_every_family(
    name, assets, tiny_checkpoint, tmp_path, capsys
):
    import json
    import statistics

    out = tmp_path / "run"
    argv = ["finetune", name, "--model", str(tiny_checkpoint), "--out", str(out), "--epochs", "1",
            "--batch-size", "8", "--seeds", "3", "--seed", "5", "--no-progress",
            *_seed_data(assets, tmp_path)[name]]  # fmt: skip
    assert main(argv) == 0
    assert "median of 3 seeds" in capsys.readouterr().out
    results = json.loads((out / "results.json").read_text())
    assert results["seeds"] == [5, 6, 7]
    per_seed = [json.loads((out / f"seed{s}" / "results.json").read_text()) for s in (5, 6, 7)]
    assert [r["config"]["seed"] for r in per_seed] == [5, 6, 7]
    main_metric = results["main_metric"]
    values = [r["dev"][main_metric] for r in per_seed]
    spread = results["spread"][main_metric]
    assert results["dev"][main_metric] == spread["median"] == statistics.median(values)
    assert spread["std"] == pytest.approx(statistics.stdev(values))
    assert (spread["min"], spread["max"]) == (min(values), max(values))
    # The kept model is the median seed's.
    kept = per_seed[[5, 6, 7].index(results["kept_seed"])]
    assert kept["dev"][main_metric] == statistics.median(values)
    assert results["kept_model"] == str(out / f"seed{results['kept_seed']}" / "model")
    family(name).load_finetuned(out / f"seed{results['kept_seed']}" / "model")
    # ... and OUT/model is a copy of it, where a single run leaves its model
    seed_model = out / f"seed{results['kept_seed']}" / "model"
    assert sorted(p.name for p in (out / "model").iterdir()) == sorted(
        p.name for p in seed_model.iterdir()
    )
    for weights in seed_model.glob("*.safetensors"):
        assert (out / "model" / weights.name).read_bytes() == weights.read_bytes()


def test_an_existing_run_is_refused_unless_overwrite(assets, tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["finetune", "glue", "--model", str(tiny_checkpoint), "--out", str(out), "--epochs", "1",
            "--batch-size", "8", "--no-progress", "--device", "cpu",
            *_seed_data(assets, tmp_path)["glue"]]  # fmt: skip
    assert main(argv) == 0
    first = (out / "results.json").read_text()
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err.count("\n") == 0 and "holds a fine-tuning run already" in err and "--overwrite" in err
    )
    assert (out / "results.json").read_text() == first
    # --resume keeps a finished run as it is (a finished task of `all`, a finished seed).
    assert main([*argv, "--resume"]) == 0
    assert (out / "results.json").read_text() == first
    assert main([*argv, "--overwrite", "--seed", "1"]) == 0
    assert (out / "results.json").read_text() != first
