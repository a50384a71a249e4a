"""Continued pre-training: `--init-from` (and `--init-generator`) start a run from checkpoints
saved by `transformers`, checked against the shards' vocabulary."""

from __future__ import annotations

import json

import pytest
import torch
from pretrain_data import one_thread  # noqa: F401 (fixture)

from electra import hf
from electra.backbones.models import Discriminator, Generator
from electra.cli import main
from electra.pretraining.resolve import resolve_configs
from electra.pretraining.setup import setup
from electra.processes import Process
from electra.tokenizer import load_tokenizer, save_tokenizer

transformers = pytest.importorskip("transformers")


def hf_pair(root, vocabulary_dir, generator_hidden: int = 16):
    """A discriminator and a generator, models and tokenizers made and saved by transformers
    (which writes tokenizer.json and no vocab.txt)."""
    hf_tokenizer = transformers.ElectraTokenizerFast.from_pretrained(vocabulary_dir)
    tokenizer = load_tokenizer(vocabulary_dir)
    torch.manual_seed(1)
    shape = dict(vocab_size=tokenizer.get_vocab_size(), embedding_size=16, num_hidden_layers=2,
                 intermediate_size=64, max_position_embeddings=64)  # fmt: skip
    disc = transformers.ElectraConfig(**shape, hidden_size=32, num_attention_heads=2)
    gen = transformers.ElectraConfig(**{**shape, "intermediate_size": 64 * generator_hidden // 32},
                                     hidden_size=generator_hidden, num_attention_heads=1)  # fmt: skip
    paths = {}
    for name, model in (("disc", transformers.ElectraForPreTraining(disc)),
                        ("gen", transformers.ElectraForMaskedLM(gen))):  # fmt: skip
        model.save_pretrained(root / name)
        hf_tokenizer.save_pretrained(root / name)
        assert not (root / name / "vocab.txt").exists()
        paths[name] = root / name
    return paths


def test_weights_start_as_the_checkpoints_and_the_export_loads_in_transformers(prepared, tmp_path):
    pair = hf_pair(tmp_path, prepared)
    overrides = dict(init_from=str(pair["disc"]), init_generator=str(pair["gen"]), steps=3,
                     batch_size=8, warmup_steps=1, save_every=0, eval_batches=1, log_every=1)  # fmt: skip
    model_config, config = resolve_configs(prepared, tmp_path / "run", "tiny", overrides, {})
    assert (model_config.hidden_size, model_config.generator().hidden_size) == (32, 16)

    process = Process("cpu")
    run = setup(process, prepared, tmp_path / "run", model_config, config, resume=False)
    disc = hf.load(pair["disc"], Discriminator).state_dict()
    gen = hf.load(pair["gen"], Generator).state_dict()
    for name, value in run.module.discriminator.state_dict().items():
        torch.testing.assert_close(value, disc[name], rtol=0, atol=0, msg=name)
    for name, value in run.module.generator.state_dict().items():
        expected = disc[name] if name.startswith("electra.embeddings.") else gen[name]
        torch.testing.assert_close(value, expected, rtol=0, atol=0, msg=name)  # shared: disc's
    process.close()

    argv = ["pretrain", "--data", str(prepared), "--out", str(tmp_path / "cli"), "--preset", "tiny",
            "--init-from", str(pair["disc"]), "--init-generator", str(pair["gen"]), "--steps", "3",
            "--batch-size", "8", "--warmup-steps", "1", "--eval-batches", "1", "--log-every", "1"]  # fmt: skip
    assert main(argv) == 0
    saved = json.loads((tmp_path / "cli" / "pretrain.json").read_text())
    assert saved["pretrain"]["init_from"] == str(pair["disc"])  # where the weights came from
    exported, info = transformers.ElectraForPreTraining.from_pretrained(
        tmp_path / "cli" / "discriminator", output_loading_info=True
    )
    assert not info["missing_keys"] and not info["unexpected_keys"]
    moved = exported.state_dict()["electra.encoder.layer.0.attention.self.query.weight"]
    assert not torch.equal(moved, transformers.ElectraForPreTraining.from_pretrained(pair["disc"]).state_dict()[
        "electra.encoder.layer.0.attention.self.query.weight"])  # fmt: skip


def test_a_fresh_generator_of_the_preset_width_when_none_is_given(prepared, tmp_path):
    pair = hf_pair(tmp_path, prepared)
    model_config, _ = resolve_configs(
        prepared, tmp_path / "r", "small", {"init_from": str(pair["disc"])}, {}
    )
    assert model_config.hidden_size == 32 and model_config.generator_fraction == 0.25


def test_a_checkpoint_of_another_vocabulary_is_refused(prepared, tmp_path, capsys):
    """Same size, two tokens swapped: only the hash tells them apart."""
    tokens = (prepared / "vocab.txt").read_text(encoding="utf-8").splitlines()
    tokens[10], tokens[11] = tokens[11], tokens[10]
    (tmp_path / "swapped").mkdir()
    (tmp_path / "swapped" / "vocab.txt").write_text("\n".join(tokens) + "\n", encoding="utf-8")
    pair = hf_pair(tmp_path, tmp_path / "swapped")
    argv = ["pretrain", "--data", str(prepared), "--out", str(tmp_path / "run"), "--preset", "tiny",
            "--init-from", str(pair["disc"]), "--steps", "1", "--batch-size", "8"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err.splitlines()[-1]
    assert "its vocabulary is not the one the shards were prepared with" in err
    assert not (tmp_path / "run" / "checkpoints").exists()


def hf_generator(directory, vocabulary_dir, **shape):
    """A generator of `shape` made and saved by transformers, with the shards' vocabulary."""
    tokenizer = load_tokenizer(vocabulary_dir)
    config = transformers.ElectraConfig(vocab_size=tokenizer.get_vocab_size(),
                                        max_position_embeddings=64, **shape)  # fmt: skip
    transformers.ElectraForMaskedLM(config).save_pretrained(directory)
    save_tokenizer(tokenizer, directory)


def test_a_generator_of_its_own_shape_takes_its_sizes_from_its_config(prepared, tmp_path):
    """Heads, feed-forward width and depth that are no fraction of the discriminator's (as the
    released generators and users' own have): the run builds the generator its config says."""
    pair = hf_pair(tmp_path, prepared)
    hf_generator(tmp_path / "own", prepared, embedding_size=16, hidden_size=16, num_hidden_layers=1,
                 num_attention_heads=2, intermediate_size=48)  # fmt: skip
    overrides = dict(init_from=str(pair["disc"]), init_generator=str(tmp_path / "own"), steps=2,
                     batch_size=8, warmup_steps=1, save_every=0, eval_batches=1, log_every=1)  # fmt: skip
    model_config, config = resolve_configs(prepared, tmp_path / "run", "tiny", overrides, {})
    generator = model_config.generator()
    assert (generator.hidden_size, generator.num_heads, generator.intermediate_size,
            generator.num_layers) == (16, 2, 48, 1)  # fmt: skip
    process = Process("cpu")
    run = setup(process, prepared, tmp_path / "run", model_config, config, resume=False)
    own = hf.load(tmp_path / "own", Generator).state_dict()
    for name, value in run.module.generator.state_dict().items():
        if not name.startswith("electra.embeddings."):
            torch.testing.assert_close(value, own[name], rtol=0, atol=0, msg=name)
    process.close()


def test_a_generator_that_cannot_pair_with_the_discriminator_is_refused(prepared, tmp_path, capsys):
    pair = hf_pair(tmp_path, prepared)
    hf_generator(tmp_path / "narrow", prepared, embedding_size=8, hidden_size=16,
                 num_hidden_layers=2, num_attention_heads=1, intermediate_size=32)  # fmt: skip
    argv = ["pretrain", "--data", str(prepared), "--out", str(tmp_path / "run"), "--preset", "tiny",
            "--init-from", str(pair["disc"]), "--init-generator", str(tmp_path / "narrow")]  # fmt: skip
    assert main(argv) == 2
    assert "narrow: its embedding size cannot pair with" in capsys.readouterr().err
