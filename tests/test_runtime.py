"""Device defaults: `--precision auto` resolves to what the device computes fast, and the
resolved value, not `auto`, is what a run saves and computes with."""

from __future__ import annotations

import json

import pytest
import torch
from pretrain_data import one_thread, tiny_model  # noqa: F401 (fixture)

from electra.pretraining.options import PretrainConfig
from electra.pretraining.resolve import CONFIG_FILE
from electra.pretraining.setup import setup
from electra.processes import Process
from electra.runtime import autocast, resolve_precision

CPU = torch.device("cpu")


@pytest.mark.parametrize("native", [True, False])
def test_auto_is_bf16_only_on_cpus_with_native_bf16(monkeypatch, native):
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: native)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    assert resolve_precision("auto", CPU) == ("bf16" if native else "fp32")
    assert resolve_precision("fp16", CPU) == "fp16"  # a choice is kept
    assert resolve_precision("auto", torch.device("meta")) == "fp32"


def test_autocast_needs_a_resolved_precision():
    with pytest.raises(ValueError, match="resolve it first"):
        autocast(CPU, "auto")
    with autocast(CPU, "bf16"):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16


@pytest.mark.parametrize("native", [True, False])
def test_a_run_saves_the_precision_auto_chose(prepared, tmp_path, monkeypatch, native):
    # Every probe native_bf16 consults, so the test holds on CPUs with AMX too.
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: native)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    config = PretrainConfig(seq_len=32, batch_size=8, steps=1)
    assert config.precision == "auto"  # the default
    run = setup(Process("cpu"), prepared, tmp_path, tiny_model(400), config, resume=False)
    expected = "bf16" if native else "fp32"
    assert run.config.precision == expected
    saved = json.loads((tmp_path / CONFIG_FILE).read_text())["pretrain"]["precision"]
    assert saved == expected
