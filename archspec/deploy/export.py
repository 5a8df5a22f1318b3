"""`archspec export`: a spec's model as a file another runtime runs, checked by running it.

    onnx        an ONNX model (torch's exporter), run back with onnxruntime
    pt2         a `torch.export` program (`torch.export.load`)
    savedmodel  a TensorFlow SavedModel directory (`tf.saved_model.load`, signature `serve`)
    keras       a Keras archive (`keras.models.load_model`, with archspec.backends.tensorflow imported)

The input is called `input` (NCHW for the torch formats, NHWC for the TensorFlow ones); each output
is called after its node, `/` written `.` (`head.logits`). A file is written beside its target
and renamed into place once it has been checked: after writing, the file is loaded on its own and
run on a random input at each batch size it promises (1, and 8 with a dynamic batch), and the
largest difference from the live model, over its largest output, must stay within TOLERANCE.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from archspec.backends import BackendError
from archspec.deploy.request import Request, Writer
from archspec.errors import ArchspecError, UsageError
from archspec.files import partial

if TYPE_CHECKING:
    pass

FORMATS = {"onnx": "torch", "pt2": "torch", "savedmodel": "tf", "keras": "tf"}  # format -> backend
SUFFIXES = {".onnx": "onnx", ".pt2": "pt2", ".keras": "keras"}
TOLERANCE = 1e-4  # max abs difference over the largest output


def format_of(path: str, given: str | None) -> str:
    """--format, else the one the file name tells; UsageError when neither does."""
    if given:
        return given
    suffix = Path(path).suffix.lower()
    if suffix in SUFFIXES:
        return SUFFIXES[suffix]
    raise UsageError(f"cannot tell the format from '{path}'; give --format {'|'.join(FORMATS)}")


@dataclass(frozen=True)
class Exported:
    difference: float  # the largest of the checked differences
    batches: tuple[int, ...]


def writer(fmt: str) -> Writer:
    if FORMATS[fmt] == "torch":
        from archspec.backends.torch import export as torch_export

        return torch_export.WRITERS[fmt]
    from archspec.backends.tensorflow import export as tf_export

    return tf_export.WRITERS[fmt]


def relative_difference(expected: list[np.ndarray], actual: list[np.ndarray]) -> float:
    if len(expected) != len(actual):
        return float("inf")
    worst = 0.0
    for want, got in zip(expected, actual, strict=True):
        if want.shape != got.shape:
            return float("inf")
        scale = float(np.abs(want).max()) or 1.0
        worst = max(worst, float(np.abs(want - got).max()) / scale)
    return worst


def export(request: Request, target: Path) -> Exported:
    """Write and check the file; BackendError when the file does not compute the live model's
    outputs, in which case nothing is left at `target`. The file is written at a partial path
    this call creates (`archspec.files.partial`), never at one a user's file may have."""
    try:
        with partial(target, directory=request.format == "savedmodel") as path:
            runs = writer(request.format)(request, path)
            difference = max(relative_difference(live, loaded) for live, loaded in runs)
            if not difference <= TOLERANCE:
                raise BackendError(
                    f"the exported {request.format} file differs from the live model by {difference:.3g} "
                    f"of its largest output (the tolerance is {TOLERANCE:g}); nothing was written"
                )
            _replace(path, target)
    except OSError as exc:
        raise ArchspecError(f"cannot write {target}: {exc.strerror or exc}") from None
    return Exported(difference, request.batches)


def _replace(written: Path, target: Path) -> None:
    """Move the checked file (or SavedModel directory) into place; a directory there (an earlier
    SavedModel, which the command line lets through only with --force) goes first, moved aside
    to a folder of this call's own."""
    if target.is_dir() and not target.is_symlink():
        with partial(target, directory=True) as old:
            old.rmdir()
            target.rename(old)
            written.rename(target)
    else:
        written.replace(target)
