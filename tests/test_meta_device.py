"""Device bugs caught without a device: the whole pre-training step on shape-only tensors.

On `meta` tensors (shapes, dtypes and a device, no data) a step runs as on any device but the
CPU: forward (masking, generator, its loss and samples, discriminator, both losses, metrics),
backward, the global-norm clip and the AdamW update. A tensor made on the CPU (a factory
without `device=`) meets them and fails, as it would meet CUDA tensors on a GPU, and any read of
a value by the host (`item`, `bool`, `tolist`: a device sync on a GPU) fails too.

PyTorch's `FakeTensorMode` with `device="cuda"` would be closer, and was tried: on a CPU-only
build (PyTorch 2.13) the autograd engine asks for the CUDA device guard, which such a build
lacks, and aborts the process ("PyTorch is not linked with support for cuda devices"), and even
the forward fails at `masked_fill` with a Python scalar for the same reason. So the GPU itself
is checked by `tests/test_device.py` under `torch.cuda.set_sync_debug_mode("error")`.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch
from pretrain_data import tiny_model
from test_pretrain_packing import SPECIAL, examples

from electra.pretraining.objectives import rtd as objective
from electra.pretraining.objectives.build import build
from electra.pretraining.options import PretrainConfig
from electra.pretraining.packing import pack_rows
from electra.pretraining.setup import make_optimizer

CONFIG = PretrainConfig(seq_len=16, batch_size=6, warmup_steps=0)
META = torch.device("meta")


def on_meta(module: torch.nn.Module) -> torch.nn.Module:
    """`module` with every parameter and buffer on `meta`; a parameter shared by several modules
    (the tied embeddings) stays one parameter."""
    made: dict[int, torch.nn.Parameter] = {}
    for m in module.modules():
        for name, p in list(m._parameters.items()):
            if p is not None:
                if id(p) not in made:
                    made[id(p)] = torch.nn.Parameter(p.to(META), requires_grad=p.requires_grad)
                m._parameters[name] = made[id(p)]
        for name, b in list(m._buffers.items()):
            if b is not None:
                m._buffers[name] = b.to(META)
    return module


def step(objective_name: str, packed: bool) -> torch.nn.Module:
    config = dataclasses.replace(CONFIG, objective=objective_name)
    module = on_meta(build(tiny_model(50), config, SPECIAL).train())
    optimizer = make_optimizer(module, config, META)  # not fused on meta: the foreach kernels
    lengths = [9, 7, 5, 4, 3, 12] if packed else [16] * 6
    batch = {k: v.to(META) for k, v in pack_rows(examples(lengths), SPECIAL).items()}
    output = module(**batch)
    output.loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(module.parameters(), config.max_grad_norm)
    optimizer.step()
    assert output.loss.device == META and output.loss.dtype == torch.float32
    assert all(v.device == META and v.dim() == 0 for v in output.metrics().values())
    assert norm.device == META
    return module


@pytest.mark.parametrize("objective_name", ["rtd", "mlm"])
@pytest.mark.parametrize("packed", [True, False], ids=["packed", "full"])
def test_a_whole_step_runs_on_the_device_alone(objective_name, packed):
    module = step(objective_name, packed)
    assert all(p.device == META for p in module.parameters())
    assert all(p.grad is not None for p in module.parameters() if p.requires_grad)


@pytest.mark.parametrize(
    "bug, error",
    [
        (lambda t: t + torch.ones(t.shape), "device"),  # a tensor made on the CPU
        (lambda t: t * float(t.detach().sum()), "meta"),  # a host read: a sync on a GPU
    ],
    ids=["cpu-tensor", "host-read"],
)
def test_a_tensor_off_the_device_or_a_host_read_fails_here(monkeypatch, bug, error):
    """The check bites: either slip inside the objective fails the step."""
    original = objective.weighted_mean
    monkeypatch.setattr(objective, "weighted_mean", lambda v, w: original(bug(v), w))
    with pytest.raises((RuntimeError, NotImplementedError), match=error):
        step("rtd", packed=True)
