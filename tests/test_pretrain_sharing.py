"""Embedding sharing between generator and discriminator (ELECTRA's shared module, DeBERTa-V3's
GDES, none) and a shallower generator: where each loss's gradients go, and what is exported."""

from __future__ import annotations

import pytest
import torch
from pretrain_data import one_thread  # noqa: F401 (fixture)

from electra.cli import main
from electra.config import ModelConfig
from electra.pretraining.objectives.build import build
from electra.pretraining.options import PretrainConfig
from electra.tokenizer import SpecialIds

SPECIAL = SpecialIds(pad=0, unk=1, cls=2, sep=3, mask=4)


def _module(sharing: str, **model):
    torch.manual_seed(0)
    config = ModelConfig(vocab_size=99, embedding_size=16, hidden_size=32, num_layers=2,
                         num_heads=4, intermediate_size=37, max_position_embeddings=64,
                         generator_fraction=0.5, **model)  # fmt: skip
    return build(
        config, PretrainConfig(seq_len=24, batch_size=4, embedding_sharing=sharing), SPECIAL
    )


def _reached(module, loss_name: str) -> set[str]:
    """The parameters that one loss (gen_loss or disc_loss) gives a nonzero gradient."""
    module.zero_grad(set_to_none=True)
    ids = torch.randint(5, 99, (4, 24))
    ids[:, 0], ids[:, -1] = SPECIAL.cls, SPECIAL.sep
    torch.manual_seed(1)
    getattr(module(ids), loss_name).backward()
    return {
        n for n, p in module.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0
    }


@pytest.mark.parametrize("sharing", ["shared", "gdes", "none"])
def test_each_loss_reaches_exactly_the_parameters_its_mode_says(sharing):
    module = _module(sharing)
    gen, disc = _reached(module, "gen_loss"), _reached(module, "disc_loss")
    gen_embeddings = {n for n in gen if n.startswith("generator.electra.embeddings.")}
    assert not {n for n in disc if n.startswith("generator.")}  # samples carry no gradient
    assert {n for n in gen if n.startswith("discriminator.")} == (
        {n for n in gen if n.startswith("discriminator.electra.embeddings.")} if sharing == "shared" else set()
    )  # fmt: skip
    disc_embeddings = {n for n in disc if n.startswith("discriminator.electra.embeddings.")}
    if sharing == "shared":  # one module, registered under the discriminator: both losses train it
        assert not gen_embeddings and disc_embeddings and disc_embeddings <= gen
    elif sharing == "gdes":  # E_D = sg(E_G) + delta: the generator's from MLM only, deltas from RTD
        assert gen_embeddings and disc_embeddings == {
            "discriminator.electra.embeddings.word_delta",
            "discriminator.electra.embeddings.position_delta",
            "discriminator.electra.embeddings.token_type_delta",
            "discriminator.electra.embeddings.norm.weight",
            "discriminator.electra.embeddings.norm.bias",
        }
    else:
        assert (
            gen_embeddings
            and disc_embeddings
            and "discriminator.electra.embeddings.word.weight" in disc
        )


def test_gdes_starts_from_the_generators_embeddings_and_exports_them_merged():
    module = _module("gdes").eval()
    embeddings = module.discriminator.electra.embeddings
    assert all(not d.any() for d in (embeddings.word_delta, embeddings.position_delta))
    with torch.no_grad():  # after some training the residuals are not zero
        embeddings.word_delta.normal_(std=0.02)
        embeddings.token_type_delta.normal_(std=0.02)
    exported = module.exported()["discriminator"]
    assert type(exported.electra.embeddings).__name__ == "Embeddings"
    ids = torch.randint(5, 99, (3, 20))
    types = (torch.arange(20) > 9).long().expand(3, -1)
    with torch.no_grad():
        torch.testing.assert_close(
            exported(ids, None, types), module.discriminator(ids, None, types)
        )
    word = module.generator.electra.embeddings.word.weight + embeddings.word_delta
    torch.testing.assert_close(exported.electra.embeddings.word.weight, word)


def test_a_shallower_generator_and_gdes_from_the_command_line(prepared, tmp_path):
    transformers = pytest.importorskip("transformers")
    flags = ("--preset tiny --embedding-size 32 --hidden-size 32 --num-layers 4 --num-heads 2 "
             "--intermediate-size 64 --max-position-embeddings 64 --generator-fraction 0.5 "
             "--batch-size 8 --steps 3 --eval-batches 1 --no-progress").split()  # fmt: skip
    out = tmp_path / "run"
    assert main(["pretrain", "--data", str(prepared), "--out", str(out), *flags,
                 "--embedding-sharing", "gdes", "--generator-layers", "0.5"]) == 0  # fmt: skip
    generator = transformers.ElectraConfig.from_pretrained(out / "generator")
    assert (generator.num_hidden_layers, generator.hidden_size) == (2, 16)
    model, info = transformers.ElectraForPreTraining.from_pretrained(
        out / "discriminator", output_loading_info=True
    )
    assert not info["missing_keys"] and not info["unexpected_keys"]
    assert model.config.num_hidden_layers == 4
