"""Task heads of the official fine-tuning code that `transformers` has no class for, and how they
are saved: the encoder as Hugging Face's `ElectraModel` (which `transformers` loads) and the head
beside it in `head.safetensors`.

The official code builds its heads with `tf.layers.dense`, whose defaults (Glorot-uniform
weights, zero biases) `tf_dense` reproduces.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from safetensors.torch import load_file, save_file
from tokenizers import Tokenizer
from torch import nn

from electra import hf
from electra.cpu_linear import Linear
from electra.errors import UserError
from electra.files import atomic_path

HEAD_FILE = "head.safetensors"


def tf_dense(n_in: int, n_out: int) -> Linear:
    """A linear layer initialised as `tf.layers.dense` initialises one."""
    layer = Linear(n_in, n_out)
    nn.init.xavier_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


def save_heads(
    base: nn.Module,
    heads: dict[str, nn.Module],
    out_dir: Path,
    tokenizer: Tokenizer | None,
    config_extra: dict[str, Any] | None,
) -> None:
    """`base` in the Hugging Face layout, then `heads` (by name) in `HEAD_FILE`, written whole;
    a stale head file is removed when there is no head to write."""
    hf.save(base, out_dir, tokenizer=tokenizer, config_extra=config_extra)
    state = {
        f"{name}.{key}": value.detach().float().contiguous()
        for name, module in heads.items()
        for key, value in module.state_dict().items()
    }
    if not state:
        (out_dir / HEAD_FILE).unlink(missing_ok=True)
        return
    with atomic_path(out_dir / HEAD_FILE) as tmp:
        save_file(state, tmp, metadata={"format": "pt"})


def load_heads(model_dir: Path, heads: dict[str, nn.Module]) -> set[str]:
    """Load the saved weights of each of `heads` found in `HEAD_FILE`; the names found."""
    path = model_dir / HEAD_FILE
    if not path.is_file():
        return set()
    try:
        state = load_file(path)
    except Exception as e:  # a truncated file surfaces as several types
        raise UserError(f"{path}: cannot load ({type(e).__name__}: {e})") from None
    found = set()
    for name, module in heads.items():
        part = {k.split(".", 1)[1]: v for k, v in state.items() if k.startswith(name + ".")}
        if not part:
            continue
        try:
            module.load_state_dict(part)
        except RuntimeError as e:
            raise UserError(f"{path}: its {name} head does not fit this model ({e})") from None
        found.add(name)
    return found
