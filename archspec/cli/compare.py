"""`archspec diff` and `archspec sweep`: specs against each other, one pair or a grid of variants."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import archspec
from archspec.cli.command import SPEC_HELP, Command, arg, positive, progress, roots, spec_source, whole
from archspec.errors import ArchspecError, UsageError
from archspec.files import refuse, write_atomic

if TYPE_CHECKING:
    from archspec.tools.sweep import Axis


def diff(args: argparse.Namespace) -> int:
    """What B changes relative to A. Exit 0 whether or not they differ, 1 for spec errors.
    --set changes B only, so that `diff A A --set ...` shows what the overrides do."""
    from archspec.tools import diff

    a = archspec.load(args.spec.path, roots=roots(args))
    b = archspec.load(args.other.path, overrides=args.set, roots=roots(args))
    found = diff.diff(a, b, ignore_shapes=args.ignore_shapes)
    print(json.dumps(diff.to_json(found), indent=2) if args.format == "json" else diff.table(found))
    return 0


def sweep(args: argparse.Namespace) -> int:
    """A grid of variants through the front end (and, with --measure, their training steps).
    Exit 0 when every point checks, 1 when a spec, an override or a point fails (the others are
    still reported and written), 2 for usage errors."""
    from archspec.tools import sweep

    try:
        axes = [sweep.axis(text) for text in args.set]
        points = sweep.grid(axes)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    colors = [a.key for a in axes] + [*sweep.FIGURES, *(("step_s", "images_per_s") if args.measure else ())]
    if args.color is not None and args.color not in colors:
        raise UsageError(f"--color {args.color}: not a swept key or a figure ({', '.join(colors)})")
    # Everything that does not depend on the grid is refused before any point is checked.
    # The spec itself must check before its variants are worth trying.
    base = archspec.load(args.spec.path, roots=roots(args))
    outputs = [f"{args.output}.{suffix}" for suffix in ("csv", "json", "png")] if args.output else []
    for output in outputs:
        refuse(output, args.force, base.files)
    if args.measure:
        sweep.measuring_device(args.measure)

    def load(overrides: Sequence[str]) -> archspec.Spec:
        return archspec.load(args.spec.path, overrides=overrides, roots=roots(args))

    bar = progress(len(points), "checking", "point")
    found = []
    for point in sweep.evaluate(load, axes, points):
        found.append(point)
        bar.update(1)
    bar.close()
    measured: list[dict[str, Any]] = []
    if args.measure:
        bar = progress(sum(p.error is None for p in found) * args.rounds, f"timing {args.measure}", "step")
        measured = sweep.measure(load, axes, found, args.measure, args.batch_size, args.steps, args.rounds, bar.update)
        bar.close()
    records = sweep.rows(axes, found, measured)
    print(sweep.table(axes, records, bool(measured)))
    for said in sweep.failures(axes, found):
        print(said, file=sys.stderr)
    failed = sum(p.error is not None for p in found)
    if failed:
        print(f"{failed} of {len(found)} points failed", file=sys.stderr)
    if outputs:
        write_outputs(args, outputs, axes, records)
    return 1 if failed else 0


def write_outputs(
    args: argparse.Namespace, outputs: list[str], axes: Sequence[Axis], records: list[dict[str, Any]]
) -> None:
    from archspec.tools import sweep

    color = args.color or next((a.key for a in axes if len(a.values) > 1), "activation_bytes")
    write_atomic(outputs[0], lambda p: sweep.write_csv(p, records))
    write_atomic(outputs[1], lambda p: sweep.write_json(p, str(args.spec), axes, records))
    try:
        write_atomic(outputs[2], lambda p: sweep.plot(p, args.spec.path.stem, records, color))
    except ImportError:
        raise ArchspecError(
            "the plot needs matplotlib (pip install 'archspec[train]'); the CSV and JSON are written"
        ) from None
    print(f"wrote {', '.join(outputs)}")


COMMANDS = (
    Command(
        "diff",
        "what spec B changes relative to spec A: steps, nodes, attributes, shapes, params, MACs",
        [
            "archspec diff inception_resnet_v2 inception_resnet_v2_paper",
            "archspec diff inception_v4 my_variant.yaml --format json",
            "archspec diff inception_v4 inception_v4 --set params.dropout=0.5   # --set changes B",
            "archspec diff inception_v4 inception_v4 --set input.shape=[149,149,3] --ignore-shapes",
        ],
        diff,
        [
            arg("other", metavar="B", type=spec_source, help="the spec to compare with SPEC (A): " + SPEC_HELP),
            arg("--format", choices=("table", "json"), default="table", help="table (default) or json"),
            arg(
                "--ignore-shapes",
                action="store_true",
                help="only what each node itself changes, not sizes, params or MACs that follow from upstream",
            ),
        ],
    ),
    Command(
        "sweep",
        "params, MACs and activations of a grid of variants, with a Pareto plot; optionally timed",
        [
            "archspec sweep inception_v4 --set width.multiplier=0.5,0.75,1 --set params.inception_b_blocks=3,5,7",
            "archspec sweep inception_v4 --set input.shape=[149,149,3],[299,299,3] -o runs/v4_sizes",
            "archspec sweep examples/inception_resnet_v2_tiny --set input.shape=[32,32,3],[64,64,3] --measure torch",
        ],
        sweep,
        [
            arg("-o", "--output", metavar="OUT", help="write OUT.csv, OUT.json and the plot OUT.png"),
            arg("--force", action="store_true", help="replace those files if they exist"),
            arg("--color", metavar="KEY", help="colour the plot by this key or figure (default: the first swept)"),
            arg("--measure", metavar="torch[:cuda]", help="also time each point's training step (default cpu)"),
            arg(
                "--batch-size",
                type=whole(1, 2**16, "a batch of 1 to 65536 images"),
                default=8,
                help="images per timed step (default 8)",
            ),
            arg("--steps", type=positive, default=3, help="timed steps per point and round (default 3)"),
            arg("--rounds", type=positive, default=3, help="interleaved rounds; the median counts (default 3)"),
        ],
    ),
)
