"""The optimizer update alone: the official Adam without bias correction (`electra.adam`,
`torch._foreach_*` kernels, the pre-training default) against PyTorch's fused AdamW
(`--bias-correction`), on the parameters of a preset's replaced-token-detection module.

    python benchmarks/optimizer_step.py --preset small --steps 50
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from electra.config import ModelConfig
from electra.pretraining.objectives.rtd import ReplacedTokenDetection
from electra.pretraining.options import PretrainConfig
from electra.pretraining.setup import make_optimizer
from electra.tokenizer import SpecialIds


def seconds_per_step(bias_correction: bool, preset: str, steps: int, device: torch.device) -> float:
    torch.manual_seed(0)
    module = ReplacedTokenDetection(ModelConfig.preset(preset), PretrainConfig.preset(preset),
                                    SpecialIds(0, 1, 2, 3, 4)).to(device)  # fmt: skip
    config = PretrainConfig.preset(preset, bias_correction=bias_correction)
    optimizer = make_optimizer(module, config, device)
    for p in module.parameters():
        p.grad = torch.randn_like(p) * 1e-3
    for _ in range(5):  # warm-up: the moments' first allocation
        optimizer.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        optimizer.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="small")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    official = seconds_per_step(False, args.preset, args.steps, device)
    fused = seconds_per_step(True, args.preset, args.steps, device)
    print(json.dumps({"preset": args.preset, "device": str(device), "threads": torch.get_num_threads(),
                      "official_ms": round(1e3 * official, 2), "fused_adamw_ms": round(1e3 * fused, 2),
                      "ratio": round(official / fused, 2)}))  # fmt: skip


if __name__ == "__main__":
    main()
