"""`electra detect`: which tokens of a text look replaced to a discriminator."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from electra.commands.flags import add_config_flags, build
from electra.config import DetectConfig


def register(commands) -> None:
    parser = commands.add(
        "detect",
        help="print each token's probability of having been replaced, from a discriminator",
        epilog='example: electra detect --model runs/demo/run/discriminator "the quick brown fox fake over the lazy dog"',
    )
    parser.add_argument("texts", nargs="*", help="texts to score; none: read --file or standard input")  # fmt: skip
    parser.add_argument("--model", required=True, help="discriminator directory (Hugging Face layout)")  # fmt: skip
    parser.add_argument("--file", type=Path, help="read texts from this file, one per line")
    parser.add_argument("--json", action="store_true", help="print one JSON object per text")
    add_config_flags(parser, DetectConfig)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from electra.detection import Detector, read_texts

    config = build(args, DetectConfig)
    detector = Detector.load(args.model, config.runtime)
    for number, detection in enumerate(
        detector.stream(read_texts(args.texts, args.file), config.batch_size), 1
    ):
        if detection.truncated:
            print(f"electra: text {number}: longer than the model's {detector.model.config.max_position_embeddings} "
                  "positions; only its start is scored", file=sys.stderr)  # fmt: skip
        if args.json:
            print(json.dumps(detection.to_json(), ensure_ascii=False), flush=False)
        else:
            print(detection.show(config.threshold), end="\n\n")
