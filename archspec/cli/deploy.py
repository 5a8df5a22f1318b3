"""`archspec convert`, `export` and `predict`: weights between formats, models for other
runtimes, and trained models put to use."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from archspec.cli.command import BACKEND_HELP, BACKENDS, Command, arg, load, positive
from archspec.errors import ArchspecError, UsageError, printable
from archspec.files import refuse, write_atomic


def convert(args: argparse.Namespace) -> int:
    """Convert a weight file of a spec between formats: neutral, torch or keras. Exit 1 for spec
    errors, an existing output without --force, or weights that do not fit; 2 for usage errors."""
    from safetensors import SafetensorError

    from archspec.weights import convert

    (source_format, source), (target_format, output) = args.source, args.target
    convert.check_path(source_format, source)
    convert.check_path(target_format, output)
    spec = load(args)
    if not Path(source).is_file():
        raise ArchspecError(f"{source}: {'not a regular file' if Path(source).exists() else 'no such file'}")
    refuse(output, args.force, (*spec.files, Path(source)))
    weights = convert.read(source_format, source, spec)
    write_atomic(output, lambda path: convert.write(target_format, weights, path, spec), (OSError, SafetensorError))
    print(f"wrote {output} ({len(weights)} arrays, {source_format} -> {target_format})")
    return 0


def export(args: argparse.Namespace) -> int:
    """Write the spec's model in a format another runtime loads, then load the file on its own,
    run it and compare it with the live model. Exit 1 for spec or weight errors, an existing
    output without --force, or a file that does not compute the model; 2 for usage errors."""
    from archspec.deploy import export
    from archspec.deploy.request import Request
    from archspec.training import checkpoint

    fmt = export.format_of(args.output, args.format)
    if args.inference and export.FORMATS[fmt] != "torch":
        raise UsageError(f"--inference folds batch norm in the torch model; it is for onnx and pt2, not {fmt}")
    spec = load(args)
    target = Path(args.output)
    inputs = (*spec.files, *(checkpoint.weight_files(Path(args.weights)) if args.weights else ()))
    refuse_export(target, fmt, args.force, inputs)
    weights = checkpoint.weights_at(Path(args.weights), spec)[0] if args.weights else None
    done = export.export(Request(spec, fmt, weights, args.dynamic_batch, args.inference), target)
    batches = " and ".join(map(str, done.batches))
    print(
        f"wrote {args.output} ({fmt}, {spec.name}{', inference' if args.inference else ''}); checked at batch "
        f"{batches}: max difference {done.difference:.2g} of the largest output"
    )
    return 0


def refuse_export(target: Path, fmt: str, force: bool, inputs: tuple[Path, ...]) -> None:
    """As `refuse`, but a SavedModel is a directory: an existing one is replaced with --force
    only if it is a SavedModel (it holds saved_model.pb), never another directory. A Keras
    archive's name ends in .keras, which Keras insists on."""
    if fmt == "keras" and target.suffix != ".keras":
        raise UsageError(f"a Keras archive's name ends in .keras, not '{target.name}'")
    if fmt == "savedmodel" and target.is_dir() and not target.is_symlink():
        if not (target / "saved_model.pb").is_file():
            raise ArchspecError(f"{target} is a directory that is not a SavedModel; name a new directory")
        for inside in inputs:  # a weight file inside the SavedModel folder is an input too
            if inside.resolve().is_relative_to(target.resolve()):
                raise ArchspecError(f"{target} holds an input of this command ({inside}); choose another folder")
    refuse(target, force, inputs, directory=fmt == "savedmodel")


def predict(args: argparse.Namespace) -> int:
    """The top classes of each image, with their probabilities. Exit 1 for spec, weight or image
    errors."""
    from archspec.deploy import predict
    from archspec.training import checkpoint

    spec = load(args)
    if len(spec.output_shape) != 1:
        raise ArchspecError(f"{spec.name} does not end in class scores: its output is {spec.output_shape}")
    scores = predict.scorer(spec, checkpoint.weights_at(Path(args.weights), spec)[0], args.backend)
    k = min(args.top, spec.output_shape[0])
    rows = []
    for images, inputs in predict.batches(args.images, spec):  # a batch at a time
        for image, row in zip(images, scores(inputs), strict=True):
            guesses = predict.top(spec, row, k)
            if args.format == "json":
                rows.append({"image": image, "top": [g.as_json() for g in guesses]})
                continue
            print(f"{printable(image)}:")  # names a spec or a user wrote: escaped for the terminal
            for guess in guesses:
                print(f"  {100 * guess.probability:6.2f} %  {printable(guess.name)}")
    if args.format == "json":
        print(json.dumps(rows, indent=2))
    return 0


WEIGHTS_HELP = "safetensors file, checkpoint or run dir"
FORMATS = "neutral|torch|keras"

COMMANDS = (
    Command(
        "export",
        "write an ONNX, torch.export, SavedModel or Keras file, then check it by running it",
        [
            "archspec export inception_v4 --weights runs/inception_v4 -o v4.onnx --dynamic-batch",
            "archspec export inception_v4 -o v4.pt2 --inference",
            "archspec export my_variant.yaml -o saved_model --format savedmodel",
        ],
        export,
        [
            arg("-o", "--output", required=True, metavar="OUT", help="file (.onnx, .pt2, .keras) or directory"),
            arg("--format", choices=("onnx", "pt2", "savedmodel", "keras"), help="default: OUT's extension"),
            arg("--weights", metavar="FILE", help=WEIGHTS_HELP + " (default: random)"),
            arg("--dynamic-batch", action="store_true", help="any batch size (checked at 1 and 8), not only 1"),
            arg("--inference", action="store_true", help="the batch-norm-folded model of for_inference (torch)"),
            arg("--force", action="store_true", help="replace OUT if it exists"),
        ],
    ),
    Command(
        "convert",
        "convert a spec's weights between neutral, torch and keras files",
        ["archspec convert inception_v4 --from torch v4_torch.safetensors --to keras v4.weights.h5"],
        convert,
        [
            arg("--from", dest="source", nargs=2, metavar=(FORMATS, "IN"), required=True, help="read IN"),
            arg("--to", dest="target", nargs=2, metavar=(FORMATS, "OUT"), required=True, help="write OUT"),
            arg("--force", action="store_true", help="replace OUT if it exists"),
        ],
    ),
    Command(
        "predict",
        "the top classes of images, by trained weights and the spec's preprocessing",
        [
            "archspec predict examples/inception_resnet_v2_tiny --weights runs/inception_resnet_v2_tiny seven.png",
            "archspec predict inception_v4 --weights v4.safetensors --top 3 --format json cat.jpg dog.jpg",
        ],
        predict,
        [
            arg("images", nargs="+", metavar="IMAGE", help="image files (any format Pillow reads)"),
            arg("--weights", required=True, metavar="FILE", help=WEIGHTS_HELP),
            arg("--top", type=positive, default=5, metavar="K", help="classes shown per image (default 5)"),
            arg("--backend", choices=BACKENDS, default="torch", help=BACKEND_HELP + " (default torch)"),
            arg("--format", choices=("text", "json"), default="text", help="text (default) or json"),
        ],
    ),
)
