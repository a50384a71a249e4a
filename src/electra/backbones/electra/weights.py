"""ELECTRA's encoder in the Hugging Face layout: `config.json` keys and weight names.

Names are mapped by module prefix, q, k and v fused (`electra.backbones.names`). Keys are those below the model's `electra.`
prefix; heads are mapped by the model classes themselves (`hf_head`).
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from electra.backbones import names
from electra.config import ModelConfig

# ModelConfig field <- config.json key
CONFIG_KEYS = {
    "vocab_size": "vocab_size",
    "embedding_size": "embedding_size",
    "hidden_size": "hidden_size",
    "num_layers": "num_hidden_layers",
    "num_heads": "num_attention_heads",
    "intermediate_size": "intermediate_size",
    "max_position_embeddings": "max_position_embeddings",
    "type_vocab_size": "type_vocab_size",
    "hidden_act": "hidden_act",
    "hidden_dropout": "hidden_dropout_prob",
    "attention_dropout": "attention_probs_dropout_prob",
    "layer_norm_eps": "layer_norm_eps",
    "initializer_range": "initializer_range",
    "pad_token_id": "pad_token_id",
}

# Encoder modules, Hugging Face prefix -> ours (both below the `electra.` prefix).
ENCODER = {
    "embeddings.word_embeddings": "embeddings.word",
    "embeddings.position_embeddings": "embeddings.position",
    "embeddings.token_type_embeddings": "embeddings.token_type",
    "embeddings.LayerNorm": "embeddings.norm",
    "embeddings.position_ids": None,  # a buffer older transformers versions saved
    "embeddings.token_type_ids": None,
    "embeddings_project": "projection",
    "encoder.layer.{}.attention.output.dense": "encoder.layers.{}.attention.out",
    "encoder.layer.{}.attention.output.LayerNorm": "encoder.layers.{}.attention_norm",
    "encoder.layer.{}.intermediate.dense": "encoder.layers.{}.ffn.up",
    "encoder.layer.{}.output.dense": "encoder.layers.{}.ffn.down",
    "encoder.layer.{}.output.LayerNorm": "encoder.layers.{}.ffn_norm",
}
QKV = ("query", "key", "value")  # fused, in this order, into encoder.layers.{}.attention.qkv


def config_to_hf(config: ModelConfig) -> dict[str, Any]:
    values = {hf: getattr(config, ours) for ours, hf in CONFIG_KEYS.items()}
    return {**values, "tie_word_embeddings": True}


def config_from_hf(raw: dict[str, Any]) -> ModelConfig:
    """`ModelConfig` from `config.json`'s values; absent keys take transformers' defaults."""
    defaults = ModelConfig()
    values = {ours: raw.get(hf, getattr(defaults, ours)) for ours, hf in CONFIG_KEYS.items()}
    if values["pad_token_id"] is None:
        values["pad_token_id"] = 0
    return ModelConfig(**values)


def encoder_from_hf(state: dict[str, Tensor]) -> tuple[dict[str, Tensor], list[str]]:
    """Encoder keys (below the prefix) renamed to ours: (our state dict, keys left unmapped)."""
    return names.encoder_from_hf(state, ENCODER, QKV)


def encoder_to_hf(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """Our encoder keys (below the prefix) under Hugging Face names, q, k and v split."""
    return names.encoder_to_hf(state, ENCODER, QKV)
