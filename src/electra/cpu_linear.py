"""Linear layers whose fp32 products run on oneDNN where PyTorch's default BLAS is slow.

PyTorch's CPU wheels multiply fp32 matrices with Intel's MKL, whose default dispatch on AMD CPUs
is slower than oneDNN, also shipped inside PyTorch: on a 2-core AMD EPYC with AVX-512, a
small-preset fp32 training step runs 1.11-1.2x faster with its forward products and input
gradients on oneDNN (medians of alternating steps, `benchmarks/cpu_linear.py`; RESULTS.md). The
weight gradient, whose transposed operands oneDNN takes slowly, stays with MKL. The arithmetic is
fp32 either way.

Where it applies: fp32 on a CPU without autocast (bf16 autocast already runs on oneDNN), outside
`torch.compile` and export (Inductor and the exporters see a plain `F.linear`). `auto` chooses it
on AMD CPUs only, the measured case; `ELECTRA_CPU_LINEAR=onednn` or `aten` overrides that.
"""

from __future__ import annotations

import functools
import math
import os

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils import flop_counter

from electra.errors import UserError

CHOICES = ("auto", "onednn", "aten")
_ONEDNN_LINEAR = getattr(torch.ops.mkldnn, "_linear_pointwise", None)  # absent in some builds


def _cpu_vendor() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("vendor_id"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


@functools.cache
def onednn_enabled() -> bool:
    """Whether fp32 CPU products go to oneDNN in this process (`ELECTRA_CPU_LINEAR`, read once)."""
    choice = os.environ.get("ELECTRA_CPU_LINEAR", "auto")
    if choice not in CHOICES:
        raise UserError(f"ELECTRA_CPU_LINEAR={choice!r}: expected one of {', '.join(CHOICES)}")
    available = torch.backends.mkldnn.is_available() and _ONEDNN_LINEAR is not None
    if choice == "auto":
        return available and _cpu_vendor() == "AuthenticAMD"
    return choice == "onednn" and available


def _applies(x: Tensor, weight: Tensor) -> bool:
    return (
        not torch.compiler.is_compiling()  # first: what follows is not for graphs to trace
        and not torch.jit.is_tracing()
        and x.device.type == "cpu"
        and x.dtype == weight.dtype == torch.float32
        and x.dim() >= 2
        and not torch.is_autocast_enabled("cpu")
        and torch.backends.mkldnn.enabled
        and onednn_enabled()
    )


def _product(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """x @ weight.T + bias on oneDNN, for (..., in) x."""
    flat = x.reshape(-1, x.shape[-1])
    out = _ONEDNN_LINEAR(flat, weight, bias, "none", [], "")
    return out.view(*x.shape[:-1], weight.shape[0])


if _ONEDNN_LINEAR is not None and _ONEDNN_LINEAR not in flop_counter.flop_registry:

    @flop_counter.register_flop_formula(_ONEDNN_LINEAR)  # so that FlopCounterMode counts it
    def _product_flops(x_shape, weight_shape, *args, out_shape=None, **kwargs) -> int:
        return 2 * math.prod(x_shape) * weight_shape[0]


class _OneDNNLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        ctx.save_for_backward(x, weight)
        return _product(x, weight, bias)

    @staticmethod
    def backward(ctx, grad: Tensor):
        x, weight = ctx.saved_tensors
        flat_grad = grad.reshape(-1, grad.shape[-1])
        grad_x = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_x = _product(grad, weight.t(), None)  # grad @ weight
        if ctx.needs_input_grad[1]:
            grad_weight = flat_grad.t() @ x.reshape(-1, x.shape[-1])  # MKL: see the module doc
        if ctx.needs_input_grad[2]:  # False without a bias
            grad_bias = flat_grad.sum(0)
        return grad_x, grad_weight, grad_bias


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """`F.linear`, with its fp32 CPU products on oneDNN where that is chosen (module doc)."""
    if _applies(x, weight):
        return _OneDNNLinear.apply(x, weight, bias)
    return F.linear(x, weight, bias)


class Linear(nn.Linear):
    """`nn.Linear` (same parameters, same state dict) computing through `linear`."""

    def forward(self, x: Tensor) -> Tensor:
        return linear(x, self.weight, self.bias)
