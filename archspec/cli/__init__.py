"""The `archspec` command line: check, summarise, diff, sweep, render, compile, export, train, evaluate, list.

Every command that writes names its output with `-o/--output` (convert: `--to FORMAT OUT`), and
replaces what exists only with `--force`; every command that reads a spec takes `--set KEY=VALUE`.

Exit status: 0 when all is well, 1 when a spec has errors (each printed as FILE:LINE:COL: error:
MESSAGE), 2 for a usage error.

Each command is declared, with its arguments, beside its handler, in the module of its kind
(`specs`, `drawing`, `compare`, `code`, `deploy`, `training`); the parser is a loop over them.
Every error a user can fix is an `ArchspecError`, reported here, once.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from archspec.cli import code, compare, deploy, drawing, specs, training
from archspec.cli.command import Command
from archspec.errors import ArchspecError, first_lines

COMMANDS: tuple[Command, ...] = (
    *specs.COMMANDS,
    *drawing.COMMANDS,
    *code.COMMANDS,
    *deploy.COMMANDS,
    *training.COMMANDS,
    *compare.COMMANDS,
)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("archspec")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="archspec",
        description=(__doc__ or "").splitlines()[0],
        epilog="`archspec COMMAND --help` describes a command, with examples.",
    )
    top.add_argument("--version", action="version", version=f"archspec {_version()}")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_to(commands)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = parser().parse_args(argv)  # a SPEC is resolved here, once: a bad name is located
        status: int = args.run(args)
    except ArchspecError as exc:
        print(exc.report(), file=sys.stderr)
        status = exc.exit_status
    except BrokenPipeError:  # output piped into `head` and closed early
        sys.stderr.close()
        status = 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        status = 130
    except Exception as exc:  # a bug: every error a user can cause is an ArchspecError
        if os.environ.get("ARCHSPEC_TRACEBACK"):
            raise
        print(
            f"error: internal error ({type(exc).__name__}: {first_lines(exc)}); this is a bug in archspec, please "
            "report it with the command and spec (ARCHSPEC_TRACEBACK=1 shows the traceback)",
            file=sys.stderr,
        )
        status = 1
    return status
