"""`electra detect`: which tokens of a text look replaced to a discriminator."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from electra.errors import UserError

if TYPE_CHECKING:  # electra.detect loads torch: imported where a command runs
    from electra.detect import Detection


def register(commands) -> None:
    parser = commands.add(
        "detect",
        help="print each token's probability of having been replaced, from a discriminator",
        epilog='example: electra detect --model runs/demo/discriminator "the quick brown fox fake over the lazy dog"',
    )
    parser.add_argument(
        "texts", nargs="*", help="texts to score; none: read --file or standard input"
    )
    parser.add_argument(
        "--model", required=True, help="discriminator directory (Hugging Face layout)"
    )
    parser.add_argument("--file", type=Path, help="read texts from this file, one per line")
    parser.add_argument("--json", action="store_true", help="print one JSON object per text")
    parser.add_argument(
        "--threshold", type=float, default=0.5, help="mark tokens above this probability"
    )
    parser.add_argument("--batch-size", type=int, default=32, help="texts scored together")
    parser.set_defaults(func=run)


def _texts(args: argparse.Namespace) -> Iterator[str]:
    if args.texts:
        yield from args.texts
        return
    if args.file is not None:
        try:
            with open(args.file, encoding="utf-8") as lines:
                yield from (line.rstrip("\n") for line in lines if line.strip())
        except FileNotFoundError:
            raise UserError(f"{args.file}: no such file") from None
        except UnicodeDecodeError as e:
            raise UserError(f"{args.file}: not UTF-8 text ({e.reason} at byte {e.start})") from None
        return
    if sys.stdin.isatty():
        raise UserError(
            "no text given: pass texts as arguments, --file FILE, or pipe lines on stdin"
        )
    yield from (line.rstrip("\n") for line in sys.stdin if line.strip())


def _show(detection: Detection, threshold: float) -> str:
    width = max((len(t) for t in detection.tokens), default=0)
    rows = [detection.text]
    for token, prob in zip(detection.tokens, detection.replaced_prob, strict=True):
        mark = "  <- replaced" if prob > threshold else ""
        rows.append(f"  {token:<{width}}  {prob:.3f}{mark}")
    return "\n".join(rows)


def run(args: argparse.Namespace) -> int:
    if args.batch_size < 1:
        raise UserError(f"--batch-size must be at least 1, got {args.batch_size}")
    from electra.detect import Detector

    detector = Detector.load(args.model)
    for detection in detector.stream(_texts(args), args.batch_size):
        if args.json:
            print(json.dumps(detection.to_json(), ensure_ascii=False), flush=False)
        else:
            print(_show(detection, args.threshold), end="\n\n")
    return 0
