"""The official fine-tuning optimizer: Adam without bias correction, weight decay outside the
adaptive update, and layer-wise learning rates (see `FinetuneConfig`).
"""

from __future__ import annotations

import torch
from torch import nn

from electra.adam import AdamWeightDecay
from electra.tasks.options import FinetuneConfig


def layer_lrs(
    model: nn.Module, learning_rate: float, decay: float, rule: str = "official"
) -> dict[str, float]:
    """Each parameter's learning rate, `learning_rate * decay ** (top - depth)`: the embeddings
    (and their projection) are depth 0, encoder layer i (0-based) depth i + 1, the task head
    (everything outside `model.electra`) depth n + 2. The official code (`_get_layer_lrs`) takes
    top = n + 2, so the head trains at `learning_rate`, the top encoder layer at lr * d^2 and the
    embeddings at lr * d^(n + 2); `rule="intended"` takes top = n + 1, the one-step-higher rates
    its authors are reported to have meant (top encoder layer lr * d)."""
    n = len(model.electra.encoder.layers)
    top = {"official": n + 2, "intended": n + 1}[rule]
    rates = {}
    for name, _ in model.named_parameters():
        if name.startswith("electra.encoder.layers."):
            depth = int(name.split(".")[3]) + 1
        elif name.startswith("electra."):
            depth = 0
        else:
            depth = n + 2
        rates[name] = learning_rate * decay ** max(top - depth, 0)
    return rates


def build_optimizer(model: nn.Module, config: FinetuneConfig) -> torch.optim.Optimizer:
    """The official optimizer (or, with `bias_correction`, PyTorch's AdamW), one parameter group
    per (learning rate, decayed or not); no weight decay on biases and LayerNorm weights
    (`ndim < 2`). Each group keeps its peak rate as `base_lr`."""
    rates = layer_lrs(model, config.lr, config.layerwise_lr_decay, config.layerwise_rule)
    groups: dict[tuple[float, bool], list[nn.Parameter]] = {}
    for name, param in model.named_parameters():
        groups.setdefault((rates[name], param.ndim >= 2), []).append(param)
    param_groups = [
        {
            "params": params,
            "lr": lr,
            "base_lr": lr,
            "weight_decay": config.weight_decay if decayed else 0.0,
        }
        for (lr, decayed), params in sorted(groups.items(), key=lambda kv: kv[0])
    ]
    optimizer = torch.optim.AdamW if config.bias_correction else AdamWeightDecay
    return optimizer(
        param_groups,
        lr=config.lr,
        betas=(config.adam_beta1, config.adam_beta2),
        eps=config.adam_eps,
    )
