"""The `electra` command line: a table of subcommands, each defined beside the code it drives.

Each module in `COMMAND_MODULES` has a `register(commands)` function that adds its parsers and sets
`func` to the function to call with the parsed arguments. This is the one place that turns a
`UserError` into a single line on stderr and exit code 2, and the library's parameter names in it
(`seq_len`) into the command's flags (`--seq-len`).
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
from collections.abc import Sequence

from electra.errors import Interrupted, UserError

COMMAND_MODULES = (
    "electra.commands.data",
    "electra.commands.detect",
    "electra.commands.export",
    "electra.commands.pretrain",
    "electra.commands.tasks",
    "electra.commands.compare",
)

GROUPS = {
    "finetune": "fine-tune a pre-trained discriminator on a task",
    "predict": "write a fine-tuned model's predictions",
    "evaluate": "score predictions with a task's official metric",
    "export": "export a model for deployment",
}


class Commands:
    """What a command module registers into: top-level subcommands and the task groups."""

    def __init__(self, parser: argparse.ArgumentParser) -> None:
        self._top = parser.add_subparsers(dest="command", metavar="COMMAND")
        self._top.required = True
        self._groups: dict[str, argparse._SubParsersAction] = {}

    def add(self, name: str, help: str, **kwargs) -> argparse.ArgumentParser:
        parser = self._top.add_parser(name, help=help, description=help, **kwargs)
        parser.set_defaults(parser=parser)
        _threads_flag(parser)
        return parser

    def add_to_group(self, group: str, name: str, help: str, **kwargs) -> argparse.ArgumentParser:
        if group not in self._groups:
            group_parser = self._top.add_parser(
                group, help=GROUPS[group], description=GROUPS[group]
            )
            self._groups[group] = group_parser.add_subparsers(dest="task", metavar="TASK")
            self._groups[group].required = True
        parser = self._groups[group].add_parser(name, help=help, description=help, **kwargs)
        parser.set_defaults(parser=parser)
        if group != "evaluate":  # scoring a file computes nothing
            _threads_flag(parser)
        return parser


_PARAMETER = re.compile(r"`(\w+)`|\b([a-z][a-z0-9]*(?:_[a-z0-9]+)+)\b")  # `name` or snake_case


def in_flags(message: str, parser: argparse.ArgumentParser) -> str:
    """`message` with each parameter name that is a flag of `parser` spelled as that flag: a
    name in backquotes (`task`) or in snake_case (seq_len)."""
    flags = {a.dest: a.option_strings[0] for a in parser._actions if a.option_strings}
    positional = {a.dest for a in parser._actions if not a.option_strings}

    def spell(match: re.Match) -> str:
        name = match.group(1) or match.group(2)
        if name in flags:
            return flags[name]
        return name.upper() if name in positional else match.group()

    return _PARAMETER.sub(spell, message)


def _threads_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", metavar="N|auto", default=None,
                        help="CPU threads to compute with (default: PyTorch's, one per core; "
                             "auto: the cores the load leaves free)")  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="electra",
        description="ELECTRA: pre-train text encoders by replaced token detection, fine-tune, infer.",
    )
    commands = Commands(parser)
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if os.environ.get("ELECTRA_CPU_LINEAR"):  # a bad value fails here, before any work
            from electra import cpu_linear  # (imports torch, which data commands do without)

            cpu_linear.onednn_enabled()
        if getattr(args, "threads", None) is not None:
            from electra import threads

            threads.use(threads.resolve(args.threads))
        result = args.func(args)
    except UserError as e:
        print(f"electra: error: {in_flags(str(e), args.parser)}", file=sys.stderr)
        return 2
    except Interrupted as e:
        print(f"electra: {e}", file=sys.stderr)
        return e.code
    except KeyboardInterrupt:
        print("electra: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `electra detect ... | head`: the reader left, nothing to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as e:  # a full disk, a file gone read-only mid-run: the path and the reason
        path = e.filename or getattr(args, "out", None)  # a failed write() names no file
        where = f"{path}: " if path else ""
        print(f"electra: error: {where}{e.strerror or e}", file=sys.stderr)
        return 2
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
