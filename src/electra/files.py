"""Writing files so that none is ever seen half-written (a temporary file beside the target,
flushed to disk, then renamed over it: a rename within a directory is atomic), and one writer per
output: a job holds an OS lock on its output for as long as it writes there."""

from __future__ import annotations

import errno
import functools
import inspect
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from filelock import FileLock, Timeout
from safetensors import SafetensorError

from electra.errors import UserError

F = TypeVar("F", bound=Callable[..., Any])
LOCK_NAME = ".electra.lock"  # in an output directory; beside an output file: .NAME.electra.lock
_held: dict[Path, int] = {}  # outputs this process holds, with their nesting depth


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path for the block to write; it replaces `path` only if the block succeeds."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        try:
            yield tmp  # private while partial (safetensors writes 0600)
            with open(tmp, "rb") as written:
                os.fsync(written.fileno())
        except (OSError, RuntimeError, SafetensorError) as e:
            raise UserError(f"{path}: cannot write it ({_reason(e, path)})") from None
        os.chmod(tmp, 0o666 & ~_umask())  # the finished file is readable as any other
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _reason(error: Exception, path: Path) -> str:
    """Why a write failed, in words: a full disk is named even when the library hides it."""
    try:
        if shutil.disk_usage(path.parent).free < 1 << 20:
            return os.strerror(errno.ENOSPC)
    except OSError:
        pass
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | Path, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def absent_reason(path: str | Path) -> str | None:
    """Why `path` cannot be read as an existing file or folder (`no such file or directory`,
    `permission denied` where a folder on the way is closed to us), or None when it can be:
    `Path.exists()` says False for both."""
    try:
        os.stat(path)
    except FileNotFoundError:
        return "no such file or directory"
    except PermissionError:
        return "permission denied (a folder on its path is not readable)"
    except OSError as e:
        return e.strerror or str(e)
    return None


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


def _lock_file(output: Path, file: bool) -> Path:
    return output.with_name(f".{output.name}{LOCK_NAME}") if file else output / LOCK_NAME


@contextmanager
def output_lock(output: str | Path, file: bool = False) -> Iterator[Path]:
    """Hold `output` (a directory, created when missing, or with `file` a file) for this process: a second
    job writing there is refused in one line naming this one. The lock is the kernel's (`flock`,
    through `filelock`), so a killed holder never blocks a rerun; a nested claim by the same
    process passes, and under torchrun only the first process takes it (the others write their
    own files inside)."""
    output = writable_dir(output) if not file else Path(output)
    key = output.resolve()
    if key in _held or os.environ.get("RANK", "0") != "0":
        _held[key] = _held.get(key, 0) + 1
        try:
            yield output
        finally:
            _held[key] -= 1
            if not _held[key]:
                del _held[key]
        return
    lock_file = _lock_file(output, file)
    holder = lock_file.with_name(lock_file.name + ".holder")
    lock = FileLock(lock_file, is_singleton=False)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise UserError(f"{output}: another job is writing here ({_describe_holder(holder)}); "
                        "wait for it to end, or choose another output") from None  # fmt: skip
    except OSError as e:
        raise UserError(f"{output}: cannot lock it for writing ({e.strerror})") from None
    _held[key] = 1
    try:
        write_json(holder, {"pid": os.getpid(), "command": " ".join(sys.argv),
                            "since": time.strftime("%Y-%m-%d %H:%M:%S")})  # fmt: skip
        yield output
    finally:  # the job is done: a job starting now may take a fresh lock file at once
        del _held[key]
        holder.unlink(missing_ok=True)
        lock_file.unlink(missing_ok=True)
        lock.release()


def _describe_holder(holder: Path) -> str:
    try:
        who = json.loads(holder.read_text(encoding="utf-8"))
        return f"pid {who['pid']}, `{who['command']}`, since {who['since']}"
    except (OSError, ValueError, KeyError):
        return "a process that has not said who it is yet"


def one_writer(parameter: str) -> Callable[[F], F]:
    """Run the decorated job holding `output_lock` on its argument `parameter`, its output
    directory."""

    def decorate(job: F) -> F:
        signature = inspect.signature(job)

        @functools.wraps(job)
        def run(*args: Any, **kwargs: Any) -> Any:
            output = signature.bind(*args, **kwargs).arguments.get(parameter)
            if output is None:
                return job(*args, **kwargs)
            with output_lock(output):
                return job(*args, **kwargs)

        return run  # type: ignore[return-value]

    return decorate


def read_json_object(path: Path) -> dict:
    """A JSON file holding one object; anything else is one line naming the file."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(value, dict):
        raise UserError(f"{path}: expected a JSON object")
    return value
