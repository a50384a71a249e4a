"""Renaming state-dict keys by module prefix: the one mechanism behind every backbone's and head's
Hugging Face mapping. A table maps a Hugging Face prefix to ours (`{}` is a layer index; None
drops a key on purpose); the longest matching prefix wins."""

from __future__ import annotations

import re

Table = dict[str, str | None]


def rename(name: str, table: Table) -> tuple[bool, str | None]:
    """Map `name` by the longest matching module prefix of `table`; (matched, new name or None)."""
    for source, target in sorted(table.items(), key=lambda kv: -len(kv[0])):
        pattern = "^" + re.escape(source).replace(r"\{\}", r"(\d+)") + r"(\..+)?$"
        match = re.match(pattern, name)
        if match:
            if target is None:
                return True, None
            groups = match.groups()
            suffix = groups[-1] or ""
            return True, target.format(*groups[:-1]) + suffix
    return False, None


def reverse(table: Table) -> Table:
    """The table the other way round (ours -> Hugging Face), without the dropped keys."""
    return {ours: hf for hf, ours in table.items() if ours is not None}
