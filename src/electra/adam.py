"""The official ELECTRA/BERT optimizer (`AdamWeightDecayOptimizer` in `model/optimization.py`),
used by pre-training and fine-tuning alike unless a run asks for PyTorch's AdamW."""

from __future__ import annotations

import torch


class AdamWeightDecay(torch.optim.Optimizer):
    """Adam moments without bias correction, and decoupled weight decay:
    `p -= lr * (m / (sqrt(v) + eps) + wd * p)`. Without bias correction the early steps are
    larger (the first by sqrt(1 - beta2) / (1 - beta1), 3.2x at the official betas; 1.26x still at
    step 1,000), which matters for short warm-ups: the published numbers were made with it.

    One `torch._foreach_*` kernel per operation and parameter group. Like fused AdamW it takes
    `found_inf` (a 0-d tensor set by `GradScaler` or the step) on the device: a step with it set
    leaves weights and moments as they were, without the host reading the flag."""

    skips_on_device = True

    def __init__(self, params, lr: float, betas: tuple[float, float], eps: float,
                 weight_decay: float = 0.0) -> None:  # fmt: skip
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):  # noqa: ANN001 (torch's signature)
        found_inf = getattr(self, "found_inf", None)
        keep = None if found_inf is None else 1.0 - found_inf
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            for param in params:
                if not self.state[param]:
                    self.state[param] = {
                        "step": torch.zeros((), dtype=torch.float32, device=param.device),
                        "m": torch.zeros_like(param),
                        "v": torch.zeros_like(param),
                    }
            # updates applied (a skipped step adds none), as PyTorch's optimizers count them
            torch._foreach_add_(
                [self.state[p]["step"] for p in params], 1.0 if keep is None else keep
            )
            grads = [p.grad for p in params]
            if found_inf is not None:  # a non-finite gradient times 0 is still NaN: zero them
                skip = found_inf.bool()
                grads = [torch.where(skip, 0.0, g) for g in grads]
            ms = [self.state[p]["m"] for p in params]
            vs = [self.state[p]["v"] for p in params]
            beta1, beta2 = group["betas"]
            dm = torch._foreach_sub(grads, ms)  # m += (1 - beta1) (g - m)
            torch._foreach_mul_(dm, 1 - beta1)
            dv = torch._foreach_mul(grads, grads)  # v += (1 - beta2) (g^2 - v)
            torch._foreach_sub_(dv, vs)
            torch._foreach_mul_(dv, 1 - beta2)
            if keep is not None:
                torch._foreach_mul_(dm, keep)
                torch._foreach_mul_(dv, keep)
            torch._foreach_add_(ms, dm)
            torch._foreach_add_(vs, dv)
            update = torch._foreach_sqrt(vs)
            torch._foreach_add_(update, group["eps"])
            update = torch._foreach_div(ms, update)
            if group["weight_decay"]:
                torch._foreach_add_(update, params, alpha=group["weight_decay"])
            if keep is not None:
                torch._foreach_mul_(update, keep)
            torch._foreach_add_(params, update, alpha=-group["lr"])
