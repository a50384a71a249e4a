"""Our modules against `transformers` as the oracle, both directions, on tiny random models."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import TINY_MODEL as TINY

from electra import hf
from electra.backbones.models import Discriminator, Generator
from electra.config import ModelConfig
from electra.errors import UserError
from electra.tasks.glue.model import SequenceClassifier
from electra.tasks.squad.model import QuestionAnswerer
from electra.tasks.tagging.model import TokenClassifier

transformers = pytest.importorskip("transformers")


# our class, transformers class name, constructor kwargs, output -> comparable tensor
CASES = [
    (Discriminator, "ElectraForPreTraining", {}, lambda out: out.logits),
    (Generator, "ElectraForMaskedLM", {}, lambda out: out.logits),
    (
        SequenceClassifier,
        "ElectraForSequenceClassification",
        {"num_labels": 3},
        lambda out: out.logits,
    ),
    (TokenClassifier, "ElectraForTokenClassification", {"num_labels": 5}, lambda out: out.logits),
    (
        QuestionAnswerer,
        "ElectraForQuestionAnswering",
        {},
        lambda out: torch.stack([out.start_logits, out.end_logits]),
    ),
]


def hf_config(**extra):
    return transformers.ElectraConfig(
        vocab_size=99,
        embedding_size=16,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        **extra,
    )


def batch():
    """Two sequences, the second padded, both with two segments."""
    g = torch.Generator().manual_seed(0)
    input_ids = torch.randint(5, 99, (2, 11), generator=g)
    attention_mask = torch.ones(2, 11, dtype=torch.long)
    attention_mask[1, 7:] = 0
    input_ids[1, 7:] = 0
    token_type_ids = torch.zeros(2, 11, dtype=torch.long)
    token_type_ids[0, 6:] = 1
    token_type_ids[1, 4:7] = 1
    return input_ids, attention_mask, token_type_ids


def scrambled(model, seed=0):
    """Every parameter drawn at a large scale (as litgpt's parity tests do): a fresh model's
    LayerNorms are 1 and 0 and its activations small, which would hide a swapped LayerNorm in
    the weight mapping or the tanh approximation of GELU."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            param.copy_(torch.randn(param.shape, generator=g) * 0.5 + (param == 1).float())
    return model


def ours_output(model, inputs):
    out = model(*inputs)
    return torch.stack(out) if isinstance(out, tuple) else out


@pytest.mark.parametrize("ours_cls, hf_name, kwargs, pick", CASES, ids=[c[1] for c in CASES])
def test_transformers_checkpoint_loads_with_identical_outputs(
    tmp_path, ours_cls, hf_name, kwargs, pick
):
    torch.manual_seed(0)
    reference = scrambled(getattr(transformers, hf_name)(hf_config(**kwargs))).eval()
    reference.save_pretrained(tmp_path)
    model = hf.load(tmp_path, ours_cls).eval()
    inputs = batch()
    with torch.no_grad():
        expected = pick(reference(*inputs))
        got = ours_output(model, inputs)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("ours_cls, hf_name, kwargs, pick", CASES, ids=[c[1] for c in CASES])
def test_saved_checkpoint_loads_in_transformers_with_identical_outputs(
    tmp_path, ours_cls, hf_name, kwargs, pick
):
    torch.manual_seed(1)
    model = scrambled(ours_cls(ModelConfig(**TINY), **kwargs), seed=1).eval()
    hf.save(model, tmp_path)
    reference, info = getattr(transformers, hf_name).from_pretrained(
        tmp_path, output_loading_info=True
    )
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"]
    inputs = batch()
    with torch.no_grad():
        expected = pick(reference.eval()(*inputs))
        got = ours_output(model, inputs)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


def test_generator_logits_at_positions_equal_full_logits_there():
    torch.manual_seed(0)
    model = Generator(ModelConfig(**TINY)).eval()
    input_ids, attention_mask, token_type_ids = batch()
    positions = torch.zeros_like(input_ids, dtype=torch.bool)
    positions[0, [1, 4]] = True
    positions[1, 3] = True
    with torch.no_grad():
        full = model(input_ids, attention_mask, token_type_ids)
        some = model(input_ids, attention_mask, token_type_ids, positions=positions)
        indexed = model(
            input_ids, attention_mask, token_type_ids, positions=torch.tensor([[1, 4], [3, 3]])
        )
    assert torch.allclose(some, full[positions], atol=1e-6)
    assert torch.allclose(indexed[0], full[0, [1, 4]], atol=1e-6)


def test_shared_embeddings_are_one_module_and_generator_projection_is_tied():
    config = ModelConfig(**TINY)
    disc = Discriminator(config)
    gen = Generator(config.generator(), embeddings=disc.electra.embeddings)
    assert gen.electra.embeddings is disc.electra.embeddings
    before = disc.electra.embeddings.word.weight.clone()
    Generator(config.generator(), embeddings=disc.electra.embeddings)
    assert torch.equal(before, disc.electra.embeddings.word.weight), (
        "building a generator re-initialised shared weights"
    )
    logits = gen(torch.tensor([[5, 6, 7]]))
    logits.sum().backward()
    assert disc.electra.embeddings.word.weight.grad is not None


def test_discriminator_checkpoint_loads_into_classifier_with_fresh_head(tmp_path):
    torch.manual_seed(0)
    disc = Discriminator(ModelConfig(**TINY))
    hf.save(disc, tmp_path)
    clf = hf.load(tmp_path, SequenceClassifier, num_labels=2)
    assert clf.head_initialized
    assert torch.equal(clf.electra.embeddings.word.weight, disc.electra.embeddings.word.weight)


def test_pytorch_bin_checkpoint_loads(tmp_path):
    torch.manual_seed(0)
    reference = transformers.ElectraForPreTraining(hf_config()).eval()
    reference.save_pretrained(tmp_path)
    # The released google/electra-* checkpoints are pytorch_model.bin; transformers 5 no longer
    # writes that format, so write it as older versions did.
    torch.save(reference.state_dict(), tmp_path / "pytorch_model.bin")
    (tmp_path / "model.safetensors").unlink()
    model = hf.load(tmp_path, Discriminator).eval()
    inputs = batch()
    with torch.no_grad():
        assert (model(*inputs) - reference(*inputs).logits).abs().max() < 1e-5


def test_bad_checkpoints_raise_one_line_errors(tmp_path):
    with pytest.raises(UserError, match="no such directory"):
        hf.load(tmp_path / "absent", Discriminator)
    with pytest.raises(UserError, match="no config.json"):
        hf.load(tmp_path, Discriminator)
    hf.save(Discriminator(ModelConfig(**TINY)), tmp_path / "ok")
    (tmp_path / "ok" / "model.safetensors").unlink()
    with pytest.raises(UserError, match="no weights"):
        hf.load(tmp_path / "ok", Discriminator)
    other = tmp_path / "bert"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(UserError, match="model_type is 'bert', expected 'electra'"):
        hf.load(other, Discriminator)
    hf.save(Discriminator(ModelConfig(**TINY)), tmp_path / "shapes")
    config = json.loads((tmp_path / "shapes" / "config.json").read_text())
    config["hidden_size"] = 64
    (tmp_path / "shapes" / "config.json").write_text(json.dumps(config))
    with pytest.raises(UserError, match="mismatched shapes"):
        hf.load(tmp_path / "shapes", Discriminator)


def test_hub_name_offline_fails_with_one_line(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UserError, match="google/electra-small-discriminator: no such local "
                       "directory; read as a Hugging Face Hub name, this machine is offline"):  # fmt: skip
        hf.load("google/electra-small-discriminator", Discriminator)


def test_prepare_takes_a_hub_name_as_vocabulary_and_says_when_offline(
    monkeypatch, tmp_path, capsys
):
    from electra.cli import main

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    (tmp_path / "c.txt").write_text("some text\n")
    argv = ["prepare", "--corpus", str(tmp_path / "c.txt"), "--vocab",
            "google/electra-small-discriminator", "--out", str(tmp_path / "d")]  # fmt: skip
    assert main(argv) == 2
    assert "a Hugging Face Hub name, this machine is offline" in capsys.readouterr().err
