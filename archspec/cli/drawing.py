"""`archspec render`: a spec drawn as the paper draws its networks, or as one HTML page."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import archspec
from archspec.cli.command import Command, arg, load, roots, spec_source
from archspec.errors import UsageError
from archspec.files import refuse, write_atomic
from archspec.tools import render


def output_format(args: argparse.Namespace) -> str:
    """--format, else the output file's extension (DOT for standard output)."""
    if args.list_blocks:
        return "dot"
    if args.output is None:
        raise UsageError("render needs -o FILE (or -o - for standard output)")
    fmt = args.format or ("dot" if args.output == "-" else Path(args.output).suffix.lstrip(".").lower())
    if fmt not in render.FORMATS:
        raise UsageError(f"cannot tell the format from '{args.output}'; give --format {'|'.join(render.FORMATS)}")
    if fmt == "html" and (args.level or args.block):
        raise UsageError(
            "the html page opens on the blocks view and opens every block itself: drop --level and --block"
        )
    return str(fmt)


def draw(args: argparse.Namespace) -> int:
    """Exit 1 for spec errors, a missing or failing Graphviz or an unwritable output; 2 for usage
    errors, among them a --block name the spec does not have (its block types are printed)."""
    fmt = output_format(args)
    # --set changes B where there is one, as in `archspec diff`: `render A --diff A --set ...`
    # draws what the overrides change.
    spec = load(args) if not args.diff else archspec.load(args.spec.path, roots=roots(args))
    if args.list_blocks:
        print("\n".join(render.block_types(spec)))
        return 0
    highlight, inputs = render.PLAIN, spec.files
    if args.diff:
        from archspec.tools import diff

        other = archspec.load(args.diff.path, overrides=args.set, roots=roots(args))
        found, inputs = diff.diff(spec, other), (*spec.files, *other.files)
        # The page places only A's own boxes, so it colours them; a drawing also draws what B adds.
        highlight = diff.highlight(found) if fmt == "html" else diff.highlight(found, spec, other)
    view = {"level": args.level or "blocks", "block": args.block, "rankdir": args.rankdir}
    text = render.to_dot(spec, **view, highlight=highlight) if fmt != "html" else ""
    if args.output != "-":
        refuse(args.output, args.force, inputs)
    if fmt == "html":
        from archspec.tools import viewer

        data = viewer.page(spec, highlight).encode("utf-8")
    else:
        data = render.to_image(text, fmt)
    if args.output == "-":
        sys.stdout.buffer.write(data)
        return 0
    write_atomic(args.output, lambda path: path.write_bytes(data))
    shown = "one page" if fmt == "html" else f"{args.block or view['level']}"
    print(f"wrote {args.output} ({fmt}, {shown})")
    return 0


COMMANDS = (
    Command(
        "render",
        "draw a spec as the paper's figures do (Graphviz)",
        [
            "archspec render inception_v4 -o v4.svg",
            "archspec render inception_v4 --block inception_b -o inception_b.png",
            "archspec render my_variant.yaml --level layers -o - > layers.dot",
            "archspec render inception_resnet_v2 --diff inception_resnet_v2_paper -o changes.svg",
            "archspec render inception_resnet_v2 -o net.html   # one page: open blocks, search, inspect",
        ],
        draw,
        [
            arg("-o", "--output", metavar="FILE", help="where to write; - for standard output"),
            arg("--format", choices=render.FORMATS, help="default: the output file's extension"),
            arg("--rankdir", choices=render.RANKDIRS, default="TB", help="top to bottom or left to right"),
            arg("--force", action="store_true", help="replace FILE if it exists (never the spec itself)"),
            arg(
                "--diff",
                metavar="B",
                type=spec_source,
                help="colour what spec B changes (amber) or lacks (red) in SPEC and draw what it adds (green); "
                "--set then changes B, as in diff",
            ),
            arg("--list-blocks", action="store_true", help="print the spec's block types, one a line"),
        ],
        groups=[
            [
                arg("--level", choices=render.LEVELS, help="blocks: the overall schema (default); layers: every op"),
                arg("--block", metavar="NAME", help="one block: a block type (inception_b) or a step (mixed_6b)"),
            ]
        ],
    ),
)
