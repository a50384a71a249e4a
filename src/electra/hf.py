"""Checkpoints in the Hugging Face layout <-> our modules, for any registered backbone.

A checkpoint directory holds `config.json`, weights (`model.safetensors`, a sharded
`model.safetensors.index.json`, or `pytorch_model.bin`) and the tokenizer files. `config.json`'s
`model_type` picks the backbone (`electra.backbones`), which maps the encoder's names and
configuration; each model class maps its own head (`hf_class`, `hf_head`). After mapping, key sets
are compared both ways and shapes checked, and any difference is an error that names the keys:
nothing is skipped silently, except another task's head when a checkpoint is loaded for a new one.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import pickle
import re
from pathlib import Path
from typing import Any, TypeVar

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from tokenizers import Tokenizer
from torch import Tensor, nn

from electra import backbones
from electra.backbones import BACKBONES, for_model_type
from electra.backbones.names import Table, rename, reverse
from electra.backbones.spec import Backbone
from electra.config import ModelConfig
from electra.errors import UserError
from electra.files import absent_reason, atomic_path, read_json_object, write_json
from electra.tokenizer import save_tokenizer

M = TypeVar("M", bound=nn.Module)

CONFIG_FILE = "config.json"
SAFETENSORS_FILE = "model.safetensors"
CHECKSUM_KEY = "electra_sha256"  # in the safetensors metadata: see `weights_sha256`
SAFETENSORS_INDEX_FILE = "model.safetensors.index.json"
PYTORCH_FILE = "pytorch_model.bin"
HEAD_FILE = "rtd_head.safetensors"  # a head the `transformers` class lacks, beside its weights
ENCODER_PREFIX = "electra."  # our models' encoder attribute, whatever the backbone


def _hf_class(model_class: type[nn.Module], spec: Backbone) -> tuple[str, Table]:
    """A model class's `transformers` class suffix and head table on `spec`'s backbone."""
    own = model_class.hf_class  # type: ignore[attr-defined]
    if spec.classes is None:
        return own, model_class.hf_head  # type: ignore[attr-defined]
    if own not in spec.classes:
        raise UserError(f"{model_class.__name__}: no `transformers` class for it on the "
                        f"{spec.name} backbone yet")  # fmt: skip
    return spec.classes[own]


def architecture(model_class: type[nn.Module], spec: Backbone) -> str:
    """The `transformers` class of one of our model classes: `ElectraForPreTraining`."""
    return spec.hf_prefix + _hf_class(model_class, spec)[0]


def from_hf(
    state: dict[str, Tensor], model_class: type[nn.Module], spec: Backbone
) -> tuple[dict[str, Tensor], list[str]]:
    """Rename a Hugging Face state dict for `model_class`: (our state dict, keys left unmapped)."""
    prefix = spec.prefix + "."
    if not any(k.startswith(prefix) for k in state):  # a bare encoder (`ElectraModel`) saved
        state = {prefix + k: v for k, v in state.items()}  # by `transformers`: no prefix
    encoder = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    ours, unmapped = spec.encoder_from_hf(encoder)
    ours = {ENCODER_PREFIX + k: v for k, v in ours.items()}
    unmapped = [prefix + k for k in unmapped]
    head = {**spec.read_also.get(model_class.hf_class, {}), **_hf_class(model_class, spec)[1]}  # type: ignore[attr-defined]
    for name, tensor in state.items():
        if name.startswith(prefix):
            continue
        matched, target = rename(name, head)
        if not matched:
            unmapped.append(name)
        elif target is not None:
            ours[target] = tensor
    return ours, unmapped


def to_hf(model: nn.Module) -> dict[str, Tensor]:
    """Our model's weights under Hugging Face names (q, k, v split; tied weights left out)."""
    spec = model.backbone
    own = model.state_dict()
    encoder = spec.encoder_to_hf(
        {k[len(ENCODER_PREFIX) :]: v for k, v in own.items() if k.startswith(ENCODER_PREFIX)}
    )
    state = {spec.prefix + "." + k: v for k, v in encoder.items()}
    heads = reverse(_hf_class(type(model), spec)[1])
    for name, tensor in own.items():
        if not name.startswith(ENCODER_PREFIX):
            matched, target = rename(name, heads)
            assert matched and target is not None, f"no Hugging Face name for {name}"
            state[target] = tensor
    return {k: v.detach().contiguous() for k, v in state.items()}


# ---------------------------------------------------------------------------------------- config


def config_to_hf(config: ModelConfig) -> dict[str, Any]:
    """`config.json`'s values for a model of `config`'s backbone."""
    spec = backbones.of(config)
    return {"model_type": spec.model_type, **spec.config_to_hf(config)}


def read_config_json(path: str | Path) -> dict[str, Any]:
    """The raw `config.json` of a checkpoint directory, checked to be an ELECTRA config."""
    directory = _checkpoint_dir(path)
    config_file = directory / CONFIG_FILE
    if not config_file.is_file():
        raise UserError(
            f"{directory}: no {CONFIG_FILE} (expected a Hugging Face ELECTRA checkpoint directory)"
        )
    raw = read_json_object(config_file)
    for_model_type(raw.get("model_type"), str(config_file))
    return raw


def load_config(path: str | Path) -> ModelConfig:
    """`ModelConfig` from a checkpoint's `config.json`; absent keys take transformers' defaults."""
    raw = read_config_json(path)
    try:
        return for_model_type(raw["model_type"], "").config_from_hf(raw)
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
        offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")
        why = ("this machine is offline (HF_HUB_OFFLINE is set): download it where there is a "
               "network, or give a local directory") if offline else f"fetching it failed ({type(e).__name__})"  # fmt: skip
        raise UserError(
            f"{path}: no such local directory; read as a Hugging Face Hub name, {why}"
        ) from None


ENCODER_DIR = (
    "encoder"  # a model with a head `transformers` has no class for keeps its encoder here
)


def _checkpoint_dir(path: str | Path) -> Path:
    """The directory holding the weights and config.json: `path`, or its `encoder/` folder for a
    model whose head has no `transformers` class (see `electra.tasks.heads`)."""
    directory = resolve(path)
    if reason := absent_reason(directory):  # absent, or behind a folder closed to us
        missing = reason == "no such file or directory"
        raise UserError(f"{directory}: {'no such directory' if missing else reason}")
    if not directory.is_dir():
        raise UserError(
            f"{directory}: not a directory (expected a checkpoint directory with {CONFIG_FILE})"
        )
    if (
        not (directory / CONFIG_FILE).is_file()
        and (directory / ENCODER_DIR / CONFIG_FILE).is_file()
    ):
        return directory / ENCODER_DIR
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
    """The state dict of a checkpoint directory, whichever of the Hugging Face files holds it,
    with a head saved beside it (`HEAD_FILE`)."""
    directory = _checkpoint_dir(path)
    try:
        state = _model_weights(directory)
        if (directory / HEAD_FILE).is_file():
            state |= _read_safetensors(directory / HEAD_FILE)
        return state
    except UserError:
        raise
    except Exception as e:  # corrupt or truncated files surface as many exception types
        raise UserError(f"{directory}: cannot read the weights ({type(e).__name__}: {e})") from None


def _model_weights(directory: Path) -> dict[str, Tensor]:
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
    takes_labels = "num_labels" in inspect.signature(model_class).parameters
    if takes_labels and "num_labels" not in kwargs:
        kwargs["num_labels"] = len(raw.get("id2label") or {0: 0, 1: 1})
    model = model_class(config, **kwargs)
    spec = backbones.of(config)
    state, unmapped = from_hf(read_weights(directory), model_class, spec)
    # another task's head (a discriminator loaded for fine-tuning) is left out; nothing else is
    other_task = saved_architecture(directory) != architecture(model_class, spec) or (
        (directory / HEAD_FILE).is_file() and model_class.hf_class not in spec.side_heads
    )
    unknown = [k for k in unmapped if k.startswith(spec.prefix + ".") or not other_task]
    if unknown:
        raise UserError(
            f"{directory}: unexpected weights {_names(unknown)} (not a {spec.name} checkpoint of this kind?)"
        )
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    encoder_missing = [k for k in missing if k.startswith(ENCODER_PREFIX)]
    if encoder_missing:
        raise UserError(f"{directory}: missing weights {_names(encoder_missing)}")
    head_present = [k for k in expected if not k.startswith(ENCODER_PREFIX) and k in state]
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
    if not getattr(model, "hf_class", ""):
        raise TypeError(f"no Hugging Face layout for {type(model).__name__}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    spec = model.backbone
    config = {**config_to_hf(model.config), "architectures": [architecture(type(model), spec)]}
    if hasattr(model, "num_labels") and not (config_extra and "id2label" in config_extra):
        config["id2label"] = {str(i): f"LABEL_{i}" for i in range(model.num_labels)}
    config.update(config_extra or {})
    state = {k: v.float() if v.is_floating_point() else v for k, v in to_hf(model).items()}
    if not all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point()):
        raise UserError(f"{out_dir}: the model has NaN or infinite weights; nothing saved")
    side = {}
    if model.hf_class in spec.side_heads:  # a head the `transformers` class lacks: beside it
        side = {k: state.pop(k) for k in list(state) if not k.startswith(spec.prefix + ".")}
    for name, weights in ((SAFETENSORS_FILE, state), (HEAD_FILE, side)):
        if weights:
            metadata = {
                "format": "pt",
                CHECKSUM_KEY: weights_sha256(weights),
            }  # transformers ignores it
            with atomic_path(out_dir / name) as tmp:
                save_file(weights, tmp, metadata=metadata)
        elif name == HEAD_FILE:
            (out_dir / name).unlink(missing_ok=True)  # another model's, saved here before
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


def saved_architecture(path: str | Path) -> str:
    """A checkpoint's `transformers` class, from config.json (a discriminator's when unsaid, as
    the official checkpoints converted by older tools are)."""
    raw = read_config_json(path)
    spec = BACKBONES[raw["model_type"]]
    discriminator = (spec.classes or {}).get("ForPreTraining", ("ForPreTraining",))[0]
    return (raw.get("architectures") or [spec.hf_prefix + discriminator])[0]


def is_saved_as(path: str | Path, model_class: type[nn.Module]) -> bool:
    """Whether a checkpoint was saved as `model_class` (`ElectraForPreTraining` for a
    discriminator, say; `DebertaV2Model` with the replaced-token head beside it)."""
    spec = BACKBONES[read_config_json(path)["model_type"]]
    if spec.classes is not None and model_class.hf_class not in spec.classes:  # type: ignore[attr-defined]
        return False
    side = (_checkpoint_dir(path) / HEAD_FILE).is_file()
    return saved_architecture(path) == architecture(model_class, spec) and side == (
        model_class.hf_class in spec.side_heads  # type: ignore[attr-defined]
    )
