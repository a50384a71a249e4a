"""Tiny discriminator checkpoints in the Hugging Face layout for the fine-tuning tests."""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer

from electra import hf
from electra.backbones.models import Discriminator
from electra.config import ModelConfig


def tiny_checkpoint(
    directory: Path, tokenizer: Tokenizer, layers: int = 2, seed: int = 0, positions: int = 256
) -> Path:
    """A randomly initialised discriminator (hidden 32) with its vocabulary, as `electra
    pretrain` would export one."""
    torch.manual_seed(seed)
    config = ModelConfig(
        vocab_size=tokenizer.get_vocab_size(),
        embedding_size=16,
        hidden_size=32,
        num_layers=layers,
        num_heads=2,
        intermediate_size=64,
        max_position_embeddings=positions,
    )
    return hf.save(Discriminator(config), directory, tokenizer=tokenizer)
