"""`electra finetune squad`, `electra evaluate squad`, `electra predict squad`: SQuAD 1.1 and 2.0."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from electra.commands.finetune import add_recipe_arguments, recipe_from_args, train_and_report
from electra.errors import UserError
from electra.tasks.squad_eval import detect_version, evaluate_v1, evaluate_v2, iter_questions

if TYPE_CHECKING:  # numpy, tokenizers, torch: imported where a command runs
    from electra.tasks.squad import SquadConfig

VERSIONS = {"1": "1.1", "1.1": "1.1", "2": "2.0", "2.0": "2.0"}


def _version(text: str) -> str:
    if text not in VERSIONS:
        raise argparse.ArgumentTypeError(f"{text!r} is not 1.1 or 2.0")
    return VERSIONS[text]


def _squad_options(parser: argparse.ArgumentParser, window_length: bool = True) -> None:
    """Windowing and decoding flags; unset ones keep `SquadConfig`'s recipe defaults."""
    group = parser.add_argument_group("SQuAD windows and decoding (defaults: the ELECTRA recipe)")
    if window_length:  # fine-tuning has it among the loop's flags
        group.add_argument("--max-seq-length", type=int, help="tokens per window (default 512)")
    group.add_argument("--doc-stride", type=int, help="tokens between window starts (128)")
    group.add_argument("--max-query-length", type=int, help="question tokens kept (64)")
    group.add_argument("--max-answer-length", type=int, help="longest answer in tokens (30)")
    group.add_argument("--n-best-size", type=int, help="start/end candidates per window (20)")
    group.add_argument(
        "--null-threshold", type=float, help='2.0: answer "" above these null odds (0)'
    )


def _squad_config(
    args: argparse.Namespace, base: SquadConfig | None = None, **extra: Any
) -> SquadConfig:
    """`base` (the recipe when None) with every flag the user gave."""
    from electra.tasks.squad import SquadConfig

    names = ("doc_stride", "max_query_length", "max_answer_length", "n_best_size", "null_threshold")
    values = {n: getattr(args, n) for n in names} | extra
    return replace(base or SquadConfig(), **{k: v for k, v in values.items() if v is not None})


def register(commands) -> None:
    train = commands.add_to_group(
        "finetune",
        "squad",
        help="fine-tune on SQuAD 1.1 or 2.0 (extractive question answering)",
        epilog="example: electra finetune squad --train train-v2.0.json --dev dev-v2.0.json "
        "--model runs/demo/discriminator --out runs/squad2 --version 2",
    )
    train.add_argument("--train", required=True, type=Path, help="SQuAD-format training JSON")
    train.add_argument(
        "--dev", required=True, type=Path, help="SQuAD-format dev JSON, scored each epoch"
    )
    train.add_argument(
        "--version", type=_version, help="1.1 or 2.0 (default: from the training file)"
    )
    train.add_argument(
        "--answerable-weight", type=float, help="2.0: answerability loss weight (default 0.5)"
    )
    # --model, --out and the loop's flags, as GLUE and tagging have them
    add_recipe_arguments(train)
    _squad_options(train, window_length=False)
    train.set_defaults(func=run_finetune)

    score = commands.add_to_group(
        "evaluate",
        "squad",
        help="score a predictions file exactly as the official SQuAD v1.1 / v2.0 scripts do",
        epilog="example: electra evaluate squad --data dev-v2.0.json --predictions runs/squad2/predictions.json "
        "--na-probs runs/squad2/null_odds.json",
    )
    score.add_argument(
        "--data", required=True, type=Path, help="SQuAD-format JSON with gold answers"
    )
    score.add_argument(
        "--predictions", required=True, type=Path, help="JSON {question id: answer text}"
    )
    score.add_argument(
        "--na-probs", type=Path, help="2.0: JSON {question id: null odds} (null_odds.json)"
    )
    score.add_argument(
        "--na-prob-thresh",
        type=float,
        default=1.0,
        help='2.0: predict "" above these odds (1.0, as official)',
    )
    score.add_argument("--version", type=_version, help="1.1 or 2.0 (default: from the data file)")
    score.set_defaults(func=run_evaluate)

    answer = commands.add_to_group(
        "predict",
        "squad",
        help="answer questions about a context, or every question of a SQuAD-format file",
        epilog='example: electra predict squad --model runs/squad/model --context "Paris is the capital of '
        'France." --question "What is the capital of France?"',
    )
    answer.add_argument(
        "--model", required=True, type=Path, help="model fine-tuned by `finetune squad`"
    )
    answer.add_argument("--question", action="append", help="a question (repeatable)")
    source = answer.add_mutually_exclusive_group()
    source.add_argument("--context", help="the context text")
    source.add_argument("--context-file", type=Path, help="read the context from this UTF-8 file")
    source.add_argument("--data", type=Path, help="SQuAD-format JSON: answer all its questions")
    answer.add_argument(
        "--out", type=Path, help="with --data: directory for predictions.json (+ null_odds.json)"
    )
    answer.add_argument(
        "--json", action="store_true", help="print JSON objects with scores and null odds"
    )
    answer.add_argument("--batch-size", type=int, default=64, help="windows per forward pass")
    _squad_options(answer)
    answer.set_defaults(func=run_predict)


def run_finetune(args: argparse.Namespace) -> int:
    from electra.tasks.squad import load_squad
    from electra.tasks.squad_model import squad_task
    from electra.tokenizer import load_tokenizer

    train_data, train = load_squad(args.train)
    dev_data, dev = load_squad(args.dev)
    version = args.version or detect_version(train_data)
    if version == "1.1" and any(e.is_impossible for e in train):
        raise UserError(f"{args.train}: has is_impossible questions; they need --version 2.0")
    tokenizer = load_tokenizer(args.model)
    config = recipe_from_args(args, "squad")
    squad = _squad_config(args, answerable_weight=args.answerable_weight)
    task = squad_task(
        train, dev, dev_data, tokenizer, squad, config.max_seq_length, version == "2.0"
    )
    train_and_report(task, args, config, args.out, tokenizer)
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from electra.tasks.squad import load_squad, read_json

    dataset, _ = load_squad(args.data, check_offsets=False)  # scoring reads only answer texts
    predictions = read_json(args.predictions)
    if not isinstance(predictions, dict):
        raise UserError(f"{args.predictions}: expected a JSON object {{question id: answer text}}")
    version = args.version or detect_version(dataset)
    if version == "1.1":
        if args.na_probs is not None:
            raise UserError(
                "--na-probs scores SQuAD 2.0; this is 1.1 data (pass --version 2.0 to force)"
            )
        unanswered = sum(1 for qid, _ in iter_questions(dataset["data"]) if qid not in predictions)
        if unanswered:
            print(
                f"electra: {unanswered} questions have no prediction and score 0", file=sys.stderr
            )
        print(json.dumps(evaluate_v1(dataset["data"], predictions)))
        return 0
    na_probs = None
    if args.na_probs is not None:
        na_probs = read_json(args.na_probs)
        if not isinstance(na_probs, dict):
            raise UserError(f"{args.na_probs}: expected a JSON object {{question id: null odds}}")
    print(
        json.dumps(
            evaluate_v2(dataset["data"], predictions, na_probs, args.na_prob_thresh), indent=2
        )
    )
    return 0


def _read_context(args: argparse.Namespace) -> str:
    if args.context is not None:
        return args.context
    if args.context_file is None:
        raise UserError(
            "no context: pass --context TEXT, --context-file FILE, or --data SQUAD_JSON"
        )
    try:
        return args.context_file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{args.context_file}: no such file") from None
    except UnicodeDecodeError as e:
        raise UserError(
            f"{args.context_file}: not UTF-8 text ({e.reason} at byte {e.start})"
        ) from None


def run_predict(args: argparse.Namespace) -> int:
    from electra.tasks.finetune import default_device, make_predict
    from electra.tasks.squad import Example, build_features, load_squad
    from electra.tasks.squad_model import load_model, predict_answers, write_predictions
    from electra.tokenizer import SpecialIds, load_tokenizer

    if args.data is not None:
        if args.out is None:
            raise UserError("--data needs --out DIR for predictions.json")
        examples = load_squad(args.data, need_answers=False)[1]
    else:
        if not args.question:
            raise UserError("no question: pass --question TEXT (repeatable)")
        context = _read_context(args)
        examples = [Example(str(i), q, context) for i, q in enumerate(args.question)]
    finetuned = load_model(args.model)
    model = finetuned.model
    tokenizer = load_tokenizer(args.model)
    squad = _squad_config(args, finetuned.squad)
    max_seq_length = args.max_seq_length or finetuned.max_seq_length
    features = build_features(examples, tokenizer, squad, max_seq_length, training=False)
    device = default_device()
    predict = make_predict(model.to(device), SpecialIds.of(tokenizer).pad, args.batch_size, device)
    answers = predict_answers(
        predict, examples, features, squad, finetuned.version_2, model.answerability is not None
    )
    if args.data is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        write_predictions(answers, args.out)
        print(f"wrote {len(answers)} answers to {args.out}", file=sys.stderr)
        return 0
    for example in examples:
        found = answers[example.qid]
        if args.json:
            row = {"question": example.question, "answer": found.text, "score": found.score}
            if found.null_odds is not None:
                row["null_odds"] = found.null_odds
            print(json.dumps(row, ensure_ascii=False))
        else:
            print(found.text if found.text else "(no answer)")
    return 0
