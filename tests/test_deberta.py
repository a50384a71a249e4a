"""The DeBERTa-V3 backbone against `transformers`' `DebertaV2*` classes as the oracle, both
directions, on tiny models whose every parameter is drawn at a large scale."""

from __future__ import annotations

import pytest
import torch
from test_hf_parity import scrambled

from electra import hf
from electra.backbones.deberta.network import bucket_positions
from electra.backbones.electra.network import Discriminator, EncoderOnly, Generator
from electra.config import ModelConfig

transformers = pytest.importorskip("transformers")

# Eight buckets over 24 tokens: distances past 4 fall into the log-spaced buckets.
SHAPE = dict(vocab_size=61, hidden_size=32, num_layers=2, num_heads=4, intermediate_size=48,
             max_position_embeddings=64, position_buckets=8)  # fmt: skip
CONFIG = ModelConfig.preset("tiny", backbone="deberta-v3", embedding_size=32, **SHAPE)


def hf_config(**extra):
    return transformers.DebertaV2Config(**hf.config_to_hf(CONFIG), **extra)


def batch():
    """Two rows of 24 tokens, the second padded after 15."""
    g = torch.Generator().manual_seed(0)
    input_ids = torch.randint(3, 61, (2, 24), generator=g)
    attention_mask = torch.ones(2, 24, dtype=torch.long)
    attention_mask[1, 15:] = 0
    input_ids[1, 15:] = 0
    return input_ids, attention_mask


def real(tensor, attention_mask):
    """The positions that hold tokens (padding's outputs are nobody's)."""
    return tensor[attention_mask.bool()]


def test_distances_fall_into_transformers_log_buckets():
    from transformers.models.deberta_v2.modeling_deberta_v2 import make_log_bucket_position

    distance = torch.arange(-600, 601)[None, :]
    for buckets, limit in ((8, 64), (256, 512), (32, 100)):
        assert torch.equal(
            bucket_positions(distance, buckets, limit),
            make_log_bucket_position(distance, buckets, limit).long(),
        )


CASES = [
    (EncoderOnly, "DebertaV2Model", lambda out: out.last_hidden_state),
    (Generator, "DebertaV2ForMaskedLM", lambda out: out.logits),
]


@pytest.mark.parametrize("ours_cls, hf_name, pick", CASES, ids=[c[1] for c in CASES])
def test_a_transformers_deberta_loads_with_identical_outputs(tmp_path, ours_cls, hf_name, pick):
    torch.manual_seed(0)
    reference = scrambled(getattr(transformers, hf_name)(hf_config())).eval()
    reference.save_pretrained(tmp_path)
    model = hf.load(tmp_path, ours_cls).eval().double()  # float64: no rounding to hide behind
    reference.double()
    input_ids, attention_mask = batch()
    with torch.no_grad():
        expected = pick(reference(input_ids, attention_mask))
        got = model(input_ids, attention_mask)
    torch.testing.assert_close(
        real(got, attention_mask), real(expected, attention_mask), rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize("ours_cls, hf_name, pick", CASES, ids=[c[1] for c in CASES])
def test_a_saved_deberta_loads_in_transformers_with_identical_outputs(
    tmp_path, ours_cls, hf_name, pick
):
    model = scrambled(ours_cls(CONFIG), seed=1).eval()
    hf.save(model, tmp_path)
    reference, info = getattr(transformers, hf_name).from_pretrained(
        tmp_path, output_loading_info=True
    )
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"]
    model.double(), reference.double()
    input_ids, attention_mask = batch()
    with torch.no_grad():
        expected = pick(reference.eval()(input_ids, attention_mask))
        got = model(input_ids, attention_mask)
    torch.testing.assert_close(
        real(got, attention_mask), real(expected, attention_mask), rtol=1e-5, atol=1e-5
    )
