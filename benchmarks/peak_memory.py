"""Estimate a pre-training step's peak device memory on a CPU, before a GPU is at hand.

The step (forward, both losses, backward) runs on shape-only `meta` tensors while a dispatch mode
counts the bytes of every tensor alive; the peak plus the weights and AdamW's two moments is the
estimate. Attention is modelled as a fused kernel does it on a GPU (SDPA's memory-efficient or
flash kernel keeps the output and a log-sum-exp per row, never the L x L scores), and everything
is fp32 (meta tensors have no autocast: bf16 activations would need less). What the estimate
leaves out: the allocator's caching and fragmentation, cuBLAS workspaces, kernels' own
temporaries. `benchmarks/gpu_check.sh` measures the real peak (`torch.cuda.max_memory_allocated`)
at the same shape.

    python benchmarks/peak_memory.py --preset base --batch-size 256 --seq-len 512
"""

from __future__ import annotations

import argparse
import json
import weakref
from contextlib import ExitStack
from unittest import mock

import torch
import torch.nn.functional as F
from pretrain_step import SPECIAL, make_batch
from torch.utils._python_dispatch import TorchDispatchMode

from electra.config import ModelConfig
from electra.pretraining.objectives.build import build
from electra.pretraining.options import PretrainConfig

META = torch.device("meta")


class LiveBytes(TorchDispatchMode):
    """The bytes of the tensors alive, and their peak, counted at every operation's outputs
    (a view is its base's bytes, counted once; a tensor's bytes go when it does)."""

    def __init__(self) -> None:
        super().__init__()
        self.live = self.peak = 0
        self._counted: set[int] = set()

    def _count(self, tensor: torch.Tensor) -> None:
        key = id(tensor)
        if tensor._base is not None or key in self._counted:
            return
        size = tensor.untyped_storage().nbytes()
        self._counted.add(key)
        self.live += size
        self.peak = max(self.peak, self.live)

        def gone() -> None:
            self.live -= size
            self._counted.discard(key)

        weakref.finalize(tensor, gone)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for tensor in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(tensor, torch.Tensor):
                self._count(tensor)
        return out


class _FusedAttention(torch.autograd.Function):
    """What a fused attention kernel holds: its output and a log-sum-exp per query row for the
    backward pass, which makes the gradients of q, k and v (dropout is replayed from its seed)."""

    @staticmethod
    def forward(ctx, q, k, v):
        out = torch.empty_like(q)
        lse = q.new_empty(q.shape[:-1])
        ctx.save_for_backward(q, k, v, out, lse)
        return out

    @staticmethod
    def backward(ctx, grad):
        q, k, v, _, _ = ctx.saved_tensors
        return torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)


def fused_sdpa(q, k, v, attn_mask=None, dropout_p=0.0, **_):
    return _FusedAttention.apply(q, k, v)


def estimate(preset: str, batch_size: int, seq_len: int, plain_vocabulary: bool = False) -> dict:
    """The step's estimated peak in MiB: weights, AdamW's moments, and the most the step holds
    at once (activations, saved tensors, gradients)."""
    model = ModelConfig.preset(preset)
    config = PretrainConfig.preset(preset, seq_len=seq_len, batch_size=batch_size)
    module = build(model, config, SPECIAL).to(META).train()
    weights = sum(p.numel() * p.element_size() for p in module.parameters())
    batch = make_batch(batch_size, seq_len, model.vocab_size, META)
    with ExitStack() as patched:
        patched.enter_context(mock.patch.object(F, "scaled_dot_product_attention", fused_sdpa))
        if plain_vocabulary:  # the logits whole, as before the blockwise computation
            patched.enter_context(mock.patch.object(torch.compiler, "is_compiling", lambda: True))
        with LiveBytes() as live:
            module(**batch).loss.backward()
    mib = 2**20
    return {"preset": preset, "batch": [batch_size, seq_len], "plain_vocabulary": plain_vocabulary,
            "weights_mib": round(weights / mib), "adam_moments_mib": round(2 * weights / mib),
            "step_peak_mib": round(live.peak / mib),
            "estimate_mib": round((3 * weights + live.peak) / mib)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="base")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--seq-len", type=int, default=512)
    args = parser.parse_args()
    for plain in (False, True):
        print(json.dumps(estimate(args.preset, args.batch_size, args.seq_len, plain)))


if __name__ == "__main__":
    main()
