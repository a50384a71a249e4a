"""CoNLL files and plain text as sentences of words (and tags).

A CoNLL file has one token per line, whitespace-separated columns (`word POS tag` for chunking,
`word POS chunk tag` for NER), a blank line between sentences and optional `-DOCSTART-` lines. The
tag column is chosen by index (default: the last).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from electra.data.formats import dataset_records, is_dataset
from electra.errors import UserError
from electra.tasks.tables import json_row

TRAIN_FILES = ("train.txt", "eng.train", "train.conll", "train.conllu")
DEV_FILES = ("dev.txt", "valid.txt", "eng.testa", "dev.conll", "dev.conllu", "test.txt",
             "eng.testb", "test.conll", "test.conllu")  # fmt: skip
CONLLU_SUFFIX = ".conllu"


@dataclass(frozen=True)
class Sentence:
    words: tuple[str, ...]
    tags: tuple[str, ...]  # empty for text to tag (read without a tag column)
    line: int  # line number of its first word, for error messages
    columns: tuple[tuple[str, ...], ...] = ()  # each word's line split into columns, when kept


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise UserError(f"{path}: cannot read ({e.strerror})") from None
    except UnicodeDecodeError as e:
        raise UserError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None


def read_conll(
    path: str | Path, tag_column: int | None = -1, keep_columns: bool = False
) -> list[Sentence]:
    """Sentences of a CoNLL file, their tags from column `tag_column` (negative: from the end;
    None: no tags, as in text to tag); `keep_columns` keeps every line's columns."""
    path = Path(path)
    sentences: list[Sentence] = []
    words: list[str] = []
    tags: list[str] = []
    rows: list[tuple[str, ...]] = []
    start = width = 0
    lines = _read_lines(path)
    for number, line in enumerate([*lines, ""], 1):
        columns = line.split()
        if not columns or columns[0] == "-DOCSTART-":
            if words:
                sentences.append(Sentence(tuple(words), tuple(tags), start, tuple(rows)))
                words, tags, rows = [], [], []
            continue
        width = width or len(columns)
        if len(columns) != width:
            raise UserError(
                f"{path}:{number}: {len(columns)} columns, but earlier lines have {width}"
            )
        if tag_column is not None and (
            not -width <= tag_column < width or tag_column in (0, -width)
        ):
            raise UserError(
                f"{path}:{number}: tag_column {tag_column} is not a tag column of a line with "
                f"{width} columns (the word is column 0)"
            )
        start = start if words else number
        words.append(columns[0])
        if tag_column is not None:
            tags.append(columns[tag_column])
        if keep_columns:
            rows.append(tuple(columns))
    if not sentences:
        expected = "word ... tag" if tag_column is not None else "word first, one per line"
        raise UserError(f"{path}: no sentences (expected CoNLL lines: {expected})")
    return sentences


def read_conllu(path: str | Path, field: str | None = "upos", keep_columns: bool = False
                ) -> list[Sentence]:  # fmt: skip
    """Sentences of a CoNLL-U file (Universal Dependencies), read by the `conllu` library: comment
    lines skipped, multiword tokens (`1-2`) and empty nodes (`8.1`) left out so each word is one
    syntactic word, tags from the column named `field` (`upos`, `xpos`; None: no tags)."""
    try:
        import conllu
    except ImportError:
        raise UserError(f"{path}: CoNLL-U files need the conllu package: pip install "
                        "'electra[conllu]'") from None  # fmt: skip
    path = Path(path)
    sentences: list[Sentence] = []
    text = "\n".join(_read_lines(path)) + "\n"
    try:
        parsed = conllu.parse(text)
    except conllu.exceptions.ParseException as e:
        raise UserError(f"{path}: not valid CoNLL-U ({str(e).splitlines()[0]})") from None
    for number, sentence in enumerate(parsed, 1):
        tokens = [token for token in sentence if isinstance(token["id"], int)]
        if not tokens:
            continue
        words = tuple(token["form"] for token in tokens)
        tags = tuple(str(token[field] or "_") for token in tokens) if field else ()
        columns = tuple((w,) for w in words) if keep_columns else ()
        sentences.append(Sentence(words, tags, number, columns))
    if not sentences:
        raise UserError(f"{path}: no sentences (expected CoNLL-U: ID, FORM, ... per line)")
    return sentences


def read_token_lists(path: str | Path, tokens_field: str, tags_field: str | None
                     ) -> list[Sentence]:  # fmt: skip
    """Sentences as word lists with tag lists: a `datasets` folder or hub split (the hub's
    CoNLL-2003 layout: tag ids named by a `ClassLabel`) or JSON Lines (`{"tokens": [...],
    "ner_tags": [...]}`); no tags when `tags_field` is None."""
    path = Path(path) if not str(path).startswith("hf:") else path
    if is_dataset(path):
        records = enumerate(dataset_records(path), 1)
    else:
        lines = _read_lines(Path(path))
        records = ((n, json_row(Path(path), n, line)) for n, line in enumerate(lines, 1)
                   if line.strip())  # fmt: skip
    sentences = []
    for number, record in records:
        words = record.get(tokens_field)
        tags = record.get(tags_field) if tags_field else []
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise UserError(f"{path}:{number}: {tokens_field!r} is not a list of words")
        if tags_field and (not isinstance(tags, list) or len(tags) != len(words)):
            raise UserError(f"{path}:{number}: {tags_field!r} is not a list of one tag per word "
                            f"(fields: {', '.join(record)})")  # fmt: skip
        if words:
            sentences.append(Sentence(tuple(words), tuple(str(t) for t in tags), number))
    if not sentences:
        raise UserError(f"{path}: no sentences")
    return sentences


def read_tagged(path: str | Path, tag_column: int | None = -1, tag_field: str = "upos",
                keep_columns: bool = False, tokens_field: str = "tokens",
                tags_field: str = "ner_tags") -> list[Sentence]:  # fmt: skip
    """A CoNLL-U file (by its `.conllu` suffix: tags from the column named `tag_field`), word and
    tag lists (a `datasets` folder, a hub split or `.jsonl`: `tokens_field`, `tags_field`), or a
    CoNLL file (tags from column `tag_column`); no tags where `tag_column` is None."""
    if is_dataset(path) or Path(path).suffix == ".jsonl":
        return read_token_lists(path, tokens_field, None if tag_column is None else tags_field)
    if Path(path).suffix == CONLLU_SUFFIX:
        return read_conllu(path, None if tag_column is None else tag_field, keep_columns)
    return read_conll(path, tag_column, keep_columns)


def text_sentences(lines: Iterable[str]) -> list[Sentence]:
    """Text to tag: one sentence per non-blank line, its words split on whitespace."""
    return [
        Sentence(tuple(line.split()), (), number)
        for number, line in enumerate(lines, 1)
        if line.split()
    ]


def read_text(path: str | Path) -> list[Sentence]:
    """A plain-text file to tag: one sentence per line (blank lines skipped)."""
    path = Path(path)
    sentences = text_sentences(_read_lines(path))
    if not sentences:
        raise UserError(f"{path}: no sentences (expected one sentence per line)")
    return sentences


def find_file(data_dir: Path, names: Sequence[str], what: str) -> Path:
    for name in names:
        if (data_dir / name).is_file():
            return data_dir / name
    raise UserError(f"{data_dir}: no {what} file (looked for {', '.join(names)})")
