"""The learning-rate schedule of the official code, shared by pre-training and fine-tuning."""


def lr_factor(step: int, total: int, warmup: int) -> float:
    """Linear warm-up over `warmup` steps multiplied onto a linear decay to 0 that starts at step
    0: the factor on the peak rate at `step` (0-based; the warm-up counts from 1 so the first
    update is not wasted at rate 0)."""
    warm = min(1.0, (step + 1) / warmup) if warmup else 1.0
    return warm * max(0.0, 1.0 - step / total)
