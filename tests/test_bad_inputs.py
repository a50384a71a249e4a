"""A table of what users get wrong, across every subcommand: each bad input ends with exit code 2
and exactly one line on stderr naming the file or the option, never a traceback, and nothing
written that looks complete. (benchmarks/RELIABILITY.md lists the categories and counts.)"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import torch
from pretrain_data import one_thread  # noqa: F401 (fixture)

from electra import hf
from electra.backbones.models import Generator
from electra.cli import main
from electra.config import ModelConfig
from electra.tasks.glue.model import SequenceClassifier
from electra.tasks.task import SETTINGS_KEY
from electra.tokenizer import load_tokenizer

# Files whose presence says a job finished: none may appear after a refused command.
COMPLETE = {"manifest.json", "results.json", "model.safetensors", "predictions.json", "eval.json",
            "curves.png", "test_predictions.tsv", "tagged.txt"}  # fmt: skip


@pytest.fixture(scope="module")
def world(tmp_path_factory, assets):
    """Every artifact the table's commands point at, good and bad."""
    root = tmp_path_factory.mktemp("world")
    w = {
        "root": root,
        "assets": assets,
        "vocab": assets / "vocab.txt",
        "corpus": assets / "corpus" / "a.txt",
    }

    def write(name: str, data: bytes | str) -> Path:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
        w[name.split(".")[0].replace("/", "_")] = path
        return path

    (root / "empty_dir").mkdir()
    w["empty_dir"] = root / "empty_dir"
    write("binary.txt", b"PK\x03\x04\x14\0\0\0\x08\0" * 10)
    write("utf16.txt", "some text\n".encode("utf-16"))
    write("latin1.txt", "\n".join(["naïve café"] * 30).encode("latin-1"))
    write("empty.txt", b"")
    write("longline.txt", b"ok\n" + b"x" * (1 << 20 | 16) + b"\n")
    text = b"".join(p.read_bytes() for p in sorted((assets / "corpus").glob("*.txt")))
    compressed = gzip.compress(text)
    write("cut.txt.gz", compressed[: len(compressed) * 2 // 3])
    write("bad.jsonl", '{"text": "fine"}\n{"text": oops}\n')
    write("badtype.jsonl", '{"text": ["a", "list"]}\n')
    write("twice.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\nthe\n")
    write("a_file", "not a directory\n")
    write("conll_bad/train.txt", "a DT B-NP\nb NN\n")
    write("conll_bad/dev.txt", "a DT B-NP\n")
    squad = {"version": "1.1", "data": [{"paragraphs": [{"context": "Paris is in France.", "qas": [
        {"id": "q1", "question": "Where?", "answers": [{"text": "France", "answer_start": 12}]},
        {"id": "q1", "question": "What?", "answers": [{"text": "Paris", "answer_start": 0}]}]}]}]}  # fmt: skip
    write("squad_dup.json", json.dumps(squad))
    write("not_json.json", "{ this is not json")
    write("preds_list.json", "[1, 2]")
    write("preds_index.tsv", "index\tprediction\n7\tentailment\n")
    write("test.csv", "text\na fine day\n")
    write("conll_ok/train.txt", (assets / "conll" / "train.txt").read_text())

    tokenizer = load_tokenizer(assets / "vocab.txt")
    torch.manual_seed(0)
    shape = ModelConfig(vocab_size=tokenizer.get_vocab_size(), embedding_size=16, hidden_size=32,
                        num_layers=1, num_heads=2, intermediate_size=64, max_position_embeddings=64)  # fmt: skip
    from finetune_models import tiny_checkpoint

    w["disc"] = tiny_checkpoint(root / "disc", tokenizer, layers=1)
    w["gen"] = hf.save(Generator(shape), root / "gen", tokenizer=tokenizer)
    w["run_generator"] = hf.save(Generator(shape), root / "run" / "generator", tokenizer=tokenizer)
    (root / "run" / "discriminator").mkdir()  # an RTD run's pair
    extra = {
        "id2label": {"0": "neg", "1": "pos"},
        SETTINGS_KEY: {"family": "glue", "max_seq_length": 64},
    }
    w["clf"] = hf.save(SequenceClassifier(shape, num_labels=2), root / "clf", tokenizer=tokenizer,
                       config_extra=extra)  # fmt: skip
    w["mismatch"] = hf.save(SequenceClassifier(shape, num_labels=2), root / "mismatch",
                            config_extra=extra)  # fmt: skip
    (root / "mismatch" / "vocab.txt").write_text(
        "".join(f"{t}\n" for t in tokenizer.get_vocab()) + "extra\n"
    )
    w["damaged"] = hf.save(SequenceClassifier(shape, num_labels=2), root / "damaged", tokenizer=tokenizer,
                           config_extra=extra)  # fmt: skip
    import shutil

    shutil.copytree(
        root / "disc", root / "layers"
    )  # a config that promises more layers than it has
    config = json.loads((root / "layers" / "config.json").read_text())
    (root / "layers" / "config.json").write_text(json.dumps({**config, "num_hidden_layers": 3}))
    w["layers"] = root / "layers"
    data = bytearray((root / "damaged" / hf.SAFETENSORS_FILE).read_bytes())
    data[len(data) // 2 : len(data) // 2 + 32] = bytes(32)
    (root / "damaged" / hf.SAFETENSORS_FILE).write_bytes(bytes(data))
    # config.json values that would allocate for minutes, or are of the wrong type
    for name, key, value in (("huge_layers", "num_hidden_layers", 1_000_000),
                             ("huge_hidden", "hidden_size", 10**9),
                             ("huge_ffn", "intermediate_size", 10**10),
                             ("text_hidden", "hidden_size", "64"),
                             ("null_hidden", "hidden_size", None),
                             ("half_layers", "num_hidden_layers", 2.5)):  # fmt: skip
        shutil.copytree(root / "disc", root / name)
        (root / name / "config.json").write_text(json.dumps({**config, key: value}))
        w[name] = root / name
    # weights an index places outside the model; weights that are a pickle of Python objects
    shutil.copytree(root / "disc", root / "escape")
    (root / "escape" / hf.SAFETENSORS_FILE).unlink()
    index = {"weight_map": {"electra.embeddings.word_embeddings.weight": "../../../../etc/passwd"}}
    (root / "escape" / hf.SAFETENSORS_INDEX_FILE).write_text(json.dumps(index))
    w["escape"] = root / "escape"
    shutil.copytree(root / "disc", root / "pickled")
    (root / "pickled" / hf.SAFETENSORS_FILE).unlink()
    import argparse

    torch.save({"model": argparse.Namespace(a=1)}, root / "pickled" / hf.PYTORCH_FILE)
    w["pickled"] = root / "pickled"
    # values of the wrong kind in JSON Lines tables; a score off STS-B's scale; a file without
    # its prediction column
    write("text_null.jsonl", '{"text": null, "label": "a"}\n{"text": "b", "label": "b"}\n')
    write("text_number.jsonl", '{"text": 5, "label": "a"}\n{"text": "b", "label": "b"}\n')
    write("label_null.jsonl", '{"text": "a", "label": null}\n{"text": "b", "label": "b"}\n')
    write("pair.csv", "a,b,label\nx,y,yes\nz,w,no\n")
    write("one_label.csv", "text,label\na,yes\nb,yes\n")
    write("STS-B/train.tsv", "index\tsentence1\tsentence2\tscore\n0\ta\tb\t500\n")
    write("STS-B/dev.tsv", "index\tsentence1\tsentence2\tscore\n0\ta\tb\t1\n")
    write("no_predictions.txt", "The DT B-NP\ncat NN I-NP\n\n")
    w["clf_pair"] = hf.save(SequenceClassifier(shape, num_labels=2), root / "clf_pair", tokenizer=tokenizer,
                            config_extra={**extra, SETTINGS_KEY: {"family": "glue", "max_seq_length": 64,
                                                                  "text_columns": 2}})  # fmt: skip
    (root / "vocab_made").mkdir()
    (root / "vocab_made" / "vocab.txt").write_text("[PAD]\n")
    w["vocab_made"] = root / "vocab_made"
    return w


@pytest.fixture(scope="module")
def exported(tmp_path_factory, world):
    """The classifier exported to ONNX, then altered, cut short, or stripped of its checksum."""
    pytest.importorskip("onnxruntime")
    import shutil

    from electra.onnx_export import export_onnx
    from electra.onnx_runtime import EXPORT_FILE, ONNX_FILE, sha256

    root = tmp_path_factory.mktemp("onnx")
    export_onnx(world["clf"], root / "good")
    found = {}
    for name in ("altered", "truncated", "unchecked"):
        shutil.copytree(root / "good", root / name)
        found[f"onnx_{name}"] = root / name
    graph = bytearray((root / "altered" / ONNX_FILE).read_bytes())
    graph[-4000:-3968] = bytes(32)  # inside the weights: still a valid graph
    (root / "altered" / ONNX_FILE).write_bytes(bytes(graph))
    cut = root / "truncated" / ONNX_FILE
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])
    for name in ("truncated", "unchecked"):
        saved = json.loads((root / name / EXPORT_FILE).read_text())
        if name == "truncated":  # its checksum matches: onnxruntime itself must refuse it
            saved["sha256"][ONNX_FILE] = sha256(cut)
        else:
            del saved["sha256"]
        (root / name / EXPORT_FILE).write_text(json.dumps(saved))
    return found


# (name, argv template, what the one line must say). {out} is a fresh path per case.
P = "--no-progress"
CASES = [
    # --- vocab: paths, encodings, formats, numbers
    ("vocab: no such file", "vocab --corpus {root}/nope/*.txt --size 50 --out {out}", "matches no file"),
    ("vocab: empty folder", "vocab --corpus {empty_dir} --size 50 --out {out}", "holds no corpus files"),
    ("vocab: binary", "vocab --corpus {binary} --size 50 --out {out}", "binary.txt: binary file"),
    ("vocab: UTF-16", "vocab --corpus {utf16} --size 50 --out {out}", "utf16.txt: UTF-16 text"),
    ("vocab: Latin-1", "vocab --corpus {latin1} --size 50 --out {out}", "latin1.txt: not UTF-8"),
    ("vocab: empty corpus", "vocab --corpus {empty} --size 50 --out {out}", "the corpus is empty"),
    ("vocab: size 3", "vocab --corpus {corpus} --size 3 --out {out}", "vocabulary size 3"),
    ("vocab: min frequency -1", "vocab --corpus {corpus} --size 50 --min-frequency -1 --out {out}", "--min-frequency -1"),
    ("vocab: out is a file", "vocab --corpus {corpus} --size 50 --out {a_file}", "a_file: exists and is not a directory"),
    ("vocab: out under /proc", "vocab --corpus {corpus} --size 50 --out /proc/electra", "/proc/electra: cannot write here"),
    ("vocab: bad JSONL record", "vocab --corpus {bad} --size 50 --out {out}", "bad.jsonl:2: not JSON"),
    ("vocab: JSONL text not a string", "vocab --corpus {badtype} --size 50 --out {out}", "badtype.jsonl:1: 'text' is not a string"),
    ("vocab: empty text field", "vocab --corpus {corpus} --size 50 --text-field= --out {out}", "--text-field: expected a field name"),
    ("vocab: line of a megabyte", "vocab --corpus {longline} --size 50 --out {out}", "longline.txt: a line longer than 1 MiB"),
    # --- prepare
    ("prepare: no vocabulary", "prepare --corpus {corpus} --vocab {root}/nope --out {out} " + P, "nope: no such file or directory"),
    ("prepare: folder without vocabulary", "prepare --corpus {corpus} --vocab {empty_dir} --out {out} " + P, "no vocabulary file"),
    ("prepare: a token twice", "prepare --corpus {corpus} --vocab {twice} --out {out} " + P, "lists a token twice"),
    ("prepare: seq len 4", "prepare --corpus {corpus} --vocab {vocab} --seq-len 4 --out {out} " + P, "--seq-len 4"),
    ("prepare: no workers", "prepare --corpus {corpus} --vocab {vocab} --workers 0 --out {out} " + P, "--workers 0"),
    ("prepare: shard MB nan", "prepare --corpus {corpus} --vocab {vocab} --shard-mb nan --out {out} " + P, "--shard-mb nan"),
    ("prepare: shard MB negative", "prepare --corpus {corpus} --vocab {vocab} --shard-mb -1 --out {out} " + P, "--shard-mb -1"),
    ("prepare: out is a file", "prepare --corpus {corpus} --vocab {vocab} --out {a_file} " + P, "exists and is not a directory"),
    ("prepare: read-only place", "prepare --corpus {corpus} --vocab {vocab} --out /proc/electra " + P, "cannot write here"),
    ("prepare: truncated gzip", "prepare --corpus {cut} --vocab {vocab} --out {out} --workers 1 " + P, "cut.txt.gz: truncated or corrupt"),
    ("prepare: bad JSONL", "prepare --corpus {bad} --vocab {vocab} --out {out} --workers 1 " + P, "bad.jsonl:2"),
    ("prepare: other settings", "prepare --corpus {corpus} --vocab {vocab} --out {prepared} --seq-len 48 " + P, "pass --overwrite"),
    ("prepare: no corpus given", "prepare --corpus {empty} --vocab {vocab} --out {out} " + P, "the corpus is empty"),
    # --- pretrain: numbers, devices, mismatches
    ("pretrain: no data", "pretrain --data {root}/nope --out {out} --preset tiny", "nope: no such directory"),
    ("pretrain: not prepared", "pretrain --data {empty_dir} --out {out} --preset tiny", "empty_dir"),
    ("pretrain: lr nan", "pretrain --data {prepared} --out {out} --preset tiny --lr nan", "--lr must be a finite number"),
    ("pretrain: lr inf", "pretrain --data {prepared} --out {out} --preset tiny --lr inf", "--lr must be a finite number"),
    ("pretrain: beta1 1.5", "pretrain --data {prepared} --out {out} --preset tiny --adam-beta1 1.5", "--adam-beta1 1.5 is not in [0, 1)"),
    ("pretrain: grad accum 0", "pretrain --data {prepared} --out {out} --preset tiny --grad-accum 0", "--grad-accum must be positive"),
    ("pretrain: batch 0", "pretrain --data {prepared} --out {out} --preset tiny --batch-size 0", "--batch-size must be positive"),
    ("pretrain: mask prob 0", "pretrain --data {prepared} --out {out} --preset tiny --mask-prob 0", "--mask-prob 0"),
    ("pretrain: steps 0", "pretrain --data {prepared} --out {out} --preset tiny --steps 0", "--steps must be positive"),
    ("pretrain: precision fp8", "pretrain --data {prepared} --out {out} --preset tiny --precision fp8", "--precision 'fp8' is not one of"),
    ("pretrain: objective", "pretrain --data {prepared} --out {out} --preset tiny --objective gan", "--objective 'gan'"),
    ("pretrain: device banana", "pretrain --data {prepared} --out {out} --preset tiny --device banana", "device 'banana'"),
    ("pretrain: no GPU", "pretrain --data {prepared} --out {out} --preset tiny --device cuda", "no CUDA GPU"),
    ("pretrain: seq len", "pretrain --data {prepared} --out {out} --preset tiny --seq-len 64", "examples are 32 tokens long, --seq-len is 64"),
    ("pretrain: out is a file", "pretrain --data {prepared} --out {a_file} --preset tiny", "exists and is not a directory"),
    ("pretrain: nothing to resume", "pretrain --data {prepared} --out {out} --preset tiny --resume", "pretrain.json: no such file"),
    ("pretrain: init from nowhere", "pretrain --data {prepared} --out {out} --preset tiny --init-from {root}/nope", "nope"),
    ("pretrain: generator alone", "pretrain --data {prepared} --out {out} --preset tiny --init-generator {gen}", "--init-generator needs --init-from"),
    ("pretrain: heads", "pretrain --data {prepared} --out {out} --preset tiny --hidden-size 30 --num-heads 4", "not divisible by --num-heads 4"),
    ("pretrain: dropout 1.5", "pretrain --data {prepared} --out {out} --preset tiny --hidden-dropout 1.5", "--hidden-dropout 1.5 is not in [0, 1)"),
    ("pretrain: vocabulary of another size", "pretrain --data {prepared} --out {out} --preset tiny --init-from {disc}", "vocabulary of 400 tokens, the model has 1000"),
    # --- detect: the right model, numbers, inputs
    ("detect: no model", "detect --model {root}/nope a text", "nope"),
    ("detect: a generator", "detect --model {gen} a text", "saved as ElectraForMaskedLM, not a discriminator"),
    ("detect: a classifier", "detect --model {clf} a text", "saved as ElectraForSequenceClassification, not a discriminator"),
    ("detect: threshold nan", "detect --model {disc} --threshold nan a text", "--threshold nan is not a probability"),
    ("detect: threshold 2", "detect --model {disc} --threshold 2 a text", "--threshold 2.0 is not a probability"),
    ("detect: batch 0", "detect --model {disc} --batch-size 0 a text", "--batch-size must be at least 1"),
    ("detect: no file", "detect --model {disc} --file {root}/nope.txt", "nope.txt: no such file"),
    ("detect: Latin-1 file", "detect --model {disc} --file {latin1}", "latin1.txt: not UTF-8 text"),
    ("detect: damaged weights", "detect --model {damaged} a text", "not a discriminator"),
    ("detect: layers missing", "detect --model {layers} a text", "missing weights"),
    # --- finetune glue
    ("finetune glue: unknown task", "finetune glue --task sst3 --data-dir {root} --model {disc} --out {out}", "--task 'sst3': not a GLUE task"),
    ("finetune glue: no data", "finetune glue --model {disc} --out {out}", "give --task and --data-dir for GLUE"),
    ("finetune glue: no folder", "finetune glue --task rte --data-dir {root}/nope --model {disc} --out {out}", "no RTE/train.tsv"),
    ("finetune glue: own data, no dev", "finetune glue --train {test} --text-columns text --label-column label --model {disc} --out {out}", "your own data needs --train, --dev"),
    ("finetune glue: lr nan", "finetune glue --task rte --data-dir {root} --model {disc} --out {out} --lr nan", "--lr must be a finite number"),
    ("finetune glue: subset 0", "finetune glue --task rte --data-dir {root} --model {disc} --out {out} --max-train-examples 0", "--max-train-examples must be at least 1"),
    ("finetune glue: length 1", "finetune glue --task rte --data-dir {root} --model {disc} --out {out} --max-seq-length 1", "--max-seq-length 1"),
    ("finetune glue: length 1000", "finetune glue --task rte --data-dir {root} --model {disc} --out {out} --max-seq-length 1000", "exceeds 512 positions"),
    ("finetune glue: decay 0", "finetune glue --task rte --data-dir {root} --model {disc} --out {out} --layerwise-lr-decay 0", "--layerwise-lr-decay 0.0 is not in (0, 1]"),
    ("finetune glue: keep worst", "finetune glue --task rte --data-dir {root} --model {disc} --out {out} --keep worst", "keep 'worst'"),
    ("finetune glue: out is a file", "finetune glue --task rte --data-dir {root} --model {disc} --out {a_file}", "exists and is not a directory"),
    ("finetune glue: epochs 0", "finetune glue --task rte --data-dir {root} --model {disc} --out {out} --epochs 0", "--epochs must be positive"),
    ("finetune glue: beta2 1", "finetune glue --task rte --data-dir {root} --model {disc} --out {out} --adam-beta2 1", "--adam-beta2 1.0 is not in [0, 1)"),
    ("finetune glue: seeds 0", "finetune glue --task rte --data-dir {root} --model {disc} --out {out} --seeds 0", "--seeds must be positive"),
    ("finetune glue: grad-accum 0", "finetune glue --task rte --data-dir {root} --model {disc} --out {out} --grad-accum 0", "--grad-accum 0 is not between 1 and --batch-size"),
    ("finetune glue: max-steps 0", "finetune glue --task rte --data-dir {root} --model {disc} --out {out} --max-steps 0", "--max-steps must be at least 1"),
    ("finetune glue: precision fp8", "finetune glue --task rte --data-dir {root} --model {disc} --out {out} --precision fp8", "fp8"),
    ("finetune glue: no such device", "finetune glue --train {test} --dev {test} --text-columns text --label-column text --model {disc} --out {out} --device cuda:7", "cuda:7"),
    ("finetune glue: mismatched vocabulary", "finetune glue --train {test} --dev {test} --text-columns text --label-column text --model {mismatch} --out {out}", "do not belong to these weights"),
    # --- finetune tagging and squad
    ("finetune tagging: no data", "finetune tagging --model {disc} --out {out}", "give --data-dir"),
    ("finetune tagging: no files", "finetune tagging --data-dir {empty_dir} --model {disc} --out {out}", "no training file"),
    ("finetune tagging: ragged CoNLL", "finetune tagging --data-dir {root}/conll_bad --model {disc} --out {out}", "train.txt:2: 2 columns"),
    ("finetune tagging: tag column", "finetune tagging --data-dir {root}/conll_ok --dev {conll_ok_train} --tag-column 9 --model {disc} --out {out}", "--tag-column 9"),
    ("finetune squad: no file", "finetune squad --train {root}/nope.json --dev {root}/nope.json --model {disc} --out {out}", "nope.json"),
    ("finetune squad: id twice", "finetune squad --train {squad_dup} --dev {squad_dup} --model {disc} --out {out}", "question q1: the id appears twice"),
    ("finetune squad: not JSON", "finetune squad --train {not_json} --dev {not_json} --model {disc} --out {out}", "not_json.json"),
    ("finetune squad: version 3", "finetune squad --train {squad_dup} --dev {squad_dup} --version 3 --model {disc} --out {out}", "--version '3' is not 1.1 or 2.0"),
    ("finetune squad: head", "finetune squad --train {squad_dup} --dev {squad_dup} --head both --model {disc} --out {out}", "both"),
    ("finetune squad: beam 0", "finetune squad --train {squad_dup} --dev {squad_dup} --beam-size 0 --model {disc} --out {out}", "--beam-size must be positive"),
    ("finetune tagging: encoding", "finetune tagging --data-dir {root}/conll_ok --label-encoding iob9 --model {disc} --out {out}", "iob9"),
    ("finetune squad: stride 0", "finetune squad --train {squad_dup} --dev {squad_dup} --doc-stride 0 --model {disc} --out {out}", "--doc-stride must be positive"),
    # --- predict
    ("predict glue: untrained head", "predict glue --model {disc} --test {test} --text-columns text --out {out}", "head was never trained"),
    ("predict glue: too long", "predict glue --model {clf} --test {test} --text-columns text --out {out} --max-seq-length 5000", "--max-seq-length 5000: the model has 64 positions"),
    ("predict glue: batch 0", "predict glue --model {clf} --test {test} --text-columns text --out {out} --batch-size 0", "--batch-size must be at least 1"),
    ("predict glue: damaged", "predict glue --model {damaged} --test {test} --text-columns text --out {out}", "damaged: the weights do not match"),
    ("predict glue: no columns", "predict glue --model {clf} --test {test} --out {out}", "--text-columns: required"),
    ("predict tagging: no input", "predict tagging --model {clf}", "give one input"),
    ("predict tagging: out is a folder", "predict tagging --model {clf} --out {empty_dir} a text", "a directory"),
    ("predict squad: data without out", "predict squad --model {clf} --data {squad_dup}", "--data needs --out"),
    ("predict squad: no question", "predict squad --model {clf} --context Paris", "no question"),
    ("predict squad: no context file", "predict squad --model {clf} --question Where --context-file {root}/nope.txt", "no such file"),
    # --- evaluate and report
    ("evaluate glue: unknown task", "evaluate glue --task sst3 --data-dir {root} --predictions {preds_index}", "not a GLUE task"),
    ("evaluate tagging: no file", "evaluate tagging --predictions {root}/nope.txt", "nope.txt"),
    ("evaluate squad: not an object", "evaluate squad --data {squad_dup} --predictions {preds_list}", "id appears twice"),
    ("evaluate squad: predictions not JSON", "evaluate squad --data {assets}/squad/dev-v2.0.json --predictions {not_json}", "not_json.json"),
    ("evaluate squad: list predictions", "evaluate squad --data {assets}/squad/dev-v2.0.json --predictions {preds_list}", "expected a JSON object"),
    ("report: no run", "report {root}/nope", "nope"),
    ("report: unwritable", "report {prepared} --out /proc/electra/curves.png", "metrics.jsonl"),
    # --- sizes and types refused before anything is built (a config.json, flags)
    ("detect: a million layers", "detect --model {huge_layers} a text", "parameters need"),
    ("detect: hidden size 1e9", "detect --model {huge_hidden} a text", "parameters need"),
    ("detect: feed-forward 1e10", "detect --model {huge_ffn} a text", "parameters need"),
    ("detect: hidden size a string", "detect --model {text_hidden} a text", "must be a whole number, got '64'"),
    ("detect: hidden size null", "detect --model {null_hidden} a text", "must be a whole number, got None"),
    ("detect: half a layer", "detect --model {half_layers} a text", "must be a whole number, got 2.5"),
    ("finetune glue: a million layers", "finetune glue --train {test} --dev {test} --text-columns text --label-column text --model {huge_layers} --out {out}", "parameters need"),
    ("predict glue: hidden size a string", "predict glue --model {text_hidden} --test {test} --text-columns text --out {out}", "got '64'"),
    ("pretrain: init from a million layers", "pretrain --data {prepared} --out {out} --preset tiny --init-from {huge_layers}", "parameters need"),
    ("pretrain: layers 1e6", "pretrain --data {prepared} --out {out} --preset tiny --num-layers 1000000", "parameters need"),
    ("pretrain: hidden 1e9", "pretrain --data {prepared} --out {out} --preset tiny --hidden-size 1000000000 --num-heads 1", "parameters need"),
    ("pretrain: seed -1", "pretrain --data {prepared} --out {out} --preset tiny --seed -1", "is not in [0, 2**32)"),
    ("pretrain: seed 2**32", "pretrain --data {prepared} --out {out} --preset tiny --seed 4294967296", "is not in [0, 2**32)"),
    ("pretrain: batch beyond the data", "pretrain --data {prepared} --out {out} --preset tiny --batch-size 100000", "more than the 256 examples"),
    ("finetune glue: seed -1", "finetune glue --task rte --data-dir {root} --model {disc} --out {out} --seed -1", "is not in [0, 2**32)"),
    ("prepare: seed -1", "prepare --corpus {corpus} --vocab {vocab} --out {out} --seed -1 " + P, "seed -1"),
    ("vocab: size 1e9", "vocab --corpus {corpus} --size 1000000000 --out {out}", "expected at most 1,048,576"),
    # --- integrity and containment
    ("detect: index outside the model", "detect --model {escape} a text", "outside the model's directory"),
    ("detect: a pickle", "detect --model {pickled} a text", "holds Python objects besides tensors"),
    ("predict glue: altered graph", "predict glue --model {onnx_altered} --runtime onnxruntime --test {test} --text-columns text --out {out}", "damaged or altered"),
    ("predict glue: truncated graph", "predict glue --model {onnx_truncated} --runtime onnxruntime --test {test} --text-columns text --out {out}", "not a graph onnxruntime can load"),
    ("predict glue: graph without checksum", "predict glue --model {onnx_unchecked} --runtime onnxruntime --test {test} --text-columns text --out {out}", "no checksum"),
    # --- the right model and output
    ("finetune glue: an RTD generator", "finetune glue --train {test} --dev {test} --text-columns text --label-column text --model {run_generator} --out {out}", "not its discriminator: fine-tune"),
    ("vocab: over a vocabulary", "vocab --corpus {corpus} --size 50 --out {vocab_made}", "holds a vocabulary already"),
    ("finetune glue: a pair in 3 tokens", "finetune glue --train {pair} --dev {pair} --text-columns a,b --label-column label --model {disc} --out {out} --max-seq-length 3", "need at least 5 tokens"),
    ("finetune glue: STS-B score 500", "finetune glue --task sts-b --data-dir {root} --model {disc} --out {out}", "score 500 is not in [0, 5]"),
    ("finetune glue: text null", "finetune glue --train {text_null} --dev {text_null} --text-columns text --label-column label --model {disc} --out {out}", "'text' is null, expected a string of text"),
    ("finetune glue: text a number", "finetune glue --train {text_number} --dev {text_number} --text-columns text --label-column label --model {disc} --out {out}", "'text' is int"),
    ("finetune glue: label null", "finetune glue --train {label_null} --dev {label_null} --text-columns text --label-column label --model {disc} --out {out}", "'label' is null, expected a string or a number"),
    ("finetune glue: one label", "finetune glue --train {one_label} --dev {one_label} --text-columns text --label-column label --model {disc} --out {out}", "only one label"),
    ("finetune glue: no label column", "finetune glue --train {test} --dev {test} --text-columns text --label-column label --model {disc} --out {out}", "no 'label' column"),
    ("predict glue: one text for a pair model", "predict glue --model {clf_pair} --test {test} --text-columns text --out {out}", "fine-tuned on 2 text(s) an example, 1 given"),
    ("predict glue: text null", "predict glue --model {clf} --test {text_null} --text-columns text --out {out}", "'text' is null"),
    ("evaluate tagging: no prediction column", "evaluate tagging --predictions {no_predictions}", "share no tag"),
    ("report: not a PNG", "report {prepared} --out {out}/curves.txt", "expected a .png file"),
    ("vocab: a path through a file", "vocab --corpus {a_file}/x.txt --size 50 --out {out}", "Not a directory"),
    ("prepare: vocabulary through a file", "prepare --corpus {corpus} --vocab {a_file}/vocab.txt --out {out} " + P, "Not a directory"),
    # --- more numbers out of range
    ("pretrain: keep no checkpoint", "pretrain --data {prepared} --out {out} --preset tiny --keep-checkpoints 0", "--keep-checkpoints must be at least 1"),
    ("pretrain: temperature 0", "pretrain --data {prepared} --out {out} --preset tiny --temperature 0", "must be positive"),
    ("pretrain: warm-up -1", "pretrain --data {prepared} --out {out} --preset tiny --warmup-steps -1", "--warmup-steps must not be negative"),
    ("pretrain: mask token prob 1.5", "pretrain --data {prepared} --out {out} --preset tiny --mask-token-prob 1.5", "--mask-token-prob 1.5 is not in (0, 1]"),
    ("pretrain: generator weight nan", "pretrain --data {prepared} --out {out} --preset tiny --gen-weight nan", "--gen-weight must be a finite number"),
    ("pretrain: generator fraction 0", "pretrain --data {prepared} --out {out} --preset tiny --generator-fraction 0", "--generator-fraction 0.0 is not in (0, 1]"),
    ("pretrain: budget of one FLOP", "pretrain --data {prepared} --out {out} --preset tiny --flops-budget 1", "buys no step"),
    ("finetune glue: warm-up fraction 1", "finetune glue --task rte --data-dir {root} --model {disc} --out {out} --warmup-fraction 1", "--warmup-fraction 1.0 is not in [0, 1)"),
    ("finetune glue: weight decay -1", "finetune glue --task rte --data-dir {root} --model {disc} --out {out} --weight-decay -1", "--weight-decay must not be negative"),
    ("finetune glue: clip -1", "finetune glue --task rte --data-dir {root} --model {disc} --out {out} --max-grad-norm -1", "--max-grad-norm must not be negative"),
    ("finetune glue: epsilon 0", "finetune glue --task rte --data-dir {root} --model {disc} --out {out} --adam-eps 0", "--adam-eps must be positive"),
    ("finetune glue: batch 0", "finetune glue --task rte --data-dir {root} --model {disc} --out {out} --batch-size 0", "--batch-size must be positive"),
    ("finetune glue: eval batch 0", "finetune glue --task rte --data-dir {root} --model {disc} --out {out} --eval-batch-size 0", "--eval-batch-size must be positive"),
    ("finetune glue: seed 2**32", "finetune glue --task rte --data-dir {root} --model {disc} --out {out} --seed 4294967296", "is not in [0, 2**32)"),
    # --- runtimes and exports
    ("predict glue: no graph to run", "predict glue --model {clf} --runtime onnxruntime --test {test} --text-columns text --out {out}", "no model.onnx; export it first"),
    ("detect: no graph to run", "detect --model {disc} --runtime onnxruntime a text", "no model.onnx; export it first"),
    ("export onnx: into the model", "export onnx --model {clf} --out {clf}", "export into another directory"),
    ("export onnx: no model", "export onnx --model {root}/nope --out {out}", "nope"),
]  # fmt: skip


def test_the_table_is_large_and_covers_every_subcommand():
    commands = {argv.split()[0] + (" " + argv.split()[1] if argv.split()[0] in ("finetune", "predict", "evaluate") else "")
                for _, argv, _ in CASES}  # fmt: skip
    assert len(CASES) >= 80
    assert commands >= {"vocab", "prepare", "pretrain", "detect", "report", "finetune glue",
                        "finetune tagging", "finetune squad", "predict glue", "predict tagging",
                        "predict squad", "evaluate glue", "evaluate tagging", "evaluate squad"}  # fmt: skip


@pytest.mark.parametrize("name, argv, expected", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_leaves_nothing_complete(
    name, argv, expected, world, prepared, tmp_path, capsys, request
):
    out = tmp_path / "out"
    paths = dict(world, **(request.getfixturevalue("exported") if "{onnx_" in argv else {}))
    words = [word.format(**{k: str(v) for k, v in paths.items()}, prepared=prepared, out=out)
             for word in argv.split(" ")]  # fmt: skip
    words = [
        w
        for word in words
        for w in ([word[: word.index("=")], ""] if word.endswith("=") else [word])
    ]
    code = main(words)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, (name, err)
    assert len(err) == 1 and err[0].startswith("electra: error: "), (name, err)
    assert "Traceback" not in err[0] and expected in err[0], (name, err[0])
    written = {p.name for p in out.rglob("*")} if out.exists() else set()
    assert not written & COMPLETE, (name, written)
