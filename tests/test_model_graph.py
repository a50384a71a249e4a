"""The network is one graph: no Python branch on tensor values, so it exports, compiles and
traces with padding honoured (the caller, not the module, decides whether a mask is needed)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from electra.backbones.electra.network import ElectraModel
from electra.backbones.models import Discriminator
from electra.pretraining.packing import pack_rows
from electra.tokenizer import SpecialIds


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


SPECIAL = SpecialIds(pad=0, unk=1, cls=2, sep=3, mask=4)


def objective_inputs(packed: bool, seed: int = 0) -> dict[str, torch.Tensor]:
    """Four 24-token rows, full, or short (two per packed row) when `packed`."""
    ids = np.random.default_rng(seed).integers(5, 99, (4, 24))
    ids[:, 0], ids[:, -1] = SPECIAL.cls, SPECIAL.sep
    if packed:  # short examples, padded: pack_rows puts several in a row
        ids[:, 10 + seed :] = SPECIAL.pad
        ids[:, 9 + seed] = SPECIAL.sep
    inputs = pack_rows(ids, SPECIAL)
    assert ("document_ids" in inputs) == packed
    return inputs


@pytest.mark.parametrize("objective", ["rtd", "mlm"])
@pytest.mark.parametrize("packed", [False, True])
def test_the_objective_traces_as_one_graph(tiny_config, objective, packed):
    """The whole pre-training forward (masking, generator, sampling, discriminator, losses) is
    one graph for torch.compile: no graph break on full rows or on packed ones (document ids
    and restarting positions), so `--compile` compiles the step whole."""
    import torch._dynamo as dynamo

    from electra.pretraining.objectives.build import build
    from electra.pretraining.options import PretrainConfig

    module = build(
        tiny_config, PretrainConfig(seq_len=24, batch_size=4, objective=objective), SPECIAL
    )
    explained = dynamo.explain(module)(**objective_inputs(packed))
    assert (explained.graph_count, explained.graph_break_count) == (1, 0), explained.break_reasons


@pytest.mark.parametrize("objective", ["rtd", "mlm"])
@pytest.mark.parametrize("packed", [False, True])
def test_the_training_step_compiles_whole_forward_and_backward(tiny_config, objective, packed):
    """fullgraph=True through AOTAutograd: forward and backward each one graph, and, with
    dropout off, the same loss and gradients as eager (the same random draws)."""
    import copy
    import dataclasses

    from electra.pretraining.objectives.build import build
    from electra.pretraining.options import PretrainConfig

    config = dataclasses.replace(tiny_config, hidden_dropout=0.0, attention_dropout=0.0)
    torch.manual_seed(0)
    eager = build(config, PretrainConfig(seq_len=24, batch_size=4, objective=objective), SPECIAL)
    twin = copy.deepcopy(eager)
    compiled = torch.compile(twin, fullgraph=True, backend="aot_eager")
    for seed in range(2):
        inputs = objective_inputs(packed, seed)
        losses = []
        for module in (eager, compiled):
            torch.manual_seed(seed)
            output = module(**inputs)
            output.loss.backward()
            losses.append(output.loss.detach())
        torch.testing.assert_close(losses[0], losses[1])
        for (name, a), b in zip(eager.named_parameters(), twin.parameters(), strict=True):
            torch.testing.assert_close(a.grad, b.grad, msg=name)
        eager.zero_grad(), twin.zero_grad()


@pytest.mark.slow
def test_compile_trains_packed_rows_with_one_graph(prepared, tmp_path):
    """`--compile` (Inductor) on packed rows, whose count changes from step to step: one
    graph, compiled once for any count, and a run that finishes with finite losses."""
    import json

    import numpy as np
    import torch._dynamo.utils
    from pretrain_data import tiny_model

    from electra.data.shards import ExampleRange, Shards, iterate_batches
    from electra.pretraining.options import PretrainConfig
    from electra.pretraining.packing import pack_rows
    from electra.pretraining.trainer import train
    from electra.tokenizer import SpecialIds, load_tokenizer

    config = PretrainConfig(seq_len=32, batch_size=16, steps=4, warmup_steps=1, log_every=1,
                            save_every=0, eval_batches=0, compile=True)  # fmt: skip
    shards = Shards(prepared)
    special = SpecialIds.of(load_tokenizer(prepared))
    batches = iterate_batches(ExampleRange(shards, 0, len(shards)), 16, 0, 0, 1)
    rows = {pack_rows(next(batches), special)["input_ids"].shape[0] for _ in range(4)}
    assert len(rows) > 1, "the test needs steps whose packed row counts differ"
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    assert train(prepared, tmp_path, tiny_model(400), config, progress=False) == 0
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] == 1
    logged = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logged] == [1, 2, 3, 4]
    assert all(np.isfinite(r["loss"] if "loss" in r else r["gen_loss"]) for r in logged)


def test_the_flex_attention_path_compiles_as_one_graph(tiny_config):
    """Packed rows through FlexAttention (CUDA's kernel for them; forced here on CPU, forward
    only): block mask and attention trace into the compiled network with no graph break."""
    from pretrain_data import use_packed_attention

    model = Discriminator(tiny_config).eval()
    use_packed_attention(model, "flex")
    inputs = objective_inputs(packed=True)
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    with torch.no_grad():
        use_packed_attention(model, "sdpa")
        dense = model(**inputs)
        use_packed_attention(model, "flex")
        torch.testing.assert_close(compiled(**inputs), dense, atol=1e-5, rtol=1e-5)
