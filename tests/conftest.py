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


@pytest.fixture(scope="session")
def assets() -> Path:
    """Small corpus, vocabulary, CoNLL and SQuAD files shipped with the suite: always there."""
    return ASSETS


# A model small enough for a test to run many forward passes in a second.
TINY_MODEL = dict(vocab_size=99, embedding_size=16, hidden_size=32, num_layers=2, num_heads=4,
                  intermediate_size=37)  # fmt: skip


@pytest.fixture
def tiny_config():
    from electra.config import ModelConfig

    return ModelConfig(**TINY_MODEL, max_position_embeddings=64)


@pytest.fixture
def tiny_checkpoint(tmp_path) -> Path:
    """A randomly initialised discriminator over the assets' vocabulary, saved as `electra
    pretrain` exports one."""
    from finetune_models import tiny_checkpoint as save_checkpoint

    from electra.tokenizer import load_tokenizer

    return save_checkpoint(tmp_path / "discriminator", load_tokenizer(ASSETS / "vocab.txt"))


@pytest.fixture(scope="session")
def prepared(tmp_path_factory) -> Path:
    """Pre-training shards of the assets' corpus (32-token rows, a 400-token vocabulary)."""
    from pretrain_data import make_prepared

    return make_prepared(tmp_path_factory.mktemp("prepared"))
