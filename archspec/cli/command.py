"""What every command is made of: its declaration (`Command`, with its arguments beside its
handler), the argument types the commands share, and the spec a command reads, resolved once.

A command's handler takes the parsed arguments and returns its exit status; what goes wrong
for a reason the user can fix it raises as an `ArchspecError`, which `archspec.cli.main` reports.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import archspec
from archspec.frontend.overrides import split as split_override
from archspec.spec import spec_file

SPEC_HELP = "a spec file, or a bundled spec by name (`archspec list` shows them)"
BACKEND_HELP = "torch (PyTorch) or tf (TensorFlow / Keras)"
BACKENDS = ("torch", "tf")  # the one name of each backend on the command line


def arg(*flags: str, **options: Any) -> tuple[tuple[str, ...], dict[str, Any]]:
    """One argument, as argparse's add_argument takes it."""
    return flags, options


@dataclass(frozen=True)
class Command:
    """A subcommand: its name, a one-line summary, examples for its --help, its arguments and its
    handler. Most read one SPEC first and take `--set`."""

    name: str
    summary: str
    examples: Sequence[str]
    run: Callable[[argparse.Namespace], int]
    arguments: Sequence[tuple[tuple[str, ...], dict[str, Any]]] = ()
    takes_spec: bool = True
    takes_set: bool = True
    groups: Sequence[Sequence[tuple[tuple[str, ...], dict[str, Any]]]] = field(default=())  # mutually exclusive

    def add_to(self, commands: Any) -> None:
        epilog = "examples:\n" + "\n".join(f"  {example}" for example in self.examples)
        parser: argparse.ArgumentParser = commands.add_parser(
            self.name,
            help=self.summary,
            description=self.summary,
            epilog=epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        if self.takes_spec:
            parser.add_argument("spec", metavar="SPEC", type=spec_source, help=SPEC_HELP)
            parser.add_argument(*ROOT[0], **ROOT[1])
        if self.takes_set:
            parser.add_argument(
                "--set", action="append", default=[], type=override, metavar="KEY=VALUE",
                help="change the spec: a dotted key and a YAML value (params.num_classes=10); may be repeated",
            )  # fmt: skip
        for flags, options in self.arguments:
            parser.add_argument(*flags, **options)
        for group in self.groups:
            exclusive = parser.add_mutually_exclusive_group()
            for flags, options in group:
                exclusive.add_argument(*flags, **options)
        parser.set_defaults(run=self.run)


# -- the spec a command reads ----------------------------------------------------------------------

ROOT = arg(
    "--root", action="append", default=[], type=Path, metavar="DIR",
    help="one more folder the spec's extends and uses may read from (beside its own and its project's)",
)  # fmt: skip


@dataclass(frozen=True)
class SpecArgument:
    """A SPEC of the command line: the text given, and the file it names, resolved once."""

    text: str
    path: Path

    def __str__(self) -> str:
        return self.text


def spec_source(text: str) -> SpecArgument:
    """A command line's SPEC: a spec file's path or a bundled spec's name. A name that is neither
    is a located error (SpecError), reported as every other."""
    return SpecArgument(text, spec_file(text))


def roots(args: argparse.Namespace) -> tuple[Path, ...]:
    """The spec roots `--root` adds to those of every spec the command reads."""
    return tuple(getattr(args, "root", ()))


def load(args: argparse.Namespace, **keywords: Any) -> archspec.Spec:
    """The command's spec, checked, with its `--set` and `--root`; its notes and warnings are printed."""
    spec = archspec.load(args.spec.path, overrides=args.set, roots=roots(args), **keywords)
    print_notes(spec)
    return spec


def load_at(args: argparse.Namespace, size: tuple[int, int] | None) -> archspec.Spec:
    """The command's spec, at another input height and width where one is asked."""
    spec = load(args)
    return spec if size is None else spec.with_input_size(size)


def print_notes(spec: archspec.Spec) -> None:
    for note in spec.notes:
        print(note.format(), file=sys.stderr)


# -- argument types --------------------------------------------------------------------------------


def override(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # bytes the terminal passed that are not UTF-8 (Python keeps them as surrogates)
        raise argparse.ArgumentTypeError("--set takes UTF-8 text; this value is not UTF-8") from None
    try:
        split_override(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def shape(text: str) -> tuple[int, int, int]:
    match = re.fullmatch(r"([0-9]{1,16})x([0-9]{1,16})x([0-9]{1,16})", text.strip())
    if not match or 0 in (dims := tuple(int(g) for g in match.groups())):
        raise argparse.ArgumentTypeError(f"expected HxWxC such as 299x299x3, got '{text}'")
    return dims[0], dims[1], dims[2]


def size(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"([0-9]{1,16})x([0-9]{1,16})", text.strip())
    if not match or 0 in (dims := tuple(int(g) for g in match.groups())):
        raise argparse.ArgumentTypeError(f"expected HxW such as 299x299, got '{text}'")
    return dims[0], dims[1]


def whole(low: int, high: int, expected: str) -> Callable[[str], int]:
    """A parser of whole numbers from `low` to `high`, in ASCII digits: no sign, and never a huge
    string converted to an integer."""

    def parse(text: str) -> int:
        if not (text.isascii() and text.isdigit()) or len(text) > len(str(high)) or not low <= int(text) <= high:
            raise argparse.ArgumentTypeError(f"expected {expected}, got '{text[:40]}'")
        return int(text)

    return parse


def real(low: float, high: float, low_open: bool = False) -> Callable[[str], float]:
    """A parser of finite numbers in [low, high) ((low, high) when `low_open`)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and (value > low if low_open else value >= low) and value < high):
            interval = f"{'(' if low_open else '['}{low:g}, {high:g})"
            raise argparse.ArgumentTypeError(f"expected a number in {interval}, got '{text[:40]}'")
        return value

    return parse


positive = whole(1, 10**15 - 1, "a positive whole number below 10^15")
seed = whole(0, 2**32 - 1, "a seed from 0 to 2^32 - 1")
# Data-loading processes: at most four per CPU, so that a typo cannot start thousands.
MOST_WORKERS = 4 * (os.cpu_count() or 1)
workers = whole(0, MOST_WORKERS, f"a number of processes from 0 to {MOST_WORKERS}")


def progress(total: int, description: str, unit: str) -> Any:
    """A progress bar on a terminal, where tqdm is installed; else one that shows nothing."""
    try:
        from archspec.training.log import progress as bar

        return bar(total, description, unit)
    except ImportError:
        from types import SimpleNamespace

        return SimpleNamespace(update=lambda n=1: None, close=lambda: None)
