"""A training run's life, framework-neutral: how it is asked to run, where it stands, how it ended,
the signals that stop it cleanly, and its directory. Each backend's trainer builds on these.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from archspec.errors import ArchspecError
from archspec.training import checkpoint as ckpt
from archspec.training.log import EVENTS_PREFIX, OUTPUTS
from archspec.training.recipe import Run, resume_conflicts

if TYPE_CHECKING:
    import numpy as np

    from archspec.spec import Spec


class TrainingError(ArchspecError):
    """A run that cannot start or go on; the message says why, in one line."""


@dataclass(frozen=True)
class Options:
    """How to run, as opposed to what (`recipe.Run`): these may change when a run is resumed."""

    out: Path
    resume: bool = False
    overwrite: bool = False
    workers: int = 0
    compile: str | None = None  # "model" (torch.compile the whole network) or "blocks" (each block)
    amp: str | None = None
    checkpoint_every: int | None = None  # steps; by default a checkpoint ends each epoch only
    progress: bool = True
    log_every: int | None = None  # steps between progress lines where there is no terminal (0: none)


@dataclass
class Position:
    """Where training stands, and this epoch's training-metric sums so far (over all processes
    when saved)."""

    epoch: int = 0  # the epoch being trained, 0-based
    batch: int = 0  # its batches done
    step: int = 0  # optimizer steps done in all
    loss_sum: float = 0.0
    correct: int = 0
    seen: int = 0
    seconds: float = 0.0

    def running(self) -> dict[str, float]:
        return {"loss_sum": self.loss_sum, "correct": self.correct, "seen": self.seen, "seconds": self.seconds}

    @classmethod
    def from_state(cls, state: dict[str, Any], with_running: bool = True) -> Position:
        """The position a checkpoint records; its metric sums only where `with_running` (they are
        totals over all processes, to be counted by one of them)."""
        where, running = state["position"], state["running"] if with_running else {}
        return cls(
            where["epoch"],
            where["batch"],
            where["step"],
            float(running.get("loss_sum", 0.0)),
            round(running.get("correct", 0)),
            round(running.get("seen", 0)),
            float(running.get("seconds", 0.0)),
        )


@dataclass
class Outcome:
    history: list[dict[str, float]] = field(default_factory=list)
    checkpoint: Path | None = None
    stopped_by: int | None = None  # the signal that interrupted the run
    main: bool = True  # whether this is the process that reports (rank 0)


class StopSignals:
    """While active, SIGINT and SIGTERM only record that they arrived: the loop stops at the end
    of the current step, in a state it can checkpoint. They nest: the command line holds one from
    its first line, so a signal during start-up is not lost but passed to the training loop's."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.received = signum

    def __enter__(self) -> StopSignals:
        for sig in self.SIGNALS:
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread: leave signals alone
                break
        outer = self._outer()
        if outer is not None and self.received is None:
            self.received = outer.received
        return self

    def __exit__(self, *exc: object) -> None:
        outer = self._outer()
        if outer is not None and outer.received is None:
            outer.received = self.received
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)

    def _outer(self) -> StopSignals | None:
        handler = self._previous.get(signal.SIGTERM)
        owner = getattr(handler, "__self__", None)
        return owner if isinstance(owner, StopSignals) else None


def training_bytes(spec: Spec, batch_size: int) -> int:
    """A rough floor on the memory one float32 training step needs: the weights five times over
    (themselves, their gradients, two optimizer slots, the moving average) and every activation
    twice per image (kept for the backward pass, and its gradient)."""
    activations = sum(cost.activation_bytes for cost in spec.costs.values())
    return 5 * 4 * spec.params + 2 * batch_size * activations


def available_bytes() -> int | None:
    """Memory this machine can give now (Linux's MemAvailable), else its physical memory, or None."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(spec: Spec, batch_size: int, available: int | None, where: str = "this machine") -> None:
    """TrainingError before anything is allocated, when a step cannot fit: `check` bounds each
    tensor, but only the run knows its batch size and its device."""
    needed = training_bytes(spec, batch_size)
    if available is not None and needed > available:
        raise TrainingError(
            f"training '{spec.name}' at batch size {batch_size} needs at least {needed / 2**30:.1f} GiB, and "
            f"{where} has {available / 2**30:.1f} GiB available: use a smaller --batch-size or --input"
        )


def begin(
    spec: Spec,
    run: Run,
    options: Options,
    available: int | None,
    where: str = "this machine",
    main: bool = True,
    barrier: Callable[[], None] = lambda: None,
) -> Options:
    """What every trainer does first, before it allocates anything: refuse a step that cannot fit
    in `available` bytes of `where`, then prepare the run directory. The options, with `resume`
    settled (a --resume with no checkpoint yet starts the run)."""
    check_memory(spec, run.batch_size, available, where)
    return replace(options, resume=prepare_out(options.out, options, main, barrier))


def prepare_out(out: Path, options: Options, main: bool = True, barrier: Callable[[], None] = lambda: None) -> bool:
    """Refuse to mix a new run into a directory that holds anything, unless told to; with
    --force (once --overwrite), delete the files of the earlier run (and only those). Whether the run resumes:
    --resume where no checkpoint was written yet (a run stopped before its first) starts it over,
    provided the directory holds nothing but what a run writes."""
    if out.exists() and not out.is_dir():
        raise TrainingError(f"{out} exists and is not a directory")
    if options.resume and ckpt.locate(out) is not None:
        return True
    foreign = sorted(p.name for p in out.iterdir() if not _written_by_runs(p.name)) if out.exists() else []
    if options.resume:
        if foreign:
            raise TrainingError(
                f"{out} has no checkpoint to resume and holds files no run wrote (first '{foreign[0]}'); "
                "choose another -o DIR"
            )
        if main:
            print(f"note: {out} has no checkpoint yet; the run starts from the beginning", file=sys.stderr)
    elif out.exists() and any(out.iterdir()) and not options.overwrite:
        if not foreign and ckpt.locate(out) is None:
            raise TrainingError(
                f"{out} holds a run stopped before its first checkpoint: pass --resume to start it again, or --force"
            )
        raise TrainingError(f"{out} is not empty: pass --resume to continue its run, or --force to start over")
    barrier()  # every process has looked before rank 0 changes anything
    if main:
        if out.exists():
            remove_run_outputs(out)
        out.mkdir(parents=True, exist_ok=True)
    barrier()
    return False


@contextmanager
def cleared_on_failure(out: Path) -> Iterator[None]:
    """A run that fails before it writes anything (its data missing, its classes wrong, its step too
    big) leaves no trace: the run directory it made, and the parents made for it, go while empty."""
    made = [p for p in (out, *out.parents) if not p.exists()]
    try:
        yield
    except ArchspecError:
        for folder in made:
            with suppress(OSError):  # not empty, or another process of the run removed it first
                folder.rmdir()
        raise


def _written_by_runs(name: str) -> bool:
    return name in (ckpt.NAME, ckpt.PREVIOUS, ckpt.PARTIAL, *OUTPUTS) or name.startswith(EVENTS_PREFIX)


def remove_run_outputs(out: Path) -> None:
    """Delete what a run writes (checkpoints, metrics, plots, events), nothing else."""
    for name in (ckpt.NAME, ckpt.PREVIOUS, ckpt.PARTIAL):
        shutil.rmtree(out / name, ignore_errors=True)
    for path in [*(out / n for n in OUTPUTS), *out.glob(f"{EVENTS_PREFIX}*")]:
        path.unlink(missing_ok=True)


def check_backend(path: Path, state: dict[str, Any], backend: str) -> None:
    """A checkpoint's optimizer state is the framework's own: resume with the backend that wrote it."""
    written_by = state.get("backend")
    if written_by != backend:
        raise TrainingError(
            f"cannot resume {path} with --backend {backend}: it was written by --backend {written_by} "
            "(its weights, in the neutral files, load in either: see `archspec eval`)"
        )


def read_for_resume(
    out: Path, spec: Spec, backend: str, run: Run, processes: int
) -> tuple[Path, dict[str, dict[str, np.ndarray]], dict[str, Any]]:
    """The checkpoint of a run directory, verified, written by this backend for these settings
    and this many processes (or replicas), so that the run can go on exactly where it stopped."""
    path = ckpt.locate(out)
    assert path is not None  # prepare_out checked that there is one
    tensors, state = ckpt.read(path, spec)
    check_backend(path, state, backend)
    saved = Run.from_json(state["run"])
    conflicts = resume_conflicts(saved, run)
    if conflicts:
        details = ", ".join(f"{n} {getattr(saved, n)!r} (now {getattr(run, n)!r})" for n in conflicts)
        raise TrainingError(f"cannot resume {path}: it was trained with {details}")
    written = state["position"]["world_size"]
    if written != processes:
        raise TrainingError(
            f"cannot resume {path} exactly: it was written by {written} processes, this run has {processes}"
        )
    return path, tensors, state


def epoch_row(
    position: Position, sums: list[float], val: dict[str, float], lr: float, seconds: float
) -> dict[str, float]:
    """One epoch's line of metrics.csv from the summed training metrics and the validation ones."""
    loss_sum, correct, seen = sums
    return {
        "epoch": position.epoch + 1,
        "step": position.step,
        "lr": lr,
        "train_loss": loss_sum / seen,
        "train_top1": correct / seen,
        "val_loss": val["loss"],
        "val_top1": val["top1"],
        "val_top5": val["top5"],
        "seconds": seconds,
        "images_per_second": seen / max(seconds, 1e-9),
    }


def describe(row: dict[str, float], epochs: int) -> str:
    return (
        f"epoch {int(row['epoch'])}/{epochs}  lr {row['lr']:.4g}  "
        f"train loss {row['train_loss']:.4f} top-1 {100 * row['train_top1']:.2f} %  "
        f"val loss {row['val_loss']:.4f} top-1 {100 * row['val_top1']:.2f} % top-5 {100 * row['val_top5']:.2f} %  "
        f"{row['seconds']:.1f} s, {row['images_per_second']:.0f} img/s"
    )
