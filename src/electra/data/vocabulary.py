"""`electra vocab`: a corpus -> a vocabulary (WordPiece, Unigram or byte-level BPE), saved in every
file `transformers` reads."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from electra.data.corpus import ReadStats, default_corpus_file
from electra.data.formats import check, find_files, read_blocks
from electra.data.options import Reading, VocabConfig
from electra.data.scripts import sample, stripping_damage
from electra.errors import UserError
from electra.files import one_writer, writable_dir
from electra.tokenizer import (
    SPECIAL_TOKENS,
    TOKENIZER_FILE,
    VOCAB_FILE,
    save_tokenizer,
    train_tokenizer,
)


@dataclass
class Vocabulary:
    path: Path  # the vocab.txt written
    size: int
    lines: int  # corpus lines learned from
    invalid_bytes: int  # invalid UTF-8 byte sequences replaced while reading
    note: str = ""  # what the normalisation chose for the corpus's scripts, when it had to

    def describe(self) -> str:
        replaced = (f"; replaced {self.invalid_bytes:,} invalid UTF-8 byte sequences"
                    if self.invalid_bytes else "")  # fmt: skip
        learned = f"{self.path}: {self.size:,} tokens learned from {self.lines:,} lines{replaced}"
        return f"{self.note}\n{learned}" if self.note else learned


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
    if not overwrite and any((Path(out) / name).exists() for name in (VOCAB_FILE, TOKENIZER_FILE)):
        raise UserError(f"{out}: holds a vocabulary already (give `overwrite` to replace it, or "
                        "another `out`)")  # fmt: skip
    files = [default_corpus_file()] if default_corpus else find_files(corpus)
    for path in files:
        check(path, reading)
    strip, note = _accent_stripping(files, reading, config)
    stats = ReadStats()
    tokenizer = train_tokenizer(_lines(files, stats, reading), config.size, config.lowercase,
                                config.min_frequency, strip, config.algorithm, config.normalize,
                                config.byte_fallback)  # fmt: skip
    if tokenizer.get_vocab_size() <= len(SPECIAL_TOKENS):
        raise UserError("the corpus is empty: no text to learn a vocabulary from")
    save_tokenizer(tokenizer, out)
    saved = VOCAB_FILE if config.algorithm == "wordpiece" else TOKENIZER_FILE
    return Vocabulary(Path(out) / saved, tokenizer.get_vocab_size(), stats.lines,
                      stats.invalid_bytes, note)  # fmt: skip


def _accent_stripping(
    files: Sequence[Path], reading: Reading, config: VocabConfig
) -> tuple[bool | None, str]:
    """Whether to strip accents, and a line saying why when the corpus decided it: by default
    they are stripped when lowercasing (BERT uncased) unless a sample shows that stripping would
    damage a script other than Latin, Greek or Cyrillic; an explicit `strip_accents` is obeyed,
    with a warning when it damages one."""
    if config.strip_accents is False or (config.strip_accents is None and not config.lowercase):
        return config.strip_accents, ""
    found = stripping_damage(sample(files, reading), config.lowercase)
    damaged = found.damaged()
    if not damaged:
        return config.strip_accents, ""
    if config.strip_accents is None:
        return False, (f"electra: kept accents: stripping them would change "
                       f"{found.describe(damaged[0])}; --strip-accents strips them anyway")  # fmt: skip
    return True, f"electra: warning: --strip-accents changes {found.describe(damaged[0])}"
