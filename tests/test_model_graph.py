"""The network is one graph: no Python branch on tensor values, so it exports, compiles and
traces with padding honoured (the caller, not the module, decides whether a mask is needed)."""

from __future__ import annotations

import pytest
import torch

from electra.model import Discriminator, ElectraModel


def padded_batch() -> tuple[torch.Tensor, torch.Tensor]:
    """Three rows of lengths 9, 5 and 2 padded to 9."""
    torch.manual_seed(0)
    lengths = torch.tensor([9, 5, 2])
    mask = torch.arange(9)[None, :] < lengths[:, None]
    ids = torch.randint(5, 99, (3, 9)).masked_fill(~mask, 0)
    return ids, mask


def alone(model: torch.nn.Module, ids: torch.Tensor, mask: torch.Tensor) -> list[torch.Tensor]:
    """Each row run by itself at its own length, without padding: the reference."""
    return [model(row[m][None])[0] for row, m in zip(ids, mask, strict=True)]


def close_on_tokens(batched: torch.Tensor, mask: torch.Tensor, reference: list[torch.Tensor]):
    for row, (m, expected) in enumerate(zip(mask, reference, strict=True)):
        torch.testing.assert_close(batched[row][m], expected, atol=1e-5, rtol=1e-5)


def test_a_given_mask_is_applied_even_when_it_masks_nothing(tiny_config):
    model = ElectraModel(tiny_config).eval()
    ids, _ = padded_batch()
    full = torch.ones_like(ids, dtype=torch.bool)
    torch.testing.assert_close(model(ids, full), model(ids, None), atol=1e-6, rtol=1e-6)


def test_torch_export_with_dynamic_batch_and_length_honours_padding(tiny_config):
    model = Discriminator(tiny_config).eval()
    ids, mask = padded_batch()
    batch, length = torch.export.Dim("batch", min=1, max=64), torch.export.Dim("length", max=64)
    exported = torch.export.export(
        model,
        (ids, mask),
        dynamic_shapes={
            "input_ids": {0: batch, 1: length},
            "attention_mask": {0: batch, 1: length},
        },
    )
    with torch.no_grad():
        eager = model(ids, mask)
        close_on_tokens(exported.module()(ids, mask), mask, alone(model, ids, mask))
        torch.testing.assert_close(exported.module()(ids, mask), eager, atol=1e-5, rtol=1e-5)
        shorter_ids, shorter_mask = ids[:2, :5], mask[:2, :5]  # other batch and length
        torch.testing.assert_close(
            exported.module()(shorter_ids, shorter_mask),
            model(shorter_ids, shorter_mask),
            atol=1e-5,
            rtol=1e-5,
        )


def test_fullgraph_compile_has_no_graph_break(tiny_config):
    model = Discriminator(tiny_config).eval()
    ids, mask = padded_batch()
    explanation = torch._dynamo.explain(model)(ids, mask)
    assert explanation.graph_break_count == 0, explanation.break_reasons
    compiled = torch.compile(model, fullgraph=True, backend="eager")
    with torch.no_grad():
        torch.testing.assert_close(compiled(ids, mask), model(ids, mask), atol=1e-6, rtol=1e-6)


@pytest.mark.filterwarnings("ignore:`torch.jit.trace")  # deprecated, still what ONNX tracing uses
@pytest.mark.parametrize("traced_with_padding", [True, False])
def test_a_traced_model_honours_padding(traced_with_padding, tiny_config):
    """Traced on a batch with padding or without, the graph still applies the mask it is given:
    there is no branch for the trace to freeze."""
    model = Discriminator(tiny_config).eval()
    ids, mask = padded_batch()
    example_mask = mask if traced_with_padding else torch.ones_like(mask)
    with torch.no_grad():
        traced = torch.jit.trace(model, (ids, example_mask))
        close_on_tokens(traced(ids, mask), mask, alone(model, ids, mask))


@pytest.mark.parametrize("objective", ["rtd", "mlm"])
@pytest.mark.parametrize("packed", [False, True])
def test_the_objective_traces_as_one_graph(tiny_config, objective, packed):
    """The whole pre-training forward (masking, generator, sampling, discriminator, losses) is
    one graph for torch.compile: no graph break on full rows or on packed ones (a (B, L, L) mask
    and restarting positions), so `--compile` compiles the step whole."""
    import numpy as np
    import torch._dynamo as dynamo

    from electra.config import PretrainConfig
    from electra.pretraining.objective import build
    from electra.pretraining.packing import pack_rows
    from electra.tokenizer import SpecialIds

    special = SpecialIds(pad=0, unk=1, cls=2, sep=3, mask=4)
    module = build(
        tiny_config, PretrainConfig(seq_len=24, batch_size=4, objective=objective), special
    )
    ids = np.random.default_rng(0).integers(5, 99, (4, 24))
    ids[:, 0], ids[:, -1] = special.cls, special.sep
    if packed:  # short examples, padded: pack_rows puts several in a row
        ids[:, 10:] = special.pad
        ids[:, 9] = special.sep
    inputs = pack_rows(ids, special)
    assert ("attention_mask" in inputs) == packed
    explained = dynamo.explain(module)(**inputs)
    assert (explained.graph_count, explained.graph_break_count) == (1, 0), explained.break_reasons
