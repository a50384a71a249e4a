"""Command-line flags made from config dataclasses, so that an option has one definition.

A field `seq_len: int = 128  # tokens per example` becomes `--seq-len INT` whose help is the
comment trailing the field in its source, followed by its default (or what the caller says the
default is: a preset's value, the recipe's, the data's). Every flag defaults to None, so a command
can tell the options a user gave from those left to the config; `given(args, cls)` collects them.

Field types read from the annotation: int, float, str and Path (optionally `| None`), bool (a
`--x/--no-x` pair) and `tuple[str, ...]` (a comma-separated list). A field's metadata may say
`choices` (shown; the dataclass checks them, so a bad one is a one-line error), `positional` (a positional argument of any number of values), `repeat` (a repeatable
flag), or `required`. Building flags imports nothing heavy: `--help` starts at once.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import io
import re
import textwrap
import tokenize
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

_PRAGMA = re.compile(r"(noqa|type:|fmt:|pragma\b)")
_SCALARS = {"int": int, "float": float, "str": str, "Path": Path}


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def field_comments(cls: type) -> dict[str, str]:
    """The comment trailing each dataclass field of `cls` in its source, `#` stripped.

    `lr: float = 5e-4  # peak learning rate` gives {"lr": "peak learning rate"}; fields without
    one are left out, as are tool pragmas (`# noqa`, `# fmt: skip`). Without the source (a build
    that ships only bytecode) there are no comments.
    """
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    names = {f.name for f in dataclasses.fields(cls)}
    comments: dict[str, str] = {}
    depth = 0  # indentation level; the class body is 1
    statement: list[str] = []  # the first two tokens of the statement being read
    field = None  # the field that statement annotates
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.INDENT:
            depth += 1
        elif token.type == tokenize.DEDENT:
            depth -= 1
        elif token.type == tokenize.NEWLINE:
            statement, field = [], None
        elif token.type == tokenize.COMMENT:
            text = token.string.lstrip("#").strip()
            if field is not None and field not in comments and text and not _PRAGMA.match(text):
                comments[field] = text
        elif token.type != tokenize.NL and len(statement) < 2:
            statement.append(token.string)
            if depth == 1 and statement[-1] == ":" and statement[0] in names:
                field = statement[0]  # `name: type ...` in the class body
    return comments


def shown(value: Any) -> str:
    """A default as the help shows it."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple):
        return ",".join(map(str, value)) or "none"
    return f"{value:g}" if isinstance(value, float) else str(value)


def comma_list(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _field_default(field: dataclasses.Field) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return dataclasses.MISSING


def add_config_flags(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    cls: type,
    names: Iterable[str] | None = None,
    default: Callable[[str], str | None] | None = None,
) -> None:
    """A flag for each field of `cls` in `names` (default: all). `default(name)` says what the
    help gives as the default (None: the field's own default)."""
    comments = field_comments(cls)
    wanted = None if names is None else set(names)
    for field in dataclasses.fields(cls):
        if wanted is not None and field.name not in wanted:
            continue
        kind = field.type.removesuffix(" | None")
        meta = field.metadata
        value = _field_default(field)
        said = default(field.name) if default else None
        text = comments.get(field.name, "")
        required = value is dataclasses.MISSING or meta.get("required", False)
        if (
            said is None
            and not required
            and value not in (dataclasses.MISSING, None, ())
            and "default" not in text
        ):
            said = f"default: {shown(value)}"
        if said and f"({said})" in text:  # the comment says it already
            said = None
        help = (f"{text} ({said})" if text else said) if said else text
        options: dict[str, Any] = {"help": help.replace("%", "%%")}  # argparse %-formats help
        if kind == "bool":
            options.update(action=argparse.BooleanOptionalAction)
        elif kind == "tuple[str, ...]":
            listed = meta.get("repeat") or meta.get("positional")
            options.update(type=str) if listed else options.update(type=comma_list, metavar="A,B")
        else:
            options.update(type=_SCALARS[kind], metavar=kind.upper())
        if meta.get("choices"):  # shown here, checked by the dataclass: one line, one place
            options.update(metavar="{" + ",".join(meta["choices"]) + "}")
        if meta.get("repeat"):
            options.update(action="append")
        if meta.get("positional"):
            options.pop("metavar", None)
            parser.add_argument(field.name, nargs="*", **options)
            continue
        parser.add_argument(flag(field.name), dest=field.name, default=None, required=required,
                            **options)  # fmt: skip


def given(args: argparse.Namespace, cls: type, names: Iterable[str] | None = None) -> dict:
    """The fields of `cls` (in `names`) the user gave on the command line."""
    wanted = [f.name for f in dataclasses.fields(cls)] if names is None else list(names)
    values = {}
    for name in wanted:
        value = getattr(args, name, None)
        if value is None or (isinstance(value, list) and not value):
            continue
        values[name] = tuple(value) if isinstance(value, list) else value
    return values


def build(args: argparse.Namespace, cls: type, **extra: Any) -> Any:
    """An instance of `cls` from the flags given, its defaults elsewhere, and `extra`."""
    return cls(**{**given(args, cls), **extra})
