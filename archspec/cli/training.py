"""`archspec train` and `archspec eval`: a spec trained with the paper's recipe, and trained
weights measured."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path
from typing import Any

from archspec.cli.command import (
    BACKEND_HELP,
    BACKENDS,
    Command,
    arg,
    load_at,
    positive,
    real,
    seed,
    size,
    whole,
    workers,
)
from archspec.training.recipe import AUGMENTS, OPTIMIZERS, SCHEDULES


def train(args: argparse.Namespace) -> int:
    """Train a spec with the paper's recipe, or with what the options change. Exit 0 when done, 1
    for spec, data, checkpoint or output-directory errors, 128 + N when stopped by signal N (a
    checkpoint was written first). SIGINT and SIGTERM are caught from here on: one that comes
    while the run starts up stops it cleanly after its first step, instead of killing it."""
    from archspec.training.runs import StopSignals

    with StopSignals():
        return _train(args)


def _train(args: argparse.Namespace) -> int:
    from archspec.backends import backend
    from archspec.training import checkpoint
    from archspec.training.recipe import settle
    from archspec.training.runs import Options, cleared_on_failure

    spec = load_at(args, args.input)
    out = Path(args.out or f"runs/{spec.name}")
    saved = checkpoint.saved_run(out) if args.resume else None
    input_size = spec.input_shape[:2] if args.input or saved is None else None
    asked = {**asked_run(args, args.epochs, args.batch_size), "data": args.data, "input_size": input_size}
    run = settle(asked, saved)
    spec = spec.with_input_size(run.input_size)
    options = Options(
        out=out, resume=args.resume, overwrite=args.overwrite, workers=args.workers, compile=args.compile,
        amp=args.amp, checkpoint_every=args.checkpoint_every, log_every=args.log_every,
    )  # fmt: skip
    with cleared_on_failure(out):
        outcome = backend(args.backend).train(spec, run, options)
    if outcome.stopped_by is not None:
        if outcome.main:
            name = signal.Signals(outcome.stopped_by).name
            print(f"stopped by {name}; checkpoint {outcome.checkpoint}; continue with --resume", file=sys.stderr)
        return 128 + outcome.stopped_by
    if outcome.history and outcome.main:
        last, epochs = outcome.history[-1], int(outcome.history[-1]["epoch"])
        print(
            f"done: {spec.name}, {epochs} epoch{'s' if epochs != 1 else ''}, validation top-1 "
            f"{100 * last['val_top1']:.2f} % (moving average); weights in {outcome.checkpoint}"
        )
    return 0


def evaluate(args: argparse.Namespace) -> int:
    """Top-1 and top-5 error of weights (or an ensemble of them) on a data set, with 1, 12 or 144
    crops. Exit 1 for spec, data or weight errors."""
    from archspec.backends import backend
    from archspec.training import checkpoint, data

    spec = load_at(args, args.input)
    arrays, state = checkpoint.weights_at(Path(args.weights), spec)
    trained_at = (state or {}).get("run", {}).get("input_size")
    if trained_at and args.input is None:  # evaluate at the size the run trained at
        spec = spec.with_input_size((int(trained_at[0]), int(trained_at[1])))
    members = [arrays] + [checkpoint.weights_at(Path(p), spec)[0] for p in args.ensemble]
    images = data.subset(data.load(args.data, "val"), args.limit)
    data.check_classes(images, spec.output_shape[-1], args.data)
    result = backend(args.backend).evaluate(spec, members, images, args.crops, args.workers)
    report = {"spec": spec.name, "data": args.data, "images": len(images), "crops": args.crops, "models": len(members)}
    if args.format == "json":
        print(json.dumps({**report, **result}, indent=2))
        return 0
    print(
        f"{spec.name} on {args.data} ({len(images)} images), {args.crops} crop{'s' if args.crops > 1 else ''}, "
        f"{len(members)} model{'s' if len(members) > 1 else ''}: top-1 error {100 * result['top1_error']:.2f} %, "
        f"top-5 error {100 * result['top5_error']:.2f} % (top-1 accuracy {100 * result['top1']:.2f} %)"
    )
    return 0


def asked_run(args: argparse.Namespace, epochs: int | None, batch_size: int | None) -> dict[str, Any]:
    """The run settings the options of RECIPE_ARGS give (None where not given), as `settle` takes them."""
    recipe = ("optimizer", "schedule", "warmup_epochs", "augment", "weight_decay", "momentum")
    return {
        "epochs": epochs,
        "batch_size": batch_size,
        "seed": args.seed,
        "limit": args.limit,
        "recipe": {
            **{name: getattr(args, name) for name in recipe},
            "learning_rate": args.lr,
            "label_smoothing": args.label_smoothing,
            "aux_weight": args.aux_weight,
        },
    }


# What a run trains with, as `archspec train` and `archspec sweep --train` take it.
RECIPE_ARGS = (
    arg("--seed", type=seed, help="seed of weights, data order and crops (default 0)"),
    arg("--optimizer", choices=OPTIMIZERS, help="rmsprop (default, the paper's), sgd (momentum) or adamw"),
    arg("--schedule", choices=SCHEDULES, help="step (default: x0.94 every 2 epochs) or cosine (to 0)"),
    arg("--warmup-epochs", type=whole(0, 10**6, "a whole number of epochs"), help="linear warm-up (default 0)"),
    arg("--lr", type=real(0, 1e3, low_open=True), help="peak learning rate (default 0.045; adamw 0.001)"),
    arg("--weight-decay", type=real(0, 1e3), help="on kernels (default 4e-5; adamw 0.05, decoupled)"),
    arg("--momentum", type=real(0, 1), help="of sgd and rmsprop (default 0.9)"),
    arg("--augment", choices=AUGMENTS, help="training crop (default inception; light for digits)"),
    arg("--label-smoothing", type=real(0, 1), help="label smoothing (default 0; Inception-v3 used 0.1)"),
    arg("--aux-weight", type=real(0, 1e3), help="loss weight of auxiliary heads (default 0.4)"),
    arg("--limit", type=positive, metavar="N", help="at most N training and N validation images"),
)
DATA_HELP = "ImageFolder root (train/, val/) or digits"
SIZE_HELP = "input height and width instead of the spec's"

COMMANDS = (
    Command(
        "train",
        "train a spec on an image folder or digits: the paper's recipe, or another optimizer and schedule",
        [
            "archspec train examples/inception_resnet_v2_tiny --data digits --epochs 5",
            "archspec train my_variant.yaml --data /data/imagenet -o runs/wide --resume",
            "archspec train convnext_tiny --data /data/imagenet --optimizer adamw --schedule cosine --warmup-epochs 5",
        ],
        train,
        [
            arg("--data", required=True, metavar="PATH|digits", help=DATA_HELP),
            arg("--backend", choices=BACKENDS, default="torch", help=BACKEND_HELP + " (default torch)"),
            arg("--epochs", type=positive, help="epochs to train in all (default 15)"),
            arg("--batch-size", type=positive, help="images per step and process (default 32)"),
            arg("--input", type=size, metavar="HxW", help=SIZE_HELP),
            arg(
                "-o",
                "--output",
                "--out",
                dest="out",
                metavar="DIR",
                help="run directory: checkpoint, metrics (default runs/NAME)",
            ),
            arg("--resume", action="store_true", help="continue the run in DIR from its checkpoint"),
            arg(
                "--force",
                "--overwrite",
                dest="overwrite",
                action="store_true",
                help="start over in a DIR that holds an earlier run",
            ),
            arg("--checkpoint-every", type=positive, metavar="STEPS", help="also checkpoint every STEPS steps"),
            arg(
                "--compile",
                nargs="?",
                const="model",
                choices=("model", "blocks"),
                help="torch.compile the whole model (default), or each block on its own (one compilation per type)",
            ),
            arg("--amp", choices=("bf16",), help="mixed precision: bfloat16 autocast"),
            *RECIPE_ARGS,
            arg("--workers", type=workers, default=0, help="data-loading processes (default 0: in the trainer)"),
            arg(
                "--log-every",
                type=whole(0, 10**9, "a whole number of steps"),
                metavar="STEPS",
                help="without a terminal, a progress line every STEPS steps (default: 10 an epoch; 0: none)",
            ),
        ],
    ),
    Command(
        "eval",
        "top-1 and top-5 error of trained weights, 1, 12 or 144 crops",
        [
            "archspec eval examples/inception_resnet_v2_tiny --weights runs/inception_resnet_v2_tiny --data digits",
            "archspec eval inception_v4 --weights v4.safetensors --data /data/imagenet --crops 144",
        ],
        evaluate,
        [
            arg("--weights", required=True, metavar="FILE", help="safetensors file, checkpoint or run dir"),
            arg("--data", required=True, metavar="PATH|digits", help="ImageFolder (its val/) or digits"),
            arg("--crops", type=int, choices=(1, 12, 144), default=1, help="1, 12 or 144 crops per image"),
            arg("--backend", choices=BACKENDS, default="torch", help=BACKEND_HELP + " (default torch)"),
            arg("--ensemble", nargs="+", default=[], metavar="FILE", help="more weights; softmax averaged"),
            arg("--input", type=size, metavar="HxW", help=SIZE_HELP),
            arg("--limit", type=positive, metavar="N", help="at most N images (as train --limit)"),
            arg("--workers", type=workers, default=0, help="data-loading processes"),
            arg("--format", choices=("text", "json"), default="text", help="text (default) or json"),
        ],
    ),
)
