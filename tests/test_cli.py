"""The command line's parser: it starts without the heavy libraries and documents every flag."""

from __future__ import annotations

import dataclasses
import inspect
import re
import subprocess
import sys
from dataclasses import dataclass

import pytest

from electra.cli import main
from electra.commands.flags import field_comments
from electra.config import MODEL_FIELDS, ModelConfig
from electra.pretraining.options import PretrainConfig
from electra.tasks.glue.options import GLUE_TASKS

HEAVY = ("torch", "scipy", "sklearn", "tokenizers", "transformers", "numpy")


def test_building_the_parser_imports_no_heavy_library():
    code = (
        "import sys, electra.cli as c; c.build_parser(); "
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def _help(capsys, monkeypatch, *argv: str) -> str:
    monkeypatch.setenv("COLUMNS", "1000")  # one line per flag: argparse wraps to the terminal
    with pytest.raises(SystemExit) as exit:
        main([*argv, "--help"])
    assert exit.value.code == 0
    return capsys.readouterr().out


def _flag_line(help: str, flag: str) -> str:
    """The flag's entry in the help, joined into one line (a long flag puts its help below it)."""
    (entry,) = re.findall(rf"^ +{flag}\b.*\n(?: {{3,}}[^ -].*\n)*", help, re.MULTILINE)
    return " ".join(entry.split())


def test_glue_task_names_in_the_help_are_glue_s(capsys, monkeypatch):
    from electra.tasks.glue.catalog import GLUE

    assert tuple(GLUE) == GLUE_TASKS
    for argv in (("finetune", "glue"), ("predict", "glue"), ("evaluate", "glue")):
        line = _flag_line(_help(capsys, monkeypatch, *argv), "--task")
        assert "{" + ",".join(GLUE) in line


def _source_comments(cls: type) -> dict[str, str]:
    """What the flags' help should say: `    name: type = value  # comment` lines of the class."""
    found = re.findall(r"^ {4}(\w+): [^#\n]*#\s*(.+)$", inspect.getsource(cls), re.MULTILINE)
    return {name: comment.strip() for name, comment in found}


def test_pretrain_flags_are_documented_by_their_fields_comments(capsys, monkeypatch):
    help = _help(capsys, monkeypatch, "pretrain")
    assert "peak learning rate (tiny 0.0003, small 0.0005, base 0.0002, large 0.0002)" in (
        _flag_line(help, "--lr")
    )
    assert "(default: the prepared data's)" in _flag_line(help, "--seq-len")
    assert "every preset: 0.9" in _flag_line(help, "--adam-beta1")  # no comment: the default
    pretrain_fields = tuple(f.name for f in dataclasses.fields(PretrainConfig))
    checked = 0
    for cls, names in ((PretrainConfig, pretrain_fields), (ModelConfig, MODEL_FIELDS)):
        expected = _source_comments(cls)
        assert field_comments(cls) == expected
        for name in names:
            line = _flag_line(help, "--" + name.replace("_", "-"))
            if name in expected:
                assert expected[name] in line, name
                checked += 1
    assert checked >= 20  # the config's fields are commented: the regex above found them


@dataclass
class _Commented:
    documented: int = 1  # what it does
    bare: float = 0.5
    pragma: str = "x"  # noqa: E501
    hashed: str = "#"  # text after a string holding a hash
    multi: tuple[int, ...] = (
        1,
        2,
    )  # trailing the closing line

    def method(self) -> None:
        documented: int = 2  # a local, not the field
        del documented


def test_field_comments_reads_only_the_class_body_s_trailing_comments():
    assert field_comments(_Commented) == {
        "documented": "what it does",
        "hashed": "text after a string holding a hash",
        "multi": "trailing the closing line",
    }


COMMANDS = (
    "prepare", "vocab", "detect", "pretrain", "report",
    "finetune glue", "finetune tagging", "finetune squad",
    "predict glue", "predict tagging", "predict squad",
    "evaluate glue", "evaluate tagging", "evaluate squad", "export onnx", "compare",
)  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_prints_its_help(command, capsys, monkeypatch):
    assert _help(capsys, monkeypatch, *command.split()).startswith(f"usage: electra {command} ")


def test_data_commands_run_without_pytorch(assets, tmp_path):
    """`vocab` and `prepare` are text and numpy work: neither loads torch."""
    code = (
        "import sys; from electra.cli import main; "
        f"assert main(['vocab', '--corpus', {str(assets / 'corpus' / 'a.txt')!r}, '--size', '300', "
        f"'--out', {str(tmp_path / 'v')!r}]) == 0; "
        f"assert main(['prepare', '--corpus', {str(assets / 'corpus' / 'a.txt')!r}, '--vocab', "
        f"{str(tmp_path / 'v')!r}, '--out', {str(tmp_path / 'p')!r}, '--workers', '1', "
        "'--no-progress']) == 0; "
        "print('torch' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "False"
