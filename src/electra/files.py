"""Writing files so that none is ever seen half-written: a temporary file beside the target,
flushed to disk, then renamed over it (a rename within a directory is atomic)."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from electra.errors import UserError


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path for the block to write; it replaces `path` only if the block succeeds."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        yield tmp
        with open(tmp, "rb") as written:
            os.fsync(written.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | Path, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def writable_dir(path: str | Path) -> Path:
    """`path` as a directory this process can write into, created when missing: checked before
    any long work, so a bad output path costs one line and not an hour."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".electra-write-check"):
            pass
    except FileExistsError:
        raise UserError(f"{path}: exists and is not a directory") from None
    except OSError as e:
        raise UserError(f"{path}: cannot write here ({e.strerror})") from None
    return path
