"""`electra prepare` (text -> pre-training shards) and `electra vocab` (text -> WordPiece vocabulary)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

from electra.data.corpus import (
    ReadStats,
    check_file,
    default_corpus_file,
    find_files,
    read_lines,
)
from electra.errors import UserError


def _add_corpus_flags(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--corpus",
        nargs="+",
        metavar="PATH",
        help="text files, directories (their .txt/.txt.gz files) or globs; one sentence or "
        "paragraph per line, a blank line between documents",
    )
    source.add_argument(
        "--default-corpus",
        action="store_true",
        help="use the embedded corpus: docstrings of the Python standard library",
    )


def register(commands) -> None:
    prepare = commands.add("prepare", "tokenize and pack a text corpus into pre-training shards")
    _add_corpus_flags(prepare)
    prepare.add_argument("--vocab", required=True, help="vocab.txt or a directory holding one")
    prepare.add_argument("--out", required=True, help="directory to write the shards into")
    prepare.add_argument(
        "--seq-len", type=int, default=128, help="tokens per example (default 128)"
    )
    prepare.add_argument(
        "--seed", type=int, default=0, help="seed of the packing choices (default 0)"
    )
    prepare.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    prepare.add_argument(
        "--shard-mb",
        type=float,
        default=8.0,
        help="MB of text per shard, the unit of parallel work and of resuming (default 8)",
    )
    prepare.add_argument(
        "--no-blanks-separate-docs",
        dest="blanks_separate_docs",
        action="store_false",
        help="blank lines do not end a document; each file is one document (e.g. books)",
    )
    prepare.add_argument(
        "--overwrite", action="store_true", help="replace a set already prepared in --out"
    )
    prepare.add_argument("--quiet", action="store_true", help="no progress bar")
    prepare.set_defaults(func=run_prepare)

    vocab = commands.add("vocab", "train a WordPiece vocabulary on a text corpus")
    _add_corpus_flags(vocab)
    vocab.add_argument("--size", type=int, required=True, help="vocabulary size, e.g. 30522")
    vocab.add_argument(
        "--out", required=True, help="directory for vocab.txt and tokenizer_config.json"
    )
    vocab.add_argument("--cased", action="store_true", help="keep case (default: lowercase)")
    vocab.add_argument(
        "--min-frequency", type=int, default=2, help="rarest pair worth merging (default 2)"
    )
    vocab.set_defaults(func=run_vocab)


def run_prepare(args: argparse.Namespace) -> None:
    from electra.data.prepare import prepare  # pulls numpy/tqdm in only for this command

    result = prepare(
        args.corpus or [],
        args.vocab,
        args.out,
        seq_len=args.seq_len,
        seed=args.seed,
        workers=args.workers,
        unit_mb=args.shard_mb,
        blanks_separate_docs=args.blanks_separate_docs,
        default_corpus=args.default_corpus,
        overwrite=args.overwrite,
        progress=not args.quiet,
    )
    m = result.manifest
    fill = m["num_tokens"] / max(1, m["num_examples"] * m["seq_len"])
    print(
        f"{args.out}: {m['num_examples']:,} examples of {m['seq_len']} tokens "
        f"({m['num_tokens']:,} tokens, {fill:.0%} filled) "
        f"in {len(m['shards'])} shards from {len(m['sources'])} files"
    )
    if result.built_bytes:
        print(
            f"built {result.built_bytes / 1e6:.1f} MB of text in {result.seconds:.1f} s "
            f"({result.built_bytes / 1e6 / max(result.seconds, 1e-9):.2f} MB/s)"
            + (f"; reused {result.reused_shards} finished shards" if result.reused_shards else "")
        )
    else:
        print("already complete: nothing to do")
    damaged = [s for s in m["sources"] if s["invalid_bytes"]]
    if damaged:
        listed = ", ".join(f"{s['path']} ({s['invalid_bytes']})" for s in damaged[:5])
        more = f" and {len(damaged) - 5} more" if len(damaged) > 5 else ""
        print(f"replaced {m['invalid_bytes']:,} invalid UTF-8 byte sequences: {listed}{more}")


def _corpus_lines(args: argparse.Namespace, stats: ReadStats) -> Iterator[str]:
    files = [default_corpus_file()] if args.default_corpus else find_files(args.corpus)
    for path in files:
        check_file(path)
    for path in files:
        for lines in read_lines(path, stats=stats):
            yield from filter(None, lines)


def run_vocab(args: argparse.Namespace) -> None:
    from electra.tokenizer import SPECIAL_TOKENS, VOCAB_FILE, save_tokenizer, train_tokenizer

    stats = ReadStats()
    tokenizer = train_tokenizer(
        _corpus_lines(args, stats),
        args.size,
        lowercase=not args.cased,
        min_frequency=args.min_frequency,
    )
    if tokenizer.get_vocab_size() <= len(SPECIAL_TOKENS):
        raise UserError("the corpus is empty: no text to learn a vocabulary from")
    save_tokenizer(tokenizer, args.out)
    print(
        f"{Path(args.out) / VOCAB_FILE}: {tokenizer.get_vocab_size():,} tokens "
        f"learned from {stats.lines:,} lines"
        + (
            f"; replaced {stats.invalid_bytes:,} invalid UTF-8 byte sequences"
            if stats.invalid_bytes
            else ""
        )
    )
