"""The `archspec` command line: check, summarise, diff, sweep, render, compile, export, train, evaluate, list.

Every command that writes names its output with `-o/--output` (convert: `--to FORMAT OUT`), and
replaces what exists only with `--force`; every command that reads a spec takes `--set KEY=VALUE`.

Exit status: 0 when all is well, 1 when a spec has errors (each printed as FILE:LINE:COL: error:
MESSAGE), 2 for a usage error.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import archspec
from archspec.analysis.summary import table
from archspec.backends import BACKENDS
from archspec.bundled import list_specs, spec_path
from archspec.errors import Pos, SpecError
from archspec.frontend.linker import Linker, display_name
from archspec.frontend.overrides import split as split_override
from archspec.spec import spec_file
from archspec.tools import render


def _shape(text: str) -> tuple[int, int, int]:
    match = re.fullmatch(r"([0-9]{1,16})x([0-9]{1,16})x([0-9]{1,16})", text.strip())
    if not match or 0 in (dims := tuple(int(g) for g in match.groups())):
        raise argparse.ArgumentTypeError(f"expected HxWxC such as 299x299x3, got '{text}'")
    return dims[0], dims[1], dims[2]


def _load(args: argparse.Namespace, input_shape: tuple[int, int, int] | None = None) -> archspec.Spec | None:
    """The checked spec, or None once its errors are printed."""
    try:
        spec = archspec.load(spec_file(args.spec), input_shape=input_shape, overrides=args.set)
    except SpecError as exc:
        print(exc, file=sys.stderr)
        return None
    _print_notes(spec)
    return spec


def _print_notes(spec: archspec.Spec) -> None:
    for note in spec.notes:
        print(note.format(), file=sys.stderr)


def _error(message: str, pos: Pos | None = None) -> None:
    """Print one error line: `FILE:LINE:COL: error: ...` where it concerns spec text, else `error: ...`."""
    print(f"{pos}: error: {message}" if pos else f"error: {message}", file=sys.stderr)


def _refusal(output: str, force: bool, inputs: Sequence[Path]) -> str | None:
    """Why a command must not write `output`, or None. An existing file is replaced only with
    --force (a generated file is meant to be edited, and edits must not be lost silently), and
    never when it is one of the command's own inputs, --force or not."""
    target = Path(output)
    if target.is_dir():
        return f"{output} is a directory; name a file to write"
    if not target.exists():
        return None
    if not target.is_file():  # a device, a FIFO: replacing it (as root, /dev/null) would be a disaster
        return f"{output} is not a regular file; name a file to write"
    for source in inputs:
        try:
            if os.path.samefile(target, source):
                return f"{output} is an input of this command ({display_name(source)}); choose another file"
        except OSError:
            continue
    return None if force else f"{output} exists; pass --force to replace it"


def _write_atomic(
    output: str, write: Callable[[Path], object], errors: tuple[type[Exception], ...] = (OSError,)
) -> str | None:
    """Write through a partial file beside `output`, then rename it into place, so that a reader
    never sees half a file; on failure (one of `errors`) the partial file is removed. The error,
    or None."""
    target = Path(output)
    partial = target.with_name(f".partial.{target.name}")  # keeps the suffix Keras insists on
    try:
        write(partial)
        partial.replace(target)
    except errors as exc:
        partial.unlink(missing_ok=True)
        return f"cannot write {output}: {getattr(exc, 'strerror', None) or _brief(exc)}"
    return None


def cmd_check(args: argparse.Namespace) -> int:
    failed = 0
    for path in args.specs:
        try:
            spec = archspec.load(spec_file(path), overrides=args.set)
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
            _print_notes(spec)
    if failed:
        print(f"{failed} of {len(args.specs)} spec{'s' if len(args.specs) != 1 else ''} failed", file=sys.stderr)
    return 1 if failed else 0


def cmd_summary(args: argparse.Namespace) -> int:
    spec = _load(args, input_shape=args.input)
    if spec is None:
        return 1
    summary = spec.summary()
    print(json.dumps(summary, indent=2) if args.format == "json" else table(summary, args.detail))
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    """What B changes relative to A. Exit 0 whether or not they differ, 1 for spec errors.
    --set changes B only, so that `diff A A --set ...` shows what the overrides do."""
    from archspec.tools import diff

    specs = []
    for source, overrides in ((args.spec, ()), (args.other, args.set)):
        try:
            specs.append(archspec.load(spec_file(source), overrides=overrides))
        except SpecError as exc:
            print(exc, file=sys.stderr)
            return 1
    found = diff.diff(specs[0], specs[1])
    print(json.dumps(diff.to_json(found), indent=2) if args.format == "json" else diff.table(found))
    return 0


def _progress(total: int, description: str, unit: str) -> Any:
    """A progress bar on a terminal, where tqdm is installed; else one that shows nothing."""
    try:
        from archspec.training.log import progress

        return progress(total, description, unit)
    except ImportError:
        from types import SimpleNamespace

        return SimpleNamespace(update=lambda n=1: None, close=lambda: None)


def cmd_sweep(args: argparse.Namespace) -> int:
    """A grid of variants through the front end (and, with --measure, their training steps).
    Exit 0 when every point checks, 1 when a spec, an override or a point fails (the others are
    still reported and written), 2 for usage errors."""
    from archspec.tools import sweep

    try:
        axes = [sweep.axis(text) for text in args.set]
        points = sweep.grid(axes)
    except SpecError as exc:
        print(exc, file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    colors = [a.key for a in axes] + [*sweep.FIGURES, *(("step_s", "images_per_s") if args.measure else ())]
    if args.color is not None and args.color not in colors:
        print(f"error: --color {args.color}: not a swept key or a figure ({', '.join(colors)})", file=sys.stderr)
        return 2
    path = spec_file(args.spec)
    try:
        base = archspec.load(path)  # the spec itself must check before its variants are worth trying
    except SpecError as exc:
        print(exc, file=sys.stderr)
        return 1
    outputs = [f"{args.output}.{suffix}" for suffix in ("csv", "json", "png")] if args.output else []
    refused = next((r for r in (_refusal(o, args.force, base.files) for o in outputs) if r), None)
    if refused:
        print(f"error: {refused}", file=sys.stderr)
        return 1
    bar = _progress(len(points), "checking", "point")
    found = []
    for point in sweep.evaluate(lambda overrides: archspec.load(path, overrides=overrides), axes, points):
        found.append(point)
        bar.update(1)
    bar.close()
    measured: list[dict[str, Any]] = []
    if args.measure:
        try:
            measured = _measure(args, path, axes, found)
        except _run_errors() as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    records = sweep.rows(axes, found, measured)
    print(sweep.table(axes, records, bool(measured)))
    failed = [p for p in found if p.error is not None]
    by_error: dict[str, list[Any]] = {}
    for p in failed:
        by_error.setdefault(p.error.diagnostics[0].format(), []).append(p)  # type: ignore[union-attr]
    for message, alike in by_error.items():  # each error once, with the points it stopped
        first = " ".join(a.override(v) for a, v in zip(axes, alike[0].values, strict=True))
        more = f" and {len(alike) - 1} more" if len(alike) > 1 else ""
        print(f"{message}\n  in the point {first}{more}", file=sys.stderr)
    if failed:
        print(f"{len(failed)} of {len(found)} points failed", file=sys.stderr)
    if outputs:
        color = args.color or next((a.key for a in axes if len(a.values) > 1), "activation_bytes")
        problems = [
            _write_atomic(outputs[0], lambda p: sweep.write_csv(p, records)),
            _write_atomic(outputs[1], lambda p: sweep.write_json(p, str(args.spec), axes, records)),
        ]
        try:
            problems.append(_write_atomic(outputs[2], lambda p: sweep.plot(p, Path(path).stem, records, color)))
        except ImportError:
            problems.append("the plot needs matplotlib (pip install 'archspec[train]'); the CSV and JSON are written")
        for problem in filter(None, problems):
            print(f"error: {problem}", file=sys.stderr)
        if any(problems):
            return 1
        print(f"wrote {', '.join(outputs)}")
    return 1 if failed else 0


def _measure(args: argparse.Namespace, path: Path, axes: Sequence[Any], found: Sequence[Any]) -> list[dict[str, Any]]:
    """Step times of the points that check, interleaved in one process; None for the others."""
    from archspec.training.runs import TrainingError

    backend, _, device_name = args.measure.partition(":")
    if backend != "torch":
        raise TrainingError(f"--measure takes torch or torch:cuda, not {args.measure}")
    try:
        from archspec.training.torch import step_time
    except ImportError:
        raise TrainingError("--measure torch needs PyTorch: pip install 'archspec[torch]'") from None
    device = step_time.device_of(device_name or "cpu")
    good = [i for i, p in enumerate(found) if p.error is None]
    specs = [
        archspec.load(path, overrides=[a.override(v) for a, v in zip(axes, found[i].values, strict=True)]) for i in good
    ]
    bar = _progress(len(specs) * args.rounds, f"timing on {device.type}", "step")
    seconds = step_time.measure(specs, device, args.batch_size, args.steps, args.rounds, lambda: bar.update(1))
    bar.close()
    measured: list[dict[str, Any]] = [{"step_s": None, "images_per_s": None} for _ in found]
    for index, time in zip(good, seconds, strict=True):
        measured[index] = {"step_s": time, "images_per_s": args.batch_size / time}
    return measured


def _factory(text: str) -> Callable[[], Any]:
    """MODULE:FACTORY as a function: MODULE a module to import (`timm.models`) or a Python file
    (`my_model.py`), FACTORY a name in it that makes the model when called with no arguments.
    ValueError with the message to print."""
    module_name, colon, name = text.rpartition(":")
    if not colon or not module_name or not name.isidentifier():
        raise ValueError(f"expected MODULE:FACTORY such as timm.models:inception_v4 or my_model.py:build, not '{text}'")
    import importlib
    import importlib.util

    try:
        if module_name.endswith(".py"):
            if not Path(module_name).is_file():
                raise ValueError(f"{module_name}: no such file")
            loaded = importlib.util.spec_from_file_location(f"archspec_imported_{Path(module_name).stem}", module_name)
            assert loaded is not None and loaded.loader is not None
            module = importlib.util.module_from_spec(loaded)
            loaded.loader.exec_module(module)
        else:
            module = importlib.import_module(module_name)
    except ValueError:
        raise
    except ImportError as exc:
        raise ValueError(f"cannot import {module_name}: {exc}") from None
    except Exception as exc:  # the user's own module failed as it ran
        hint = (
            " (torchvision was built for another torch: install the torchvision that matches it)"
            if "torchvision::nms" in str(exc)
            else ""
        )
        raise ValueError(f"importing {module_name} failed: {type(exc).__name__}: {_brief(exc)}{hint}") from None
    factory = getattr(module, name, None)
    if not callable(factory):
        raise ValueError(f"{module_name} has no '{name}' that makes a model")
    return factory  # type: ignore[no-any-return]


def cmd_import(args: argparse.Namespace) -> int:
    """Trace a PyTorch model into a spec (and its weights), then check that the spec's model with
    those weights computes the original's outputs. Exit 1 for a model that cannot be imported
    or an output that exists, 2 for usage errors."""
    try:
        factory = _factory(args.model)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2 if "expected MODULE:FACTORY" in str(exc) else 1
    outputs = [args.output, *([args.weights] if args.weights else [])]
    if args.weights and Path(args.weights).absolute() == Path(args.output).absolute():
        print("error: -o and --weights name the same file; the spec and its weights are two files", file=sys.stderr)
        return 2
    inputs = [Path(args.model.rpartition(":")[0])] if args.model.rpartition(":")[0].endswith(".py") else []
    refused = next((r for r in (_refusal(o, args.force, inputs) for o in outputs) if r), None)
    if refused:
        print(f"error: {refused}", file=sys.stderr)
        return 1
    try:
        from archspec.importers import torch as importer
    except ImportError:
        print("error: archspec import needs PyTorch: pip install 'archspec[torch]'", file=sys.stderr)
        return 1
    try:
        model = factory()
    except Exception as exc:  # the user's factory
        print(f"error: {args.model}() failed: {type(exc).__name__}: {_brief(exc)}", file=sys.stderr)
        return 1
    from torch import nn

    if not isinstance(model, nn.Module):
        print(f"error: {args.model}() gave a {type(model).__name__}, not a torch.nn.Module", file=sys.stderr)
        return 1
    name = args.name or Path(args.output).stem
    try:
        imported = importer.import_model(model, args.input, name=name, source=args.model)
    except importer.ImportFailure as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if imported.difference > 1e-6:
        print(
            f"error: the imported model differs from the original by {imported.difference:.2g}; nothing written",
            file=sys.stderr,
        )
        return 1
    from archspec.weights import neutral

    problems = [_write_atomic(args.output, lambda p: p.write_text(imported.text, encoding="utf-8"))]
    if args.weights:
        problems.append(_write_atomic(args.weights, lambda p: neutral.save(imported.weights, p)))
    for problem in filter(None, problems):
        print(f"error: {problem}", file=sys.stderr)
    if any(problems):
        return 1
    spec = imported.spec
    types = len({step.type for step in spec.steps if step.kind == "block"})
    print(
        f"wrote {args.output} ({len(imported.text.splitlines())} lines, {types} block types, "
        f"{len(spec.nodes) - 1} ops; "
        f"{spec.params:,} params, {spec.macs / 1e9:.3f} GMACs)"
        + (f" and {args.weights} ({len(imported.weights)} arrays)" if args.weights else "")
        + f"; checked on a random batch in float64: largest output difference {imported.difference:.1g}"
    )
    if imported.unused:
        shown = ", ".join(imported.unused[:4]) + (
            f" and {len(imported.unused) - 4} more" if len(imported.unused) > 4 else ""
        )
        print(
            f"note: modules with weights that the model's forward does not call are left out: {shown}", file=sys.stderr
        )
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    rows = []
    for name in list_specs(args.pattern):
        path = spec_path(name)
        try:
            doc = Linker([path.parent]).link_file(path)
            about = str(doc.get("description", ""))
        except SpecError as exc:
            about = f"(does not load: {exc.diagnostics[0].message})"
        if path.parent.name == "errata":
            about += " [rejected by check on purpose]"
        rows.append((name, about))
    if not rows:
        print(f"error: no bundled spec matches '{args.pattern}'", file=sys.stderr)
        return 1
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
        if fmt_name == "html" and (args.level or args.block):
            raise ValueError(
                "the html page opens on the blocks view and opens every block itself: drop --level and --block"
            )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    spec = _load(args)
    if spec is None:
        return 1
    if args.list_blocks:
        print("\n".join(render.block_types(spec)))
        return 0
    highlight = render.PLAIN
    if args.diff:
        from archspec.tools import diff

        try:
            other = archspec.load(spec_file(args.diff))
        except SpecError as exc:
            print(exc, file=sys.stderr)
            return 1
        highlight = diff.highlight(diff.diff(spec, other))
    try:
        view = {"level": args.level or "blocks", "block": args.block, "rankdir": args.rankdir}
        text = render.to_dot(spec, **view, highlight=highlight) if fmt_name != "html" else ""
    except render.UnknownBlock as exc:
        print(f"error: {spec.source}: {exc}", file=sys.stderr)
        return 2
    refused = None if args.output == "-" else _refusal(args.output, args.force, spec.files)
    if refused:
        print(f"error: {refused}", file=sys.stderr)
        return 1
    try:
        if fmt_name == "html":
            from archspec.tools import viewer

            data = viewer.page(spec, highlight).encode("utf-8")
        else:
            data = render.to_image(text, fmt_name)
    except render.RenderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.output == "-":
        sys.stdout.buffer.write(data)
        return 0
    failed = _write_atomic(args.output, lambda path: path.write_bytes(data))
    if failed:
        print(f"error: {failed}", file=sys.stderr)
    return 1 if failed else 0


def cmd_compile(args: argparse.Namespace) -> int:
    """Write a standalone model file. An existing file is never replaced unless --force is given:
    a generated file is meant to be edited, and those edits must not be lost silently."""
    spec = _load(args)
    if spec is None:
        return 1
    refused = _refusal(args.output, args.force, spec.files)
    if refused:
        print(f"error: {refused}", file=sys.stderr)
        return 1
    from archspec.backends import BackendError, backend

    try:
        source = backend(args.backend).generate(spec)
    except BackendError as exc:
        print(f"{exc.pos or spec.source}: error: {exc}", file=sys.stderr)
        return 1
    failed = _write_atomic(args.output, lambda path: path.write_text(source, encoding="utf-8"))
    if failed:
        print(f"error: {failed}", file=sys.stderr)
        return 1
    print(f"wrote {args.output} ({len(source.splitlines())} lines, {args.backend})")
    return 0


def _brief(exc: BaseException) -> str:
    """The first lines of an error message: Keras's list every layer that failed."""
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return " ".join(lines[:2]) if lines else type(exc).__name__


def cmd_convert(args: argparse.Namespace) -> int:
    """Convert a weight file of a spec between formats: neutral, torch or keras. Exit 1 for spec
    errors, an existing output without --force, or weights that do not fit; 2 for usage errors."""
    from archspec.weights import convert

    (source_format, source), (target_format, output) = args.source, args.target
    try:
        convert.check_path(source_format, source)
        convert.check_path(target_format, output)
    except convert.UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    spec = _load(args)
    if spec is None:
        return 1
    if not Path(source).is_file():
        print(f"error: {source}: {'not a regular file' if Path(source).exists() else 'no such file'}", file=sys.stderr)
        return 1
    refused = _refusal(output, args.force, (*spec.files, Path(source)))
    if refused:
        print(f"error: {refused}", file=sys.stderr)
        return 1
    from safetensors import SafetensorError

    from archspec.backends import BackendError

    try:
        weights = convert.read(source_format, source, spec)
    except BackendError as exc:  # arrays that do not fit the spec, at the op they belong to
        _error(f"{source} does not fit {spec.name}: {_brief(exc)}", exc.pos)
        return 1
    except (OSError, ValueError, RuntimeError, SafetensorError) as exc:  # a file that is not what it says
        print(f"error: cannot read {source} as {source_format} weights of {spec.name}: {_brief(exc)}", file=sys.stderr)
        return 1
    failed = _write_atomic(
        output, lambda path: convert.write(target_format, weights, path, spec), (OSError, SafetensorError)
    )
    if failed:
        print(f"error: {failed}", file=sys.stderr)
        return 1
    print(f"wrote {output} ({len(weights)} arrays, {source_format} -> {target_format})")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Write the spec's model in a format another runtime loads, then load the file on its own,
    run it and compare it with the live model. Exit 1 for spec or weight errors, an existing
    output without --force, or a file that does not compute the model; 2 for usage errors."""
    from archspec.deploy import export

    try:
        fmt = export.format_of(args.output, args.format)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.inference and export.FORMATS[fmt] != "torch":
        print(
            f"error: --inference folds batch norm in the torch model; it is for onnx and pt2, not {fmt}",
            file=sys.stderr,
        )
        return 2
    spec = _load(args)
    if spec is None:
        return 1
    target = Path(args.output)
    refused = _export_refusal(target, fmt, args.force, spec.files)
    if refused:
        print(f"error: {refused}", file=sys.stderr)
        return 1
    from archspec.backends import BackendError
    from archspec.training import checkpoint

    try:
        weights = checkpoint.weights_at(Path(args.weights), spec)[0] if args.weights else None
        request = export.Request(spec, fmt, weights, args.dynamic_batch, args.inference)
        done = export.export(request, target)
    except BackendError as exc:
        _error(str(exc), exc.pos)
        return 1
    except _run_errors() as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    batches = " and ".join(map(str, done.batches))
    print(
        f"wrote {args.output} ({fmt}, {spec.name}{', inference' if args.inference else ''}); checked at batch "
        f"{batches}: max difference {done.difference:.2g} of the largest output"
    )
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    """The top classes of each image, with their probabilities. Exit 1 for spec, weight or image
    errors."""
    from archspec.deploy import predict
    from archspec.training import checkpoint

    try:
        spec = _load_at(args, None)
        if len(spec.output_shape) != 1:
            print(
                f"error: {spec.name} does not end in class scores: its output is {spec.output_shape}", file=sys.stderr
            )
            return 1
        weights = checkpoint.weights_at(Path(args.weights), spec)[0]
        inputs = predict.read_images([Path(image) for image in args.images], spec)
        scores = predict.probabilities(spec, weights, inputs, args.backend)
    except _user_errors() as exc:
        return _reported(exc)
    k = min(args.top, spec.output_shape[0])
    found = {image: predict.top(spec, row, k) for image, row in zip(args.images, scores, strict=True)}
    if args.format == "json":
        rows = [
            {"image": image, "top": [{"class": g.index, "name": g.name, "probability": g.probability} for g in guesses]}
            for image, guesses in found.items()
        ]
        print(json.dumps(rows, indent=2))
        return 0
    for image, guesses in found.items():
        print(f"{image}:")
        for guess in guesses:
            print(f"  {100 * guess.probability:6.2f} %  {guess.name}")
    return 0


def _export_refusal(target: Path, fmt: str, force: bool, inputs: Sequence[Path]) -> str | None:
    """As _refusal, but a SavedModel is a directory: an existing one is replaced with --force
    only if it is a SavedModel (it holds saved_model.pb), never another directory."""
    if fmt == "savedmodel" and target.is_dir() and not target.is_symlink():
        if not (target / "saved_model.pb").is_file():
            return f"{target} is a directory that is not a SavedModel; name a new directory"
        return None if force else f"{target} exists; pass --force to replace it"
    return _refusal(str(target), force, inputs)


def _size(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"([0-9]{1,16})x([0-9]{1,16})", text.strip())
    if not match or 0 in (dims := tuple(int(g) for g in match.groups())):
        raise argparse.ArgumentTypeError(f"expected HxW such as 299x299, got '{text}'")
    return dims[0], dims[1]


def _whole(low: int, high: int, expected: str) -> Callable[[str], int]:
    """A parser of whole numbers from `low` to `high`, in ASCII digits: no sign, and never a huge
    string converted to an integer."""

    def parse(text: str) -> int:
        if not (text.isascii() and text.isdigit()) or len(text) > len(str(high)) or not low <= int(text) <= high:
            raise argparse.ArgumentTypeError(f"expected {expected}, got '{text[:40]}'")
        return int(text)

    return parse


_positive = _whole(1, 10**15 - 1, "a positive whole number below 10^15")
_seed = _whole(0, 2**32 - 1, "a seed from 0 to 2^32 - 1")
# Data-loading processes: at most four per CPU, so that a typo cannot start thousands.
_MOST_WORKERS = 4 * (os.cpu_count() or 1)
_workers = _whole(0, _MOST_WORKERS, f"a number of processes from 0 to {_MOST_WORKERS}")


def _real(low: float, high: float, low_open: bool = False) -> Callable[[str], float]:
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


def _load_at(args: argparse.Namespace, size: tuple[int, int] | None) -> archspec.Spec:
    """A spec, at another input height and width if asked (its channel count stays)."""
    path, overrides = spec_file(args.spec), args.set
    spec = archspec.load(path, overrides=overrides)
    if size is None or size == spec.input_shape[:2]:
        return spec
    return archspec.load(path, input_shape=(size[0], size[1], spec.input_shape[2]), overrides=overrides)


def _run_errors() -> tuple[type[Exception], ...]:
    """The errors of training and evaluation that are the user's to fix: one line, exit 1."""
    from archspec.training.checkpoint import CheckpointError
    from archspec.training.data import DataError
    from archspec.training.runs import TrainingError

    return (DataError, CheckpointError, TrainingError)


def _user_errors() -> tuple[type[Exception], ...]:
    """Every error a command that loads a spec and weights reports in one line: the spec's, the
    weights' (that do not fit, at the op they belong to) and those of _run_errors."""
    from archspec.backends import BackendError

    return (SpecError, BackendError, *_run_errors())


def _reported(exc: Exception) -> int:
    """Print one of _user_errors as its one line (or a spec's located lines); exit status 1."""
    from archspec.backends import BackendError

    if isinstance(exc, SpecError):
        print(exc, file=sys.stderr)
    elif isinstance(exc, BackendError):
        _error(str(exc), exc.pos)
    else:
        print(f"error: {exc}", file=sys.stderr)
    return 1


def _saved_run(out: Path, saved: dict[str, Any]) -> Any:
    """The settings a run's checkpoint records, as a recipe.Run."""
    from archspec.training.checkpoint import CheckpointError
    from archspec.training.recipe import Run

    try:
        return Run.from_json(saved)
    except (KeyError, TypeError, ValueError):
        raise CheckpointError(f"the checkpoint in {out} is corrupt: its run settings are unreadable") from None


def cmd_train(args: argparse.Namespace) -> int:
    """Train a spec with the paper's recipe. Exit 0 when done, 1 for spec, data, checkpoint or
    output-directory errors, 128 + N when stopped by signal N (a checkpoint was written first).
    SIGINT and SIGTERM are caught from here on: one that comes while the run starts up stops it
    cleanly after its first step, instead of killing it."""
    from archspec.training.runs import StopSignals

    with StopSignals():
        return _train(args)


def _train(args: argparse.Namespace) -> int:
    from archspec.training import checkpoint
    from archspec.training.recipe import settle

    try:
        spec = _load_at(args, args.input)
        out = Path(args.out or f"runs/{spec.name}")
        saved = checkpoint.saved_run_settings(out) if args.resume else None
        asked = {
            "data": args.data,
            "input_size": spec.input_shape[:2] if args.input or saved is None else None,
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "seed": args.seed,
            "limit": args.limit,
            "recipe": {
                "learning_rate": args.lr,
                "label_smoothing": args.label_smoothing,
                "aux_weight": args.aux_weight,
            },
        }
        run = settle(asked, None if saved is None else _saved_run(out, saved))
        spec = _load_at(args, run.input_size)
    except SpecError as exc:
        print(exc, file=sys.stderr)
        return 1
    except _run_errors() as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    from archspec.backends import backend
    from archspec.training.runs import Options

    options = Options(
        out=out, resume=args.resume, overwrite=args.overwrite, workers=args.workers, compile=args.compile,
        amp=args.amp, checkpoint_every=args.checkpoint_every,
    )  # fmt: skip
    try:
        outcome = backend(args.backend).train(spec, run, options)
    except _run_errors() as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if outcome.stopped_by is not None:
        import signal

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


def cmd_eval(args: argparse.Namespace) -> int:
    """Top-1 and top-5 error of weights (or an ensemble of them) on a data set, with 1, 12 or 144
    crops. Exit 1 for spec, data or weight errors."""
    from archspec.training import checkpoint, data

    try:
        spec = _load_at(args, args.input)
        arrays, state = checkpoint.weights_at(Path(args.weights), spec)
        trained_at = (state or {}).get("run", {}).get("input_size")
        if trained_at and args.input is None:  # evaluate at the size the run trained at
            spec = _load_at(args, (int(trained_at[0]), int(trained_at[1])))
        members = [arrays] + [checkpoint.weights_at(Path(p), spec)[0] for p in args.ensemble]
        images = data.subset(data.load(args.data, "val"), args.limit)
        data.check_classes(images, spec.output_shape[-1], args.data)
    except _user_errors() as exc:
        return _reported(exc)
    try:
        from archspec.backends import backend

        result = backend(args.backend).evaluate(spec, members, images, args.crops, args.workers)
    except ValueError as exc:  # weights that do not fit the spec
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except _run_errors() as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    report = {
        "spec": spec.name,
        "data": args.data,
        "images": len(images),
        "crops": args.crops,
        "models": len(members),
        **result,
    }
    if args.format == "json":
        print(json.dumps(report, indent=2))
    else:
        print(
            f"{spec.name} on {args.data} ({len(images)} images), {args.crops} crop{'s' if args.crops > 1 else ''}, "
            f"{len(members)} model{'s' if len(members) > 1 else ''}: top-1 error {100 * result['top1_error']:.2f} %, "
            f"top-5 error {100 * result['top5_error']:.2f} % (top-1 accuracy {100 * result['top1']:.2f} %)"
        )
    return 0


SPEC_HELP = "a spec file, or a bundled spec by name (`archspec list` shows them)"
BACKEND_HELP = "torch (PyTorch) or tf (TensorFlow / Keras)"


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("archspec")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def _command(
    commands: Any, name: str, summary: str, examples: Sequence[str], takes_spec: bool = True
) -> argparse.ArgumentParser:
    """A subcommand whose --help ends with examples of its use; most take one SPEC first."""
    epilog = "examples:\n" + "\n".join(f"  {example}" for example in examples)
    command: argparse.ArgumentParser = commands.add_parser(
        name, help=summary, description=summary, epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    if takes_spec:
        command.add_argument("spec", metavar="SPEC", help=SPEC_HELP)
    if name not in ("list", "import"):
        command.add_argument(
            "--set", action="append", default=[], type=_override, metavar="KEY=VALUE",
            help="change the spec: a dotted key and a YAML value (params.num_classes=10); may be repeated",
        )  # fmt: skip
    return command


def _override(text: str) -> str:
    try:
        split_override(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="archspec",
        description=__doc__.splitlines()[0],
        epilog="`archspec COMMAND --help` describes a command, with examples.",
    )
    top.add_argument("--version", action="version", version=f"archspec {_version()}")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = _command(
        commands, "check", "validate specs and infer every shape",
        ["archspec check inception_v4", "archspec check my_variant.yaml specs/*.yaml"], takes_spec=False,
    )  # fmt: skip
    check.add_argument("specs", nargs="+", metavar="SPEC", help=SPEC_HELP + "; several may be given")
    check.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    check.set_defaults(run=cmd_check)

    summary = _command(
        commands, "summary", "parameters, MACs and shapes per block",
        ["archspec summary inception_resnet_v2", "archspec summary my_variant.yaml --input 149x149x3 --format json"],
    )  # fmt: skip
    summary.add_argument("--input", type=_shape, metavar="HxWxC", help="input shape instead of the spec's")
    summary.add_argument("--format", choices=("table", "json"), default="table", help="table (default) or json")
    summary.add_argument("--detail", action="store_true", help="one table row per node, not per block")
    summary.set_defaults(run=cmd_summary)

    draw = _command(
        commands, "render", "draw a spec as the paper's figures do (Graphviz)",
        [
            "archspec render inception_v4 -o v4.svg",
            "archspec render inception_v4 --block inception_b -o inception_b.png",
            "archspec render my_variant.yaml --level layers -o - > layers.dot",
            "archspec render inception_resnet_v2 --diff inception_resnet_v2_paper -o changes.svg",
            "archspec render inception_resnet_v2 -o net.html   # one page: open blocks, search, inspect",
        ],
    )  # fmt: skip
    draw.add_argument("-o", "--output", metavar="FILE", help="where to write; - for standard output")
    view = draw.add_mutually_exclusive_group()
    view.add_argument("--level", choices=render.LEVELS, help="blocks: the overall schema (default); layers: every op")
    view.add_argument("--block", metavar="NAME", help="one block: a block type (inception_b) or a step (mixed_6b)")
    draw.add_argument("--format", choices=render.FORMATS, help="default: the output file's extension")
    draw.add_argument("--rankdir", choices=render.RANKDIRS, default="TB", help="top to bottom or left to right")
    draw.add_argument("--force", action="store_true", help="replace FILE if it exists (never the spec itself)")
    draw.add_argument("--diff", metavar="B", help="colour what spec B changes (amber) or lacks (red) in SPEC")
    draw.add_argument("--list-blocks", action="store_true", help="print the spec's block types, one a line")
    draw.set_defaults(run=cmd_render)

    build = _command(
        commands, "compile", "write a standalone PyTorch or Keras model file",
        [
            "archspec compile inception_v4 --backend torch -o inception_v4.py",
            "archspec compile my_variant.yaml --backend tf -o model.py",
        ],
    )  # fmt: skip
    build.add_argument("--backend", choices=tuple(BACKENDS), required=True, help=BACKEND_HELP)
    build.add_argument("-o", "--output", metavar="FILE.py", required=True, help="the Python file to write")
    build.add_argument("--force", action="store_true", help="replace FILE.py if it exists")
    build.set_defaults(run=cmd_compile)

    ship = _command(
        commands, "export", "write an ONNX, torch.export, SavedModel or Keras file, then check it by running it",
        [
            "archspec export inception_v4 --weights runs/inception_v4 -o v4.onnx --dynamic-batch",
            "archspec export inception_v4 -o v4.pt2 --inference",
            "archspec export my_variant.yaml -o saved_model --format savedmodel",
        ],
    )  # fmt: skip
    ship.add_argument("-o", "--output", required=True, metavar="OUT", help="file (.onnx, .pt2, .keras) or directory")
    ship.add_argument("--format", choices=("onnx", "pt2", "savedmodel", "keras"), help="default: OUT's extension")
    ship.add_argument("--weights", metavar="FILE", help="safetensors file, checkpoint or run dir (default: random)")
    ship.add_argument("--dynamic-batch", action="store_true", help="any batch size (checked at 1 and 8), not only 1")
    ship.add_argument("--inference", action="store_true", help="the batch-norm-folded model of for_inference (torch)")
    ship.add_argument("--force", action="store_true", help="replace OUT if it exists")
    ship.set_defaults(run=cmd_export)

    convert = _command(
        commands, "convert", "convert a spec's weights between neutral, torch and keras files",
        ["archspec convert inception_v4 --from torch v4_torch.safetensors --to keras v4.weights.h5"],
    )  # fmt: skip
    formats = "neutral|torch|keras"
    convert.add_argument("--from", dest="source", nargs=2, metavar=(formats, "IN"), required=True, help="read IN")
    convert.add_argument("--to", dest="target", nargs=2, metavar=(formats, "OUT"), required=True, help="write OUT")
    convert.add_argument("--force", action="store_true", help="replace OUT if it exists")
    convert.set_defaults(run=cmd_convert)

    fit = _command(
        commands, "train", "train a spec with the paper's recipe on an image folder or digits",
        [
            "archspec train examples/inception_resnet_v2_tiny --data digits --epochs 5",
            "archspec train my_variant.yaml --data /data/imagenet -o runs/mine --resume",
        ],
    )  # fmt: skip
    fit.add_argument("--data", required=True, metavar="PATH|digits", help="ImageFolder root (train/, val/) or digits")
    fit.add_argument("--backend", choices=tuple(BACKENDS), default="torch", help=BACKEND_HELP + " (default torch)")
    fit.add_argument("--epochs", type=_positive, help="epochs to train in all (default 15)")
    fit.add_argument("--batch-size", type=_positive, help="images per step and process (default 32)")
    fit.add_argument("--input", type=_size, metavar="HxW", help="input height and width instead of the spec's")
    fit.add_argument(
        "-o",
        "--output",
        "--out",
        dest="out",
        metavar="DIR",
        help="run directory: checkpoint, metrics (default runs/NAME)",
    )
    fit.add_argument("--resume", action="store_true", help="continue the run in DIR from its checkpoint")
    fit.add_argument(
        "--force",
        "--overwrite",
        dest="overwrite",
        action="store_true",
        help="start over in a DIR that holds an earlier run",
    )
    fit.add_argument("--checkpoint-every", type=_positive, metavar="STEPS", help="also checkpoint every STEPS steps")
    fit.add_argument(
        "--compile", nargs="?", const="model", choices=("model", "blocks"),
        help="torch.compile the whole model (default), or each block on its own: one compilation per block type",
    )  # fmt: skip
    fit.add_argument("--amp", choices=("bf16",), help="mixed precision: bfloat16 autocast")
    fit.add_argument("--seed", type=_seed, help="seed of weights, data order and crops (default 0)")
    fit.add_argument("--lr", type=_real(0, 1e3, low_open=True), help="initial learning rate (default 0.045)")
    fit.add_argument("--label-smoothing", type=_real(0, 1), help="label smoothing (default 0; Inception-v3 used 0.1)")
    fit.add_argument("--aux-weight", type=_real(0, 1e3), help="loss weight of auxiliary heads (default 0.4)")
    fit.add_argument("--limit", type=_positive, metavar="N", help="at most N training and N validation images")
    fit.add_argument("--workers", type=_workers, default=0, help="data-loading processes (default 0: in the trainer)")
    fit.set_defaults(run=cmd_train)

    score = _command(
        commands, "eval", "top-1 and top-5 error of trained weights, 1, 12 or 144 crops",
        [
            "archspec eval examples/inception_resnet_v2_tiny --weights runs/inception_resnet_v2_tiny --data digits",
            "archspec eval inception_v4 --weights v4.safetensors --data /data/imagenet --crops 144",
        ],
    )  # fmt: skip
    score.add_argument("--weights", required=True, metavar="FILE", help="safetensors file, checkpoint or run dir")
    score.add_argument("--data", required=True, metavar="PATH|digits", help="ImageFolder (its val/) or digits")
    score.add_argument("--crops", type=int, choices=(1, 12, 144), default=1, help="1, 12 or 144 crops per image")
    score.add_argument("--backend", choices=tuple(BACKENDS), default="torch", help=BACKEND_HELP + " (default torch)")
    score.add_argument("--ensemble", nargs="+", default=[], metavar="FILE", help="more weights; softmax averaged")
    score.add_argument("--input", type=_size, metavar="HxW", help="input height and width instead of the spec's")
    score.add_argument("--limit", type=_positive, metavar="N", help="at most N images (as train --limit)")
    score.add_argument("--workers", type=_workers, default=0, help="data-loading processes")
    score.add_argument("--format", choices=("text", "json"), default="text", help="text (default) or json")
    score.set_defaults(run=cmd_eval)

    guess = _command(
        commands, "predict", "the top classes of images, by trained weights and the spec's preprocessing",
        [
            "archspec predict examples/inception_resnet_v2_tiny --weights runs/inception_resnet_v2_tiny seven.png",
            "archspec predict inception_v4 --weights v4.safetensors --top 3 --format json cat.jpg dog.jpg",
        ],
    )  # fmt: skip
    guess.add_argument("images", nargs="+", metavar="IMAGE", help="image files (any format Pillow reads)")
    guess.add_argument("--weights", required=True, metavar="FILE", help="safetensors file, checkpoint or run dir")
    guess.add_argument("--top", type=_positive, default=5, metavar="K", help="classes shown per image (default 5)")
    guess.add_argument("--backend", choices=tuple(BACKENDS), default="torch", help=BACKEND_HELP + " (default torch)")
    guess.add_argument("--format", choices=("text", "json"), default="text", help="text (default) or json")
    guess.set_defaults(run=cmd_predict)

    compare = _command(
        commands, "diff", "what spec B changes relative to spec A: steps, nodes, attributes, shapes, params, MACs",
        [
            "archspec diff inception_resnet_v2 inception_resnet_v2_paper",
            "archspec diff inception_v4 my_variant.yaml --format json",
            "archspec diff inception_v4 inception_v4 --set params.dropout=0.5   # --set changes B",
        ],
    )  # fmt: skip
    compare.add_argument("other", metavar="B", help="the spec to compare with SPEC (A): " + SPEC_HELP)
    compare.add_argument("--format", choices=("table", "json"), default="table", help="table (default) or json")
    compare.set_defaults(run=cmd_diff)

    grid = _command(
        commands, "sweep", "params, MACs and activations of a grid of variants, with a Pareto plot; optionally timed",
        [
            "archspec sweep inception_v4 --set width.multiplier=0.5,0.75,1 --set params.inception_b_blocks=3,5,7",
            "archspec sweep inception_v4 --set input.shape=[149,149,3],[299,299,3] -o runs/v4_sizes",
            "archspec sweep examples/inception_resnet_v2_tiny --set input.shape=[32,32,3],[64,64,3] --measure torch",
        ],
    )  # fmt: skip
    grid.add_argument("-o", "--output", metavar="OUT", help="write OUT.csv, OUT.json and the plot OUT.png")
    grid.add_argument("--force", action="store_true", help="replace those files if they exist")
    grid.add_argument("--color", metavar="KEY", help="colour the plot by this key or figure (default: the first swept)")
    grid.add_argument("--measure", metavar="torch[:cuda]", help="also time each point's training step (default cpu)")
    grid.add_argument("--batch-size", type=_positive, default=8, help="images per timed step (default 8)")
    grid.add_argument("--steps", type=_positive, default=3, help="timed steps per point and round (default 3)")
    grid.add_argument("--rounds", type=_positive, default=3, help="interleaved rounds; the median counts (default 3)")
    grid.set_defaults(run=cmd_sweep)

    bring = _command(
        commands, "import", "trace a PyTorch model into a spec with blocks, repeats and parameters, and its weights",
        [
            "archspec import timm.models:inception_v4 -o inception_v4.yaml --weights inception_v4.safetensors",
            "archspec import torchvision.models:resnet50 --input 224x224x3 -o resnet50.yaml",
            "archspec import my_model.py:build --input 32x32x3 -o mine.yaml",
        ],
        takes_spec=False,
    )  # fmt: skip
    bring.add_argument(
        "model", metavar="MODULE:FACTORY", help="a module or .py file, and the function in it that makes the model"
    )
    bring.add_argument("-o", "--output", required=True, metavar="SPEC.yaml", help="the spec to write")
    bring.add_argument("--weights", metavar="OUT.safetensors", help="also write the model's weights, neutral layout")
    bring.add_argument("--input", type=_shape, metavar="HxWxC", help="input shape (default: timm's pretrained config)")
    bring.add_argument("--name", help="the spec's name (default: SPEC's file name)")
    bring.add_argument("--force", action="store_true", help="replace SPEC.yaml and OUT.safetensors if they exist")
    bring.set_defaults(run=cmd_import)

    listing = _command(
        commands, "list", "the bundled specs, one line each",
        ["archspec list", "archspec list 'inception*'", "archspec list 'examples/*'"], takes_spec=False,
    )  # fmt: skip
    listing.add_argument("pattern", nargs="?", default="*", help="a shell-style pattern of names, e.g. 'inception_v*'")
    listing.set_defaults(run=cmd_list)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except BrokenPipeError:  # output piped into `head` and closed early
        sys.stderr.close()
        code = 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        code = 130
    except Exception as exc:  # a bug: every error a user can cause has its own message above
        if os.environ.get("ARCHSPEC_TRACEBACK"):
            raise
        print(
            f"error: internal error ({type(exc).__name__}: {_brief(exc)}); this is a bug in archspec, please "
            "report it with the command and spec (ARCHSPEC_TRACEBACK=1 shows the traceback)",
            file=sys.stderr,
        )
        code = 1
    return code
