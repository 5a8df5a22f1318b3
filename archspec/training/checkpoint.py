"""Training checkpoints that survive crashes, framework-neutral: a directory of safetensors files
and a JSON state, written atomically and verified before anything is loaded.

    RUN/checkpoint/model.safetensors      the trained weights (neutral keys and layouts)
    RUN/checkpoint/ema.safetensors        their moving average, the weights that are evaluated
    RUN/checkpoint/optimizer.safetensors  the optimizer's state tensors, flattened to string keys
    RUN/checkpoint/state.json             position, schedule, settings, metrics, spec fingerprint,
                                          the sha256 of every safetensors file, and its own

A checkpoint is written into `RUN/.checkpoint.partial`, synced to disk, and then moved into place
with renames: the previous checkpoint is renamed to `checkpoint.previous`, the new one to
`checkpoint`, and only then is the previous one deleted. A crash at any moment leaves either the
old or the new checkpoint complete (`locate` finds the previous one if the crash fell between the
two renames). Nothing is pickled. Loading refuses a checkpoint whose files, state.json included, do not match
their digests (corrupt), whose run settings and position are not of the types and ranges this
code writes, or whose spec fingerprint differs from the spec being trained (mismatched).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from archspec.errors import ArchspecError
from archspec.weights import neutral

if TYPE_CHECKING:
    from archspec.spec import Spec
    from archspec.training.recipe import Run

FORMAT = 2  # 2: state.json carries its own digest
NAME = "checkpoint"
PREVIOUS = "checkpoint.previous"
PARTIAL = ".checkpoint.partial"
STATE = "state.json"
TENSOR_FILES = ("model.safetensors", "ema.safetensors", "optimizer.safetensors")
MAX_STATE_BYTES = 50_000_000  # state.json: its history grows by one row per epoch
MAX_COUNT = 10**15


class CheckpointError(ArchspecError):
    """A checkpoint that must not be loaded; the message says which and why, in one line."""


def fingerprint(spec: Spec) -> str:
    """sha256 of the spec's sorted weight-shape table: equal exactly when the same weights fit."""
    table = sorted((key, list(shape)) for key, shape in neutral.expected_shapes(spec).items())
    return hashlib.sha256(json.dumps(table, separators=(",", ":")).encode()).hexdigest()


def spec_record(spec: Spec) -> dict[str, Any]:
    """What a checkpoint records of its spec: the name and source, the weight fingerprint that
    loading checks, and the input preprocessing and class names that predict and eval use."""
    return {
        "name": spec.name,
        "fingerprint": fingerprint(spec),
        "source": spec.source,
        "input": spec.preprocess.as_json() if spec.preprocess else None,
        "classes": list(spec.classes) if spec.classes else None,
    }


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _sync_dir(path: Path) -> None:
    """Make renames and new entries in a directory durable (a no-op where directories cannot be
    opened, as on Windows)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write(run_dir: Path, tensors: dict[str, dict[str, np.ndarray]], state: dict[str, Any]) -> Path:
    """Write a checkpoint atomically; `tensors` maps each of TENSOR_FILES to its arrays."""
    from safetensors.numpy import save

    partial = run_dir / PARTIAL
    if partial.exists():  # left by a crash during an earlier write
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    digests = {}
    for name in TENSOR_FILES:
        data = save({k: np.ascontiguousarray(v) for k, v in sorted(tensors[name].items())})
        _write_synced(partial / name, data)
        digests[name] = hashlib.sha256(data).hexdigest()
    document = {"format": FORMAT, **state, "files": digests}
    document["state_sha256"] = _state_digest(document)
    _write_synced(partial / STATE, json.dumps(document, indent=1).encode())
    _sync_dir(partial)
    target, previous = run_dir / NAME, run_dir / PREVIOUS
    if target.exists():
        if previous.exists():
            shutil.rmtree(previous)
        target.rename(previous)
    partial.rename(target)
    _sync_dir(run_dir)
    if previous.exists():
        shutil.rmtree(previous)
    return target


def locate(run_dir: Path) -> Path | None:
    """The run's checkpoint directory, or the previous one when a crash fell between the renames."""
    for name in (NAME, PREVIOUS):
        if (run_dir / name / STATE).is_file():
            return run_dir / name
    return None


def _state_digest(document: dict[str, Any]) -> str:
    """sha256 of state.json's content without its own digest, in a canonical form."""
    content = {k: v for k, v in document.items() if k != "state_sha256"}
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def read_state(path: Path) -> dict[str, Any]:
    """state.json of a checkpoint directory, checked to be one this code wrote: its digest, then
    the fields that are used before any tensor is loaded (the run's settings, its position)."""
    if not (path / STATE).is_file():
        raise CheckpointError(f"{path} is not a checkpoint: it has no {STATE} file")
    try:
        with open(path / STATE, "rb") as f:
            data = f.read(MAX_STATE_BYTES + 1)
        state = json.loads(data.decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise CheckpointError(f"checkpoint {path} is corrupt: {STATE} is unreadable ({exc})") from None
    if len(data) > MAX_STATE_BYTES:
        raise CheckpointError(f"checkpoint {path} is corrupt: {STATE} is larger than {MAX_STATE_BYTES} bytes")
    if not isinstance(state, dict) or state.get("format") != FORMAT or not isinstance(state.get("files"), dict):
        raise CheckpointError(f"checkpoint {path} is corrupt or of an unknown format: {STATE} lacks its fields")
    if state.get("state_sha256") != _state_digest(state):
        raise CheckpointError(f"checkpoint {path} is corrupt: {STATE} does not match its own sha256; it was not loaded")
    problem = _state_problem(state)
    if problem:
        raise CheckpointError(f"checkpoint {path} is corrupt: {STATE} has {problem}")
    return state


def _state_problem(state: dict[str, Any]) -> str | None:
    """What is wrong with the fields of a state.json whose digest holds (forged, or written by a
    faulty program), or None."""
    from archspec.training.recipe import Run

    try:
        Run.from_json(state.get("run"))
    except (KeyError, TypeError, ValueError) as exc:
        return f"unusable run settings ({exc})"
    position = state.get("position")
    counts = ("epoch", "batch", "step", "steps_per_epoch", "world_size")
    if not isinstance(position, dict) or not all(_count(position.get(k)) for k in counts):
        return "an unusable position (epoch, batch, step, steps_per_epoch, world_size must be whole numbers)"
    if not isinstance(state.get("spec"), dict) or not isinstance(state.get("history"), list):
        return "no spec or history"
    return None


def _count(value: Any) -> bool:
    return type(value) is int and 0 <= value <= MAX_COUNT


def read_verified(path: Path, state: dict[str, Any], name: str) -> bytes:
    """One file of a checkpoint, CheckpointError unless it has the digest state.json records."""
    try:
        data = (path / name).read_bytes()
    except OSError:
        raise CheckpointError(f"checkpoint {path} is incomplete: {name} is missing") from None
    if hashlib.sha256(data).hexdigest() != state["files"].get(name):
        raise CheckpointError(
            f"checkpoint {path} is corrupt: {name} does not match the sha256 recorded in {STATE}; it was not loaded"
        )
    return data


def check_spec(path: Path, state: dict[str, Any], spec: Spec) -> None:
    """CheckpointError unless the checkpoint was written for a spec with these very weights."""
    saved = state.get("spec", {})
    if saved.get("fingerprint") != fingerprint(spec):
        raise CheckpointError(
            f"checkpoint {path} was written for spec '{saved.get('name', '?')}', whose weights differ from "
            f"those of '{spec.name}' (spec fingerprints differ); it was not loaded"
        )


def read(path: Path, spec: Spec) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, Any]]:
    """A verified checkpoint: its arrays per file and its state. The spec fingerprint and every
    digest are checked before any array is used."""
    from safetensors.numpy import load

    state = read_state(path)
    check_spec(path, state, spec)
    data = {name: read_verified(path, state, name) for name in TENSOR_FILES}
    return {name: dict(load(blob)) for name, blob in data.items()}, state


def read_weights(path: Path, spec: Spec, which: str = "ema.safetensors") -> dict[str, np.ndarray]:
    """One verified weight file of a checkpoint directory (the moving average by default)."""
    from safetensors.numpy import load

    state = read_state(path)
    check_spec(path, state, spec)
    return dict(load(read_verified(path, state, which)))


def saved_run_settings(run_dir: Path) -> dict[str, Any] | None:
    """The settings of the run whose checkpoint is in `run_dir`, without verifying its files
    (that happens when it is loaded); None when there is none."""
    path = locate(run_dir)
    if path is None:
        return None
    run: dict[str, Any] = read_state(path).get("run", {})
    return run


def weight_files(path: Path) -> list[Path]:
    """The files `weights_at(path)` reads: the file itself, or a checkpoint's (of a run directory
    or a checkpoint directory); a command must never write over one of them."""
    if not path.is_dir():
        return [path]
    found = path if (path / STATE).is_file() else locate(path)
    return [] if found is None else [found / name for name in (STATE, *TENSOR_FILES)]


def saved_run(run_dir: Path) -> Run | None:
    """The settings of the run whose checkpoint is in `run_dir`, as a recipe.Run (None when there
    is none); CheckpointError when they are unreadable."""
    from archspec.training.recipe import Run

    saved = saved_run_settings(run_dir)
    if saved is None:
        return None
    try:
        return Run.from_json(saved)
    except (KeyError, TypeError, ValueError):
        raise CheckpointError(f"the checkpoint in {run_dir} is corrupt: its run settings are unreadable") from None


def weights_at(path: Path, spec: Spec) -> tuple[dict[str, np.ndarray], dict[str, Any] | None]:
    """The weights to evaluate at `path`: a neutral safetensors file, or a checkpoint directory or
    a run directory holding one (its verified moving average). Also the checkpoint's state, if any."""
    if path.is_dir():
        found = path if (path / STATE).is_file() else locate(path)
        if found is None:
            raise CheckpointError(f"{path} is neither a checkpoint nor a run directory holding one")
        state = read_state(found)
        return read_weights(found, spec), state
    if not path.exists():
        raise CheckpointError(f"weights file {path} does not exist")
    if not path.is_file():
        raise CheckpointError(f"weights file {path} is not a regular file")
    from safetensors import SafetensorError

    try:
        arrays = neutral.load(path)
    except (OSError, ValueError, SafetensorError) as exc:
        raise CheckpointError(f"cannot read {path} as a safetensors weight file: {exc}") from None
    try:
        neutral.check(spec, arrays)
    except neutral.WeightsError as exc:  # kept a WeightsError: it has the spec line of the op
        raise neutral.WeightsError(f"{path} does not fit: {exc}", exc.pos) from None
    return arrays, None
