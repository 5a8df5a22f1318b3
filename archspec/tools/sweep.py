"""`archspec sweep`: a grid of variants of one spec, each through the front end, as a table.

    archspec sweep inception_v4 --set width.multiplier=0.5,0.75,1 --set params.inception_b_blocks=3,5,7

Each `--set KEY=V1,V2,...` is an axis: its values are read as the items of a YAML flow list,
so `input.shape=[149,149,3],[299,299,3]` is two values. The grid is every combination, in the
order the axes are given (the last axis changes fastest). Each point is the spec with one value
of every axis set, checked like any spec: its params, MACs and activation memory, or the
located error that made it fail. A point that fails does not stop the sweep.

The front (`front`) is the set of points that no other point beats on both of the plot's axes:
none has as many parameters for as few MACs. Those are the variants that buy the most
capacity for their compute; every other point has a variant beside it that is at least as big
and costs no more.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archspec.analysis.shapes import fmt
from archspec.errors import SpecError
from archspec.frontend.loader import load_text
from archspec.frontend.overrides import split
from archspec.limits import MAX_SWEEP_POINTS

FIGURES = ("params", "macs", "flops", "activation_bytes")


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


def front(points: Sequence[Point]) -> set[int]:
    """The indices of the points no other point beats: none has at least as many params for at
    most as many MACs, better in one of the two. Points that check only."""
    ranked = sorted(
        (i for i, p in enumerate(points) if p.figures),
        key=lambda i: (points[i].figures["macs"], -points[i].figures["params"]),  # type: ignore[index]
    )
    found: set[int] = set()
    best: tuple[int, int] | None = None  # (params, macs) of the last point put on the front
    for i in ranked:
        params, macs = points[i].figures["params"], points[i].figures["macs"]  # type: ignore[index]
        if best is None or params > best[0] or (params, macs) == best:
            found.add(i)
            best = (params, macs)
    return found


def rows(axes: Sequence[Axis], points: Sequence[Point], extra: Sequence[dict[str, Any]] = ()) -> list[dict[str, Any]]:
    """One flat record per point: its values by key, its figures (and `extra`'s, the
    measurements), whether it is on the front, and its error's first line."""
    on_front = front(points)
    records = []
    for index, point in enumerate(points):
        record: dict[str, Any] = {"point": index}
        record.update({a.key: v for a, v in zip(axes, point.values, strict=True)})
        record.update(point.figures or {k: None for k in ("input", "output", *FIGURES)})
        if extra:
            record.update(extra[index])
        record["front"] = index in on_front
        record["error"] = None if point.error is None else point.error.diagnostics[0].format()
        records.append(record)
    return records


def write_csv(path: Path, records: Sequence[dict[str, Any]]) -> None:
    import csv

    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(records[0]))
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


def table(axes: Sequence[Axis], records: Sequence[dict[str, Any]], measured: bool) -> str:
    """A fixed-width table for people; `*` marks the front."""
    header = [a.key for a in axes] + ["params", "MACs (G)", "activations (MiB)"]
    header += ["step (ms)", "images/s"] if measured else []
    body = []
    for r in records:
        cells = [_short(r[a.key]) for a in axes]
        if r["params"] is None:  # the whole error is printed below the table
            message = (r["error"] or "").splitlines()[0].split(": error: ")[-1]
            cells += ["error: " + (message if len(message) <= 80 else message[:77] + "...")]
        else:
            cells += [f"{r['params']:,}", f"{r['macs'] / 1e9:.3f}", f"{r['activation_bytes'] / 2**20:.1f}"]
            if measured:
                cells += [f"{1000 * r['step_s']:.1f}", f"{r['images_per_s']:.1f}"]
        body.append((("* " if r["front"] else "  "), cells))
    full = [c for _, c in body if len(c) == len(header)]
    widths = [max([len(header[i])] + [len(c[i]) for c in full]) for i in range(len(header))]

    def line(mark: str, cells: Sequence[str]) -> str:
        if len(cells) < len(header):  # an error runs to the end of the line
            return mark + "  ".join(c.rjust(w) for c, w in zip(cells[:-1], widths, strict=False)) + "  " + cells[-1]
        return mark + "  ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True))

    return "\n".join([line("  ", header), *(line(mark, cells) for mark, cells in body)])


def _short(value: Any) -> str:
    return json.dumps(value) if isinstance(value, list | dict) else str(value)


def plot(path: Path, title: str, records: Sequence[dict[str, Any]], color: str) -> None:
    """Params against MACs, each point coloured by `color` (a key or a figure), the front joined
    and ringed. Needs matplotlib (the `train` extra)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    good = [r for r in records if r["params"] is not None]
    figure, axes = plt.subplots(figsize=(8, 5.5), dpi=120)
    x = [r["macs"] / 1e9 for r in good]
    y = [r["params"] / 1e6 for r in good]
    values = [r.get(color) for r in good]
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        dots = axes.scatter(x, y, c=[float(v) for v in values], cmap="viridis", s=36, zorder=2)  # type: ignore[arg-type]
        figure.colorbar(dots, ax=axes, label=color)
    else:  # categories (input shapes, names): one colour and one legend entry each
        names = list(dict.fromkeys(_short(v) for v in values))
        cmap = plt.get_cmap("tab10" if len(names) <= 10 else "viridis", len(names))
        for index, name in enumerate(names):
            chosen = [i for i, v in enumerate(values) if _short(v) == name]
            axes.scatter([x[i] for i in chosen], [y[i] for i in chosen], color=cmap(index), s=36, label=name, zorder=2)
        axes.legend(title=color, fontsize=8)
    best = sorted((r for r in good if r["front"]), key=lambda r: r["macs"])
    axes.plot(
        [r["macs"] / 1e9 for r in best], [r["params"] / 1e6 for r in best], "-", color="#d62728", lw=1.2, zorder=1,
        label="front",
    )  # fmt: skip
    axes.scatter(
        [r["macs"] / 1e9 for r in best], [r["params"] / 1e6 for r in best], s=110, facecolors="none",
        edgecolors="#d62728", linewidths=1.4, zorder=3,
    )  # fmt: skip
    axes.set_xlabel("MACs (G)")
    axes.set_ylabel("params (M)")
    failed = len(records) - len(good)
    failed_text = f", {failed} failed" if failed else ""
    axes.set_title(f"{title}: {len(good)} points{failed_text}; ringed: the front, the most params for their MACs")
    axes.grid(True, alpha=0.3)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
