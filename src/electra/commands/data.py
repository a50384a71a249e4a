"""`electra vocab` (text -> WordPiece vocabulary) and `electra prepare` (text -> pre-training
shards). Neither loads PyTorch."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

from electra.commands.flags import add_config_flags, build
from electra.data.options import PrepareConfig, Reading, VocabConfig


def _add_corpus_flags(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--corpus", nargs="+", metavar="PATH",
                        help="text (.txt, .txt.gz: a sentence or paragraph a line, a blank line "
                        "between documents), JSON Lines (.jsonl, .json: a record a document), "
                        ".parquet, datasets folders (save_to_disk), hub names hf:NAME[:CONFIG[:SPLIT]], "
                        "directories of them, or globs")  # fmt: skip
    source.add_argument("--default-corpus", action="store_true",
                        help="the embedded corpus: docstrings of the Python standard library and of "
                        "electra's dependencies")  # fmt: skip
    add_config_flags(parser.add_argument_group("records (JSON Lines, Parquet, datasets)"), Reading)


def register(commands) -> None:
    prepare = commands.add("prepare", "tokenize and pack a text corpus into pre-training shards")
    _add_corpus_flags(prepare)
    prepare.add_argument("--vocab", required=True, help="vocab.txt or a directory holding one")
    prepare.add_argument("--out", required=True, help="directory to write the shards into")
    add_config_flags(prepare, PrepareConfig)
    prepare.add_argument("--overwrite", action="store_true", help="replace a set already prepared in --out")  # fmt: skip
    prepare.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                         help="show a progress bar")  # fmt: skip
    prepare.set_defaults(func=run_prepare)

    vocab = commands.add(
        "vocab", "learn a vocabulary (WordPiece, Unigram or byte-level BPE) from a corpus"
    )
    _add_corpus_flags(vocab)
    vocab.add_argument("--out", required=True, help="directory for vocab.txt and the tokenizer files")  # fmt: skip
    add_config_flags(vocab, VocabConfig)
    vocab.add_argument("--overwrite", action="store_true", help="replace a vocabulary already in --out")  # fmt: skip
    vocab.set_defaults(func=run_vocab)


def run_prepare(args: argparse.Namespace) -> None:
    from electra import api

    result = api.prepare(args.corpus or [], args.vocab, args.out, args.default_corpus,
                         args.overwrite, args.progress, **asdict(build(args, PrepareConfig)),
                         **asdict(build(args, Reading)))  # fmt: skip
    print(result.describe(Path(args.out)))


def run_vocab(args: argparse.Namespace) -> None:
    from electra import api

    vocabulary = api.vocab(args.corpus or [], args.out, args.default_corpus, args.overwrite,
                           **asdict(build(args, VocabConfig)), **asdict(build(args, Reading)))  # fmt: skip
    print(vocabulary.describe())
