"""What the loops do to the optimizer, asserted where it happens: the gradient norm the optimizer
sees is clipped (pre-training and fine-tuning), fine-tuning's learning rate warms up from 0, and
the generator samples at the configured temperature. A loop that skipped any of these would
still train, so only asserting them in place catches their loss."""

from __future__ import annotations

import pytest
import torch
from pretrain_data import make_prepared, one_thread, tiny_model  # noqa: F401 (fixtures)
from test_finetune import _toy_features, _toy_task, save_tiny_discriminator

from electra.adam import AdamWeightDecay
from electra.config import ModelConfig
from electra.pretraining.objectives.rtd import ReplacedTokenDetection
from electra.pretraining.options import PretrainConfig
from electra.pretraining.trainer import train
from electra.tasks.loop import finetune
from electra.tasks.options import FinetuneConfig
from electra.tokenizer import SpecialIds


def _recorded_steps(monkeypatch):
    """Each optimizer step's global gradient norm and the head group's learning rate."""
    seen = []
    real = AdamWeightDecay.step

    def step(self, closure=None):
        grads = [p.grad for g in self.param_groups for p in g["params"] if p.grad is not None]
        norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
        seen.append((float(norm), max(g["lr"] for g in self.param_groups)))
        return real(self, closure)

    monkeypatch.setattr(AdamWeightDecay, "step", step)
    return seen


@pytest.mark.parametrize("clip", [1e-3, 0.0])
def test_pretraining_clips_the_gradient_the_optimizer_sees(prepared, tmp_path, monkeypatch, clip):
    seen = _recorded_steps(monkeypatch)
    config = PretrainConfig(seq_len=32, batch_size=8, steps=3, lr=1e-3, warmup_steps=1,
                            log_every=1, save_every=0, eval_batches=0, max_grad_norm=clip)  # fmt: skip
    assert train(prepared, tmp_path / "run", tiny_model(400), config) == 0
    norms = [norm for norm, _ in seen]
    assert len(norms) == 3
    if clip:
        assert max(norms) <= clip * 1.001
    else:  # 0 disables it: the real norms are far larger
        assert min(norms) > 1e-2


@pytest.mark.parametrize("clip", [1e-3, 1e9])
def test_finetuning_clips_the_gradient_and_warms_up_from_zero(tmp_path, monkeypatch, clip):
    seen = _recorded_steps(monkeypatch)
    torch.manual_seed(0)
    save_tiny_discriminator(tmp_path / "pre", layers=1)
    features = _toy_features(64, seed=1)
    run = FinetuneConfig(lr=1e-3, epochs=1, batch_size=8, max_grad_norm=clip, warmup_fraction=0.5)
    finetune(_toy_task(features, features), tmp_path / "pre", run, tmp_path / "out", progress=False)
    norms, rates = zip(*seen, strict=True)
    assert len(rates) == 8
    if clip < 1:
        assert max(norms) <= clip * 1.001
    else:
        assert min(norms) > 1e-2
    # official: linear warm-up over half the 8 steps from rate 0, then linear decay to 0
    expected = [1e-3 * min(s / 4, 1.0) * (1 - s / 8) for s in range(8)]
    assert rates == pytest.approx(expected, rel=1e-6, abs=1e-12)
    assert rates[0] == 0.0 and max(rates) < 1e-3


def test_the_objective_samples_at_the_configured_temperature(monkeypatch):
    from electra.pretraining.objectives import masking

    seen = []
    real = masking.vocabulary_output
    monkeypatch.setattr(masking, "vocabulary_output", lambda *a: seen.append(a[4]) or real(*a))
    special = SpecialIds(pad=0, unk=1, cls=2, sep=3, mask=4)
    model_config = ModelConfig(vocab_size=50, embedding_size=16, hidden_size=32, num_layers=1,
                               num_heads=2, intermediate_size=64, max_position_embeddings=32)  # fmt: skip
    model = ReplacedTokenDetection(
        model_config, PretrainConfig(seq_len=24, temperature=0.37), special
    )
    model(torch.randint(5, 50, (2, 24), generator=torch.Generator().manual_seed(0)))
    assert seen == [0.37]


def test_sampling_follows_the_temperature_in_the_blockwise_projection():
    """Near 0 the samples are the argmax; at 1 they spread over the softmax (the path a step
    takes, a block of rows at a time)."""
    from electra.pretraining.vocabulary import vocabulary_output

    g = torch.Generator().manual_seed(0)
    features, weight = torch.randn(2000, 8, generator=g), torch.randn(30, 8, generator=g)
    targets = torch.zeros(2000, dtype=torch.long)
    best = (features @ weight.T).argmax(-1)
    cold = vocabulary_output(features, weight, torch.zeros(30), targets, 1e-4).sampled
    warm = vocabulary_output(features, weight, torch.zeros(30), targets, 1.0).sampled
    assert torch.equal(cold, best)
    assert 0.3 < float((warm == best).float().mean()) < 0.95
