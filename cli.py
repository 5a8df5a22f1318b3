"""The `archspec` command line: check, summarise, render and list network specs.

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
from archspec import render
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


def _render_format(args: argparse.Namespace) -> str:
    """--format, else the output file's extension (DOT for standard output); ValueError for usage."""
    if args.output is None:
        raise ValueError("render needs -o FILE (or -o - for standard output)")
    if args.format:
        return str(args.format)
    suffix = "dot" if args.output == "-" else Path(args.output).suffix.lstrip(".").lower()
    if suffix not in render.FORMATS:
        raise ValueError(f"cannot tell the format from '{args.output}'; give --format {'|'.join(render.FORMATS)}")
    return suffix


def cmd_render(args: argparse.Namespace) -> int:
    """Draw a spec with Graphviz. Exit 1 for spec errors, a missing or failing Graphviz or an
    unwritable output; 2 for usage errors, among them a --block name the spec does not have (the
    spec's block types are printed)."""
    try:
        fmt_name = "dot" if args.list_blocks else _render_format(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        spec = archspec.load(Path(args.spec))
    except SpecError as exc:
        print(exc, file=sys.stderr)
        return 1
    if args.list_blocks:
        print("\n".join(render.block_types(spec)))
        return 0
    try:
        text = render.to_dot(spec, level=args.level or "blocks", block=args.block, rankdir=args.rankdir)
    except render.UnknownBlock as exc:
        print(f"error: {spec.source}: {exc}", file=sys.stderr)
        return 2
    try:
        data = render.to_image(text, fmt_name)
        if args.output == "-":
            sys.stdout.buffer.write(data)
        else:
            Path(args.output).write_bytes(data)
    except render.RenderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # standard output closed early: main() deals with it
        raise
    except OSError as exc:
        print(f"error: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


def cmd_compile(args: argparse.Namespace) -> int:
    """Write a standalone model file. An existing file is never replaced unless --force is given:
    a generated file is meant to be edited, and those edits must not be lost silently."""
    target = Path(args.output)
    if target.exists() and not args.force:
        print(f"error: {args.output} exists; pass --force to replace it", file=sys.stderr)
        return 1
    try:
        spec = archspec.load(Path(args.spec))
    except SpecError as exc:
        print(exc, file=sys.stderr)
        return 1
    if args.backend == "torch":
        from backends.torch.codegen import generate
    else:
        from backends.tensorflow.codegen import generate
    from backends.blocks import CodegenError

    try:
        source = generate(spec)
    except CodegenError as exc:
        print(f"{spec.steps[0].pos if spec.steps else spec.source}: error: {exc}", file=sys.stderr)
        return 1
    partial = target.with_name(f".{target.name}.partial")
    try:
        partial.write_text(source, encoding="utf-8")
        partial.replace(target)  # atomic: a reader never sees half a file
    except OSError as exc:
        print(f"error: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.output} ({len(source.splitlines())} lines, {args.backend})")
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

    draw = commands.add_parser("render", help="draw a spec as the paper's figures do (Graphviz)")
    draw.add_argument("spec", metavar="SPEC")
    draw.add_argument("-o", "--output", metavar="FILE", help="where to write; - for standard output")
    view = draw.add_mutually_exclusive_group()
    view.add_argument("--level", choices=render.LEVELS, help="blocks: the overall schema (default); layers: every op")
    view.add_argument("--block", metavar="NAME", help="one block: a block type (inception_b) or a step (mixed_6b)")
    draw.add_argument("--format", choices=render.FORMATS, help="default: the output file's extension")
    draw.add_argument("--rankdir", choices=render.RANKDIRS, default="TB", help="top to bottom or left to right")
    draw.add_argument("--list-blocks", action="store_true", help="print the spec's block types, one a line")
    draw.set_defaults(run=cmd_render)

    build = commands.add_parser("compile", help="write a standalone PyTorch or Keras model file")
    build.add_argument("spec", metavar="SPEC")
    build.add_argument("--backend", choices=("torch", "tf"), required=True)
    build.add_argument("-o", "--output", metavar="FILE.py", required=True)
    build.add_argument("--force", action="store_true", help="replace FILE.py if it exists")
    build.set_defaults(run=cmd_compile)

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
