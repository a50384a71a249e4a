"""Finding and reading a user's text corpus, and the embedded default corpus.

The corpus format is ELECTRA's: one sentence or paragraph per line, a blank line between
documents. Files are `.txt` or `.txt.gz`, read in blocks so memory does not depend on file size.
Files that are not text (binary, UTF-16, not UTF-8 at all, a line of megabytes) are refused with
one line naming the file; a few invalid bytes in an otherwise good file are replaced and counted,
because aborting a multi-hour job over one bad byte helps nobody.
"""

from __future__ import annotations

import ast
import gzip
import hashlib
import importlib.metadata
import importlib.util
import os
import random
import sys
import sysconfig
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from electra.errors import UserError
from electra.files import write_text

BLOCK_BYTES = 256 << 10  # bounds the tokenizer's per-block memory (~100 bytes per text byte)
MAX_LINE_BYTES = 1 << 20  # one sentence or paragraph; longer means the file is not line-based text
SNIFF_BYTES = 64 << 10
MAX_INVALID_FRACTION = 0.01  # of the sniffed bytes; more means another encoding, not a bad byte
MIN_INVALID_REFUSED = 8  # so a short file with a stray bad byte is read, not refused
REPLACEMENT = "\ufffd"


def is_gzip(path: Path) -> bool:
    return path.name.endswith(".gz")


def _open(path: Path):
    return gzip.open(path, "rb") if is_gzip(path) else open(path, "rb")


def _invalid_bytes(raw: bytes, text: str) -> int:
    """Byte sequences a lenient UTF-8 decode replaced, not counting genuine U+FFFD characters."""
    return text.count(REPLACEMENT) - raw.count(REPLACEMENT.encode("utf-8"))


def _decode(raw: bytes) -> tuple[str, int]:
    try:
        return raw.decode("utf-8"), 0
    except UnicodeDecodeError:
        text = raw.decode("utf-8", errors="replace")
        return text, _invalid_bytes(raw, text)


def check_file(path: Path) -> None:
    """Refuse, up front and with one line, a file that is not UTF-8 line-based text."""
    try:
        with _open(path) as f:
            head = f.read(SNIFF_BYTES)
    except (OSError, EOFError, zlib.error) as e:
        raise UserError(f"{path}: cannot read ({e})") from None
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UserError(f"{path}: UTF-16 text; expected UTF-8 (convert it, e.g. with iconv)")
    if b"\0" in head:
        raise UserError(f"{path}: binary file (NUL bytes); expected UTF-8 text")
    # Drop a multi-byte character the sniff may have cut in half before judging the encoding.
    text = head[: len(head) - 3].decode("utf-8", errors="replace") if len(head) > 3 else ""
    invalid = _invalid_bytes(head[: len(head) - 3], text)
    if invalid > max(MIN_INVALID_REFUSED, MAX_INVALID_FRACTION * len(head)):
        raise UserError(
            f"{path}: not UTF-8 text ({invalid} invalid bytes in the first {len(head)}); "
            "convert it to UTF-8, e.g. with iconv"
        )


@dataclass
class ReadStats:
    """What reading found; summed into the manifest's per-source figures."""

    text_bytes: int = 0  # uncompressed bytes consumed (of records: their text's)
    lines: int = 0
    invalid_bytes: int = 0
    records: int = 0  # JSONL records, table rows
    skipped_records: int = 0  # malformed ones, skipped when asked


def _long_line(path: Path, offset: int) -> UserError:
    return UserError(
        f"{path}: a line longer than {MAX_LINE_BYTES >> 20} MiB starting near byte {offset}; "
        "expected one sentence or paragraph per line"
    )


def read_lines(
    path: Path, start: int = 0, end: int | None = None, stats: ReadStats | None = None
) -> Iterator[list[str]]:
    """Yield blocks of stripped lines ('' for a blank line): the lines of `path` that start in
    the byte range [start, end), so adjacent ranges split a file at line boundaries without
    overlap. `end=None` reads to the end; `.gz` files can only be read whole."""
    stats = stats if stats is not None else ReadStats()
    try:
        yield from _read_range(path, start, end, stats)
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise UserError(f"{path}: truncated or corrupt compressed file ({e})") from None


def _read_range(path: Path, start: int, end: int | None, stats: ReadStats) -> Iterator[list[str]]:
    with _open(path) as f:
        if start:
            f.seek(start - 1)
            while True:  # the line holding byte start-1 belongs to the range before
                line = f.readline(MAX_LINE_BYTES)
                if not line or line.endswith(b"\n"):
                    break
                if f.tell() - start > MAX_LINE_BYTES:
                    raise _long_line(path, start)
        offset, buffer = f.tell(), b""  # buffer[0] is at file offset `offset`
        while end is None or offset < end:  # a line starts at `offset`
            block = f.read(BLOCK_BYTES)
            buffer += block
            if end is not None and offset + len(buffer) >= end:
                cut = buffer.find(b"\n", max(end - 1 - offset, 0)) + 1  # end of the line at end-1
                if cut:
                    yield _lines(buffer[:cut], stats, offset, path)
                    return
            if not block:
                if buffer:
                    yield _lines(buffer, stats, offset, path)
                return
            cut = buffer.rfind(b"\n") + 1
            if cut:
                yield _lines(buffer[:cut], stats, offset, path)
                offset, buffer = offset + cut, buffer[cut:]
            if len(buffer) > MAX_LINE_BYTES:
                raise _long_line(path, offset)


def _lines(raw: bytes, stats: ReadStats, offset: int, path: Path) -> list[str]:
    """The lines of `raw`, which starts at byte `offset` of `path` and ends on a line's end."""
    text, invalid = _decode(raw)
    if offset == 0:
        text = text.removeprefix("\ufeff")
    lines = [line.strip() for line in text.split("\n")]
    if max(map(len, lines), default=0) > MAX_LINE_BYTES // 4:  # characters take 1-4 bytes
        longest = max(raw.split(b"\n"), key=len)
        if len(longest) > MAX_LINE_BYTES:
            raise _long_line(path, offset + raw.index(longest))
    if text.endswith("\n"):
        lines.pop()
    stats.text_bytes += len(raw)
    stats.invalid_bytes += invalid
    stats.lines += len(lines)
    return lines


# --- The embedded default corpus: English prose from docstrings already on the machine -----------

# Besides the standard library, the packages electra itself depends on: every installation has
# them, and together they give ~14 MB of text, enough that a tiny model's few minutes of
# pre-training generalise instead of memorising (the standard library alone is 1.4 MB).
DEFAULT_CORPUS_PACKAGES = ("numpy", "scipy", "sklearn", "torch", "matplotlib")
_DISTRIBUTIONS = {"sklearn": "scikit-learn"}  # import name -> distribution name, where they differ
_SKIPPED_DIRS = {"site-packages", "dist-packages", "test", "tests", "idlelib", "lib2to3"}
_MIN_DOCSTRING_WORDS = 8
_SHUFFLE_SEED = 0  # documents are shuffled so a held-out tail mixes every source


def default_corpus_roots() -> list[Path]:
    """The standard library and each installed `DEFAULT_CORPUS_PACKAGES` folder, located without
    importing anything."""
    roots = [Path(sysconfig.get_paths()["stdlib"])]
    for name in DEFAULT_CORPUS_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            roots += [Path(p) for p in spec.submodule_search_locations]
    return roots


def _python_sources(root: Path) -> list[Path]:
    sources = []
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if d not in _SKIPPED_DIRS)
        sources += [Path(folder, name) for name in sorted(names) if name.endswith(".py")]
    return sources


def _docstring_lines(docstring: str) -> list[str]:
    """One line per prose paragraph; doctests, indented code blocks and section underlines
    (numpydoc's `-----`) are not prose."""
    lines = []
    for paragraph in docstring.split("\n\n"):
        rows = [row for row in paragraph.split("\n") if row.strip().strip("-=~") or not row.strip()]
        if not rows or not rows[0].strip() or rows[0][:1].isspace():
            continue
        if any(row.lstrip().startswith((">>>", "...")) for row in rows):
            continue
        lines.append(" ".join(row.strip() for row in rows))
    return lines


def module_document(source: Path) -> list[str]:
    """A module's docstrings in source order, as one document: they share a topic, and documents
    of a few lines would pack into examples far shorter than seq_len."""
    try:
        tree = ast.parse(source.read_bytes())
    except (SyntaxError, ValueError, OSError):
        return []  # a source this Python cannot parse (e.g. a test fixture) has no docstrings for us
    documented = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    nodes = sorted(
        (n for n in ast.walk(tree) if isinstance(n, documented)),
        key=lambda n: getattr(n, "lineno", 0),
    )
    document = []
    for node in nodes:
        lines = _docstring_lines(ast.get_docstring(node) or "")
        if sum(len(line.split()) for line in lines) >= _MIN_DOCSTRING_WORDS:
            document += lines
    return document


def default_corpus_documents(
    roots: Sequence[Path] | None = None, max_files: int | None = None, progress: bool = False
) -> list[list[str]]:
    """Documents (lists of lines) from the docstrings of the sources under `roots` (default: the
    standard library and the packages above), parsed with `ast` and never imported, in a seeded
    shuffled order."""
    roots = default_corpus_roots() if roots is None else roots
    sources = [source for root in roots for source in _python_sources(Path(root))][:max_files]
    if not sources:
        raise UserError(
            f"{', '.join(map(str, roots))}: no Python sources to build the default corpus; give a `corpus`"
        )
    from tqdm import tqdm

    bar = tqdm(sources, desc="default corpus (once)", unit="file", disable=not progress)
    documents = [document for source in bar if (document := module_document(source))]
    random.Random(_SHUFFLE_SEED).shuffle(documents)
    return documents


def _sources_fingerprint(roots: Sequence[Path]) -> str:
    """Names the cached corpus after what it was read from: the Python version and the versions
    of the packages, so an upgrade builds a new one."""
    versions = [sys.version.split()[0]]
    for name in DEFAULT_CORPUS_PACKAGES:
        try:
            versions.append(f"{name}={importlib.metadata.version(_DISTRIBUTIONS.get(name, name))}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{name}=absent")
    digest = hashlib.sha256("\n".join([*versions, *map(str, roots)]).encode()).hexdigest()
    return digest[:12]


def default_corpus_file(progress: bool = True) -> Path:
    """The default corpus as a text file in the usual format, written once into the user's cache
    (XDG_CACHE_HOME, else ~/.cache) because parsing the sources takes a minute."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "electra"
    roots = default_corpus_roots()
    path = cache / f"default-corpus-v3-{_sources_fingerprint(roots)}.txt"  # v3: with packages
    if not path.is_file():
        try:
            cache.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UserError(
                f"{cache}: cannot hold the default corpus ({e.strerror}); set XDG_CACHE_HOME to a writable directory"
            ) from None
        documents = default_corpus_documents(roots, progress=progress)
        write_text(path, "\n\n".join("\n".join(doc) for doc in documents) + "\n")
    return path
