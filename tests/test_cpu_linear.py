"""fp32 CPU linear layers on oneDNN: the same numbers as `F.linear` forward and backward, used only
where chosen (plain fp32 on CPU; never under autocast, compile or export), chosen by the CPU's
vendor or ELECTRA_CPU_LINEAR, and a bad choice is one clear error."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from electra import cpu_linear
from electra.cpu_linear import Linear, linear
from electra.errors import UserError

needs_onednn = pytest.mark.skipif(
    not torch.backends.mkldnn.is_available(), reason="this PyTorch build has no oneDNN"
)


@pytest.fixture
def onednn(monkeypatch):
    """oneDNN chosen, whatever this CPU's vendor; counts the products it makes."""
    monkeypatch.setattr(cpu_linear, "onednn_enabled", lambda: True)
    calls = []
    product = cpu_linear._product
    monkeypatch.setattr(cpu_linear, "_product", lambda *a: calls.append(1) or product(*a))
    return calls


@needs_onednn
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(37, 24), (3, 11, 24), (2, 3, 5, 24)])
def test_onednn_linear_equals_f_linear_with_its_gradients(onednn, shape, bias):
    torch.manual_seed(0)
    layer = Linear(24, 40, bias=bias)
    x = torch.randn(shape, requires_grad=True)
    grad = torch.randn(*shape[:-1], 40)
    reference = F.linear(x, layer.weight, layer.bias)
    expected = torch.autograd.grad(reference, [x, *layer.parameters()], grad)
    out = layer(x)
    assert len(onednn) == 1  # the forward product went to oneDNN
    got = torch.autograd.grad(out, [x, *layer.parameters()], grad)
    assert len(onednn) == 2  # and so did the input gradient
    torch.testing.assert_close(out, reference)
    for g, e in zip(got, expected, strict=True):
        torch.testing.assert_close(g, e)


@needs_onednn
def test_onednn_linear_takes_transposed_inputs_and_weights(onednn):
    torch.manual_seed(0)
    x = torch.randn(24, 9).t()  # (9, 24), not contiguous
    weight = torch.randn(24, 40).t()  # (40, 24), not contiguous
    torch.testing.assert_close(linear(x, weight), F.linear(x, weight))
    assert len(onednn) == 1


@needs_onednn
def test_onednn_linear_trains_only_what_needs_a_gradient(onednn):
    layer = Linear(8, 4)
    layer.weight.requires_grad_(False)
    x = torch.randn(5, 8)  # no gradient wanted for the input either
    layer(x).sum().backward()
    assert layer.weight.grad is None
    torch.testing.assert_close(layer.bias.grad, torch.full((4,), 5.0))
    assert len(onednn) == 1  # no input gradient was made


@pytest.mark.filterwarnings("ignore:TF32 acceleration")  # from mkldnn.flags, about Intel GPUs
def test_plain_f_linear_where_onednn_does_not_apply(onednn):
    layer = Linear(8, 4)
    with torch.autocast("cpu", dtype=torch.bfloat16):  # autocast casts, then runs its own kernel
        assert layer(torch.randn(5, 8)).dtype == torch.bfloat16
    layer(torch.randn(8))  # 1-D input
    layer.double()(torch.randn(5, 8, dtype=torch.float64))  # not fp32
    with torch.backends.mkldnn.flags(enabled=False):
        layer.float()(torch.randn(5, 8))
    assert onednn == []


def test_compiled_graphs_see_f_linear(onednn):
    layer = Linear(8, 4)
    x = torch.randn(5, 8)
    explanation = torch._dynamo.explain(layer)(x)
    assert explanation.graph_break_count == 0
    assert onednn == []  # traced as F.linear, never through the custom function
    torch.testing.assert_close(torch.compile(layer, backend="eager", fullgraph=True)(x), layer(x))


def test_linear_keeps_nn_linear_state_and_initialisation():
    layer = Linear(8, 4)
    assert isinstance(layer, torch.nn.Linear)
    assert set(layer.state_dict()) == {"weight", "bias"}


@pytest.mark.parametrize(
    ("choice", "vendor", "expected"),
    [
        ("auto", "AuthenticAMD", True),
        ("auto", "GenuineIntel", False),  # not measured there: MKL stays
        ("onednn", "GenuineIntel", True),
        ("aten", "AuthenticAMD", False),
    ],
)
def test_the_choice_follows_the_vendor_and_the_environment(monkeypatch, choice, vendor, expected):
    monkeypatch.setenv("ELECTRA_CPU_LINEAR", choice)
    monkeypatch.setattr(cpu_linear, "_cpu_vendor", lambda: vendor)
    cpu_linear.onednn_enabled.cache_clear()
    try:
        assert cpu_linear.onednn_enabled() is (expected and torch.backends.mkldnn.is_available())
    finally:
        cpu_linear.onednn_enabled.cache_clear()


def test_a_bad_choice_is_one_clear_error(monkeypatch):
    monkeypatch.setenv("ELECTRA_CPU_LINEAR", "mkl")
    cpu_linear.onednn_enabled.cache_clear()
    try:
        with pytest.raises(UserError, match=r"ELECTRA_CPU_LINEAR='mkl': expected one of auto, "):
            cpu_linear.onednn_enabled()
    finally:
        cpu_linear.onednn_enabled.cache_clear()


@needs_onednn
def test_flop_counters_count_onednn_products(onednn):
    from torch.utils.flop_counter import FlopCounterMode

    layer = Linear(24, 40)
    x = torch.randn(3, 11, 24, requires_grad=True)
    with FlopCounterMode(display=False) as counter:
        layer(x).sum().backward()
    assert len(onednn) == 2
    assert counter.get_total_flops() == 3 * 2 * 33 * 24 * 40  # forward, input and weight grads


def test_the_command_line_refuses_a_bad_choice_before_any_work(monkeypatch, tmp_path, capsys):
    from electra.cli import main

    monkeypatch.setenv("ELECTRA_CPU_LINEAR", "fast")
    cpu_linear.onednn_enabled.cache_clear()
    try:
        code = main(["vocab", "--corpus", str(tmp_path / "missing"), "--out", str(tmp_path / "v")])
    finally:
        cpu_linear.onednn_enabled.cache_clear()
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err == ["electra: error: ELECTRA_CPU_LINEAR='fast': expected one of auto, onednn, aten"]
