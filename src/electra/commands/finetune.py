"""`electra finetune glue|tagging`, `electra predict glue|tagging`, `electra evaluate glue|tagging`.

Building the parser imports nothing heavy: torch, the models and the tasks are imported by the
`run_*` functions that use them, so that `electra --help` starts at once.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from electra.config import FinetuneConfig, recipe_size
from electra.errors import UserError
from electra.files import write_json

if TYPE_CHECKING:
    from electra.tasks import glue

# The names of `electra.tasks.glue.GLUE`, in its order, for the help text: that module loads torch,
# scipy and sklearn. tests/test_cli.py checks that the two agree.
GLUE_TASKS = ("cola", "sst2", "mrpc", "stsb", "qqp", "mnli", "qnli", "rte", "wnli")


def register(commands) -> None:
    parser = commands.add_to_group(
        "finetune",
        "glue",
        help="fine-tune on a GLUE task (or all of them), or on your own CSV/TSV/JSONL data",
        epilog="examples: electra finetune glue --task rte --data-dir glue_data --model disc "
        "--out runs/rte | electra finetune glue --train train.csv --dev dev.csv "
        "--text-columns review --label-column stars --model disc --out runs/mine",
    )
    parser.add_argument("--task", help=f"one of {', '.join(GLUE_TASKS)}, or all")
    parser.add_argument("--data-dir", type=Path, help="the GLUE root (or one task's folder)")
    _add_custom_data(parser)
    parser.add_argument("--train", type=Path, help="your own training file (.csv, .tsv, .jsonl)")
    parser.add_argument("--dev", type=Path, help="your own dev file, scored after every epoch")
    parser.add_argument("--label-column", help="your data: the column holding the label")
    parser.add_argument(
        "--labels", help="your data: comma-separated label set (default: the train file's)"
    )
    parser.add_argument(
        "--regression", action="store_true", help="your data: the label is a number"
    )
    add_recipe_arguments(parser)
    parser.add_argument("--no-swap-pairs", dest="swap_pairs", action="store_false", default=None,
                        help="MRPC/STS-B: do not also train on swapped sentence pairs")  # fmt: skip
    parser.set_defaults(func=run_glue)

    parser = commands.add_to_group(
        "finetune",
        "tagging",
        help="fine-tune a sequence tagger (chunking, NER) on CoNLL-format files",
        epilog="example: electra finetune tagging --data-dir conll2000 --model disc --out runs/chunk",
    )
    parser.add_argument(
        "--data-dir", type=Path, help="holds train.txt and dev.txt/valid.txt/test.txt"
    )
    parser.add_argument("--train", type=Path, help="training file (default: DATA_DIR/train.txt)")
    parser.add_argument(
        "--dev",
        type=Path,
        help="file scored after every epoch (default: DATA_DIR's dev, else test)",
    )
    parser.add_argument(
        "--tag-column", type=int, default=-1, help="column of the tag (default -1: last)"
    )
    parser.add_argument(
        "--labels", help="comma-separated tag set (default: every tag in the files)"
    )
    add_recipe_arguments(parser)
    parser.set_defaults(func=run_tagging)

    parser = commands.add_to_group(
        "predict",
        "glue",
        help="write a fine-tuned classifier's test-set predictions (GLUE leaderboard files)",
        epilog="example: electra predict glue --task rte --data-dir glue_data --model runs/rte/model "
        "--out submission",
    )
    parser.add_argument("--task", help=f"one of {', '.join(GLUE_TASKS)}")
    parser.add_argument("--data-dir", type=Path, help="the GLUE root (or the task's folder)")
    _add_custom_data(parser)
    parser.add_argument("--test", type=Path, help="your own unlabelled file (.csv, .tsv, .jsonl)")
    parser.add_argument("--model", type=Path, required=True, help="a fine-tuned model directory")
    parser.add_argument(
        "--out", type=Path, required=True, help="directory for the prediction files"
    )
    parser.add_argument("--max-seq-length", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=128, help="examples per forward pass")
    parser.set_defaults(func=run_predict)
    _register_predict_tagging(commands)
    _register_evaluate(commands)


def _register_predict_tagging(commands) -> None:
    parser = commands.add_to_group(
        "predict",
        "tagging",
        help="tag new text with a fine-tuned tagger (CoNLL or plain text in, CoNLL or JSON out)",
        epilog="examples: electra predict tagging --model runs/chunk/model --file test.txt "
        "--out tagged.txt (then: electra evaluate tagging --predictions tagged.txt) | "
        'electra predict tagging --model runs/chunk/model "He reckons the deficit will narrow ." '
        "| electra predict tagging --model runs/chunk/model --text-file sentences.txt --json",
    )
    parser.add_argument(
        "texts", nargs="*", help="sentences to tag, words split on whitespace (or give a file)"
    )
    parser.add_argument(
        "--model", type=Path, required=True, help="a fine-tuned tagger (finetune's OUT/model)"
    )
    parser.add_argument(
        "--file",
        type=Path,
        metavar="CONLL",
        help="CoNLL input: the word in the first column, a blank line between sentences "
        "(-DOCSTART- lines dropped); its columns are kept and the predicted tag appended, so "
        "gold tags in the last column make the output `evaluate tagging` input",
    )
    parser.add_argument(
        "--text-file",
        type=Path,
        metavar="TEXT",
        help="plain-text input: one sentence per line, words split on whitespace (- for stdin)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="write the tagged text here (default: standard output): word<TAB>tag lines",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help='write one {"tokens": [...], "tags": [...]} object per sentence instead of CoNLL',
    )
    parser.add_argument(
        "--max-seq-length",
        type=int,
        help="tokens per window (default: the tagger's fine-tuning value, else 256); longer "
        "sentences are tagged in overlapping windows",
    )
    parser.add_argument("--batch-size", type=int, default=128, help="windows per forward pass")
    parser.set_defaults(func=run_predict_tagging)


def _register_evaluate(commands) -> None:
    parser = commands.add_to_group(
        "evaluate",
        "glue",
        help="score an index<TAB>prediction file with a GLUE task's official metrics",
        epilog="example: electra evaluate glue --task rte --data-dir glue_data "
        "--predictions runs/rte/dev_predictions.tsv",
    )
    parser.add_argument("--task", required=True, help=f"one of {', '.join(GLUE_TASKS)}")
    parser.add_argument(
        "--data-dir", type=Path, required=True, help="the GLUE root (or the task's folder)"
    )
    parser.add_argument(
        "--dev-file", help="labelled file in the task's folder (default: its dev set)"
    )
    parser.add_argument("--predictions", type=Path, required=True)
    parser.set_defaults(func=run_evaluate_glue)

    parser = commands.add_to_group(
        "evaluate",
        "tagging",
        help="conlleval's span F1 of a file whose last two columns are gold and predicted tags",
        epilog="example: electra evaluate tagging --predictions runs/chunk/dev_predictions.txt",
    )
    parser.add_argument("--predictions", type=Path, required=True)
    parser.set_defaults(func=run_evaluate_tagging)


def _add_custom_data(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--text-columns", help="your data: one or two comma-separated text columns (a pair)"
    )


def add_recipe_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", type=Path, required=True, help="pre-trained discriminator directory"
    )
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    group = parser.add_argument_group(
        "recipe (default: the paper's, for the model's size and task)"
    )
    group.add_argument(
        "--size",
        choices=("small", "base", "large"),
        help="recipe row (default: from the model's shape)",
    )
    group.add_argument("--lr", type=float, dest="learning_rate", help="peak learning rate")
    group.add_argument("--layerwise-lr-decay", type=float, help="1.0 disables layer-wise decay")
    group.add_argument("--epochs", type=int)
    group.add_argument("--batch-size", type=int)
    group.add_argument("--eval-batch-size", type=int)
    group.add_argument("--max-seq-length", type=int)
    group.add_argument("--warmup-fraction", type=float)
    group.add_argument("--weight-decay", type=float)
    group.add_argument("--seed", type=int)
    group.add_argument("--keep", choices=("best", "last"), help="which epoch's model to save")
    group.add_argument("--max-train-examples", type=int, help="train on a random subset this size")
    group.add_argument("--random-init", action="store_true",
                       help="keep only the model's shape: a control run without pre-training")  # fmt: skip
    group.add_argument(
        "--no-progress", dest="progress", action="store_false", help="no progress bar"
    )


def recipe_from_args(args: argparse.Namespace, task: str) -> FinetuneConfig:
    """The paper's values for the model's size and `task`, with every flag given overriding."""
    from electra import hf

    size = args.size or recipe_size(hf.load_config(args.model))
    overrides = {
        name: getattr(args, name, None)  # tasks without a flag keep the recipe's value
        for name in (
            "learning_rate", "layerwise_lr_decay", "epochs", "batch_size", "eval_batch_size",
            "max_seq_length", "warmup_fraction", "weight_decay", "seed", "keep", "swap_pairs",
            "max_train_examples",
        )
    }  # fmt: skip
    return FinetuneConfig.recipe(size, task, **overrides)


def _columns(value: str | None, flag: str = "--text-columns") -> list[str]:
    if not value:
        raise UserError(f"{flag}: required with your own data (e.g. {flag} premise,hypothesis)")
    return [c.strip() for c in value.split(",") if c.strip()]


def train_and_report(
    task, args: argparse.Namespace, config: FinetuneConfig, out: Path, tokenizer
) -> dict[str, Any]:
    from electra.tasks.finetune import MODEL_DIR, finetune

    results = finetune(
        task,
        args.model,
        config,
        out,
        tokenizer,
        random_init=args.random_init,
        progress=args.progress,
    )
    print(
        f"{task.name}: {_metrics(results['dev'])} (epoch {results['saved_epoch']}, "
        f"{results['wall_seconds']:.0f} s); model in {out / MODEL_DIR}, results in {out / 'results.json'}"
    )
    return results


def _metrics(metrics: dict[str, float]) -> str:
    return ", ".join(f"{name} {value:.4f}" for name, value in metrics.items())


def run_glue(args: argparse.Namespace) -> None:
    from electra.tasks import glue
    from electra.tokenizer import load_tokenizer

    if args.train is not None:
        return _run_custom(args)
    if not args.task or args.data_dir is None:
        raise UserError("give --task and --data-dir for GLUE, or --train/--dev for your own data")
    if args.task.lower() != "all":
        spec = glue.glue_spec(args.task)
        directory = glue.task_dir(args.data_dir, spec)
        _run_glue_task(spec, directory, args, args.out, load_tokenizer(args.model))
        return
    tokenizer = load_tokenizer(args.model)
    dev = {}
    for spec in glue.GLUE.values():
        if not (args.data_dir / spec.folder).is_dir():
            print(f"{spec.name}: skipped, no {args.data_dir / spec.folder}")
            continue
        results = _run_glue_task(
            spec, args.data_dir / spec.folder, args, args.out / spec.name, tokenizer
        )
        dev[spec.name] = results["dev"]
    if not dev:
        raise UserError(f"{args.data_dir}: no GLUE task folders (expected CoLA/, SST-2/, ...)")
    table = glue_table(dev)
    print(table)
    write_json(args.out / "glue_results.json", {"dev": dev, "glue_score": glue.glue_score(dev)})


def _run_glue_task(spec: glue.Spec, directory: Path, args, out: Path, tokenizer) -> dict[str, Any]:
    from electra.tasks import glue

    config = recipe_from_args(args, spec.name)
    task = glue.build_task(
        spec, tokenizer, directory / "train.tsv", glue.glue_dev_paths(spec, directory),
        config.max_seq_length, config.swap_pairs,
    )  # fmt: skip
    return train_and_report(task, args, config, out, tokenizer)


def glue_table(dev: dict[str, dict[str, float]]) -> str:
    """One row per task (its metrics as percentages) and the paper's GLUE average."""
    from electra.tasks import glue

    rows = [f"{'task':<6} {'metrics':<44} {'score':>6}"]
    for name, metrics in dev.items():
        shown = ", ".join(f"{k} {100 * v:.1f}" for k, v in metrics.items())
        rows.append(f"{name:<6} {shown:<44} {100 * metrics[glue.GLUE[name].metrics[0]]:>6.1f}")
    counted = [n for n in dev if n not in glue.PAPER_AVERAGE_EXCLUDES]
    rows.append(f"GLUE score (paper's average over {len(counted)} tasks, WNLI excluded): "
                f"{glue.glue_score(dev):.1f}")  # fmt: skip
    return "\n".join(rows)


def _run_custom(args: argparse.Namespace) -> None:
    from electra.tasks import glue
    from electra.tokenizer import load_tokenizer

    if args.dev is None or not args.label_column:
        raise UserError("your own data needs --train, --dev, --text-columns and --label-column")
    labels = _columns(args.labels, "--labels") if args.labels else []
    spec = glue.custom_spec(
        _columns(args.text_columns), args.label_column, args.train, labels, args.regression
    )
    tokenizer = load_tokenizer(args.model)
    config = recipe_from_args(args, spec.name)
    task = glue.build_task(
        spec, tokenizer, args.train, [(args.dev, "", "dev_predictions.tsv")], config.max_seq_length
    )
    train_and_report(task, args, config, args.out, tokenizer)


def run_tagging(args: argparse.Namespace) -> None:
    from electra.tasks import tagging
    from electra.tokenizer import load_tokenizer

    if args.data_dir is None and (args.train is None or args.dev is None):
        raise UserError("give --data-dir (or both --train and --dev)")
    train = args.train or tagging.find_file(args.data_dir, tagging.TRAIN_FILES, "training")
    dev = args.dev or tagging.find_file(args.data_dir, tagging.DEV_FILES, "dev or test")
    print(f"tagging: training on {train}, scoring on {dev}")
    tokenizer = load_tokenizer(args.model)
    config = recipe_from_args(args, "tagging")
    labels = _columns(args.labels, "--labels") if args.labels else []
    task = tagging.build_task(tokenizer, train, dev, config.max_seq_length, args.tag_column, labels)
    train_and_report(task, args, config, args.out, tokenizer)


def run_predict(args: argparse.Namespace) -> None:
    from electra import hf
    from electra.model import SequenceClassifier
    from electra.tasks import glue
    from electra.tasks.finetune import default_device, make_predict
    from electra.tokenizer import SpecialIds, load_tokenizer

    raw = hf.read_config_json(args.model)
    if args.test is not None:
        base = glue.Spec("custom", tuple(_columns(args.text_columns)), "", (), ())
        files = [(args.test, "test_predictions.tsv")]
    else:
        if not args.task or args.data_dir is None:
            raise UserError("give --task and --data-dir for GLUE, or --test with --text-columns")
        base = glue.glue_spec(args.task)
        directory = glue.task_dir(args.data_dir, base)
        files = [(directory / name, out) for name, out in base.test_sets]
    spec = glue.spec_from_config(raw, base)
    if args.test is None and spec.labels != base.labels:
        raise UserError(
            f"{args.model}: labels {', '.join(spec.labels) or '(regression)'} do not match "
            f"{base.name}'s {', '.join(base.labels) or '(regression)'}"
        )
    tokenizer = load_tokenizer(args.model)
    device = default_device()
    model = hf.load(args.model, SequenceClassifier, num_labels=len(spec.labels) or 1).to(device)
    predict = make_predict(model, SpecialIds.of(tokenizer).pad, args.batch_size, device)
    rows = {}
    for path, out_name in files:
        if not path.is_file() and out_name in glue.OPTIONAL_TEST_SETS:
            print(f"{out_name}: skipped, no {path.resolve()}")
            continue
        rows[out_name] = glue.predict_file(spec, path, tokenizer, predict, args.max_seq_length)
    glue.write_predictions(rows, args.out)
    print(
        json.dumps({name: len(r) for name, r in rows.items()}), f"predictions written to {args.out}"
    )


def _tagging_input(args: argparse.Namespace) -> list:
    from electra.tasks import tagging

    given = [flag for flag, value in (("texts", args.texts), ("--file", args.file),
             ("--text-file", args.text_file)) if value]  # fmt: skip
    if len(given) != 1:
        raise UserError(
            "give one input: texts as arguments, --file CONLL or --text-file TEXT"
            + (f" (got {' and '.join(given)})" if given else "")
        )
    if args.file is not None:
        return tagging.read_conll(args.file, tag_column=None, keep_columns=True)
    if args.text_file is not None and str(args.text_file) == "-":
        sentences = tagging.text_sentences(sys.stdin)
        if not sentences:
            raise UserError("standard input: no sentences (expected one sentence per line)")
        return sentences
    if args.text_file is not None:
        return tagging.read_text(args.text_file)
    sentences = tagging.text_sentences(args.texts)
    if len(sentences) != len(args.texts):
        raise UserError("a text to tag is empty (each argument is one sentence)")
    return sentences


def run_predict_tagging(args: argparse.Namespace) -> None:
    from electra.config import FinetuneConfig
    from electra.files import write_text
    from electra.tasks import tagging
    from electra.tasks.finetune import default_device, make_predict
    from electra.tokenizer import SpecialIds, load_tokenizer

    if args.batch_size < 1:
        raise UserError(f"--batch-size must be at least 1, got {args.batch_size}")
    sentences = _tagging_input(args)
    model, labels, trained_length = tagging.load_tagger(args.model)
    positions = model.config.max_position_embeddings
    length = args.max_seq_length if args.max_seq_length is not None else trained_length
    if length is None:
        length = min(FinetuneConfig.recipe("base", "tagging").max_seq_length, positions)
    if length > positions:
        raise UserError(f"--max-seq-length {length}: the model has {positions} positions")
    tokenizer = load_tokenizer(args.model)
    device = default_device()
    predict = make_predict(model.to(device), SpecialIds.of(tokenizer).pad, args.batch_size, device)
    tags = tagging.tag(tokenizer, sentences, labels, length, predict)
    if args.json:
        text = "".join(
            json.dumps({"tokens": list(s.words), "tags": t}, ensure_ascii=False) + "\n"
            for s, t in zip(sentences, tags, strict=True)
        )
    else:
        text = tagging.conll_text(sentences, tags)
    if args.out is None:
        sys.stdout.write(text)
        return
    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        write_text(args.out, text)
    except OSError as e:
        raise UserError(f"{args.out}: cannot write ({e.strerror})") from None
    words = sum(len(s.words) for s in sentences)
    print(f"tagged {len(sentences)} sentences ({words} words); written to {args.out}")


def run_evaluate_glue(args: argparse.Namespace) -> None:
    from electra.tasks import glue

    spec = glue.glue_spec(args.task)
    directory = glue.task_dir(args.data_dir, spec)
    gold = directory / (args.dev_file or spec.dev_sets[0][0])
    print(json.dumps(glue.score_file(spec, gold, args.predictions), indent=2))


def run_evaluate_tagging(args: argparse.Namespace) -> None:
    from electra.tasks import tagging

    print(json.dumps(tagging.score_file(args.predictions), indent=2))
