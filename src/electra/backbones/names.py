"""Renaming state-dict keys by module prefix: the one mechanism behind every backbone's and head's
Hugging Face mapping. A table maps a Hugging Face prefix to ours (`{}` is a layer index; None
drops a key on purpose); the longest matching prefix wins. Attention's q, k and v, three matrices
in `transformers`, are one fused matrix on our side."""

from __future__ import annotations

import re

import torch
from torch import Tensor

Table = dict[str, str | None]


def rename(name: str, table: Table) -> tuple[bool, str | None]:
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


def reverse(table: Table) -> Table:
    """The table the other way round (ours -> Hugging Face), without the dropped keys."""
    return {ours: hf for hf, ours in table.items() if ours is not None}


_FUSED = re.compile(r"encoder\.layers\.(\d+)\.attention\.qkv\.(weight|bias)")


def encoder_from_hf(
    state: dict[str, Tensor], table: Table, qkv: tuple[str, str, str]
) -> tuple[dict[str, Tensor], list[str]]:
    """Encoder keys (below the model's prefix) renamed by `table`, with each layer's three
    attention projections `encoder.layer.{i}.attention.self.{qkv[0..2]}` fused into our
    `encoder.layers.{i}.attention.qkv`: (our state dict, keys left unmapped)."""
    pattern = re.compile(
        rf"encoder\.layer\.(\d+)\.attention\.self\.({'|'.join(qkv)})\.(weight|bias)"
    )
    ours: dict[str, Tensor] = {}
    unmapped: list[str] = []
    parts: dict[tuple[int, str], dict[str, Tensor]] = {}
    for name, tensor in state.items():
        if match := pattern.fullmatch(name):
            layer, part, kind = match.groups()
            parts.setdefault((int(layer), kind), {})[part] = tensor
            continue
        matched, target = rename(name, table)
        if not matched:
            unmapped.append(name)
        elif target is not None:
            ours[target] = tensor
    for (layer, kind), found in parts.items():
        if len(found) != 3:
            unmapped.extend(f"encoder.layer.{layer}.attention.self.{p}.{kind}" for p in found)
            continue
        ours[f"encoder.layers.{layer}.attention.qkv.{kind}"] = torch.cat([found[p] for p in qkv])
    return ours, unmapped


def encoder_to_hf(
    state: dict[str, Tensor], table: Table, qkv: tuple[str, str, str]
) -> dict[str, Tensor]:
    """Our encoder keys (below the prefix) under Hugging Face names, q, k and v split again."""
    names = reverse(table)
    out: dict[str, Tensor] = {}
    for name, tensor in state.items():
        if m := _FUSED.fullmatch(name):
            layer, kind = m.groups()
            for part, chunk in zip(qkv, tensor.chunk(3), strict=True):
                out[f"encoder.layer.{layer}.attention.self.{part}.{kind}"] = chunk
            continue
        matched, target = rename(name, names)
        assert matched and target is not None, f"no Hugging Face name for {name}"
        out[target] = tensor
    return out
