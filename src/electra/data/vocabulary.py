"""`electra vocab`: a corpus -> a WordPiece vocabulary, saved in every file `transformers` reads."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from electra.data.corpus import ReadStats, default_corpus_file
from electra.data.formats import check, find_files, read_blocks
from electra.data.options import Reading, VocabConfig
from electra.errors import UserError
from electra.files import one_writer, writable_dir
from electra.tokenizer import SPECIAL_TOKENS, VOCAB_FILE, save_tokenizer, train_tokenizer


@dataclass
class Vocabulary:
    path: Path  # the vocab.txt written
    size: int
    lines: int  # corpus lines learned from
    invalid_bytes: int  # invalid UTF-8 byte sequences replaced while reading

    def describe(self) -> str:
        replaced = (f"; replaced {self.invalid_bytes:,} invalid UTF-8 byte sequences"
                    if self.invalid_bytes else "")  # fmt: skip
        return f"{self.path}: {self.size:,} tokens learned from {self.lines:,} lines{replaced}"


def _lines(files: Sequence[Path], stats: ReadStats, reading: Reading) -> Iterator[str]:
    for path in files:
        for lines in read_blocks(path, stats=stats, reading=reading):
            yield from filter(None, lines)


@one_writer("out")
def learn_vocabulary(
    corpus: Sequence[str],
    out: str | Path,
    config: VocabConfig | None = None,
    default_corpus: bool = False,
    reading: Reading | None = None,
    overwrite: bool = False,
) -> Vocabulary:
    """Learn a vocabulary from `corpus` (files, directories, globs; or the embedded corpus) and
    save it under `out`; a vocabulary already there is replaced only with `overwrite`."""
    config, reading = config or VocabConfig(), reading or Reading()
    writable_dir(out)
    if not overwrite and any(
        (Path(out) / name).exists() for name in (VOCAB_FILE, "tokenizer.json")
    ):
        raise UserError(f"{out}: holds a vocabulary already (give `overwrite` to replace it, or "
                        "another `out`)")  # fmt: skip
    files = [default_corpus_file()] if default_corpus else find_files(corpus)
    for path in files:
        check(path, reading)
    stats = ReadStats()
    tokenizer = train_tokenizer(_lines(files, stats, reading), config.size, lowercase=not config.cased,
                                min_frequency=config.min_frequency)  # fmt: skip
    if tokenizer.get_vocab_size() <= len(SPECIAL_TOKENS):
        raise UserError("the corpus is empty: no text to learn a vocabulary from")
    save_tokenizer(tokenizer, out)
    return Vocabulary(Path(out) / VOCAB_FILE, tokenizer.get_vocab_size(), stats.lines,
                      stats.invalid_bytes)  # fmt: skip
