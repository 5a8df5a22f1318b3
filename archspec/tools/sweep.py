"""`archspec sweep`: a grid of variants of one spec, each through the front end, as a table.

    archspec sweep inception_v4 --set width.multiplier=0.5,0.75,1 --set params.inception_b_blocks=3,5,7

Each `--set KEY=V1,V2,...` is an axis: its values are read as the items of a YAML flow list,
so `input.shape=[149,149,3],[299,299,3]` is two values. The grid is every combination, in the
order the axes are given (the last axis changes fastest). Each point is the spec with one value
of every axis set, checked like any spec: its params, MACs and activation memory, or the
located error that made it fail. A point that fails does not stop the sweep.

Each figure is a cost (params, MACs, activations, step time: lower is better) or a benefit
(validation accuracy, images a second: higher is better). The front (`front`) of two chosen
figures is the set of points no other point beats on both: none is at least as good on each and
better on one. Against MACs and validation top-1, those are the variants that buy the most
accuracy for their compute. With `--train` each point is trained briefly, one recipe and seed for
all (`archspec.training`), so that accuracy is a figure like the others.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import math
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archspec.analysis.shapes import fmt
from archspec.errors import ArchspecError, SpecError
from archspec.frontend.loader import load_text
from archspec.frontend.overrides import split
from archspec.limits import MAX_SWEEP_POINTS

FIGURES = ("params", "macs", "flops", "activation_bytes")
MEASURED = ("step_s", "images_per_s")
TRAINED = ("val_top1", "val_top5", "val_loss", "train_s")
HIGHER_IS_BETTER = frozenset({"images_per_s", "val_top1", "val_top5"})  # the other figures are costs


@dataclass(frozen=True)
class Axis:
    key: str
    values: tuple[Any, ...]  # plain YAML values

    def override(self, value: Any) -> str:
        return f"{self.key}={json.dumps(value)}"  # JSON is YAML: the override reads it back as it was


def axis(text: str) -> Axis:
    """One `--set KEY=V1,V2,...`; SpecError, located at the option, when its values do not read."""
    key, values = split(text)
    read = load_text(f"[{values}]", f"--set {key}")
    if not isinstance(read, list) or not read:
        raise ValueError(f"--set {key} needs at least one value")
    return Axis(key, tuple(_plain(value) for value in read))


def _plain(value: Any) -> Any:
    """A loaded YAML value without its positions: lists, dicts and scalars."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def grid(axes: Sequence[Axis]) -> list[tuple[Any, ...]]:
    """Every combination of the axes' values; ValueError past MAX_SWEEP_POINTS, before any is made."""
    count = math.prod(len(a.values) for a in axes)
    if count > MAX_SWEEP_POINTS:
        raise ValueError(f"the grid has {count:,} points, more than {MAX_SWEEP_POINTS:,}; sweep fewer values")
    return list(itertools.product(*(a.values for a in axes)))


@dataclass(frozen=True)
class Point:
    values: tuple[Any, ...]  # one per axis
    figures: dict[str, Any] | None  # params, macs, ... when the point checks
    error: SpecError | None = None


def evaluate(
    load: Callable[[Sequence[str]], Any], axes: Sequence[Axis], points: Sequence[tuple[Any, ...]]
) -> Iterator[Point]:
    """Each point through `load` (the spec loader, given the point's overrides), in order."""
    for values in points:
        overrides = [a.override(v) for a, v in zip(axes, values, strict=True)]
        try:
            spec = load(overrides)
        except SpecError as exc:
            yield Point(values, None, exc)
            continue
        yield Point(values, figures(spec))


def failures(axes: Sequence[Axis], points: Sequence[Point]) -> list[str]:
    """What to say of the points that failed: each error once, with the first point it stopped
    and how many more."""
    by_error: dict[str, list[Point]] = {}
    for point in points:
        if point.error is not None:
            by_error.setdefault(point.error.diagnostics[0].format(), []).append(point)
    said = []
    for message, alike in by_error.items():
        first = " ".join(a.override(v) for a, v in zip(axes, alike[0].values, strict=True))
        more = f" and {len(alike) - 1} more" if len(alike) > 1 else ""
        said.append(f"{message}\n  in the point {first}{more}")
    return said


def measure(
    load: Callable[[Sequence[str]], Any],
    axes: Sequence[Axis],
    points: Sequence[Point],
    target: str,
    batch_size: int,
    steps: int,
    rounds: int,
    tick: Callable[[], None] = lambda: None,
) -> list[dict[str, Any]]:
    """The training step time of each point that checks, on `target` (`torch` or `torch:cuda`),
    interleaved in one process as the benchmarks time them; None for the others."""
    from archspec.training.runs import available_bytes, check_memory
    from archspec.training.torch import step_time

    device = measuring_device(target)
    good = [i for i, p in enumerate(points) if p.error is None]
    specs = [load([a.override(v) for a, v in zip(axes, points[i].values, strict=True)]) for i in good]
    for spec in specs:  # before anything is allocated: a batch that cannot fit is refused, not tried
        check_memory(spec, batch_size, available_bytes() if device.type == "cpu" else step_time.free_bytes(device))
    seconds = step_time.measure(specs, device, batch_size, steps, rounds, tick)
    measured: list[dict[str, Any]] = [{"step_s": None, "images_per_s": None} for _ in points]
    for index, time in zip(good, seconds, strict=True):
        measured[index] = {"step_s": time, "images_per_s": batch_size / time}
    return measured


def point_folder(axes: Sequence[Axis], values: tuple[Any, ...]) -> str:
    """The folder a point trains in, named by its values (`multiplier=0.5,block35_repeats=1-...`) and
    a digest of the whole overrides, so that a grid sweeps again, grown or reordered, finds each
    point's run where it was, and two points never share one."""
    exact = json.dumps([[a.key, v] for a, v in zip(axes, values, strict=True)])
    text = ",".join(f"{a.key.rsplit('.', 1)[-1]}={_short(v)}" for a, v in zip(axes, values, strict=True)) or "spec"
    readable = re.sub(r"[^A-Za-z0-9._=,+-]", "_", text)[:80]
    return f"{readable}-{hashlib.sha256(exact.encode()).hexdigest()[:10]}"


def train(
    load: Callable[[Sequence[str]], Any],
    axes: Sequence[Axis],
    points: Sequence[Point],
    asked: dict[str, Any],
    runs: Path,
    stop: Any,
) -> tuple[list[dict[str, Any]], int | None]:
    """Train each point that checks, one after another, with the settings `asked` (as `archspec
    train` takes them, less the input size, which is each point's own) in `runs/FOLDER`. A point
    whose run is there already goes on from its checkpoint, or is read back when done; one that
    fails is reported and skipped. The validation figures of each point's last epoch, and the
    signal that stopped the sweep (a checkpoint was written first), if one did."""
    from archspec.backends import backend
    from archspec.training import checkpoint
    from archspec.training.recipe import settle
    from archspec.training.runs import Options, cleared_on_failure

    found: list[dict[str, Any]] = [{} for _ in points]
    good = [i for i, p in enumerate(points) if p.error is None]
    for number, index in enumerate(good, 1):
        overrides = [a.override(v) for a, v in zip(axes, points[index].values, strict=True)]
        out = runs / point_folder(axes, points[index].values)
        print(f"point {number}/{len(good)}: {' '.join(overrides) or 'the spec'} in {out}", file=sys.stderr, flush=True)
        try:
            spec = load(overrides)
            run = settle({**asked, "input_size": spec.input_shape[:2]}, checkpoint.saved_run(out))
            options = Options(out=out, resume=out.exists(), log_every=0)  # a point's folder is only ever its run
            with cleared_on_failure(out), contextlib.redirect_stdout(sys.stderr):
                outcome = backend("torch").train(spec, run, options)
        except (ArchspecError, RuntimeError, ValueError, MemoryError, OSError) as exc:  # the point, not the sweep
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            print(f"point {number}/{len(good)} failed: {message}", file=sys.stderr, flush=True)
            found[index] = {"run": str(out), "train_error": f"training: {message}"}
            continue
        if outcome.stopped_by is not None:
            return found, outcome.stopped_by
        found[index] = _trained(outcome.history, asked["epochs"], out)
        if stop.received is not None:
            return found, stop.received
    return found, None


def _trained(history: Sequence[dict[str, Any]], epochs: int, out: Path) -> dict[str, Any]:
    """A trained point's figures: those of epoch `epochs` (a run that trained longer before keeps
    its longer history), and the seconds its epochs took."""
    rows = [row for row in history if int(row["epoch"]) <= epochs]
    last = rows[-1]
    return {
        "val_top1": last["val_top1"],
        "val_top5": last["val_top5"],
        "val_loss": last["val_loss"],
        "train_s": sum(row["seconds"] for row in rows),
        "epochs": int(last["epoch"]),
        "run": str(out),
    }


def measuring_device(target: str) -> Any:
    """The torch device `--measure` names (`torch`, `torch:cuda`); TrainingError for any other
    target, or where PyTorch or the device is missing. Asked before any point is checked."""
    from archspec.training.runs import TrainingError

    backend, _, device_name = target.partition(":")
    if backend != "torch":
        raise TrainingError(f"--measure takes torch or torch:cuda, not {target}")
    try:
        from archspec.training.torch import step_time
    except ImportError:
        raise TrainingError("--measure torch needs PyTorch: pip install 'archspec[torch]'") from None
    return step_time.device_of(device_name or "cpu")


def figures(spec: Any) -> dict[str, Any]:
    return {
        "input": fmt(spec.input_shape),
        "output": ", ".join(fmt(spec.shapes[o]) for o in spec.outputs),
        "params": spec.params,
        "macs": spec.macs,
        "flops": 2 * spec.macs,
        "activation_bytes": sum(c.activation_bytes for c in spec.costs.values()),
    }


def front(records: Sequence[dict[str, Any]], x: str, y: str) -> set[int]:
    """The indices of the records no other beats on figures `x` and `y`: none is at least as good
    on both (lower for a cost, higher for a benefit) and better on one. Records without both
    figures (a point that failed, or was not trained) take no part."""

    def goal(record: dict[str, Any]) -> tuple[float, float]:  # both to be made smaller
        return (_signed(x, record[x]), _signed(y, record[y]))

    ranked = [i for i, r in enumerate(records) if _number(r.get(x)) and _number(r.get(y))]
    ranked.sort(key=lambda i: goal(records[i]))
    found: set[int] = set()
    best: tuple[float, float] | None = None  # the last point put on the front
    for i in ranked:  # by the first goal, then the second: a point is on the front if its second beats all before
        here = goal(records[i])
        if best is None or here[1] < best[1] or here == best:
            found.add(i)
            best = here
    return found


def _signed(figure: str, value: float) -> float:
    return -float(value) if figure in HIGHER_IS_BETTER else float(value)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def rows(
    axes: Sequence[Axis],
    points: Sequence[Point],
    objectives: tuple[str, str],
    *extras: Sequence[dict[str, Any]],
) -> list[dict[str, Any]]:
    """One flat record per point: its values by key, its figures (and each of `extras`', the
    measurements and the training), whether it is on the front of the two `objectives`, and its
    error's first line (the spec's, else the training's). Every record has every figure, None
    where its point has none."""
    figures_of_any = dict.fromkeys(key for extra in extras for found in extra for key in found if key != "train_error")
    records = []
    for index, point in enumerate(points):
        record: dict[str, Any] = {"point": index}
        record.update({a.key: v for a, v in zip(axes, point.values, strict=True)})
        record.update(point.figures or {k: None for k in ("input", "output", *FIGURES)})
        record.update(figures_of_any)
        for extra in extras:
            record.update(extra[index])
        record["front"] = False
        spec_error = None if point.error is None else point.error.diagnostics[0].format()
        train_error = record.pop("train_error", None)
        record["error"] = spec_error or train_error
        records.append(record)
    for index in front(records, *objectives):
        records[index]["front"] = True
    return records


def write_csv(path: Path, records: Sequence[dict[str, Any]]) -> None:
    import csv

    columns = list(dict.fromkeys(key for record in records for key in record))  # every figure any point has
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for record in records:
            writer.writerow({k: _cell(v) for k, v in record.items()})


def _cell(value: Any) -> Any:
    """A CSV cell: lists and mappings as their JSON text, which any reader can parse back."""
    if isinstance(value, list | dict):
        return json.dumps(value)
    return "" if value is None else value


def write_json(path: Path, spec: str, axes: Sequence[Axis], records: Sequence[dict[str, Any]]) -> None:
    document = {"spec": spec, "axes": [{"key": a.key, "values": list(a.values)} for a in axes], "points": records}
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def table(axes: Sequence[Axis], records: Sequence[dict[str, Any]]) -> str:
    """A fixed-width table for people, with the columns of the figures the sweep has; `*` marks
    the front."""
    columns = [c for c in COLUMNS if any(r.get(c[0]) is not None for r in records)] or list(COLUMNS[:3])
    header = [a.key for a in axes] + [title for _, title, _ in columns]
    body = []
    for r in records:
        cells = [_short(r[a.key]) for a in axes]
        if r["error"] is not None and r["params"] is None:  # the whole error is printed below the table
            cells += ["error: " + _first_words(r["error"])]
        else:
            cells += ["-" if r.get(key) is None else show(r[key]) for key, _, show in columns]
            if r["error"] is not None:  # the training's
                cells.append("error: " + _first_words(r["error"]))
        body.append((("* " if r["front"] else "  "), cells))
    full = [c[: len(header)] for _, c in body if len(c) >= len(header)]
    widths = [max([len(header[i])] + [len(c[i]) for c in full]) for i in range(len(header))]

    def line(mark: str, cells: Sequence[str]) -> str:
        if cells[-1].startswith("error: "):  # an error runs to the end of the line
            return mark + "".join(c.rjust(w) + "  " for c, w in zip(cells[:-1], widths, strict=False)) + cells[-1]
        return mark + "  ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True))

    return "\n".join([line("  ", header), *(line(mark, cells) for mark, cells in body)])


def _first_words(error: str) -> str:
    message = error.splitlines()[0].split(": error: ")[-1]
    return message if len(message) <= 80 else message[:77] + "..."


# The table's figure columns: key, heading, how a value shows.
COLUMNS: tuple[tuple[str, str, Callable[[Any], str]], ...] = (
    ("params", "params", lambda v: f"{v:,}"),
    ("macs", "MACs (G)", lambda v: f"{v / 1e9:.3f}"),
    ("activation_bytes", "activations (MiB)", lambda v: f"{v / 2**20:.1f}"),
    ("step_s", "step (ms)", lambda v: f"{1000 * v:.1f}"),
    ("images_per_s", "images/s", lambda v: f"{v:.1f}"),
    ("val_top1", "val top-1 (%)", lambda v: f"{100 * v:.2f}"),
    ("train_s", "training (s)", lambda v: f"{v:.1f}"),
)


def _short(value: Any) -> str:
    return json.dumps(value) if isinstance(value, list | dict) else str(value)


# How the plot shows each figure: its axis label, and the factor from the figure to that unit.
SCALES = {
    "params": ("params (M)", 1e-6),
    "macs": ("MACs (G)", 1e-9),
    "flops": ("FLOPs (G)", 1e-9),
    "activation_bytes": ("activations (MiB)", 2**-20),
    "step_s": ("training step (ms)", 1e3),
    "images_per_s": ("images/s", 1.0),
    "val_top1": ("validation top-1 (%)", 100.0),
    "val_top5": ("validation top-5 (%)", 100.0),
    "val_loss": ("validation loss", 1.0),
    "train_s": ("training time (s)", 1.0),
}
MARKERS = "osD^vP*X<>ph"
LOG_RATIO = 20  # an axis whose values span this factor or more is drawn logarithmic: small points spread out


def log_axes(records: Sequence[dict[str, Any]], x: str, y: str, log: str) -> tuple[bool, bool]:
    """Which of the plot's axes are logarithmic: those `log` names, or with "auto" those whose
    positive values span LOG_RATIO or more."""
    if log != "auto":
        return log in ("x", "both"), log in ("y", "both")

    def spans(figure: str) -> bool:
        values = [float(r[figure]) for r in records if _number(r.get(figure))]
        return bool(values) and min(values) > 0 and max(values) / min(values) >= LOG_RATIO

    return spans(x), spans(y)


def objective(figure: str) -> str:
    return f"{'higher' if figure in HIGHER_IS_BETTER else 'lower'} {SCALES[figure][0].split(' (')[0]}"


def plot(
    path: Path,
    title: str,
    records: Sequence[dict[str, Any]],
    axes_of: tuple[str, str],
    color: str | None,
    marker: str | None = None,
    log: str = "auto",
) -> None:
    """Figure y against figure x (`axes_of`), each point coloured by `color` and shaped by
    `marker` (a key or a figure), the front of the two joined and ringed. Needs matplotlib (the
    `train` extra)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    x, y = axes_of
    good = [r for r in records if _number(r.get(x)) and _number(r.get(y))]
    figure, axes = plt.subplots(figsize=(8, 5.5), dpi=120)
    xs = [r[x] * SCALES[x][1] for r in good]
    ys = [r[y] * SCALES[y][1] for r in good]
    paints, legend = _paints(plt, figure, axes, [r.get(color) for r in good] if color else [], color)
    shapes = list(dict.fromkeys(_short(r.get(marker)) for r in good)) if marker else []
    for index, shape in enumerate(shapes or [""]):
        chosen = [i for i, r in enumerate(good) if not marker or _short(r.get(marker)) == shape]
        axes.scatter(
            [xs[i] for i in chosen], [ys[i] for i in chosen], c=[paints[i] for i in chosen] if paints else "#1f77b4",
            marker=MARKERS[index % len(MARKERS)], s=40, zorder=2, edgecolors="none",
        )  # fmt: skip
    handles = []
    if legend:
        handles += [Line2D([], [], ls="", marker="o", color=c, label=f"{color} {n}") for n, c in legend]
    if marker:
        handles += [
            Line2D([], [], ls="", marker=MARKERS[i % len(MARKERS)], color="#555555", label=f"{marker} {shape}")
            for i, shape in enumerate(shapes)
        ]
    on_front = sorted((i for i, r in enumerate(good) if r["front"]), key=lambda i: xs[i])
    if on_front:
        axes.plot([xs[i] for i in on_front], [ys[i] for i in on_front], "-", color="#d62728", lw=1.2, zorder=1)
        axes.scatter(
            [xs[i] for i in on_front], [ys[i] for i in on_front], s=120, facecolors="none", edgecolors="#d62728",
            linewidths=1.4, zorder=3,
        )  # fmt: skip
        handles.append(Line2D([], [], color="#d62728", marker="o", mfc="none", label="front"))
    if handles:
        axes.legend(handles=handles, fontsize=8)
    log_x, log_y = log_axes(good, x, y, log)
    axes.set_xscale("log" if log_x else "linear")
    axes.set_yscale("log" if log_y else "linear")
    axes.set_xlabel(SCALES[x][0])
    axes.set_ylabel(SCALES[y][0])
    failed = len(records) - len(good)
    missing = f", {failed} without both figures" if failed else ""
    axes.set_title(f"{title}: {len(good)} points{missing}\nringed: the front, {objective(x)} and {objective(y)}")
    axes.grid(True, alpha=0.3, which="both")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def _paints(plt: Any, figure: Any, axes: Any, values: list[Any], key: str | None) -> tuple[list[Any], list[Any]]:
    """Each point's colour for `values` (none without a key), and the legend of categories:
    numbers on a colour bar, anything else one colour a category."""
    if not values:
        return [], []
    if all(_number(v) for v in values):
        from matplotlib.colors import Normalize

        norm, cmap = Normalize(min(values), max(values)), plt.get_cmap("viridis")
        figure.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=axes, label=key)
        return [cmap(norm(v)) for v in values], []
    names = list(dict.fromkeys(_short(v) for v in values))
    cmap = plt.get_cmap("tab10" if len(names) <= 10 else "viridis", len(names))
    return [cmap(names.index(_short(v))) for v in values], [(n, cmap(i)) for i, n in enumerate(names)]
