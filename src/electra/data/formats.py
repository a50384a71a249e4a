"""Corpora in the formats people have: plain text, JSON Lines, Parquet, and Hugging Face
`datasets` folders (or hub names), all read as one stream of lines and document ends.

Every reader yields blocks of lines: a string is a line of text ('' a blank line, which ends a
document when blank lines separate documents), None is the end of a document whatever that
setting (a JSONL record or a table row is one document). So the same text gives the same
examples in any format. Plain text and uncompressed JSON Lines can be split into byte ranges for
parallel work, and Parquet and Arrow files into runs of row groups or record batches; compressed
files are read whole. Tables are streamed a row group or batch at a time, so memory never depends
on a file's size.

A JSONL record's text is at `text_field`; newlines inside it separate its lines, as in a `.txt`
file. A malformed record stops the job with one line naming `file:line`, unless the reader is
asked to skip bad records, which it counts.
"""

from __future__ import annotations

import glob
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from electra.data.corpus import ReadStats, check_file, read_lines
from electra.data.options import Reading
from electra.errors import UserError
from electra.files import absent_reason

TEXT = (".txt", ".txt.gz")
JSONL = (".jsonl", ".jsonl.gz", ".json", ".json.gz")
PARQUET = (".parquet",)
ARROW = (".arrow",)  # the files of a `datasets` folder made by `save_to_disk`
SUFFIXES = TEXT + JSONL + PARQUET + ARROW
Line = str | None  # None: the end of a document


def kind(path: Path) -> str:
    name = path.name.lower()
    for label, suffixes in (
        ("text", TEXT),
        ("jsonl", JSONL),
        ("parquet", PARQUET),
        ("arrow", ARROW),
    ):
        if name.endswith(suffixes):
            return label
    return "text"  # a file named explicitly is read as text, as before formats existed


def splittable(path: Path) -> bool:
    """Whether a file can be read from a byte offset (for parallel units)."""
    return kind(path) in ("text", "jsonl") and not path.name.endswith(".gz")


def check(path: Path, reading: Reading) -> None:
    """Refuse, up front and in one line, a file that cannot be read as its format."""
    if kind(path) in ("text", "jsonl"):
        check_file(path)
        return
    names = _table_columns(path)
    if reading.text_field not in names:
        raise UserError(
            f"{path}: no column {reading.text_field!r} (columns: {', '.join(names)}); "
            "give the text's column as text_field"
        )


def read_blocks(
    path: Path, start: int = 0, end: int | None = None, stats: ReadStats | None = None,
    reading: Reading | None = None,
) -> Iterator[list[Line]]:  # fmt: skip
    """Blocks of lines and document ends of the byte range [start, end) of `path` (whole files
    for formats that cannot be split)."""
    stats = stats if stats is not None else ReadStats()
    reading = reading or Reading()
    label = kind(path)
    if label == "text":
        yield from read_lines(path, start, end, stats)
    elif label == "jsonl":
        yield from _jsonl_blocks(path, start, end, stats, reading)
    else:
        for first, texts in _table_batches(path, label, reading.text_field, start, end):
            yield _documents(
                texts, stats, reading, lambda row, at=first: f"{path}: row {at + row + 1}"
            )


def _documents(texts: Iterable[Any], stats: ReadStats, reading: Reading, where: Any) -> list[Line]:
    """Records' texts -> their lines, each record ending its document; bad ones per `reading`."""
    lines: list[Line] = []
    for row, text in enumerate(texts):
        if not isinstance(text, str):
            problem = (
                "no text (null)" if text is None else f"{reading.text_field!r} is not a string"
            )
            _bad_record(where(row), problem, stats, reading)
            continue
        stats.text_bytes += len(text.encode("utf-8"))
        stats.records += 1
        record_lines = text.split("\n")
        stats.lines += len(record_lines)  # the text's lines, as a text file's are counted
        lines += [line.strip() for line in record_lines]
        lines.append(None)
    return lines


def _bad_record(where: str, problem: str, stats: ReadStats, reading: Reading) -> None:
    if not reading.skip_bad_records:
        raise UserError(f"{where}: {problem} (pass skip_bad_records to skip such records)")
    stats.skipped_records += 1


def _jsonl_blocks(
    path: Path, start: int, end: int | None, stats: ReadStats, reading: Reading
) -> Iterator[list[Line]]:
    raw_stats = ReadStats()  # the raw lines; `stats` counts the records' text instead
    for records in read_lines(path, start, end, raw_stats):
        first = raw_stats.lines - len(records)  # index in the range of this block's first line
        texts: list[Any] = []
        for offset, raw in enumerate(records):
            if not raw:
                continue  # blank lines between records
            where = _Where(path, start, first + offset)
            try:
                record = json.loads(raw)
            except json.JSONDecodeError as e:
                _bad_record(str(where), f"not JSON ({e.msg}); expected one object per line", stats, reading)  # fmt: skip
                continue
            if not isinstance(record, dict) or reading.text_field not in record:
                found = ", ".join(record) if isinstance(record, dict) else type(record).__name__
                _bad_record(str(where), f"no {reading.text_field!r} field (found: {found})", stats, reading)  # fmt: skip
                continue
            texts.append((record[reading.text_field], where))
        wheres = [where for _, where in texts]
        block = _documents(
            (t for t, _ in texts), stats, reading, lambda row, at=wheres: str(at[row])
        )
        stats.invalid_bytes += raw_stats.invalid_bytes
        raw_stats.invalid_bytes = 0
        yield block


@dataclass
class _Where:
    """`file:line` of a record, its line number counted only when an error needs it."""

    path: Path
    start: int  # the byte where the range being read begins
    index: int  # the record's line index in that range

    def __str__(self) -> str:
        before = 0
        if self.start:  # the range opens on the first line that starts at or after `start`
            with open(self.path, "rb") as f:
                head = f.read(self.start)
            before = head.count(b"\n") + (not head.endswith(b"\n"))
        return f"{self.path}:{before + self.index + 1}"


def _pyarrow() -> Any:
    try:
        import pyarrow
        import pyarrow.parquet  # noqa: F401 (a submodule pyarrow does not import itself)
    except ImportError:
        raise UserError(
            "reading Parquet or datasets corpora needs pyarrow: pip install 'electra[parquet]'"
        ) from None
    return pyarrow


def _arrow_reader(path: Path) -> Any:
    pa = _pyarrow()
    try:
        return pa.ipc.open_stream(pa.memory_map(str(path)))
    except pa.ArrowInvalid:  # `datasets` writes streams; other tools write the file format
        return pa.ipc.open_file(pa.memory_map(str(path)))


def _table_columns(path: Path) -> list[str]:
    pa = _pyarrow()
    try:
        if kind(path) == "parquet":
            return list(pa.parquet.ParquetFile(path).schema_arrow.names)
        return list(_arrow_reader(path).schema.names)
    except (pa.ArrowException, OSError) as e:
        raise UserError(f"{path}: not a readable {kind(path)} file ({e})") from None


def table_parts(path: Path) -> list[int] | None:
    """The bytes of each part a table file is read in (Parquet row groups, Arrow record
    batches), so that large tables split into parallel units; None for text files."""
    label = kind(path)
    if label not in ("parquet", "arrow"):
        return None
    pa = _pyarrow()
    try:
        if label == "parquet":
            meta = pa.parquet.ParquetFile(path).metadata
            return [meta.row_group(i).total_byte_size for i in range(meta.num_row_groups)]
        return [batch.nbytes for batch in _arrow_reader(path)]  # memory-mapped: no copy
    except (pa.ArrowException, OSError) as e:
        raise UserError(f"{path}: not a readable {label} file ({e})") from None


def _table_batches(
    path: Path, label: str, field: str, start: int = 0, end: int | None = None
) -> Iterator[tuple[int, list[Any]]]:
    """(first row, the `field` column) of each row group or record batch in [start, end)."""
    pa = _pyarrow()
    try:
        if label == "parquet":
            parquet = pa.parquet.ParquetFile(path)
            groups = list(range(parquet.metadata.num_row_groups))[start:end]
            first = sum(parquet.metadata.row_group(i).num_rows for i in range(start))
            for batch in parquet.iter_batches(columns=[field], row_groups=groups, batch_size=1024):
                yield first, batch.column(0).to_pylist()
                first += batch.num_rows
        else:
            first = 0
            for i, batch in enumerate(_arrow_reader(path)):
                if start <= i and (end is None or i < end):
                    yield first, batch.column(field).to_pylist()
                first += batch.num_rows
    except (pa.ArrowException, OSError) as e:
        raise UserError(f"{path}: cannot read ({e})") from None


def _files_under(directory: Path) -> list[Path]:
    found = dataset_folder_files(directory)
    if found is not None:
        return found
    return sorted(
        p for p in directory.rglob("*") if p.is_file() and p.name.lower().endswith(SUFFIXES)
    )


def find_files(patterns: Sequence[str]) -> list[Path]:
    """Expand files, directories (their corpus files, recursively; a `datasets` folder's Arrow
    files), globs and hub names (`hf:...`), in the order given, each pattern's matches sorted; a
    pattern that matches nothing is an error."""
    found: dict[Path, None] = {}
    for pattern in patterns:
        path = Path(pattern).expanduser()
        if pattern.startswith(HUB_PREFIX) and not path.exists():
            matches = hub_files(pattern)
        elif path.is_file():
            matches = [path]
        elif path.is_dir():
            matches = _files_under(path)
            if not matches:
                raise UserError(
                    f"{pattern}: directory holds no corpus files ({', '.join(SUFFIXES)})"
                )
        else:
            matches = sorted(
                p for p in map(Path, glob.glob(str(path), recursive=True)) if p.is_file()
            )
            if not matches and glob.escape(str(path)) == str(path):  # a plain path, not a glob
                raise UserError(f"{pattern}: {absent_reason(path) or 'not a file or folder'}")
            if not matches:
                raise UserError(f"{pattern}: matches no file")
        found.update(dict.fromkeys(matches))
    if not found:
        raise UserError("no corpus files given (give `corpus` paths, or default_corpus)")
    return list(found)


# --- Hugging Face `datasets`: folders made by save_to_disk, and hub names ---------------------

HUB_PREFIX = "hf:"


def dataset_folder_files(directory: Path) -> list[Path] | None:
    """The Arrow files of a `save_to_disk` folder, in order; None when `directory` is not one."""
    state = directory / "state.json"
    if (directory / "dataset_dict.json").is_file():
        splits = json.loads((directory / "dataset_dict.json").read_text(encoding="utf-8"))
        names = ", ".join(str(directory / s) for s in splits.get("splits", []))
        raise UserError(f"{directory}: a DatasetDict; give one split's folder: {names}")
    if not state.is_file():
        return None
    try:
        files = [
            f["filename"] for f in json.loads(state.read_text(encoding="utf-8"))["_data_files"]
        ]
    except (ValueError, KeyError, TypeError) as e:
        raise UserError(f"{state}: not a datasets state file ({e!r})") from None
    return [directory / name for name in files]


def is_dataset(path: str | Path) -> bool:
    """A `datasets` folder (save_to_disk) or a hub name (`hf:...`)."""
    if str(path).startswith(HUB_PREFIX):
        return True
    path = Path(path)
    return path.is_dir() and dataset_folder_files(path) is not None


def dataset_records(path: str | Path) -> Iterator[dict[str, Any]]:
    """The rows of a `datasets` folder or hub split as dicts, `ClassLabel` columns (and lists of
    them, as the hub's CoNLL-2003 tags) given by their names rather than their ids."""
    files = (
        hub_files(str(path))
        if str(path).startswith(HUB_PREFIX)
        else dataset_folder_files(Path(path))
    )
    names = _class_labels(files[0].parent / "dataset_info.json") if files else {}

    def named(column: str, value: Any) -> Any:
        labels = names.get(column)
        if labels is None:
            return value
        if isinstance(value, list):
            return [labels[v] if isinstance(v, int) and 0 <= v < len(labels) else v for v in value]
        return labels[value] if isinstance(value, int) and 0 <= value < len(labels) else value

    pa = _pyarrow()
    for file in files:
        try:
            for batch in _arrow_reader(file):
                for row in batch.to_pylist():
                    yield {k: named(k, v) for k, v in row.items()}
        except (pa.ArrowException, OSError) as e:
            raise UserError(f"{file}: cannot read ({e})") from None


def _class_labels(info: Path) -> dict[str, list[str]]:
    """Each `ClassLabel` column's names (also inside a `Sequence`), from dataset_info.json."""
    try:
        features = json.loads(info.read_text(encoding="utf-8")).get("features") or {}
    except (OSError, ValueError):
        return {}
    found = {}
    for column, feature in features.items():
        inner = feature.get("feature", feature) if isinstance(feature, dict) else {}
        if isinstance(inner, dict) and inner.get("_type") == "ClassLabel" and inner.get("names"):
            found[column] = [str(n) for n in inner["names"]]
    return found


def hub_files(name: str) -> list[Path]:
    """`hf:NAME[:CONFIG[:SPLIT]]` (split default train): the dataset downloaded into the
    `datasets` cache (needs the `datasets` extra and a network), as its Arrow files."""
    parts = name.removeprefix(HUB_PREFIX).split(":")
    if not parts[0] or len(parts) > 3:
        raise UserError(f"{name}: expected hf:NAME, hf:NAME:CONFIG or hf:NAME:CONFIG:SPLIT")
    dataset, config, split = (parts + [None, None])[:3]
    try:
        import datasets
    except ImportError:
        raise UserError(
            f"{name}: hub datasets need the datasets extra: pip install 'electra[datasets]'"
        ) from None
    try:
        loaded = datasets.load_dataset(dataset, config or None, split=split or "train")
    except Exception as e:  # offline, unknown name, bad config: the library raises many types
        raise UserError(f"{name}: cannot load from the hub ({type(e).__name__}: {e})") from None
    return [Path(f["filename"]) for f in loaded.cache_files]
