"""Packing: examples side by side in fewer rows compute exactly what they compute alone."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pretrain_data import make_prepared, one_thread, use_packed_attention  # noqa: F401 (fixture)

from electra.backbones.electra.network import block_mask
from electra.backbones.layers import dense_block_mask
from electra.backbones.models import Discriminator
from electra.config import ModelConfig
from electra.data.shards import Shards
from electra.pretraining.packing import batch_stream, close_stream, model_inputs, pack_rows
from electra.tokenizer import SpecialIds, load_tokenizer

SPECIAL = SpecialIds(pad=0, unk=1, cls=2, sep=3, mask=4)


def examples(lengths: list[int], seq_len: int = 16) -> np.ndarray:
    rng = np.random.default_rng(0)
    ids = np.zeros((len(lengths), seq_len), np.int64)
    for row, n in enumerate(lengths):
        ids[row, :n] = rng.integers(5, 50, n)
        ids[row, 0], ids[row, n - 1] = SPECIAL.cls, SPECIAL.sep
        if n > 4:
            ids[row, n // 2] = SPECIAL.sep  # a second segment
    return ids


def test_packed_rows_hold_every_token_once_with_its_own_positions_and_segments():
    ids = examples([16, 9, 7, 5, 4, 3, 12])
    packed = pack_rows(ids, SPECIAL)
    rows = packed["input_ids"]
    assert rows.shape == (4, 16)  # 56 tokens: 16 | 9+7 | 12+4 | 5+3, first fit decreasing
    assert sorted(rows[rows != 0].tolist()) == sorted(ids[ids != 0].tolist())
    plain = model_inputs(ids, SPECIAL.pad, SPECIAL.sep)
    assert packed["token_type_ids"].sum() == plain["token_type_ids"].sum()
    assert (packed["position_ids"][rows == SPECIAL.cls] == 0).all()  # each example starts at 0
    documents = packed["document_ids"]
    assert documents.shape == (4, 16) and documents.dtype == torch.int64
    assert ((documents == -1) == (rows == 0)).all()  # padding: a group of its own
    for example in range(len(ids)):  # each example: one run of tokens in one row
        r, c = torch.nonzero(documents == example, as_tuple=True)
        assert r.unique().numel() == 1 and len(c) == (ids[example] != 0).sum()
        assert torch.equal(c, torch.arange(c[0], c[0] + len(c)))


def test_packed_batches_carry_no_dense_mask():
    """Nothing of size rows x L x L leaves the host: the mask is made on the device."""
    packed = pack_rows(examples([9, 7, 5, 4, 3, 12], seq_len=512), SPECIAL)
    assert "attention_mask" not in packed
    assert all(t.dim() == 2 and t.shape[1] == 512 for t in packed.values())
    mask = dense_block_mask(packed["document_ids"])  # what the encoder builds on the device
    assert mask.shape == (len(packed["input_ids"]), 1, 512, 512)
    assert torch.equal(mask, mask.transpose(-1, -2)) and mask.any(-1).all()


def test_full_rows_are_left_alone_and_unmasked():
    ids = examples([16, 16])
    packed = pack_rows(ids, SPECIAL)
    assert packed["input_ids"].shape == (2, 16)
    assert packed.keys() == {"input_ids", "token_type_ids"}


def assert_each_example_as_alone(
    packed: dict[str, torch.Tensor], ids: np.ndarray, packed_out: torch.Tensor,
    alone_out: torch.Tensor,
) -> None:  # fmt: skip
    """Every example's outputs in its packed row equal its outputs computed alone."""
    rows = packed["input_ids"]
    starts = torch.nonzero(packed["position_ids"] == 0).tolist()
    for example in range(len(ids)):
        n = int((ids[example] != 0).sum())
        # where the example landed: its tokens, from a position 0 to the next one (or the end)
        found = [
            (r, c)
            for r, c in starts
            if torch.equal(rows[r, c : c + n], torch.from_numpy(ids[example, :n]))
            and (c + n == rows.shape[1] or packed["position_ids"][r, c + n] == 0)
        ]
        r, c = found[0]
        torch.testing.assert_close(
            packed_out[r, c : c + n], alone_out[example, :n], rtol=1e-5, atol=1e-5
        )


def tiny_discriminator() -> Discriminator:
    torch.manual_seed(0)
    config = ModelConfig(vocab_size=50, embedding_size=16, hidden_size=32, num_layers=2,
                         num_heads=2, intermediate_size=64)  # fmt: skip
    return Discriminator(config).eval()


def test_a_packed_forward_equals_each_example_alone():
    model = tiny_discriminator()
    ids = examples([9, 7, 5, 4, 3, 12])
    packed = pack_rows(ids, SPECIAL)
    with torch.no_grad():
        logits = model(**packed)
        alone = model(**model_inputs(ids, SPECIAL.pad, SPECIAL.sep))
    assert_each_example_as_alone(packed, ids, logits, alone)


@pytest.mark.filterwarnings("ignore:.*flex_attention called without torch.compile")
@pytest.mark.parametrize("compiled", [False, True], ids=["reference", "compiled"])
def test_flex_attention_on_packed_rows_equals_each_example_alone(monkeypatch, compiled):
    """The block mask FlexAttention gets (the GPU's kernel for packed rows) lets each token see
    its own example only: hidden states equal each example's computed alone. On CPU, as
    FlexAttention's reference and as its compiled kernel (forward only: no CPU backward)."""
    from torch.nn.attention.flex_attention import flex_attention

    from electra.backbones.electra import network

    if not compiled:
        monkeypatch.setattr(network, "_compiled_flex_attention", lambda: flex_attention)
    else:
        from torch._inductor import cpu_vec_isa

        if not cpu_vec_isa.pick_vec_isa():  # e.g. ATEN_CPU_CAPABILITY=default, a CPU without AVX2
            pytest.skip("Inductor compiles FlexAttention for CPUs with a vector ISA (AVX2 and up)")
    encoder = tiny_discriminator().electra
    ids = examples([9, 7, 5, 4, 3, 12])
    packed = pack_rows(ids, SPECIAL)
    calls = []
    monkeypatch.setattr(network, "block_mask", lambda m: calls.append(1) or block_mask(m))
    with torch.no_grad():
        alone = encoder(**model_inputs(ids, SPECIAL.pad, SPECIAL.sep))
        assert not calls  # (B, L) padding masks keep SDPA
        use_packed_attention(encoder, "flex")
        hidden = encoder(**packed)
    assert calls == [1]  # one block mask, shared by the layers
    assert_each_example_as_alone(packed, ids, hidden, alone)


def test_auto_chooses_flex_attention_only_where_it_can_run():
    encoder = tiny_discriminator().electra.encoder  # attention dropout 0.1
    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    assert encoder._flex_for_packed(cuda) and not encoder._flex_for_packed(cpu)  # eval
    encoder.train()
    assert not encoder._flex_for_packed(cuda)  # FlexAttention has no dropout
    for layer in encoder.layers:
        layer.attention.dropout.p = 0.0
    assert encoder._flex_for_packed(cuda) and not encoder._flex_for_packed(cpu)


def test_the_prepared_demo_data_packs_tighter(tmp_path):
    shards = Shards(make_prepared(tmp_path))
    ids = shards.examples(np.arange(64))
    packed = pack_rows(ids, SpecialIds.of(load_tokenizer(shards.directory)))
    assert len(packed["input_ids"]) < 64
    assert (packed["input_ids"] != 0).sum() == (ids != 0).sum()


def test_prefetch_keeps_the_order_raises_the_errors_and_stops():
    import threading

    from electra.pretraining.packing import Prefetch

    items = Prefetch(iter(range(100)), depth=3)
    assert [next(items) for _ in range(100)] == list(range(100))
    items.close()

    def failing():
        yield 1
        raise ValueError("bad shard")

    items = Prefetch(failing())
    assert next(items) == 1
    with pytest.raises(ValueError, match="bad shard"):
        next(items)

    def endless():
        n = 0
        while True:
            yield n
            n += 1

    before = threading.active_count()
    items = Prefetch(endless(), depth=2)
    assert next(items) == 0 and next(items) == 1
    items.close()
    assert threading.active_count() == before  # the thread is gone


@pytest.mark.parametrize("loader", ["process", "thread"])
def test_the_batch_stream_packs_the_same_batches_in_order(loader):
    batches = [examples([9, 7, 5, n]) for n in (3, 4, 12, 16)]
    stream = batch_stream(lambda: iter(batches), SPECIAL, loader=loader)
    got = [next(stream) for _ in batches]
    close_stream(stream)
    for ids, inputs in zip(batches, got, strict=True):
        expected = pack_rows(ids, SPECIAL)
        assert inputs.keys() == expected.keys()
        assert all(torch.equal(inputs[k], expected[k]) for k in expected)


def test_the_worker_process_reports_a_reading_error():
    def failing():
        yield examples([9, 7])
        raise ValueError("bad shard")

    stream = batch_stream(failing, SPECIAL, loader="process")
    next(stream)
    with pytest.raises(ValueError, match="bad shard"):
        next(stream)
    close_stream(stream)
