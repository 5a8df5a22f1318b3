"""Weight files of one spec in three formats, and the conversion between them (`archspec convert`).

    neutral  the framework-neutral safetensors file of `archspec.weights.neutral`
    torch    a safetensors file of the state_dict of `archspec.backends.torch.build(spec)` (never pickle)
    keras    a Keras `.weights.h5` file of `archspec.backends.tensorflow.build(spec)`, as `save_weights` writes it

Every format goes through the neutral weights, and through a model built from the spec, so a
file that does not fit the spec is refused with the first array that does not fit. A framework
is imported only when its format is used.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from archspec import errors
from archspec.weights import neutral

if TYPE_CHECKING:
    import numpy as np

    from archspec.spec import Spec

FORMATS = ("neutral", "torch", "keras")
KERAS_SUFFIX = ".weights.h5"  # Keras reads and writes weight files by this suffix only


class UsageError(errors.UsageError, ValueError):
    """A format or file name that cannot work, whatever the files hold."""


def check_path(fmt: str, path: Path | str) -> None:
    if fmt not in FORMATS:
        raise UsageError(f"unknown weight format '{fmt}'; known: {', '.join(FORMATS)}")
    if fmt == "keras" and not str(path).endswith(KERAS_SUFFIX):
        raise UsageError(f"Keras weight files end in {KERAS_SUFFIX}, got '{path}'")


def read(fmt: str, path: Path | str, spec: Spec) -> dict[str, np.ndarray]:
    """The neutral weights in a file of the given format: WeightsError (at the op they belong to)
    for arrays that do not fit the spec, ArchspecError for a file that is not what it says."""
    from safetensors import SafetensorError

    check_path(fmt, path)
    try:
        if fmt == "torch":
            return _read_torch(path, spec)
        if fmt == "keras":
            return _read_keras(path, spec)
        weights = neutral.load(path)
        neutral.check(spec, weights)
        return weights
    except neutral.WeightsError as exc:
        raise neutral.WeightsError(f"{path} does not fit {spec.name}: {errors.first_lines(exc)}", exc.pos) from None
    except (OSError, ValueError, RuntimeError, SafetensorError) as exc:
        raise errors.ArchspecError(
            f"cannot read {path} as {fmt} weights of {spec.name}: {errors.first_lines(exc)}"
        ) from None


def write(fmt: str, weights: dict[str, np.ndarray], path: Path | str, spec: Spec) -> None:
    check_path(fmt, path)
    if fmt == "torch":
        _write_torch(weights, path, spec)
    elif fmt == "keras":
        _write_keras(weights, path, spec)
    else:
        neutral.check(spec, weights)
        neutral.save(weights, path)


def _read_torch(path: Path | str, spec: Spec) -> dict[str, np.ndarray]:
    import torch

    from archspec.backends import torch as backend

    model = backend.build(spec)
    state = {key: torch.from_numpy(array) for key, array in neutral.load(path, layout="torch").items()}
    wanted = model.state_dict()
    for key, tensor in wanted.items():
        if key not in state:
            raise ValueError(f"the state_dict lacks '{key}' {tuple(tensor.shape)}, which '{spec.name}' needs")
        if state[key].shape != tensor.shape:
            raise ValueError(f"'{key}' has shape {tuple(state[key].shape)}, the spec needs {tuple(tensor.shape)}")
        if state[key].dtype.is_floating_point != tensor.dtype.is_floating_point:
            raise ValueError(f"'{key}' holds {state[key].dtype} values, the model's are {tensor.dtype}")
    extra = sorted(set(state) - set(wanted))
    if extra:
        raise ValueError(f"the state_dict has {len(extra)} tensors '{spec.name}' does not use, first '{extra[0]}'")
    model.load_state_dict(state)
    return backend.get_weights(model)


def _write_torch(weights: dict[str, np.ndarray], path: Path | str, spec: Spec) -> None:
    from safetensors.torch import save_file

    from archspec.backends import torch as backend

    model = backend.build(spec)
    backend.set_weights(model, weights)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path), metadata={neutral.LAYOUT: "torch"})


def _read_keras(path: Path | str, spec: Spec) -> dict[str, np.ndarray]:
    from archspec.backends import tensorflow as backend

    model = backend.build(spec)
    # A file of another network fails with a ValueError; Keras also warns once per layer it
    # skips, which says nothing more.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        try:
            model.load_weights(str(path))
        except ValueError as exc:
            raise ValueError(_keras_mismatch(str(exc))) from None
    return backend.get_weights(model)


def _keras_mismatch(message: str) -> str:
    """Keras's message without the values of the variable it prints: its first line (how many
    layers failed, and the first) and the shapes that differ."""
    first = message.strip().splitlines()[0].rstrip(":") if message.strip() else "the file does not fit"
    shapes = re.search(r"variable\.shape=\([^)]*\), Received: value\.shape=\([^)]*\)", message)
    return f"{first}: {shapes.group(0)}" if shapes else first


def _write_keras(weights: dict[str, np.ndarray], path: Path | str, spec: Spec) -> None:
    from archspec.backends import tensorflow as backend

    model = backend.build(spec)
    backend.set_weights(model, weights)
    model.save_weights(str(path))
