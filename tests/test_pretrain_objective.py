"""The RTD and MLM objectives: masking statistics, generator input, labels, losses against
independent computations (scikit-learn, scipy), sharing and tying, and where gradients flow."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pretrain_data import one_thread  # noqa: F401 (fixture)
from scipy import stats
from sklearn.metrics import log_loss
from torch.nn import functional as F

from electra.config import ModelConfig
from electra.pretraining.objectives.masking import choose_positions
from electra.pretraining.objectives.mlm import MaskedLanguageModel
from electra.pretraining.objectives.rtd import ReplacedTokenDetection
from electra.pretraining.options import PretrainConfig
from electra.pretraining.vocabulary import sample
from electra.tokenizer import SpecialIds

SPECIAL = SpecialIds(pad=0, unk=1, cls=2, sep=3, mask=4)
VOCAB = 60
MODEL = ModelConfig(
    vocab_size=VOCAB,
    embedding_size=16,
    hidden_size=32,
    num_layers=2,
    num_heads=2,
    intermediate_size=64,
    max_position_embeddings=64,
    generator_fraction=0.5,
)


def batch(rows: int = 64, length: int = 40, seed: int = 0) -> dict[str, torch.Tensor]:
    """[CLS] A [SEP] B [SEP] rows of random ordinary tokens, every other row padded."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, VOCAB, (rows, length), generator=g)
    ids[:, 0] = SPECIAL.cls
    ids[:, length // 2] = SPECIAL.sep
    ids[:, -1] = SPECIAL.sep
    ids[1::2, length - 10 :] = SPECIAL.pad
    ids[1::2, length - 11] = SPECIAL.sep
    types = torch.zeros_like(ids)
    types[:, length // 2 + 1 :] = 1
    types[ids == SPECIAL.pad] = 0
    return {"input_ids": ids, "attention_mask": ids != SPECIAL.pad, "token_type_ids": types}


def capture_inputs(module: torch.nn.Module) -> list[torch.Tensor]:
    """Record the input_ids each call of `module` receives."""
    seen: list[torch.Tensor] = []
    module.register_forward_pre_hook(lambda m, args: seen.append(args[0].clone()))
    return seen


def test_positions_follow_the_official_counts_and_are_uniform():
    torch.manual_seed(0)
    inputs = batch(rows=64, length=40)
    maskable = inputs["attention_mask"] & (inputs["input_ids"] > SPECIAL.mask)
    counts = torch.zeros(40)
    for _ in range(50):
        masked = choose_positions(inputs["input_ids"], SPECIAL, 0.15, 6)
        chosen = torch.zeros_like(maskable).scatter(1, masked.positions, masked.weights)
        assert not (chosen & ~maskable).any(), "only non-special, non-padding tokens are chosen"
        expected = (maskable.sum(1) * 0.15).round().clamp(1, 6)
        assert torch.equal(chosen.sum(1), expected.long()), "distinct positions, official count"
        assert torch.equal(masked.original, inputs["input_ids"].gather(1, masked.positions))
        counts += chosen[0::2].sum(0).float()  # unpadded rows: 37 maskable positions each
    observed = counts[maskable[0]].numpy()
    assert stats.chisquare(observed).pvalue > 1e-3, "every maskable position equally likely"


def test_max_predictions_is_official():
    assert PretrainConfig(seq_len=128).max_predictions == 19
    assert PretrainConfig(seq_len=512, mask_prob=0.25).max_predictions == 130


def test_generator_sees_mask_85_percent_original_otherwise_never_random():
    torch.manual_seed(0)
    model = ReplacedTokenDetection(MODEL, PretrainConfig(seq_len=40), SPECIAL)
    seen = capture_inputs(model.generator.electra)
    inputs = batch(rows=256)
    model(**inputs)
    changed = seen[0] != inputs["input_ids"]
    assert (seen[0][changed] == SPECIAL.mask).all(), "a chosen token is [MASK] or unchanged"
    maskable = inputs["attention_mask"] & (inputs["input_ids"] > SPECIAL.mask)
    chosen = (maskable.sum(1) * 0.15).round().clamp(1, 6).sum()
    test = stats.binomtest(int(changed.sum()), int(chosen), 0.85)
    assert test.pvalue > 1e-3, (int(changed.sum()), int(chosen))


def test_labels_losses_and_total_match_independent_computation(monkeypatch):
    torch.manual_seed(0)
    model = ReplacedTokenDetection(MODEL, PretrainConfig(seq_len=40), SPECIAL).eval()  # no dropout
    gen_in = capture_inputs(model.generator.electra)
    disc_in = capture_inputs(model.discriminator)
    logits = {}
    model.discriminator.register_forward_hook(lambda m, a, out: logits.update(disc=out.detach()))
    chosen = []
    monkeypatch.setattr("electra.pretraining.objectives.rtd.choose_positions",
                        lambda *a: chosen.append(choose_positions(*a)) or chosen[-1])  # fmt: skip
    inputs = batch()
    out = model(**inputs)
    original, mask = inputs["input_ids"], inputs["attention_mask"]
    is_replaced = disc_in[0] != original
    # The discriminator sees the original everywhere except where the generator had [MASK] or
    # the original token (the chosen positions).
    chosen_or_same = (gen_in[0] != original) | is_replaced
    assert not (is_replaced & ~chosen_or_same).any()
    # Generator loss: cross-entropy of its logits at the chosen positions (as a plain MLM).
    masked = chosen[0]
    with torch.no_grad():
        gen_logits = model.generator(gen_in[0], mask, inputs["token_type_ids"], masked.positions)
    losses = F.cross_entropy(gen_logits.flatten(0, 1), masked.original.flatten(), reduction="none")
    expected_gen = losses[masked.weights.flatten()].mean().item()
    assert out.gen_loss.item() == pytest.approx(expected_gen, rel=1e-5)
    hits = (gen_logits.argmax(-1) == masked.original)[masked.weights].float().mean().item()
    assert out.gen_acc.item() == pytest.approx(hits)
    # Discriminator loss: binary cross-entropy over every non-padding token (scikit-learn).
    probs = torch.sigmoid(logits["disc"][mask]).double().numpy()
    expected = log_loss(is_replaced[mask].numpy(), probs, labels=[False, True])
    assert out.disc_loss.item() == pytest.approx(expected, rel=1e-5)
    assert out.replaced_frac.item() == pytest.approx(is_replaced[mask].float().mean().item())
    assert out.loss.item() == pytest.approx(
        out.gen_loss.item() + 50 * out.disc_loss.item(), rel=1e-6
    )
    predicted = (logits["disc"] > 0) & mask
    assert out.true_positives.item() == (predicted & is_replaced).sum().item()
    assert out.predicted_replaced.item() == predicted.sum().item()


def test_a_sample_equal_to_the_original_is_labelled_original(monkeypatch):
    from electra.pretraining.vocabulary import VocabularyOutput

    torch.manual_seed(0)
    model = ReplacedTokenDetection(MODEL, PretrainConfig(seq_len=40), SPECIAL)
    disc_in = capture_inputs(model.discriminator)
    inputs = batch()
    # A generator certain of the original token: every sample equals it.
    monkeypatch.setattr(
        "electra.pretraining.objectives.masking.vocabulary_output",
        lambda features, weight, bias, targets, temperature: VocabularyOutput(
            features.sum(-1) * 0, torch.ones_like(targets, dtype=torch.bool), targets.clone()
        ),
    )
    out = model(**inputs)
    assert torch.equal(disc_in[0], inputs["input_ids"])
    assert out.replaced_frac.item() == 0 and out.replaced.item() == 0
    assert out.gen_acc.item() == 1.0


def test_samples_follow_the_softmax():
    torch.manual_seed(0)
    logits = torch.tensor([2.0, 1.0, 0.0, -1.0, 0.5])
    for temperature in (1.0, 2.0):
        samples = sample(logits.expand(40_000, -1), temperature)
        observed = np.bincount(samples.numpy(), minlength=5)
        expected = torch.softmax(logits / temperature, -1).double().numpy()
        expected = expected / expected.sum() * 40_000
        assert stats.chisquare(observed, expected).pvalue > 1e-3
    impossible = torch.tensor([0.0, -torch.inf, 0.0, -torch.inf])
    assert set(sample(impossible.expand(10_000, -1), 1.0).tolist()) == {0, 2}


def test_one_shared_embedding_module_and_tied_projection():
    model = ReplacedTokenDetection(MODEL, PretrainConfig(seq_len=40), SPECIAL)
    gen, disc = model.generator, model.discriminator
    assert gen.electra.embeddings is disc.electra.embeddings
    assert gen.config.hidden_size == 16 and disc.config.hidden_size == 32  # width fraction 1/2
    word = disc.electra.embeddings.word.weight
    assert sum(p is word for p in model.parameters()) == 1
    # Tied: the generator's vocabulary projection is the word embedding table itself.
    ids = torch.tensor([[SPECIAL.cls, 10, 11, 12, SPECIAL.sep]])  # token 7 absent from the input
    gen.eval()
    with torch.no_grad():
        before = gen(ids)
        word[7] = torch.randn(MODEL.embedding_size)  # edit the discriminator's table
        after = gen(ids)
    assert not torch.allclose(before[..., 7], after[..., 7])
    assert torch.equal(before[..., 8], after[..., 8])
    # Nothing else is shared.
    gen_params = {id(p) for p in gen.parameters()}
    shared = [p for p in disc.parameters() if id(p) in gen_params]
    assert len(shared) == len(list(disc.electra.embeddings.parameters()))


def test_no_gradient_reaches_the_generator_through_the_sample():
    torch.manual_seed(0)
    config = PretrainConfig(seq_len=40, gen_weight=0.0)  # only the discriminator loss
    model = ReplacedTokenDetection(MODEL, config, SPECIAL)
    model(**batch()).loss.backward()
    gen_own = [p for n, p in model.generator.named_parameters() if "embeddings" not in n]
    assert all(p.grad is None or not p.grad.any() for p in gen_own)
    assert model.discriminator.electra.embeddings.word.weight.grad.any()


@pytest.mark.parametrize("mask_prob", [0.15, 0.3])
def test_with_the_bias_prior_the_untrained_discriminator_starts_at_the_replaced_share(mask_prob):
    """`output_bias_prior` (a departure): the first loss is the base rate's entropy, not log 2."""
    torch.manual_seed(0)
    config = PretrainConfig(
        seq_len=40, mask_prob=mask_prob, output_bias_prior=True, head_init="normal"
    )
    model = ReplacedTokenDetection(MODEL, config, SPECIAL)
    out = model(**batch())
    is_token = batch()["input_ids"] != SPECIAL.pad
    predicted = torch.sigmoid(out.disc_logits[is_token]).mean().item()
    assert predicted == pytest.approx(mask_prob, abs=0.01)
    share = out.replaced_frac.item()
    base_rate_entropy = -(share * np.log(share) + (1 - share) * np.log(1 - share))
    assert out.disc_loss.item() == pytest.approx(base_rate_entropy, rel=0.1)


def test_mlm_baseline_is_80_10_10_and_discriminator_sized():
    torch.manual_seed(0)
    model = MaskedLanguageModel(MODEL, PretrainConfig(seq_len=40, objective="mlm"), SPECIAL)
    assert model.generator.config.hidden_size == MODEL.hidden_size
    seen = capture_inputs(model.generator.electra)
    inputs = batch(rows=512)
    out = model(**inputs)
    assert out.disc_loss is None and set(out.metrics()) == {"gen_loss", "gen_acc"}
    maskable = inputs["attention_mask"] & (inputs["input_ids"] > SPECIAL.mask)
    chosen = int((maskable.sum(1) * 0.15).round().clamp(1, 6).sum())
    changed = seen[0] != inputs["input_ids"]
    masked = int((seen[0] == SPECIAL.mask).sum())
    random = int((changed & (seen[0] != SPECIAL.mask)).sum())
    assert stats.binomtest(masked, chosen, 0.8).pvalue > 1e-3
    # a random token equal to the original is invisible: expect 10% x (1 - 1/V)
    assert stats.binomtest(random, chosen, 0.1 * (1 - 1 / VOCAB)).pvalue > 1e-3
