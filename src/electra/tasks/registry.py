"""The task families, by name: the one line a new family adds. Importing a family's package gives
its spec only (no torch), so the command line lists every family's flags at once; `family(name)`
imports the implementation when a command runs."""

from __future__ import annotations

import importlib

from electra.errors import UserError
from electra.tasks import choice, glue, squad, tagging
from electra.tasks.family import Family
from electra.tasks.spec import FamilySpec

FAMILIES: dict[str, FamilySpec] = {
    s.name: s for s in (glue.SPEC, tagging.SPEC, squad.SPEC, choice.SPEC)
}


def family(name: str) -> Family:
    """The implementation of the family named `name` (its module's `FAMILY`)."""
    if name not in FAMILIES:
        raise UserError(f"unknown task family {name!r}; known: {', '.join(FAMILIES)}")
    return importlib.import_module(FAMILIES[name].module).FAMILY
