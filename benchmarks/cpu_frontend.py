"""Front-end and build-time benchmark, on the CPU.

    python benchmarks/cpu_frontend.py [--repeats 5] [--markdown FILE]

1. Whole-process wall time of `archspec check` on every bundled network spec, as one process
   (Python start-up and imports included), median of several runs.
2. Time to build each reference model with `archspec.backends.torch.build` from its spec, and with timm's
   `create_model` where timm imports, as a ratio (ours / timm; below 1 is faster).
3. Whole-process wall time of `archspec render SPEC -o page.html` for specs at the limits a spec
   may reach (limits.py: ops after unrolling, YAML nodes per file), as a ratio to
   Inception-ResNet-v2's page in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archspec import limits  # noqa: E402
from archspec.bundled import list_specs, spec_path  # noqa: E402

REFERENCE_MODELS = ("inception_v3", "inception_v4", "inception_resnet_v2")


def median_seconds(action: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def check_wall_time(repeats: int) -> tuple[float, int]:
    specs = [str(p) for p in map(spec_path, list_specs()) if p.parent.name != "errata"]
    command = [sys.executable, "-m", "archspec", "check", "-q", *specs]
    seconds = median_seconds(lambda: subprocess.run(command, check=True, cwd=ROOT), repeats)
    return seconds, len(specs)


def build_times(repeats: int) -> list[tuple[str, float, float | None]]:
    from archspec.backends import torch as archspec_torch

    import archspec
    from benchmarks.reference import import_timm

    try:
        timm = import_timm()
    except ImportError:  # timm is a test dependency; the front end does not need it
        timm = None
    rows = []
    for name in REFERENCE_MODELS:
        spec_path = ROOT / "specs" / f"{name}.yaml"
        ours = median_seconds(lambda path=spec_path: archspec_torch.build(archspec.load(path)), repeats)
        theirs = None
        if timm is not None:
            theirs = median_seconds(lambda model=name: timm.create_model(model, pretrained=False), repeats)
        rows.append((name, ours, theirs))
    return rows


def blocks_at_op_budget() -> str:
    """Residual blocks of eight ops, every instance a different width (so none shares a layout),
    as many as the op budget admits."""
    head = (
        "archspec: 1\ninput: {shape: [8, 8, 3]}\nblocks:\n  u:\n    params: {w: ~}\n    body:\n"
        "      - branches:\n"
        "          a: [{op: conv, kernel: 1, filters: $w}, {op: conv, kernel: 3, filters: $w}]\n"
        "          b: [{op: conv, kernel: 1, filters: $w}, {op: maxpool, kernel: 3}]\n"
        "          c: [{op: conv, kernel: 1, filters: 4}]\n"
        "      - {op: conv, kernel: 1, filters: 8}\n      - {op: add, shortcut: input}\n"
        "network:\n  - {op: conv, kernel: 1, filters: 8}\n"
    )
    count = (limits.MAX_GRAPH_NODES - 2) // 8  # the first conv and the input besides
    return head + "".join(f"  - {{block: u, name: u{i}, with: {{w: {4 + i % 60}}}}}\n" for i in range(count))


def longest_chain() -> str:
    """A chain of single convolutions, as long as the YAML node budget of one file admits."""
    count = (limits.MAX_NODES - 10) // 7  # each `{op, kernel, filters}` mapping is 7 YAML nodes
    return "archspec: 1\ninput: {shape: [8, 8, 3]}\nnetwork:\n" + "  - {op: conv, kernel: 1, filters: 4}\n" * count


def page_times(repeats: int) -> list[tuple[str, int, float]]:
    """(spec, ops, seconds) for `archspec render SPEC -o page.html`, whole process."""
    import archspec

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        where = Path(folder)
        (where / "blocks_at_op_budget.yaml").write_text(blocks_at_op_budget())
        (where / "longest_chain.yaml").write_text(longest_chain())
        for spec in (
            spec_path("inception_resnet_v2"),
            where / "blocks_at_op_budget.yaml",
            where / "longest_chain.yaml",
        ):
            command = [sys.executable, "-m", "archspec", "render", str(spec), "-o", str(where / "page.html"), "--force"]
            seconds = median_seconds(lambda c=command: subprocess.run(c, check=True, cwd=where), repeats)
            rows.append((Path(spec).stem, archspec.load(spec).graph.number_of_nodes(), seconds))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--markdown", type=Path, help="also write the tables to this file")
    args = parser.parse_args()
    seconds, count = check_wall_time(args.repeats)
    lines = [
        f"`archspec check` on {count} bundled specs, one process: {seconds:.3f} s wall (median of {args.repeats})",
        "",
        "| model | build from spec (s) | timm create_model (s) | ours / timm |",
        "|---|---|---|---|",
    ]
    for name, ours, theirs in build_times(args.repeats):
        ratio = f"{ours / theirs:.2f}" if theirs else "timm not importable"
        lines.append(f"| {name} | {ours:.3f} | {f'{theirs:.3f}' if theirs else '-'} | {ratio} |")
    pages = page_times(args.repeats)
    lines += [
        "",
        "| spec | ops | `archspec render -o page.html` (s) | / Inception-ResNet-v2 |",
        "|---|---|---|---|",
        *(f"| {name} | {ops} | {seconds:.2f} | {seconds / pages[0][2]:.1f} |" for name, ops, seconds in pages),
    ]
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n")


if __name__ == "__main__":
    main()
