"""The documentation is true: it builds strictly, and its examples run as written.

Every ```bash block of README.md and docs/ is run line by line (`electra ...` through `main`, in
process) and every ```python block executed, page after page in the site's order, in one folder
that holds the tiny task files the tests ship, so later pages use what earlier ones made. A block
preceded by `<!-- not run: REASON -->` is skipped: it needs a network, a GPU, or a user's corpus at
full scale (beside a worked example that runs the same commands small).
"""

from __future__ import annotations

import json
import random
import re
import shlex
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ASSETS = Path(__file__).parent / "assets"
BLOCK = re.compile(
    r"(<!-- not run: (?P<reason>.*?) -->\n)?```(?P<lang>\w+)\n(?P<code>.*?)```", re.S
)


def pages() -> list[Path]:
    """The site's pages in the order of its navigation, then README.md."""
    nav = re.findall(r"^\s+- [^:]+: (\S+\.md)$", (ROOT / "mkdocs.yml").read_text(), re.M)
    return [ROOT / "docs" / name for name in nav] + [ROOT / "README.md"]


def blocks(page: Path) -> list[tuple[str, str, str | None]]:
    """(language, code, reason not to run it) of each fenced block."""
    return [(m["lang"], m["code"], m["reason"]) for m in BLOCK.finditer(page.read_text())]


def commands(code: str) -> list[str]:
    """The shell lines of a block, continuations joined, comments and blank lines dropped."""
    joined = re.sub(r"\\\n\s*", " ", code)
    lines = [re.sub(r"\s+#.*$", "", line).strip() for line in joined.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def test_every_page_is_in_the_navigation_and_each_block_can_be_run_or_says_why_not():
    listed = {p.name for p in pages()}
    assert listed - {"README.md"} == {p.name for p in (ROOT / "docs").glob("*.md")}
    for page in pages():
        for lang, code, reason in blocks(page):
            if reason is not None:
                assert re.search(r"network|GPU|corpus|set-up", reason), (page.name, reason)
            elif lang == "bash":
                for line in commands(code):
                    assert line.startswith("electra "), f"{page.name}: cannot run {line!r}"


def test_the_site_builds_strictly(tmp_path):
    pytest.importorskip("mkdocs", reason="mkdocs is in the test extra")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr


def _glue(folder: Path) -> None:
    """A GLUE-layout RTE sample: the label is whether the hypothesis repeats the premise's start."""
    rng = random.Random(0)
    words = "the cat sat on a mat and dog ran to park".split()
    folder.mkdir(parents=True)
    for name, count, labelled in (("train", 48, True), ("dev", 16, True), ("test", 8, False)):
        rows = ["index\tsentence1\tsentence2" + ("\tlabel" if labelled else "")]
        for i in range(count):
            premise = " ".join(rng.choices(words, k=6))
            same = i % 2 == 0
            hypothesis = (
                " ".join(premise.split()[:3]) if same else " ".join(rng.choices(words, k=3))
            )
            label = "\tentailment" if same else "\tnot_entailment"
            rows.append(f"{i}\t{premise}\t{hypothesis}" + (label if labelled else ""))
        (folder / f"{name}.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")


def _questions(folder: Path) -> None:
    rng = random.Random(1)
    words = ["is", "to", "in", "an", "of", "no"]
    folder.mkdir()
    for name, count in (("train", 24), ("dev", 8)):
        lines = []
        for _ in range(count):
            label = rng.randrange(3)
            choices = [" ".join(rng.choices(words, k=3)) for _ in range(3)]
            choices[label] = "the " + choices[label]
            lines.append(json.dumps({"question": "which one", "choices": choices, "label": label}))
        (folder / f"{name}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def folder(tmp_path) -> Path:
    """What the worked examples start from: a corpus and the tiny task files the tests ship."""
    shutil.copytree(ASSETS / "corpus", tmp_path / "corpus")
    shutil.copytree(ASSETS / "conll", tmp_path / "conll2000")
    shutil.copytree(ASSETS / "squad", tmp_path / "squad")
    _glue(tmp_path / "glue_data" / "RTE")
    _questions(tmp_path / "questions")
    return tmp_path


@pytest.mark.slow
def test_every_example_runs_as_written(folder, monkeypatch, capsys):
    pytest.importorskip("onnxruntime", reason="the export page runs ONNX")
    from electra.cli import main

    monkeypatch.chdir(folder)
    ran = 0
    for page in pages():
        for lang, code, reason in blocks(page):
            if reason is not None:
                continue
            if lang == "bash":
                for line in commands(code):
                    assert main(shlex.split(line)[1:]) == 0, f"{page.name}: {line}"
                    ran += 1
            elif lang == "python":
                exec(compile(code, str(page), "exec"), {"__name__": "__docs__"})
                ran += 1
    capsys.readouterr()
    assert ran >= 24  # every command of the worked examples, and both Python examples
    assert (folder / "runs" / "notebook" / "onnx" / "model.int8.onnx").is_file()
    assert (folder / "runs" / "compare" / "compare.md").is_file()


def test_the_api_names_stay_functions_once_every_module_is_loaded():
    """No subpackage shares a name with an API call (importing `electra.X` would replace it)."""
    import importlib
    import pkgutil

    import electra

    for module in pkgutil.walk_packages(electra.__path__, "electra."):
        if "commands" not in module.name:
            importlib.import_module(module.name)
    for name in ("vocab", "prepare", "pretrain", "finetune", "predict", "evaluate", "export",
                 "compare"):  # fmt: skip
        assert callable(getattr(electra, name)), name
        assert not isinstance(getattr(electra, name), types.ModuleType), name
