"""Per-epoch training metrics, written three ways, framework-neutral:

    RUN/metrics.csv            one row per epoch (rewritten whole from the run's history, so a
                               resumed run never repeats or loses a row)
    RUN/events.out.tfevents.*  TensorBoard scalars, one point per epoch (`tensorboard --logdir RUN`)
    RUN/curves.png             loss and top-1 accuracy against epochs, training and validation

`progress` is the bar on standard error that `archspec eval` shows while it works; `StepProgress`
is training's within an epoch: a bar on a terminal, a line every few steps in a log.

TensorBoard's event files are written here directly (records of `Event` protos), because the
writers of torch and of tensorboard itself import TensorFlow, which takes many seconds.
"""

from __future__ import annotations

import csv
import io
import os
import socket
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

COLUMNS = (
    "epoch",
    "step",
    "lr",
    "train_loss",
    "train_top1",
    "val_loss",
    "val_top1",
    "val_top5",
    "seconds",
    "images_per_second",
)
TIMING = ("seconds", "images_per_second")  # the columns that differ between identical runs
OUTPUTS = ("metrics.csv", "curves.png")
EVENTS_PREFIX = "events.out.tfevents."


def _replace(path: Path, data: bytes) -> None:
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(data)
    partial.replace(path)


def write_csv(path: Path, history: Sequence[dict[str, Any]]) -> None:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    _replace(path, out.getvalue().encode())


def read_csv(path: Path) -> list[dict[str, float]]:
    with open(path, newline="", encoding="utf-8") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def plot(path: Path, history: Sequence[dict[str, Any]], title: str) -> None:
    """Loss and top-1 accuracy per epoch, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    epochs = [row["epoch"] for row in history]
    figure = Figure(figsize=(10, 4), layout="constrained")
    loss, accuracy = figure.subplots(1, 2)
    loss.plot(epochs, [r["train_loss"] for r in history], "o-", label="training")
    loss.plot(epochs, [r["val_loss"] for r in history], "o-", label="validation (EMA)")
    loss.set(xlabel="epoch", ylabel="loss", title="loss")
    accuracy.plot(epochs, [100 * r["train_top1"] for r in history], "o-", label="training")
    accuracy.plot(epochs, [100 * r["val_top1"] for r in history], "o-", label="validation (EMA)")
    accuracy.set(xlabel="epoch", ylabel="top-1 accuracy (%)", title="top-1 accuracy")
    for axes in (loss, accuracy):
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(alpha=0.3)
        axes.legend()
    figure.suptitle(title)
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=100)
    _replace(path, out.getvalue())


class EventWriter:
    """A TensorBoard event file of scalar summaries."""

    def __init__(self, run_dir: Path, purge_from: int | None = None) -> None:
        from tensorboard.compat.proto.event_pb2 import Event, SessionLog
        from tensorboard.summary.writer.record_writer import RecordWriter

        name = f"{EVENTS_PREFIX}{int(time.time())}.{socket.gethostname()}.{os.getpid()}"
        self._writer = RecordWriter(open(run_dir / name, "wb"))  # noqa: SIM115 -- closed in close()
        self._write(Event(wall_time=time.time(), file_version="brain.Event:2"))
        if purge_from is not None:
            # TensorBoard drops every earlier event at or after this step: the points an
            # interrupted run logged past its checkpoint are logged again by the resumed run.
            self._write(Event(wall_time=time.time(), step=purge_from, session_log=SessionLog(status=SessionLog.START)))

    def _write(self, event: Any) -> None:
        self._writer.write(event.SerializeToString())
        self._writer.flush()

    def scalars(self, step: int, values: dict[str, float]) -> None:
        from tensorboard.compat.proto.event_pb2 import Event
        from tensorboard.compat.proto.summary_pb2 import Summary

        summary = Summary(value=[Summary.Value(tag=tag, simple_value=float(v)) for tag, v in values.items()])
        self._write(Event(wall_time=time.time(), step=step, summary=summary))

    def close(self) -> None:
        self._writer.close()


class TrainingLog:
    """The metrics outputs of one run (only the process of rank 0 keeps one)."""

    def __init__(self, run_dir: Path, title: str, history: Sequence[dict[str, Any]]) -> None:
        self.run_dir, self.title = run_dir, title
        # The last recorded epoch is logged again: its events may or may not have reached the
        # file before the interruption; purging from it logs it exactly once.
        last = int(history[-1]["epoch"]) if history else None
        self.events = EventWriter(run_dir, purge_from=last)
        if history:
            self._tensorboard(history[-1])

    def _tensorboard(self, row: dict[str, Any]) -> None:
        scalars = {f"{group}/{name}": row[f"{group}_{name}"] for group in ("train", "val") for name in ("loss", "top1")}
        scalars.update({"val/top5": row["val_top5"], "lr": row["lr"], "images_per_second": row["images_per_second"]})
        self.events.scalars(int(row["epoch"]), scalars)

    def epoch(self, history: Sequence[dict[str, Any]]) -> None:
        """Record the newest epoch of `history` (the whole history so far)."""
        write_csv(self.run_dir / "metrics.csv", history)
        plot(self.run_dir / "curves.png", history, self.title)
        self._tensorboard(history[-1])

    def close(self) -> None:
        self.events.close()


def progress(total: int, description: str, unit: str = "image") -> Any:
    """A progress bar over `total` images (or other units) on standard error, shown only on a
    terminal (a log or a pipe gets no bar characters); `update(n)` after each batch, `close()`
    at the end."""
    from tqdm import tqdm

    return tqdm(total=total, desc=description, unit=unit, disable=not sys.stderr.isatty(), leave=False)


class StepProgress:
    """Training's progress within an epoch, on standard error: a tqdm bar with the loss and the rate
    on a terminal; elsewhere (a log file, a pipe, a batch job) a line every `every` steps, by
    default ten an epoch, and none where `every` is 0. Nothing at all unless `show`."""

    def __init__(self, steps: int, done: int, epoch: int, epochs: int, every: int | None, show: bool) -> None:
        self.steps, self.done, self.title = steps, done, f"epoch {epoch + 1}/{epochs}"
        self.every = max(1, -(-steps // 10)) if every is None else every
        self.bar = None
        if show and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=steps, initial=done, desc=self.title, unit="step", leave=False, dynamic_ncols=True)
        self.lines = show and self.bar is None and self.every > 0
        self.started, self.images, self.loss = time.perf_counter(), 0, 0.0

    def __enter__(self) -> StepProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()

    def step(self, loss: float, lr: float, images: int) -> None:
        """One optimizer step done, with its mean loss over `images` images."""
        self.done, self.images = self.done + 1, self.images + images
        self.loss = loss if self.images == images else 0.9 * self.loss + 0.1 * loss  # smoothed, as tqdm's rate
        if self.bar is not None:
            self.bar.set_postfix(loss=f"{loss:.3f}", lr=f"{lr:.4g}", refresh=False)  # drawn by the update
            self.bar.update(1)
        elif self.lines and (self.done % self.every == 0 or self.done == self.steps):
            rate = self.images / max(time.perf_counter() - self.started, 1e-9)
            width = len(str(self.steps))
            print(
                f"{self.title}  step {self.done:{width}d}/{self.steps}  loss {self.loss:.4f}  lr {lr:.4g}  "
                f"{rate:.0f} img/s",
                file=sys.stderr,
                flush=True,
            )
