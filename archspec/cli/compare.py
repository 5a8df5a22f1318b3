"""`archspec diff` and `archspec sweep`: specs against each other, one pair or a grid of variants."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import archspec
from archspec.cli.command import SPEC_HELP, Command, arg, positive, progress, roots, spec_source, whole
from archspec.cli.training import RECIPE_ARGS, asked_run
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
    """A grid of variants through the front end (and, with --measure, their training steps; with
    --train, a short training each). Exit 0 when every point checks (and trains), 1 when a spec,
    an override or a point fails (the others are still reported and written), 2 for usage
    errors, 128 + N when signal N stopped the training (the same command goes on from there)."""
    from archspec.training.runs import StopSignals

    with StopSignals() as stop:
        return _sweep(args, stop)


def _sweep(args: argparse.Namespace, stop: Any) -> int:
    from archspec.tools import sweep

    try:
        axes = [sweep.axis(text) for text in args.set]
        points = sweep.grid(axes)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    x, y, color, marker = chosen_figures(args, axes)
    # Everything that does not depend on the grid is refused before any point is checked.
    # The spec itself must check before its variants are worth trying.
    base = archspec.load(args.spec.path, roots=roots(args))
    outputs = [f"{args.output}.{suffix}" for suffix in ("csv", "json", "png")] if args.output else []
    for output in outputs:
        refuse(output, args.force, base.files)
    if args.measure:
        sweep.measuring_device(args.measure)
    runs = Path(args.runs or (f"{args.output}.runs" if args.output else f"runs/sweep_{base.name}"))
    if args.train:
        sweep.measuring_device("torch")  # training needs PyTorch as timing does
        if runs.exists() and not runs.is_dir():
            raise ArchspecError(f"--runs {runs} exists and is not a directory")

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
        batch = args.batch_size or 8
        measured = sweep.measure(load, axes, found, args.measure, batch, args.steps, args.rounds, bar.update)
        bar.close()
    trained: list[dict[str, Any]] = []
    if args.train:
        asked = {**asked_run(args, args.epochs, args.batch_size or 32), "data": args.train}
        trained, stopped_by = sweep.train(load, axes, found, asked, runs, stop)
        if stopped_by is not None:
            name = signal.Signals(stopped_by).name
            print(f"stopped by {name}; the same command goes on from the runs in {runs}", file=sys.stderr)
            return 128 + stopped_by
    records = sweep.rows(axes, found, (x, y), *(extra for extra in (measured, trained) if extra))
    print(sweep.table(axes, records))
    for said in sweep.failures(axes, found):
        print(said, file=sys.stderr)
    failed = sum(r["error"] is not None for r in records)
    if failed:
        print(f"{failed} of {len(found)} points failed", file=sys.stderr)
    if outputs:
        write_outputs(args, outputs, axes, records, (x, y), color, marker)
    return 1 if failed else 0


def chosen_figures(args: argparse.Namespace, axes: Sequence[Axis]) -> tuple[str, str, str | None, str | None]:
    """The plot's x and y figures, and the keys it colours and shapes points by: those asked for,
    each checked against what this sweep has, else MACs, validation top-1 where the points train
    (else params), and the first and second swept keys that vary."""
    from archspec.tools import sweep

    figures = [*sweep.FIGURES, *(sweep.MEASURED if args.measure else ()), *(sweep.TRAINED if args.train else ())]
    varying = [a.key for a in axes if len(a.values) > 1]
    x = args.x or "macs"
    y = args.y or ("val_top1" if args.train else "params")
    for option, value, known in (("--x", x, figures), ("--y", y, figures)):
        if value not in known:
            raise UsageError(f"{option} {value}: not a figure of this sweep ({', '.join(known)})")
    keys = [a.key for a in axes] + figures
    for option, value in (("--color", args.color), ("--marker", args.marker)):
        if value is not None and value not in keys:
            raise UsageError(f"{option} {value}: not a swept key or a figure ({', '.join(keys)})")
    color = args.color or next(iter(varying), None)
    marker = args.marker or next((k for k in varying if k != color), None)
    return x, y, color, marker


def write_outputs(
    args: argparse.Namespace,
    outputs: list[str],
    axes: Sequence[Axis],
    records: list[dict[str, Any]],
    objectives: tuple[str, str],
    color: str | None,
    marker: str | None,
) -> None:
    from archspec.tools import sweep

    write_atomic(outputs[0], lambda p: sweep.write_csv(p, records))
    write_atomic(outputs[1], lambda p: sweep.write_json(p, str(args.spec), axes, records))
    try:
        write_atomic(
            outputs[2], lambda p: sweep.plot(p, args.spec.path.stem, records, objectives, color, marker, args.log)
        )
    except ImportError:
        raise ArchspecError(
            "the plot needs matplotlib (pip install 'archspec[train]'); the CSV and JSON are written"
        ) from None
    print(f"wrote {', '.join(outputs)}")


LOG_AXES = ("auto", "x", "y", "both", "none")
FIGURES_HELP = (
    "params, macs, flops, activation_bytes; step_s, images_per_s with --measure; "
    "val_top1, val_top5, val_loss, train_s with --train"
)

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
        "params, MACs and activations of a grid of variants, timed or trained, with a Pareto plot",
        [
            "archspec sweep inception_v4 --set width.multiplier=0.5,0.75,1 --set params.inception_b_blocks=3,5,7",
            "archspec sweep inception_v4 --set input.shape=[149,149,3],[299,299,3] -o runs/v4_sizes",
            "archspec sweep examples/inception_resnet_v2_tiny --set input.shape=[32,32,3],[64,64,3] --measure torch",
            "archspec sweep examples/inception_resnet_v2_tiny --set width.multiplier=0.5,1 "
            "--set params.block17_repeats=1,2 --train digits -o runs/tiny",
        ],
        sweep,
        [
            arg("-o", "--output", metavar="OUT", help="write OUT.csv, OUT.json and the plot OUT.png"),
            arg("--force", action="store_true", help="replace those files if they exist"),
            arg("--x", metavar="FIGURE", help="the plot's x axis (default macs): " + FIGURES_HELP),
            arg("--y", metavar="FIGURE", help="the plot's y axis (default val_top1 with --train, else params)"),
            arg("--color", metavar="KEY", help="colour points by this key or figure (default: the first swept)"),
            arg("--marker", metavar="KEY", help="shape points by this key (default: the second swept)"),
            arg(
                "--log",
                choices=("auto", "x", "y", "both", "none"),
                default="auto",
                help="log axes (default auto: a range of 20x)",
            ),
            arg("--measure", metavar="torch[:cuda]", help="also time each point's training step (default cpu)"),
            arg("--train", metavar="PATH|digits", help="also train each point on this data, and record its accuracy"),
            arg("--epochs", type=positive, default=2, help="epochs each point trains (default 2)"),
            arg("--runs", metavar="DIR", help="where the points train (default OUT.runs, or runs/sweep_NAME)"),
            arg(
                "--batch-size",
                type=whole(1, 2**16, "a batch of 1 to 65536 images"),
                help="images per timed step (default 8) and per training step (default 32)",
            ),
            arg("--steps", type=positive, default=3, help="timed steps per point and round (default 3)"),
            arg("--rounds", type=positive, default=3, help="interleaved rounds; the median counts (default 3)"),
            *RECIPE_ARGS,
        ],
    ),
)
