"""Where and how reproducibly a job runs: the device it computes on, and the seeds of every random
stream a checkpoint saves. Pre-training and fine-tuning both start here."""

from __future__ import annotations

import random
from contextlib import AbstractContextManager, nullcontext

import numpy as np
import torch

from electra.errors import UserError


def choose_device(name: str | None = None) -> torch.device:
    """`name` (cpu, cuda, cuda:1, mps ...) checked to exist here, or CUDA when there is one."""
    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UserError(f"device {name!r}: not a device name (cpu, cuda, cuda:1, ...)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"device {name!r}: this machine has no CUDA GPU (use cpu)")
    if (
        device.type == "cuda"
        and device.index is not None
        and device.index >= torch.cuda.device_count()
    ):
        raise UserError(f"device {name!r}: there are {torch.cuda.device_count()} CUDA devices")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise UserError(f"device {name!r}: MPS is not available here")
    return device


def seed_everything(seed: int) -> None:
    """Seeds torch's, numpy's and Python's generators: every stream a checkpoint saves, so a
    run is reproducible from its seed and not only from a checkpoint."""
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)


def native_bf16(device: torch.device) -> bool:
    """Whether `device` computes in bf16 natively: a CUDA GPU from Ampere on, or a CPU with
    AVX-512 BF16 or AMX (elsewhere bf16 is emulated, slower than fp32)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type == "cpu":
        return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    return False


def resolve_precision(precision: str, device: torch.device) -> str:
    """`auto` -> bf16 autocast where the device has native bf16, else fp32; others as given."""
    if precision != "auto":
        return precision
    return "bf16" if native_bf16(device) else "fp32"


def use_fast_matmuls(device: torch.device) -> None:
    """TF32 for fp32 matrix products on CUDA GPUs from Ampere on (10 mantissa bits in the
    products, fp32 accumulation): what the fp32 parts of a mixed-precision step run at."""
    if device.type == "cuda" and torch.cuda.get_device_capability(device) >= (8, 0):
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


def autocast(device: torch.device, precision: str) -> AbstractContextManager:
    """Mixed precision for the forward pass: bf16 or fp16 autocast, or nothing for fp32
    (`precision` resolved: not `auto`)."""
    if precision not in ("fp32", "bf16", "fp16"):
        raise ValueError(f"precision {precision!r}: resolve it first (resolve_precision)")
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    return torch.autocast(device.type, dtype=dtype) if dtype else nullcontext()


def to_device(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    """A batch's tensors on `device`, copied without waiting when the source is pinned."""
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}
