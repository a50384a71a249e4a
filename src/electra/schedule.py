"""The learning-rate schedule of the official code, shared by pre-training and fine-tuning."""


def lr_factor(step: int, total: int, warmup: int) -> float:
    """The factor on the peak rate at `step` (0-based), as `optimization.py` computes it: a linear
    decay to 0 over `total` steps, multiplied by a linear warm-up `min(1, step / warmup)`. So the
    first update runs at rate 0, as the official one does: Adam's moments still see its gradients,
    and the weights do not move."""
    warm = min(1.0, step / warmup) if warmup else 1.0
    return warm * max(0.0, 1.0 - step / total)
