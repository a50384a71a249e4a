"""Hugging Face ELECTRA layout <-> our modules. The only file that knows Hugging Face names.

A checkpoint directory holds `config.json`, weights (`model.safetensors`, a sharded
`model.safetensors.index.json`, or `pytorch_model.bin`) and `vocab.txt`. Names are mapped by module
prefix through the tables below (`{}` is a layer index, `None` drops a key on purpose); q, k and v
are fused into one matrix on our side. After mapping, key sets are compared both ways and shapes
checked, and any difference is an error that names the keys: nothing is skipped silently.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import re
from pathlib import Path
from typing import Any, TypeVar

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from tokenizers import Tokenizer
from torch import Tensor, nn

from electra.config import ModelConfig
from electra.errors import UserError
from electra.files import absent_reason, atomic_path, write_json
from electra.model import (
    Discriminator,
    EncoderOnly,
    Generator,
    QuestionAnswerer,
    SequenceClassifier,
    TokenClassifier,
)
from electra.tokenizer import save_tokenizer

M = TypeVar("M", bound=nn.Module)

CONFIG_FILE = "config.json"
SAFETENSORS_FILE = "model.safetensors"
CHECKSUM_KEY = "electra_sha256"  # in the safetensors metadata: see `weights_sha256`
SAFETENSORS_INDEX_FILE = "model.safetensors.index.json"
PYTORCH_FILE = "pytorch_model.bin"

# ModelConfig field <- config.json key
_CONFIG_KEYS = {
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
_ENCODER = {
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
_QKV = ("query", "key", "value")  # fused, in this order, into encoder.layers.{}.attention.qkv
_QKV_PATTERN = re.compile(
    r"electra\.encoder\.layer\.(\d+)\.attention\.self\.(query|key|value)\.(weight|bias)"
)

# Heads: our model class -> (Hugging Face architecture, {HF prefix: our prefix}).
_HEADS: dict[type[nn.Module], tuple[str, dict[str, str | None]]] = {
    Discriminator: (
        "ElectraForPreTraining",
        {
            "discriminator_predictions.dense": "head.dense",
            "discriminator_predictions.dense_prediction": "head.out",
        },
    ),
    Generator: (
        "ElectraForMaskedLM",
        {
            "generator_predictions.dense": "head.dense",
            "generator_predictions.LayerNorm": "head.norm",
            "generator_lm_head.bias": "head.bias",
            "generator_lm_head.weight": None,  # tied to the word embeddings
        },
    ),
    SequenceClassifier: (
        "ElectraForSequenceClassification",
        {"classifier.dense": "dense", "classifier.out_proj": "out"},
    ),
    TokenClassifier: ("ElectraForTokenClassification", {"classifier": "out"}),
    QuestionAnswerer: ("ElectraForQuestionAnswering", {"qa_outputs": "out"}),
    EncoderOnly: ("ElectraModel", {}),
}
_ARCHITECTURES = {arch: cls for cls, (arch, _) in _HEADS.items()}


def _rename(name: str, table: dict[str, str | None]) -> tuple[bool, str | None]:
    """Map `name` by the longest matching module prefix of `table`; (matched, new name or None)."""
    for source, target in sorted(table.items(), key=lambda kv: -len(kv[0])):
        pattern = "^" + re.escape(source).replace(r"\{\}", r"(\d+)") + r"(\..+)?$"
        match = re.match(pattern, name)
        if match:
            if target is None:
                return True, None
            groups = match.groups()
            suffix = groups[-1] or ""
            return True, target.format(*groups[:-1]) + suffix
    return False, None


def _reverse(table: dict[str, str | None]) -> dict[str, str | None]:
    return {ours: hf for hf, ours in table.items() if ours is not None}


def _head_table(model_class: type[nn.Module]) -> dict[str, str | None]:
    return _HEADS[model_class][1]


def from_hf(
    state: dict[str, Tensor], model_class: type[nn.Module]
) -> tuple[dict[str, Tensor], list[str]]:
    """Rename a Hugging Face state dict for `model_class`: (our state dict, keys left unmapped).

    Keys of other known heads are left unmapped too, so a caller can tell a checkpoint trained
    for another task (whose head it discards) from a file that is not an ELECTRA checkpoint.
    """
    ours: dict[str, Tensor] = {}
    unmapped: list[str] = []
    qkv: dict[tuple[int, str], dict[str, Tensor]] = {}
    heads = _head_table(model_class)
    for name, tensor in state.items():
        if match := _QKV_PATTERN.fullmatch(name):
            layer, part, kind = match.groups()
            qkv.setdefault((int(layer), kind), {})[part] = tensor
            continue
        if name.startswith("electra."):
            matched, target = _rename(name[len("electra.") :], _ENCODER)
            target = None if target is None else "electra." + target
        else:
            matched, target = _rename(name, heads)
        if not matched:
            unmapped.append(name)
        elif target is not None:
            ours[target] = tensor
    for (layer, kind), parts in qkv.items():
        if len(parts) != 3:
            unmapped.extend(
                f"electra.encoder.layer.{layer}.attention.self.{p}.{kind}" for p in parts
            )
            continue
        ours[f"electra.encoder.layers.{layer}.attention.qkv.{kind}"] = torch.cat(
            [parts[p] for p in _QKV]
        )
    return ours, unmapped


def to_hf(model: nn.Module) -> dict[str, Tensor]:
    """Our model's weights under Hugging Face names (q, k, v split; tied weights left out)."""
    encoder = _reverse(_ENCODER)
    heads = _reverse(_head_table(type(model)))
    state: dict[str, Tensor] = {}
    for name, tensor in model.state_dict().items():
        if name.startswith("electra."):
            inner = name[len("electra.") :]
            if m := re.fullmatch(r"encoder\.layers\.(\d+)\.attention\.qkv\.(weight|bias)", inner):
                layer, kind = m.groups()
                for part, chunk in zip(_QKV, tensor.chunk(3), strict=True):
                    state[f"electra.encoder.layer.{layer}.attention.self.{part}.{kind}"] = chunk
                continue
            matched, target = _rename(inner, encoder)
            assert matched and target is not None, f"no Hugging Face name for {name}"
            state["electra." + target] = tensor
        else:
            matched, target = _rename(name, heads)
            assert matched and target is not None, f"no Hugging Face name for {name}"
            state[target] = tensor
    return {k: v.detach().contiguous() for k, v in state.items()}


# ---------------------------------------------------------------------------------------- config


def config_to_hf(config: ModelConfig) -> dict[str, Any]:
    values = {hf: getattr(config, ours) for ours, hf in _CONFIG_KEYS.items()}
    return {"model_type": "electra", **values, "tie_word_embeddings": True}


def read_config_json(path: str | Path) -> dict[str, Any]:
    """The raw `config.json` of a checkpoint directory, checked to be an ELECTRA config."""
    directory = _checkpoint_dir(path)
    config_file = directory / CONFIG_FILE
    if not config_file.is_file():
        raise UserError(
            f"{directory}: no {CONFIG_FILE} (expected a Hugging Face ELECTRA checkpoint directory)"
        )
    try:
        raw = json.loads(config_file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"{config_file}: not valid JSON ({e})") from None
    if not isinstance(raw, dict):
        raise UserError(f"{config_file}: expected a JSON object")
    model_type = raw.get("model_type")
    if model_type != "electra":
        raise UserError(f"{config_file}: model_type is {model_type!r}, expected 'electra'")
    return raw


def load_config(path: str | Path) -> ModelConfig:
    """`ModelConfig` from a checkpoint's `config.json`; absent keys take transformers' defaults."""
    raw = read_config_json(path)
    defaults = ModelConfig()
    values = {ours: raw.get(hf, getattr(defaults, ours)) for ours, hf in _CONFIG_KEYS.items()}
    if values["pad_token_id"] is None:
        values["pad_token_id"] = 0
    try:
        return ModelConfig(**values)
    except UserError as e:
        raise UserError(f"{_checkpoint_dir(path) / CONFIG_FILE}: {e}") from None


# ----------------------------------------------------------------------------------------- files


_HUB_ID = re.compile(r"[\w.-]+/[\w.-]+")
_HUB_FILES = ["*.json", "*.safetensors", "pytorch_model.bin", "vocab.txt"]


def resolve(path: str | Path) -> Path:
    """A local directory as is; a hub name such as `google/electra-small-discriminator` that is
    not a local path is downloaded (needs `huggingface_hub` and a network)."""
    directory = Path(path)
    if directory.exists() or not _HUB_ID.fullmatch(str(path)):
        return directory
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise UserError(
            f"{path}: no such directory (install huggingface_hub to fetch hub models)"
        ) from None
    try:
        return Path(snapshot_download(str(path), allow_patterns=_HUB_FILES))
    except Exception as e:  # offline, unknown repository, network errors
        raise UserError(
            f"{path}: no such directory, and fetching it from the Hugging Face Hub failed ({type(e).__name__})"
        ) from None


def _checkpoint_dir(path: str | Path) -> Path:
    directory = resolve(path)
    if reason := absent_reason(directory):  # absent, or behind a folder closed to us
        missing = reason == "no such file or directory"
        raise UserError(f"{directory}: {'no such directory' if missing else reason}")
    if not directory.is_dir():
        raise UserError(
            f"{directory}: not a directory (expected a checkpoint directory with {CONFIG_FILE})"
        )
    return directory


def weights_sha256(state: dict[str, Tensor]) -> str:
    """A digest of the tensors' names, dtypes, shapes and bytes: saved in the safetensors
    metadata, so that damage to the tensors themselves (which the format cannot see) is found."""
    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name].detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _read_safetensors(path: Path) -> dict[str, Tensor]:
    """A safetensors file, checked against the checksum electra writes into its metadata."""
    state = load_file(path)
    with safe_open(path, framework="pt") as f:
        recorded = (f.metadata() or {}).get(CHECKSUM_KEY)
    if recorded is not None and recorded != weights_sha256(state):
        raise UserError(f"{path}: damaged: the weights do not match the checksum saved with them")
    return state


def _inside(directory: Path, name: str) -> Path:
    """`directory / name`, refused when the index names a file outside the directory."""
    path = (directory / name).resolve()
    if not path.is_relative_to(directory.resolve()):
        raise UserError(f"{directory / SAFETENSORS_INDEX_FILE}: names {name!r}, outside the "
                        "model's directory; a model's files stay inside it")  # fmt: skip
    return path


def read_weights(path: str | Path) -> dict[str, Tensor]:
    """The state dict of a checkpoint directory, whichever of the Hugging Face files holds it."""
    directory = _checkpoint_dir(path)
    try:
        if (directory / SAFETENSORS_FILE).is_file():
            return _read_safetensors(directory / SAFETENSORS_FILE)
        if (directory / SAFETENSORS_INDEX_FILE).is_file():
            index = json.loads((directory / SAFETENSORS_INDEX_FILE).read_text(encoding="utf-8"))
            state: dict[str, Tensor] = {}
            for shard in sorted(set(index["weight_map"].values())):
                state.update(_read_safetensors(_inside(directory, shard)))
            return state
        if (directory / PYTORCH_FILE).is_file():
            try:
                state = torch.load(directory / PYTORCH_FILE, map_location="cpu", weights_only=True)
            except pickle.UnpicklingError:  # PyTorch's advice to unpickle anyway is not ours
                raise UserError(
                    f"{directory / PYTORCH_FILE}: holds Python objects besides tensors (a pickle), "
                    "which electra never executes; save the weights as safetensors"
                ) from None
            if not isinstance(state, dict):
                raise UserError(f"{directory / PYTORCH_FILE}: expected a state dict")
            return state
    except UserError:
        raise
    except Exception as e:  # corrupt or truncated files surface as many exception types
        raise UserError(f"{directory}: cannot read the weights ({type(e).__name__}: {e})") from None
    raise UserError(f"{directory}: no weights (expected {SAFETENSORS_FILE} or {PYTORCH_FILE})")


def load(path: str | Path, model_class: type[M], **kwargs: Any) -> M:
    """Load a Hugging Face-layout checkpoint into `model_class`.

    The encoder must match exactly. The head is loaded when the checkpoint has it and freshly
    initialised when it has another (a discriminator checkpoint loaded for fine-tuning); classifier
    models take `num_labels` from `id2label` in config.json when not given.
    """
    directory = _checkpoint_dir(path)
    raw = read_config_json(directory)
    config = load_config(directory)
    if model_class in (SequenceClassifier, TokenClassifier) and "num_labels" not in kwargs:
        kwargs["num_labels"] = len(raw.get("id2label") or {0: 0, 1: 1})
    model = model_class(config, **kwargs)
    state, unmapped = from_hf(read_weights(directory), model_class)
    other_heads = {p for cls, (_, table) in _HEADS.items() if cls is not model_class for p in table}
    unknown = [k for k in unmapped if not any(_rename(k, {p: p})[0] for p in other_heads)]
    if unknown:
        raise UserError(
            f"{directory}: unexpected weights {_names(unknown)} (not an ELECTRA checkpoint?)"
        )
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    encoder_missing = [k for k in missing if k.startswith("electra.")]
    if encoder_missing:
        raise UserError(f"{directory}: missing weights {_names(encoder_missing)}")
    head_present = [k for k in expected if not k.startswith("electra.") and k in state]
    if missing and head_present:
        raise UserError(f"{directory}: incomplete head, missing {_names(missing)}")
    wrong = [
        f"{k} {tuple(state[k].shape)} (config says {tuple(expected[k].shape)})"
        for k in expected
        if k in state and state[k].shape != expected[k].shape
    ]
    if wrong:
        raise UserError(f"{directory}: weights with mismatched shapes: {'; '.join(wrong[:5])}")
    model.load_state_dict(state, strict=not missing)
    model.head_initialized = bool(missing)  # type: ignore[attr-defined]
    return model


def _names(keys: list[str], limit: int = 5) -> str:
    more = f" and {len(keys) - limit} more" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def save(
    model: nn.Module,
    out_dir: str | Path,
    tokenizer: Tokenizer | None = None,
    config_extra: dict[str, Any] | None = None,
) -> Path:
    """Write `model` in the Hugging Face layout (safetensors) that `transformers` loads as is."""
    if type(model) not in _HEADS:
        raise TypeError(f"no Hugging Face layout for {type(model).__name__}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    config = {**config_to_hf(model.config), "architectures": [_HEADS[type(model)][0]]}
    if hasattr(model, "num_labels") and not (config_extra and "id2label" in config_extra):
        config["id2label"] = {str(i): f"LABEL_{i}" for i in range(model.num_labels)}
    config.update(config_extra or {})
    state = {k: v.float() if v.is_floating_point() else v for k, v in to_hf(model).items()}
    if not all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point()):
        raise UserError(f"{out_dir}: the model has NaN or infinite weights; nothing saved")
    metadata = {"format": "pt", CHECKSUM_KEY: weights_sha256(state)}  # transformers ignores it
    with atomic_path(out_dir / SAFETENSORS_FILE) as tmp:
        save_file(state, tmp, metadata=metadata)
    write_json(out_dir / CONFIG_FILE, config)
    if tokenizer is not None:
        save_tokenizer(tokenizer, out_dir)
    return out_dir


def check_vocabulary(path: str | Path, tokenizer: Tokenizer) -> None:
    """A checkpoint's tokenizer must have exactly as many tokens as its embeddings have rows:
    more would index past them, fewer means another vocabulary."""
    rows = load_config(path).vocab_size
    if tokenizer.get_vocab_size() != rows:
        raise UserError(
            f"{path}: its vocabulary has {tokenizer.get_vocab_size():,} tokens but its embeddings "
            f"{rows:,} rows; the vocabulary files do not belong to these weights"
        )


def architecture_class(path: str | Path) -> type[nn.Module]:
    """Our model class for a checkpoint's `architectures` entry (a discriminator when absent)."""
    architectures = read_config_json(path).get("architectures") or ["ElectraForPreTraining"]
    name = architectures[0]
    if name not in _ARCHITECTURES:
        raise UserError(
            f"{Path(path) / CONFIG_FILE}: architecture {name!r} is not one of {', '.join(_ARCHITECTURES)}"
        )
    return _ARCHITECTURES[name]
