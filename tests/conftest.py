"""Shared fixtures: the suite's own assets (tests/assets), the `../shared/data` datasets (real-data
checks, skipped when absent), offline HF."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
ASSETS = REPO / "tests" / "assets"  # made by tests/assets/make_assets.py; see its docstring
SHARED_DATA = Path(os.environ.get("ELECTRA_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture
def shared_data() -> Path:
    """The public datasets in ../shared/data; a user's clone has none, so tests needing it skip."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} not found: these tests need the project's shared datasets")
    return SHARED_DATA


@pytest.fixture
def assets() -> Path:
    """Small corpus, vocabulary, CoNLL and SQuAD files shipped with the suite: always there."""
    return ASSETS
