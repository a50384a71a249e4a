"""Labelled text tables, one example per row: GLUE's TSVs, CSV and JSON Lines files, and
`datasets` folders and hub splits (their `ClassLabel` names as labels).

TSVs are read without quote processing, as GLUE's own readers do (a `"` is part of the text);
CSVs with standard quoting; JSON Lines one object per line. A header line names the columns
unless the caller names them (CoLA's train and dev files have none). Every problem is a
`UserError` naming the file and line.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from electra.data.formats import dataset_records, is_dataset
from electra.errors import UserError

LABELS_SEPARATOR = "|"  # between the labels of one example (multi-label), in a label cell
csv.field_size_limit(sys.maxsize)  # MNLI's parse columns and long user texts exceed the default


@dataclass(frozen=True)
class Example:
    index: int  # position in its file, the `index` of prediction files
    texts: tuple[str, ...]
    label: str | None  # as written in the file; None in test sets
    line: int  # line number in the file, for error messages


def _rows(path: Path) -> Iterator[tuple[int, list[str] | dict]]:
    """(line number, row) pairs; TSV/CSV rows are lists after the header, JSONL rows and the
    records of a `datasets` folder or hub split (`hf:NAME:CONFIG:SPLIT`) dicts, numbered from 1."""
    if is_dataset(path):
        yield from enumerate(dataset_records(path), 1)
        return
    suffix = path.suffix.lower()
    try:
        handle = path.open(encoding="utf-8-sig", newline="")  # -sig: MRPC's byte-order mark
    except OSError as e:
        raise UserError(f"{path}: cannot open ({e.strerror})") from None
    with handle:
        try:
            if suffix in (".jsonl", ".json"):
                for number, line in enumerate(handle, 1):
                    if line.strip():
                        yield number, json_row(path, number, line)
                return
            if suffix == ".csv":
                reader = csv.reader(handle)
            else:
                reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
            for row in reader:
                if row:
                    yield reader.line_num, row
        except UnicodeDecodeError as e:
            raise UserError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
        except csv.Error as e:
            raise UserError(f"{path}: not valid {suffix[1:].upper()} ({e})") from None


def json_row(path: Path, number: int, line: str) -> dict:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as e:
        raise UserError(f"{path}:{number}: not valid JSON ({e.msg})") from None
    if not isinstance(row, dict):
        raise UserError(f"{path}:{number}: expected a JSON object per line")
    return row


def read_examples(
    path: str | Path,
    text_columns: Sequence[str],
    label_column: str | None,
    header: tuple[str, ...] = (),
    skip_malformed: bool = False,
) -> list[Example]:
    """Examples of one file; `label_column=None` for unlabelled (test) files.

    `header` names the columns of a file that has no header line; otherwise the first line does.
    """
    path = Path(path)
    wanted = [*text_columns, *([label_column] if label_column else [])]
    examples: list[Example] = []
    names: list[str] | None = list(header) or None
    for number, row in _rows(path):
        if isinstance(row, dict):
            missing = [c for c in wanted if c not in row]
            if missing:
                raise UserError(f"{path}:{number}: no {quoted(missing)} field; found {quoted(row)}")
            values = {c: _cell(path, number, c, row[c], c == label_column) for c in wanted}
        elif names is None:
            names = [n.strip() for n in row]
            missing = [c for c in wanted if c not in names]
            if missing:
                raise UserError(
                    f"{path}:{number}: no {quoted(missing)} column; found {quoted(names)}"
                )
            continue
        elif len(row) != len(names):
            if skip_malformed:
                continue
            raise UserError(
                f"{path}:{number}: expected {len(names)} fields ({quoted(names)}), found {len(row)}"
            )
        else:
            values = dict(zip(names, row, strict=True))
        examples.append(
            Example(
                index=len(examples),
                texts=tuple(values[c] for c in text_columns),
                label=values[label_column].strip() if label_column else None,
                line=number,
            )
        )
    if not examples:
        raise UserError(f"{path}: no examples (the file is empty or holds only a header)")
    return examples


def quoted(names: Sequence[str] | dict) -> str:
    return ", ".join(repr(n) for n in names)


def _cell(path: Path, number: int, name: str, value: Any, label: bool) -> str:
    """A JSON record's value as the text a column holds: texts must be strings; a label may
    also be a number (`1`, `0.5`); null is refused, never read as the word "null"."""
    if isinstance(value, str):
        return value
    if label and isinstance(value, int | float) and not isinstance(value, bool):
        return json.dumps(value)
    if label and isinstance(value, list) and all(isinstance(v, str | int) for v in value):
        return LABELS_SEPARATOR.join(map(str, value))  # several labels, as a table writes them
    kind = "null" if value is None else type(value).__name__
    expected = "a string or a number" if label else "a string of text"
    raise UserError(f"{path}:{number}: {name!r} is {kind}, expected {expected}")
