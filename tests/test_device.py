"""The GPU path, checked where it runs: `pytest -m device` on a machine with a CUDA GPU (as
`benchmarks/gpu_check.sh` does). Without one these tests skip; `ELECTRA_TEST_DEVICE=cpu` runs
them on the CPU, where the CUDA-only parts (the sync detector, FlexAttention's backward, NCCL)
are left out, so that a GPU's first run finds nothing but the GPU to test."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
from contextlib import contextmanager, nullcontext
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from pretrain_data import tiny_model, use_packed_attention
from test_pretrain_packing import SPECIAL, assert_each_example_as_alone, examples

from electra.adam import AdamWeightDecay
from electra.backbones.models import Discriminator
from electra.config import ModelConfig
from electra.data.shards import iterate_batches
from electra.pretraining import setup as pretrain_setup
from electra.pretraining import trainer
from electra.pretraining.objectives.build import build
from electra.pretraining.options import PretrainConfig
from electra.pretraining.packing import model_inputs, pack_rows, packed_batches
from electra.processes import Process
from electra.runtime import native_bf16, to_device

pytestmark = pytest.mark.device


@pytest.fixture
def device() -> torch.device:
    name = os.environ.get("ELECTRA_TEST_DEVICE", "cuda")
    if name.startswith("cuda") and not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU (ELECTRA_TEST_DEVICE=cpu runs these checks on the CPU)")
    return torch.device(name)


@contextmanager
def no_host_sync(device: torch.device):
    """On CUDA, any operation that makes the host wait for the GPU raises inside the block."""
    if device.type != "cuda":
        yield
        return
    torch.cuda.set_sync_debug_mode("error")
    try:
        yield
    finally:
        torch.cuda.set_sync_debug_mode("default")


def config(**overrides) -> PretrainConfig:
    values = dict(seq_len=32, batch_size=16, steps=4, warmup_steps=0, log_every=2, save_every=0,
                  eval_batches=1)  # fmt: skip
    return PretrainConfig(**{**values, **overrides})


def test_steps_run_in_native_precision_without_waiting_for_the_device(device, prepared, tmp_path):
    run = pretrain_setup.setup(Process(str(device)), prepared, tmp_path, tiny_model(400),
                        config(grad_accum=2), resume=False)  # fmt: skip
    assert run.config.precision == ("bf16" if native_bf16(device) else "fp32")
    assert isinstance(run.optimizer, AdamWeightDecay)  # the official update, foreach kernels
    departure = pretrain_setup.make_optimizer(run.module, config(bias_correction=True), device)
    assert departure.defaults["fused"]  # --bias-correction: AdamW as one fused kernel
    if device.type == "cuda" and torch.cuda.get_device_capability(device) >= (8, 0):
        assert torch.backends.cuda.matmul.allow_tf32
    loaded = packed_batches(iterate_batches(run.train_set, run.micro_batch, 0, 0, 1),
                            run.special, pin=device.type == "cuda")  # fmt: skip
    batches = iter([next(loaded) for _ in range(4)])
    before = [p.detach().clone() for p in run.module.parameters()]
    with no_host_sync(device):
        results = [trainer.train_step(run, batches) for _ in range(2)]
    assert not any(r.skipped for r in results) and all(torch.isfinite(r.loss) for r in results)
    assert any(not torch.equal(a, b) for a, b in zip(before, run.module.parameters(), strict=True))


@contextmanager
def full_fp32_matmuls():
    """Exact fp32 products (no TF32, which an earlier setup may have allowed): the comparisons
    below are at fp32 tolerances."""
    allowed = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = allowed


@full_fp32_matmuls()
def test_packed_attention_kernels_compute_each_example_alone(device):
    torch.manual_seed(0)
    model = Discriminator(dataclasses.replace(tiny_model(50), attention_dropout=0.0)).to(device)
    ids = examples([9, 7, 5, 4, 3, 12])
    packed = to_device(pack_rows(ids, SPECIAL), device)
    alone_inputs = to_device(model_inputs(ids, SPECIAL.pad, SPECIAL.sep), device)
    encoder = model.electra
    with torch.no_grad():  # evaluation: auto takes FlexAttention on CUDA
        alone = encoder.eval()(**alone_inputs).float().cpu()
        use_packed_attention(model, "flex" if device.type == "cpu" else "auto")
        assert_each_example_as_alone(packed, ids, encoder(**packed).float().cpu(), alone)
    if device.type != "cuda":
        return  # FlexAttention has no CPU backward
    # Training without attention dropout: FlexAttention's gradients are the dense mask's.
    model.train()
    grads = {}
    for kernel in ("flex", "sdpa"):
        use_packed_attention(model, kernel)
        model.zero_grad()
        torch.manual_seed(1)
        model(**packed).float().square().sum().backward()
        grads[kernel] = [p.grad.clone() for p in model.parameters()]
    for a, b in zip(grads["flex"], grads["sdpa"], strict=True):
        torch.testing.assert_close(a, b, atol=2e-4, rtol=2e-3)


def test_deberta_packs_rows_exactly_and_trains_in_native_precision_without_waiting(device):
    """The second backbone on the device: each packed example's states equal its states alone
    (relative attention inside the block mask; SDPA with the position terms as a bias), and an
    RTD step in the device's native precision, forward and backward, never waits on it."""
    config = ModelConfig.preset("tiny", backbone="deberta-v3", vocab_size=50, hidden_size=32,
                                num_layers=2, num_heads=2, intermediate_size=64,
                                max_position_embeddings=64, position_buckets=8)  # fmt: skip
    torch.manual_seed(0)
    encoder = Discriminator(config).to(device).eval().electra
    ids = examples([9, 7, 5, 4, 3, 12])
    packed = to_device(pack_rows(ids, SPECIAL), device)
    with torch.no_grad(), full_fp32_matmuls():
        alone = encoder(**to_device(model_inputs(ids, SPECIAL.pad, SPECIAL.sep), device))
        assert_each_example_as_alone(packed, ids, encoder(**packed).float().cpu(), alone.cpu())
    objective = build(config, PretrainConfig.preset("tiny", "deberta-v3", seq_len=16), SPECIAL)
    objective.to(device).train()
    dtype = torch.bfloat16 if native_bf16(device) else None
    with no_host_sync(device):
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            out = objective(**packed)
        out.loss.backward()
    assert torch.isfinite(out.loss)
    assert all(torch.isfinite(p.grad).all() for p in objective.parameters() if p.grad is not None)


def test_packed_rows_with_attention_dropout_take_a_fused_kernel(device):
    """Pre-training's attention dropout rules FlexAttention out; on CUDA the dense block mask
    and the dropout go to SDPA's memory-efficient kernel (no unfused fallback allowed here)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    torch.manual_seed(0)
    module = build(tiny_model(50), config(), SPECIAL).to(device).train()
    ids = examples([9, 7, 5, 4, 3, 12])
    packed = to_device(pack_rows(ids, SPECIAL), device)
    cuda = device.type == "cuda"
    fused_only = sdpa_kernel([SDPBackend.EFFICIENT_ATTENTION]) if cuda else nullcontext()
    with fused_only, torch.autocast(device.type, torch.bfloat16):
        output = module(**packed)
        output.loss.backward()
    assert torch.isfinite(output.loss)
    assert all(torch.isfinite(p.grad).all() for p in module.parameters() if p.grad is not None)


def test_compiled_training_on_packed_rows(device, prepared, tmp_path):
    import torch._dynamo.utils

    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    # No held-out scoring: on CUDA it would compile FlexAttention, a graph of its own.
    code = trainer.train(prepared, tmp_path, tiny_model(400), config(compile=True, eval_batches=0),
                         device=str(device), progress=False)  # fmt: skip
    assert code == 0
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] == 1
    logged = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert all(torch.isfinite(torch.tensor(r["gen_loss"])) for r in logged if "gen_loss" in r)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@full_fp32_matmuls()
def test_ddp_accumulates_the_plain_modules_gradients(device):
    """DistributedDataParallel in a 1-process group (NCCL on CUDA, gloo on CPU) with `no_sync`
    on the inner micro-batch: the same gradients as the module alone."""
    cuda = device.type == "cuda"
    if cuda and device.index is None:  # init_process_group wants the GPU's index
        device = torch.device("cuda", torch.cuda.current_device())
    dist.init_process_group("nccl" if cuda else "gloo", rank=0, world_size=1,
                            init_method=f"tcp://127.0.0.1:{_free_port()}",
                            device_id=device if cuda else None)  # fmt: skip
    try:
        model = dataclasses.replace(tiny_model(50), hidden_dropout=0.0, attention_dropout=0.0)
        torch.manual_seed(0)
        plain = build(model, config(), SPECIAL).to(device)
        torch.manual_seed(0)
        wrapped = torch.nn.parallel.DistributedDataParallel(
            build(model, config(), SPECIAL).to(device),
            device_ids=[device] if cuda else None,
        )
        micro = [to_device(pack_rows(examples(n), SPECIAL), device)
                 for n in ([9, 7, 5, 16], [16, 3, 12, 4])]  # fmt: skip
        for module, ddp in ((plain, None), (wrapped, wrapped)):
            torch.manual_seed(1)
            for i, inputs in enumerate(micro):
                inner = ddp is not None and i == 0
                with ddp.no_sync() if inner else nullcontext():
                    (module(**inputs).loss / 2).backward()
        for a, b in zip(plain.parameters(), wrapped.module.parameters(), strict=True):
            if a.grad is not None:
                torch.testing.assert_close(a.grad, b.grad, atol=1e-5, rtol=1e-4)
    finally:
        dist.destroy_process_group()


def test_a_short_pretraining_run_learns(device, prepared, tmp_path: Path):
    """Enough steps for the losses to fall on the real (tiny) data."""
    steps = config(steps=60, lr=2e-3, warmup_steps=5, log_every=20, batch_size=16)
    assert trainer.train(prepared, tmp_path, tiny_model(400), steps, device=str(device),
                         progress=False) == 0  # fmt: skip
    logged = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in logged if "gen_loss" in r]
    assert train[-1]["gen_loss"] < train[0]["gen_loss"]
