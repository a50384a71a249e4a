"""The house rules, checked: the import contracts in pyproject.toml (`import-linter`) and no import
cycle between any two modules (a cycle is what layers alone cannot see inside a layer)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_the_import_contracts_hold(monkeypatch):
    pytest.importorskip("importlinter", reason="import-linter is in the test extra")
    from importlinter.cli import lint_imports

    monkeypatch.chdir(ROOT)  # the contracts live in pyproject.toml
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml")) == 0


def test_no_module_imports_one_that_imports_it():
    grimp = pytest.importorskip("grimp", reason="grimp comes with import-linter (test extra)")
    graph = grimp.build_graph("electra")
    cycles = sorted(
        (a, b)
        for a in graph.modules
        for b in graph.find_modules_directly_imported_by(a)
        if a < b and graph.chain_exists(importer=b, imported=a)
    )
    assert cycles == []
