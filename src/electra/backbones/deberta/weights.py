"""DeBERTa-V3's encoder in the `transformers` layout (`DebertaV2*` classes, model_type
`deberta-v2`): `config.json` keys, weight names, and the heads' names.

Only DeBERTa-V3's layout is read: relative attention over log buckets with content-to-position and
position-to-content terms, shared attention keys, LayerNorm'd relative embeddings, no absolute
positions and no convolution. A `config.json` that says otherwise (DeBERTa-V1 style, V2-xlarge's
convolution) is refused in one line naming the key.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from electra.backbones import names
from electra.config import ModelConfig
from electra.errors import UserError

# ModelConfig field <- config.json key
CONFIG_KEYS = {
    "vocab_size": "vocab_size",
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
    "position_buckets": "position_buckets",
    "max_relative_positions": "max_relative_positions",
}
# The layout DeBERTa-V3 fixes: config.json key -> (value written, test of a value read)
_LAYOUT = {
    "relative_attention": (True, lambda v: v is True),
    "position_biased_input": (False, lambda v: v is False),
    "pos_att_type": (["p2c", "c2p"], lambda v: _terms(v) == {"p2c", "c2p"}),
    "share_att_key": (True, lambda v: v is True),
    "norm_rel_ebd": ("layer_norm", lambda v: v == "layer_norm"),
    "conv_kernel_size": (0, lambda v: not v),
}
_DEFAULTS = {"relative_attention": False, "position_biased_input": True, "pos_att_type": None,
             "share_att_key": False, "norm_rel_ebd": "none", "conv_kernel_size": 0}  # fmt: skip

# Encoder modules, `transformers` prefix -> ours (both below the `deberta.` prefix).
ENCODER = {
    "embeddings.word_embeddings": "embeddings.word",
    "embeddings.token_type_embeddings": "embeddings.token_type",
    "embeddings.LayerNorm": "embeddings.norm",
    "embeddings.position_ids": None,  # a buffer some versions saved
    "embeddings.position_embeddings": None,  # unused without position_biased_input
    "encoder.rel_embeddings": "encoder.relative",
    "encoder.LayerNorm": "encoder.relative_norm",
    "encoder.layer.{}.attention.output.dense": "encoder.layers.{}.attention.out",
    "encoder.layer.{}.attention.output.LayerNorm": "encoder.layers.{}.attention_norm",
    "encoder.layer.{}.intermediate.dense": "encoder.layers.{}.ffn.up",
    "encoder.layer.{}.output.dense": "encoder.layers.{}.ffn.down",
    "encoder.layer.{}.output.LayerNorm": "encoder.layers.{}.ffn_norm",
}
QKV = ("query_proj", "key_proj", "value_proj")

# The pre-training heads under the official code's names (`mask_predictions`: its replaced-token
# head, which `transformers` does not have; `lm_predictions`: `DebertaV2ForMaskedLM`'s head
# with `legacy` false, the original layout).
DISCRIMINATOR_HEAD = {
    "mask_predictions.LayerNorm": "head.norm",
    "mask_predictions.dense": "head.dense",
    "mask_predictions.classifier": "head.out",
}
GENERATOR_HEAD = {
    "lm_predictions.lm_head.dense": "head.dense",
    "lm_predictions.lm_head.LayerNorm": "head.norm",
    "lm_predictions.lm_head.bias": "head.bias",
}
# `DebertaV2ForMaskedLM`'s default (`legacy` true) layout of the same head, read when loading: the
# decoder is tied to the word embeddings and its bias to the head's.
LEGACY_GENERATOR_HEAD = {
    "cls.predictions.transform.dense": "head.dense",
    "cls.predictions.transform.LayerNorm": "head.norm",
    "cls.predictions.bias": "head.bias",
    "cls.predictions.decoder": None,
}


def _terms(value: Any) -> set[str]:
    if isinstance(value, str):
        return {t.strip() for t in value.lower().split("|")}
    return set(value) if isinstance(value, list) else set()


def config_to_hf(config: ModelConfig) -> dict[str, Any]:
    values = {hf: getattr(config, ours) for ours, hf in CONFIG_KEYS.items()}
    layout = {key: written for key, (written, _) in _LAYOUT.items()}
    return {**values, **layout, "legacy": False, "pooler_hidden_size": config.hidden_size}


# `DebertaV2Config`'s defaults, for keys a config.json leaves out
_TRANSFORMERS_DEFAULTS = dict(
    vocab_size=128100, hidden_size=1536, num_hidden_layers=24, num_attention_heads=24,
    intermediate_size=6144, max_position_embeddings=512, type_vocab_size=0, hidden_act="gelu",
    hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1, layer_norm_eps=1e-7,
    initializer_range=0.02, pad_token_id=0, position_buckets=-1, max_relative_positions=-1,
)  # fmt: skip


def config_from_hf(raw: dict[str, Any]) -> ModelConfig:
    """`ModelConfig` from `config.json`'s values (absent keys take transformers' defaults), when
    they describe DeBERTa-V3's layout."""
    for key, (expected, fits) in _LAYOUT.items():
        if not fits(raw.get(key, _DEFAULTS[key])):
            raise UserError(f"{key} is {raw.get(key, _DEFAULTS[key])!r}; electra reads "
                            f"DeBERTa-V3's layout, {key} {expected!r}")  # fmt: skip
    values = {ours: raw.get(hf, _TRANSFORMERS_DEFAULTS[hf]) for ours, hf in CONFIG_KEYS.items()}
    if values["pad_token_id"] is None:
        values["pad_token_id"] = 0
    hidden, heads = values["hidden_size"], values["num_heads"]
    if raw.get("embedding_size", hidden) != hidden:
        raise UserError("embedding_size differs from hidden_size; electra reads DeBERTa-V3's "
                        "layout, which embeds at the hidden width")  # fmt: skip
    if raw.get("attention_head_size", hidden // heads) != hidden // heads:
        raise UserError(f"attention_head_size {raw['attention_head_size']} is not hidden_size / "
                        f"num_attention_heads ({hidden // heads})")  # fmt: skip
    # V3's generator: as wide as the discriminator, half as deep
    return ModelConfig(backbone="deberta-v3", embedding_size=hidden, generator_fraction=1.0,
                       generator_layers=0.5, **values)  # fmt: skip


def encoder_from_hf(state: dict[str, Tensor]) -> tuple[dict[str, Tensor], list[str]]:
    """Encoder keys (below the prefix) renamed to ours: (our state dict, keys left unmapped)."""
    return names.encoder_from_hf(state, ENCODER, QKV)


def encoder_to_hf(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """Our encoder keys (below the prefix) under `transformers` names, q, k and v split."""
    return names.encoder_to_hf(state, ENCODER, QKV)
