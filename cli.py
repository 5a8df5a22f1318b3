"""The `archspec` command line: check, summarise and list network specs.

Exit status: 0 when all is well, 1 when a spec has errors (each printed as FILE:LINE:COL: error:
MESSAGE), 2 for a usage error.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path

import archspec
from archspec.errors import SpecError
from archspec.linker import BUNDLED, Linker, display_name
from archspec.summary import table


def _shape(text: str) -> tuple[int, int, int]:
    match = re.fullmatch(r"(\d+)x(\d+)x(\d+)", text.strip())
    if not match or 0 in (dims := tuple(int(g) for g in match.groups())):
        raise argparse.ArgumentTypeError(f"expected HxWxC such as 299x299x3, got '{text}'")
    return dims[0], dims[1], dims[2]


def cmd_check(args: argparse.Namespace) -> int:
    failed = 0
    for path in args.specs:
        try:
            spec = archspec.load(Path(path))
        except SpecError as exc:
            print(exc, file=sys.stderr)
            failed += 1
            continue
        if not args.quiet:
            print(
                f"{path}: ok: {spec.name}, {'x'.join(map(str, spec.input_shape))} -> "
                f"{'x'.join(map(str, spec.output_shape))}, {spec.params:,} params, {spec.macs / 1e9:.3f} GMACs"
            )
    if failed:
        print(f"{failed} of {len(args.specs)} spec{'s' if len(args.specs) != 1 else ''} failed", file=sys.stderr)
    return 1 if failed else 0


def cmd_summary(args: argparse.Namespace) -> int:
    try:
        spec = archspec.load(Path(args.spec), input_shape=args.input)
    except SpecError as exc:
        print(exc, file=sys.stderr)
        return 1
    summary = spec.summary()
    print(json.dumps(summary, indent=2) if args.format == "json" else table(summary, args.detail))
    return 0


def bundled_specs() -> list[Path]:
    """Every network spec that ships with archspec (block libraries under lib/ excluded)."""
    found = sorted(BUNDLED.glob("*.yaml")) + sorted(BUNDLED.glob("*/*.yaml"))
    return [p for p in found if p.parent.name != "lib"]


def cmd_list(args: argparse.Namespace) -> int:
    rows = []
    for path in bundled_specs():
        try:
            doc = Linker([path.parent]).link_file(path)
            about = str(doc.get("description", ""))
        except SpecError as exc:
            about = f"(does not load: {exc.diagnostics[0].message})"
        if path.parent.name == "errata":
            about += " [rejected by check on purpose]"
        rows.append((display_name(path), about))
    width = max(len(name) for name, _ in rows)
    for name, about in rows:
        print(f"{name.ljust(width)}  {about}")
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="archspec", description=__doc__.splitlines()[0])
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = commands.add_parser("check", help="validate specs and infer every shape")
    check.add_argument("specs", nargs="+", metavar="SPEC")
    check.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    check.set_defaults(run=cmd_check)

    summary = commands.add_parser("summary", help="parameters, MACs and shapes per block")
    summary.add_argument("spec", metavar="SPEC")
    summary.add_argument("--input", type=_shape, metavar="HxWxC", help="input shape instead of the spec's")
    summary.add_argument("--format", choices=("table", "json"), default="table")
    summary.add_argument("--detail", action="store_true", help="one table row per node, not per block")
    summary.set_defaults(run=cmd_summary)

    listing = commands.add_parser("list", help="the bundled specs, one line each")
    listing.set_defaults(run=cmd_list)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except BrokenPipeError:  # output piped into `head` and closed early
        sys.stderr.close()
        code = 0
    return code


if __name__ == "__main__":
    sys.exit(main())
