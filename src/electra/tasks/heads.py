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
from electra.backbones.models import EncoderOnly
from electra.cpu_linear import Linear
from electra.errors import UserError
from electra.files import atomic_path
from electra.tokenizer import save_tokenizer

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
    a stale head file is removed when there is no head to write.

    A bare encoder (`EncoderOnly`: the task's head is all in `HEAD_FILE`) goes into
    `OUT/encoder/`, the tokenizer staying in `OUT`: with config.json at its top, the directory
    would let `AutoModelForSequenceClassification` (or `...ForQuestionAnswering`) build a model
    with a random head from it, with only a warning. Without one, `transformers` refuses it;
    `ElectraModel.from_pretrained(OUT, subfolder="encoder")` loads the encoder, and `electra
    predict` and ONNX export run the whole model."""
    bare = isinstance(base, EncoderOnly) and bool(heads)
    hf.save(base, out_dir / hf.ENCODER_DIR if bare else out_dir, tokenizer=tokenizer,
            config_extra=config_extra)  # fmt: skip
    if bare:  # the tokenizer at the top too, where AutoTokenizer and our loaders look
        if tokenizer is not None:
            save_tokenizer(tokenizer, out_dir)
        for stale in (hf.CONFIG_FILE, "model.safetensors"):  # an older layout's: the trap
            (out_dir / stale).unlink(missing_ok=True)
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
