"""`archspec check`, `summary` and `list`: specs through the front end, nothing else."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import archspec
from archspec.analysis.summary import table
from archspec.bundled import list_specs, spec_path
from archspec.cli.command import ROOT, SPEC_HELP, Command, arg, load, print_notes, roots, shape
from archspec.errors import ArchspecError, SpecError
from archspec.frontend.linker import Linker
from archspec.frontend.loader import load_file
from archspec.spec import spec_file


def check(args: argparse.Namespace) -> int:
    """Each spec checked on its own: one that fails does not stop the others."""
    failed = 0
    for path in args.specs:
        try:
            spec = archspec.load(spec_file(path), overrides=args.set, roots=roots(args))
        except SpecError as exc:
            print(exc, file=sys.stderr)
            failed += 1
            continue
        if not args.quiet:
            shapes = ["x".join(map(str, spec.shapes[name])) for name in spec.outputs]
            if len(shapes) > 1:
                shapes = [f"{shape} ({name})" for shape, name in zip(shapes, spec.outputs, strict=True)]
            print(
                f"{path}: ok: {spec.name}, {'x'.join(map(str, spec.input_shape))} -> "
                f"{', '.join(shapes)}, {spec.params:,} params, {spec.macs / 1e9:.3f} GMACs"
            )
            print_notes(spec)
    if failed:
        print(f"{failed} of {len(args.specs)} spec{'s' if len(args.specs) != 1 else ''} failed", file=sys.stderr)
    return 1 if failed else 0


def summary(args: argparse.Namespace) -> int:
    found = load(args, input_shape=args.input).summary()
    print(json.dumps(found, indent=2) if args.format == "json" else table(found, args.detail))
    return 0


def listing(args: argparse.Namespace) -> int:
    rows = []
    for name in list_specs(args.pattern):
        path = spec_path(name)
        try:
            Linker([path.parent]).link_file(path)  # it loads: its bases are there
            own = load_file(path)  # a variant's description, not the one it would inherit
            base = Path(str(own.get("extends", "")).removeprefix("archspec:")).stem
            about = str(own.get("description", "")) or (f"a variant of {base}" if base else "")
        except SpecError as exc:
            about = f"(does not load: {exc.diagnostics[0].message})"
        if path.parent.name == "errata":
            about += " [rejected by check on purpose]"
        rows.append((name, about))
    if not rows:
        raise ArchspecError(f"no bundled spec matches '{args.pattern}'")
    width = max(len(name) for name, _ in rows)
    for name, about in rows:
        print(f"{name.ljust(width)}  {about}")
    return 0


COMMANDS = (
    Command(
        "check",
        "validate specs and infer every shape",
        ["archspec check inception_v4", "archspec check my_variant.yaml specs/*.yaml"],
        check,
        [
            arg("specs", nargs="+", metavar="SPEC", help=SPEC_HELP + "; several may be given"),
            arg("-q", "--quiet", action="store_true", help="print errors only"),
            ROOT,
        ],
        takes_spec=False,
    ),
    Command(
        "summary",
        "parameters, MACs and shapes per block",
        ["archspec summary inception_resnet_v2", "archspec summary my_variant.yaml --input 149x149x3 --format json"],
        summary,
        [
            arg("--input", type=shape, metavar="HxWxC", help="input shape instead of the spec's"),
            arg("--format", choices=("table", "json"), default="table", help="table (default) or json"),
            arg("--detail", action="store_true", help="one table row per node, not per block"),
        ],
    ),
    Command(
        "list",
        "the bundled specs, one line each",
        ["archspec list", "archspec list 'inception*'", "archspec list 'examples/*'"],
        listing,
        [arg("pattern", nargs="?", default="*", help="a shell-style pattern of names, e.g. 'inception_v*'")],
        takes_spec=False,
        takes_set=False,
    ),
)
