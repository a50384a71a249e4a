"""Pre-training's defaults against transcriptions of the official code (google-research/electra
at 8a46635): `AdamWeightDecayOptimizer` (`model/optimization.py`) and the discriminator's output
layer (`run_pretraining.py`, `_get_discriminator_output`: `tf.layers.dense(hidden, units=1)`,
Glorot-uniform weights and zero bias, no prior). Each departure is an option, recorded."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from electra.config import ModelConfig
from electra.pretraining.objectives.rtd import ReplacedTokenDetection
from electra.pretraining.options import PretrainConfig, departures
from electra.pretraining.resolve import load_run_config
from electra.pretraining.setup import make_optimizer
from electra.tokenizer import SpecialIds

SPECIAL = SpecialIds(pad=0, unk=1, cls=2, sep=3, mask=4)
MODEL = ModelConfig(vocab_size=50, embedding_size=16, hidden_size=32, num_layers=1, num_heads=2,
                    intermediate_size=64, max_position_embeddings=32)  # fmt: skip


def official_adam(params, grads, lr, wd, steps, beta1=0.9, beta2=0.999, eps=1e-6, decayed=()):
    """`AdamWeightDecayOptimizer._apply_gradients`, line for line, in numpy."""
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v = {k: np.zeros_like(p) for k, p in params.items()}
    for step in range(steps):
        for name, param in params.items():
            grad = grads[step][name]
            next_m = beta1 * m[name] + (1.0 - beta1) * grad
            next_v = beta2 * v[name] + (1.0 - beta2) * np.square(grad)
            update = next_m / (np.sqrt(next_v) + eps)
            if wd > 0 and name in decayed:
                update += wd * param
            params[name] = param - lr * update
            m[name], v[name] = next_m, next_v
    return params


def test_the_default_optimizer_is_the_official_one():
    torch.manual_seed(0)
    module = torch.nn.Linear(4, 3)
    start = {n: p.detach().double().numpy().copy() for n, p in module.named_parameters()}
    config = PretrainConfig(lr=0.1, weight_decay=0.01)
    optimizer = make_optimizer(module, config, torch.device("cpu"))
    grads = []
    for _ in range(3):
        step = {n: torch.randn_like(p) for n, p in module.named_parameters()}
        for n, p in module.named_parameters():
            p.grad = step[n].clone()
        grads.append({n: g.double().numpy() for n, g in step.items()})
        optimizer.step()
    expected = official_adam(start, grads, 0.1, 0.01, 3, decayed={"weight"})  # no decay on bias
    for name, param in module.named_parameters():
        np.testing.assert_allclose(
            param.detach().double().numpy(), expected[name], rtol=1e-5, atol=1e-6
        )
    corrected = make_optimizer(module, PretrainConfig(bias_correction=True), torch.device("cpu"))
    assert isinstance(corrected, torch.optim.AdamW)


def test_the_first_step_is_larger_without_bias_correction():
    """sqrt(1 - beta2) / (1 - beta1) = 0.316: the official first update is about 1/0.316 = 3.2x
    AdamW's lr (a unit gradient)."""
    sizes = []
    for correct in (False, True):
        param = torch.nn.Parameter(torch.zeros(1))
        optimizer = make_optimizer(torch.nn.ParameterList([param]),
                                   PretrainConfig(lr=1.0, bias_correction=correct, weight_decay=0),
                                   torch.device("cpu"))  # fmt: skip
        param.grad = torch.ones(1)
        optimizer.step()
        sizes.append(abs(float(param.detach())))
    assert sizes[0] / sizes[1] == pytest.approx(1 / math.sqrt(1 - 0.999) * (1 - 0.9), rel=1e-3)


def test_a_skipped_step_changes_nothing_on_the_device():
    param = torch.nn.Parameter(torch.ones(3))
    optimizer = make_optimizer(
        torch.nn.ParameterList([param]), PretrainConfig(), torch.device("cpu")
    )
    param.grad = torch.ones(3)
    optimizer.found_inf = torch.tensor(1.0)
    optimizer.step()
    assert torch.equal(param.detach(), torch.ones(3))
    assert not optimizer.state[param]["m"].any()


def test_the_discriminator_output_layer_starts_as_the_official_dense():
    torch.manual_seed(0)
    out = ReplacedTokenDetection(MODEL, PretrainConfig(), SPECIAL).discriminator.head.out
    bound = math.sqrt(6 / (MODEL.hidden_size + 1))  # Glorot-uniform, fan_in + fan_out
    out = out.requires_grad_(False)
    assert float(out.bias) == 0.0
    assert float(out.weight.abs().max()) <= bound and float(
        out.weight.std()
    ) > 0.5 * bound / math.sqrt(3)
    departed = ReplacedTokenDetection(MODEL, PretrainConfig(output_bias_prior=True, head_init="normal"),
                                      SPECIAL).discriminator.head.out.requires_grad_(False)  # fmt: skip
    assert float(departed.bias) == pytest.approx(math.log(0.15 / 0.85), rel=1e-4)
    assert float(departed.weight.std()) < 0.05
    assert departures(PretrainConfig()) == []
    assert len(departures(PretrainConfig(bias_correction=True, head_init="normal"))) == 2


def test_a_run_saved_before_the_official_defaults_resumes_with_what_it_had(tmp_path):
    saved = {"model": json.loads(json.dumps(MODEL.__dict__)), "pretrain": {"steps": 10}}
    (tmp_path / "pretrain.json").write_text(json.dumps(saved))
    _, config = load_run_config(tmp_path)
    assert (config.bias_correction, config.output_bias_prior, config.head_init) == (
        True,
        True,
        "normal",
    )
