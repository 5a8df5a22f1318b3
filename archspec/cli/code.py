"""`archspec compile` and `archspec import`: a spec to framework source, and a PyTorch model to a spec."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from archspec.cli.command import BACKEND_HELP, BACKENDS, Command, arg, load, shape
from archspec.errors import ArchspecError, UsageError, shown
from archspec.files import refuse, write_atomic

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")


def compile_(args: argparse.Namespace) -> int:
    """Write a standalone model file. An existing file is never replaced unless --force is given:
    a generated file is meant to be edited, and those edits must not be lost silently."""
    from archspec.backends import backend

    spec = load(args)
    refuse(args.output, args.force, spec.files)
    source = backend(args.backend).generate(spec)
    write_atomic(args.output, lambda path: path.write_text(source, encoding="utf-8"))
    print(f"wrote {args.output} ({len(source.splitlines())} lines, {args.backend})")
    return 0


def import_(args: argparse.Namespace) -> int:
    """Trace a PyTorch model into a spec (and its weights), then check that the spec's model with
    those weights computes the original's outputs. Exit 1 for a model that cannot be imported
    or an output that exists, 2 for usage errors."""
    from archspec.importers.factory import load_factory

    name = spec_name(args.name, args.output)
    factory, inputs = load_factory(args.model)
    if args.weights and Path(args.weights).absolute() == Path(args.output).absolute():
        raise UsageError("-o and --weights name the same file; the spec and its weights are two files")
    for output in [args.output, *([args.weights] if args.weights else [])]:
        refuse(output, args.force, inputs)
    try:
        from archspec.importers import torch as importer
    except ImportError:
        raise ArchspecError("archspec import needs PyTorch: pip install 'archspec[torch]'") from None
    from archspec.weights import neutral

    imported = importer.import_factory(factory, args.model, args.input, name)
    write_atomic(args.output, lambda p: p.write_text(imported.text, encoding="utf-8"))
    if args.weights:
        write_atomic(args.weights, lambda p: neutral.save(imported.weights, p))
    spec = imported.spec
    types = len({step.type for step in spec.steps if step.kind == "block"})
    print(
        f"wrote {args.output} ({len(imported.text.splitlines())} lines, {types} block types, "
        f"{len(spec.nodes) - 1} ops; "
        f"{spec.params:,} params, {spec.macs / 1e9:.3f} GMACs)"
        + (f" and {args.weights} ({len(imported.weights)} arrays)" if args.weights else "")
        + f"; checked on a random batch in float64: largest output difference {imported.difference:.1g}"
    )
    for note in imported.notes:
        print(f"note: {note}", file=sys.stderr)
    if imported.unused:
        more = f" and {len(imported.unused) - 4} more" if len(imported.unused) > 4 else ""
        shown = ", ".join(imported.unused[:4]) + more
        print(
            f"note: modules with weights that the model's forward does not call are left out: {shown}", file=sys.stderr
        )
    return 0


def spec_name(given: str | None, output: str) -> str:
    """The imported spec's name: --name, which must be one, else SPEC's file name made one
    (`my-model.yaml` is `my_model`)."""
    if given is not None:
        if not NAME.fullmatch(given):
            raise UsageError(f"--name must be letters, digits and _, not starting with a digit, not {shown(given)}")
        return given
    made = re.sub(r"[^0-9A-Za-z_]", "_", Path(output).name.split(".")[0]) or "imported"
    return f"_{made}" if made[0].isdigit() else made


COMMANDS = (
    Command(
        "compile",
        "write a standalone PyTorch or Keras model file",
        [
            "archspec compile inception_v4 --backend torch -o inception_v4.py",
            "archspec compile my_variant.yaml --backend tf -o model.py",
        ],
        compile_,
        [
            arg("--backend", choices=BACKENDS, required=True, help=BACKEND_HELP),
            arg("-o", "--output", metavar="FILE.py", required=True, help="the Python file to write"),
            arg("--force", action="store_true", help="replace FILE.py if it exists"),
        ],
    ),
    Command(
        "import",
        "trace a PyTorch model into a spec with blocks, repeats and parameters, and its weights",
        [
            "archspec import timm.models:inception_v4 -o inception_v4.yaml --weights inception_v4.safetensors",
            "archspec import torchvision.models:resnet50 --input 224x224x3 -o resnet50.yaml",
            "archspec import my_model.py:build --input 32x32x3 -o mine.yaml",
        ],
        import_,
        [
            arg(
                "model",
                metavar="MODULE:FACTORY",
                help="a module or .py file, and the function in it that makes the model",
            ),
            arg("-o", "--output", required=True, metavar="SPEC.yaml", help="the spec to write"),
            arg("--weights", metavar="OUT.safetensors", help="also write the model's weights, neutral layout"),
            arg("--input", type=shape, metavar="HxWxC", help="input shape (default: timm's pretrained config)"),
            arg("--name", help="the spec's name (default: SPEC's file name)"),
            arg("--force", action="store_true", help="replace SPEC.yaml and OUT.safetensors if they exist"),
        ],
        takes_spec=False,
        takes_set=False,
    ),
)
