"""Files are written whole or not at all, private while partial, readable as any other file
once finished, and a failed write is one line naming the file and the reason."""

from __future__ import annotations

import errno
import os
import stat

import pytest
import torch
from safetensors import SafetensorError
from safetensors.torch import save_file

from electra.errors import UserError
from electra.files import atomic_path


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_weights_are_private_while_written_and_follow_the_umask_once_done(tmp_path, umask):
    old = os.umask(umask)
    try:
        target = tmp_path / "model.safetensors"
        with atomic_path(target) as tmp:
            save_file({"w": torch.zeros(3)}, tmp)
            assert mode(tmp) == 0o600  # safetensors writes privately; nobody reads it half-done
        assert mode(target) == 0o666 & ~umask
    finally:
        os.umask(old)


@pytest.mark.parametrize(
    "error, reason",
    [
        (OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), "No space left on device"),
        (OSError(errno.EACCES, os.strerror(errno.EACCES)), "Permission denied"),
        (SafetensorError("Error while serializing: IoError"), "Error while serializing: IoError"),
    ],
    ids=["disk full", "permission", "safetensors"],
)
def test_a_failed_write_is_one_line_and_leaves_nothing(tmp_path, error, reason):
    target = tmp_path / "model.safetensors"
    with pytest.raises(UserError) as refused, atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise error
    assert str(refused.value) == f"{target}: cannot write it ({reason})"
    assert list(tmp_path.iterdir()) == []


def test_a_path_behind_a_closed_folder_says_permission_not_absence(tmp_path, monkeypatch):
    """(Root reads every folder, so the closed one is played by `os.stat`.)"""
    from electra.files import absent_reason
    from electra.tokenizer import load_tokenizer

    assert absent_reason(tmp_path / "nope") == "no such file or directory"
    assert absent_reason(tmp_path) is None

    def closed(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(os, "stat", closed)
    assert absent_reason(tmp_path / "vocab.txt").startswith("permission denied")
    with pytest.raises(UserError, match="vocab.txt: permission denied"):
        load_tokenizer(tmp_path / "vocab.txt")
