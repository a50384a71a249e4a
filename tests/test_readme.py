"""The README's Python example runs as written, in a directory laid out as after `make demo`."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

README = Path(__file__).parents[1] / "README.md"


@pytest.mark.slow
def test_the_python_api_example_runs_as_written(prepared, tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    section = README.read_text(encoding="utf-8").split("## Python API", 1)[1]
    (code,) = re.findall(r"```python\n(.*?)```", section.split("\n## ", 1)[0], re.S)
    (tmp_path / "runs" / "demo").mkdir(parents=True)
    (tmp_path / "runs" / "demo" / "shards").symlink_to(prepared)  # what `make demo` prepares
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "assets").symlink_to(Path(__file__).parent / "assets")
    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        exec(compile(code, "README.md", "exec"), {})
    finally:
        os.chdir(cwd)
    printed = capsys.readouterr().out
    assert "results in" in printed and "\t" in printed  # the fine-tuning summary, tagged words
    assert (tmp_path / "runs" / "notebook" / "onnx" / "model.int8.onnx").is_file()
    assert (tmp_path / "runs" / "notebook" / "pt" / "discriminator" / "README.md").is_file()


def test_the_api_names_stay_functions_once_every_module_is_loaded():
    """No subpackage shares a name with an API call (importing `electra.X` would replace it)."""
    import importlib
    import pkgutil
    import types

    import electra

    for module in pkgutil.walk_packages(electra.__path__, "electra."):
        if "commands" not in module.name:
            importlib.import_module(module.name)
    for name in (
        "vocab",
        "prepare",
        "pretrain",
        "finetune",
        "predict",
        "evaluate",
        "export",
        "compare",
    ):
        assert callable(getattr(electra, name)), name
        assert not isinstance(getattr(electra, name), types.ModuleType), name
