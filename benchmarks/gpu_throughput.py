"""Throughput of the models built from the specs against the hand-written timm models, side by side.

    python benchmarks/gpu_throughput.py --json results.json [--model inception_v4] [--compile blocks]
    python benchmarks/gpu_throughput.py --json results.json --report docs/benchmarks.md

Every measurement runs in this process under one setting: bf16 autocast, channels_last, a training
step of forward + backward + RMSProp + gradient clipping at --train-batch, inference (eval,
inference_mode) at --infer-batch. For each model it measures timm's model and ours, eagerly and
compiled, and our inference lowering (batch norm folded, sibling convolutions merged, bf16
weights). `--compile` says how ours is compiled: `blocks` (each block on its own, one compilation
per block type; the default) or `model` (torch.compile of the whole network, as timm's is); give
it twice for both. `--task` and `--model` split the work into shorter runs.

For one model and task, every case is built, compiled and warmed up first, then all are timed
in rounds, one case after the other (every other round in reverse order), and each case's median
round counts: ratios are taken side by side, not in runs minutes apart. The table's spread is
the larger of the two cases' (slowest - fastest round) / median round. Compile time is a case's
first step less a steady one, with inductor's caches disabled and the compiler warmed up on a
small model first. Memory is a case's peak while it was built and warmed up, less what was
allocated before. Achieved TFLOP/s come from the analysed MACs (2 FLOPs each; a training step
counts 3 passes), and % of peak from a bf16 matrix product measured in the same process.

Results are merged into the --json file by (model, implementation, compile, task), so one table
can be gathered over several runs; --report writes the markdown table from it into the given
file, between markers named after the results file (replacing an earlier table of that name).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import torch._inductor.config  # noqa: E402
from archspec.backends import torch as archspec_torch  # noqa: E402
from archspec.backends.torch.inference import for_inference  # noqa: E402
from archspec.backends.torch.regional import compile_blocks  # noqa: E402

import archspec  # noqa: E402
from benchmarks.reference import import_timm  # noqa: E402
from benchmarks.train_step import make_step  # noqa: E402

MODELS = ("inception_v3", "inception_v4", "inception_resnet_v2")


@dataclass(frozen=True)
class Result:
    model: str
    implementation: str  # timm, archspec, archspec-inference
    compile: str  # eager, model, blocks
    task: str  # train, infer
    batch: int
    images_per_s: float
    compile_s: float | None  # compile and first step, less one steady step
    peak_memory_gib: float | None
    tflops: float
    peak_fraction: float | None
    spread: float = 0.0  # (slowest - fastest round) / median round: how far to trust the rate


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def matmul_peak_tflops(device: torch.device) -> float | None:
    """The bf16 matrix-product rate this device reaches on large square products."""
    if device.type != "cuda":
        return None
    a = torch.randn(8192, 8192, device=device, dtype=torch.bfloat16)
    b = torch.randn(8192, 8192, device=device, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    synchronize(device)
    start, repeats = time.perf_counter(), 50
    for _ in range(repeats):
        a @ b
    synchronize(device)
    return 2 * 8192**3 * repeats / (time.perf_counter() - start) / 1e12


def compiled(model: torch.nn.Module, how: str) -> torch.nn.Module:
    if how == "eager":
        return model
    if how == "blocks":
        assert isinstance(model, archspec_torch.Network)
        return compile_blocks(model)
    return torch.compile(model)  # type: ignore[return-value]


def make_model(implementation: str, spec: archspec.Spec) -> torch.nn.Module:
    if implementation == "timm":
        timm = import_timm()
        return timm.create_model(spec.name, pretrained=False)  # type: ignore[no-any-return]
    model = archspec_torch.build(spec)
    return for_inference(model, dtype=torch.bfloat16) if implementation == "archspec-inference" else model


@dataclass
class Case:
    """One model, compiled or not, ready to run one task: its step and what it has cost so far."""

    implementation: str
    how: str
    step: Callable[[], object]
    compile_s: float | None
    memory_gib: float | None
    seconds: list[float] = field(default_factory=list)  # per step, one entry per round


def prepare(
    implementation: str, how: str, task: str, batch: int, spec: archspec.Spec, device: torch.device, warmup: int
) -> Case:
    """Build, compile and warm up one case. Its memory is the peak while it did so, less what
    was allocated before it was built (the cases prepared before it)."""
    synchronize(device)
    base = torch.cuda.memory_allocated() if device.type == "cuda" else 0
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    torch.manual_seed(0)
    model = make_model(implementation, spec).to(device).to(memory_format=torch.channels_last)
    dtype = next(model.parameters()).dtype
    height, width, channels = spec.input_shape
    x = torch.randn(batch, channels, height, width, device=device, dtype=dtype).to(memory_format=torch.channels_last)
    if task == "train":
        _, train_step = make_step(compiled(model.train(), how), device.type)
        y = torch.randint(0, spec.output_shape[-1], (batch,), device=device)
        step: Callable[[], object] = lambda: train_step(x, y)  # noqa: E731
    else:
        forward = compiled(model.eval(), how)

        def step() -> object:
            with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16):
                return forward(x)

    first = seconds_per_step(step, device, 1)
    for _ in range(warmup):
        step()
    steady = seconds_per_step(step, device, 1)
    memory = (torch.cuda.max_memory_allocated() - base) / 2**30 if device.type == "cuda" else None
    return Case(implementation, how, step, first - steady if how != "eager" else None, memory)


def seconds_per_step(step: Callable[[], object], device: torch.device, steps: int) -> float:
    synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    synchronize(device)
    return (time.perf_counter() - start) / steps


def warm_up_compiler(device: torch.device) -> None:
    """Compile something small first, so that the compiler's own start-up (imports, worker
    processes) is not charged to whichever model is compiled first."""
    conv = torch.nn.Conv2d(3, 8, 3).to(device)
    torch.compile(conv)(torch.randn(2, 3, 16, 16, device=device)).sum().backward()
    torch._dynamo.reset()


def run(args: argparse.Namespace) -> list[Result]:
    device = torch.device(args.device)
    # Compile times are measured cold: no compiled code from an earlier run or model is reused.
    torch._inductor.config.force_disable_caches = True
    peak = matmul_peak_tflops(device)
    if peak:
        print(f"bf16 matrix-product peak: {peak:.0f} TFLOP/s", flush=True)
    if not args.eager_only:
        warm_up_compiler(device)
    ours = ["eager", *([] if args.eager_only else dict.fromkeys(args.compile or ["blocks"]))]
    theirs = [] if args.no_reference else ["eager"] if args.eager_only else ["eager", "model"]
    results = []
    for name in args.model or MODELS:
        spec = archspec.load(ROOT / "specs" / f"{name}.yaml", input_shape=(args.size, args.size, 3))
        for task in args.task or ("train", "infer"):
            kinds = [("timm", how) for how in theirs] + [("archspec", how) for how in ours]
            if task == "infer":
                kinds += [("archspec-inference", how) for how in ours]
            batch = args.train_batch if task == "train" else args.infer_batch
            cases = [prepare(i, how, task, batch, spec, device, args.warmup) for i, how in kinds]
            # Timed in rounds, each case in turn, every other round in reverse order: whatever
            # drifts in the machine (clocks, heat, caches) falls on all cases alike.
            for round_ in range(args.rounds):
                for case in cases if round_ % 2 == 0 else reversed(cases):
                    case.seconds.append(seconds_per_step(case.step, device, args.iters))
            for case in cases:
                median = statistics.median(case.seconds)
                rate, spread = batch / median, (max(case.seconds) - min(case.seconds)) / median
                flops = 2 * spec.macs * (3 if task == "train" else 1) * rate / 1e12
                result = Result(name, case.implementation, case.how, task, batch, rate, case.compile_s,
                                case.memory_gib, flops, flops / peak if peak else None, spread)  # fmt: skip
                print(json.dumps(asdict(result)), flush=True)
                results.append(result)
            del cases
            torch._dynamo.reset()
            if device.type == "cuda":
                torch.cuda.empty_cache()
    return results


def merge(path: Path, results: list[Result], setting: dict[str, object]) -> dict[str, object]:
    """Add `results` to the file's, replacing any with the same key; the setting must match."""
    data: dict[str, object] = json.loads(path.read_text()) if path.exists() else {"setting": setting, "results": []}
    if data["setting"] != setting:
        raise SystemExit(f"{path} holds results of another setting: {data['setting']}; use another file")
    key = lambda r: (r["model"], r["implementation"], r["compile"], r["task"])  # noqa: E731
    kept = {key(r): r for r in data["results"]}  # type: ignore[attr-defined]
    kept.update({key(asdict(r)): asdict(r) for r in results})
    data["results"] = list(kept.values())
    path.write_text(json.dumps(data, indent=1) + "\n")
    return data


def report(data: dict[str, object]) -> str:
    """The markdown table: one row per model, task and compile mode, ours against timm."""
    rows = {(r["model"], r["implementation"], r["compile"], r["task"]): r for r in data["results"]}  # type: ignore[attr-defined]
    setting = data["setting"]
    lines = [
        f"Device: {setting['device']}; torch {setting['torch']}; {setting['size']}x{setting['size']}, bf16 autocast, "  # type: ignore[index]
        f"channels_last; training batch {setting['train_batch']}, inference batch {setting['infer_batch']}.",  # type: ignore[index]
        "",
        "| model | task | ours | reference | ours img/s | ref img/s | ours / ref | ours TFLOP/s | % peak "
        "| ours / ref memory | compile s ours / ref | spread |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for model in dict.fromkeys(r[0] for r in rows):
        for task in ("train", "infer"):
            for (m, implementation, how, t), ours in rows.items():
                if m != model or t != task or implementation == "timm":
                    continue
                # Eager against eager; compiled and the inference lowering against timm compiled.
                ref_how = "eager" if how == "eager" else "model"
                ref = rows.get((model, "timm", ref_how, task))
                label = f"{implementation} {how}" if how == "eager" else f"{implementation} compiled ({how})"
                cells = [model, task, label, f"timm {'eager' if ref_how == 'eager' else 'compiled'}",
                         f"{ours['images_per_s']:.0f}"]  # fmt: skip
                if ref:
                    cells += [f"{ref['images_per_s']:.0f}", f"**{ours['images_per_s'] / ref['images_per_s']:.2f}**"]
                else:
                    cells += ["-", "-"]
                cells.append(f"{ours['tflops']:.0f}" if ours["tflops"] >= 10 else f"{ours['tflops']:.2f}")
                cells.append(f"{100 * ours['peak_fraction']:.1f}" if ours["peak_fraction"] else "-")
                memory = ref and ours["peak_memory_gib"] and ref["peak_memory_gib"]
                cells.append(f"{ours['peak_memory_gib']:.1f} / {ref['peak_memory_gib']:.1f} GiB" if memory else "-")
                compile_s = ref and ours["compile_s"] is not None and ref["compile_s"] is not None
                cells.append(f"{ours['compile_s']:.0f} / {ref['compile_s']:.0f}" if compile_s else "-")
                spread = max(r.get("spread", 0.0) for r in (ours, ref) if r)
                cells.append(f"{100 * spread:.0f} %" if spread else "-")
                lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_section(path: Path, key: str, text: str) -> None:
    """Put `text` between the markers named `key` in the markdown file, replacing what was there
    (or appending it), so that the file's prose and other results' tables stay as they are."""
    begin, end = f"<!-- results {key}: begin -->\n", f"<!-- results {key}: end -->\n"
    old = path.read_text() if path.exists() else ""
    if begin in old and end in old:
        new = old[: old.index(begin)] + begin + text + old[old.index(end) :]
    else:
        new = old + ("\n" if old else "") + begin + text + end
    path.write_text(new)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--model", action="append", choices=MODELS, help="only these models (default: all three)")
    parser.add_argument(
        "--compile", action="append", choices=("model", "blocks"), help="how ours is compiled (default: blocks)"
    )
    parser.add_argument("--task", action="append", choices=("train", "infer"), help="only these tasks (default: both)")
    parser.add_argument("--train-batch", type=int, default=128)
    parser.add_argument("--infer-batch", type=int, default=256)
    parser.add_argument("--size", type=int, default=299)
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps of each case after its first")
    parser.add_argument("--iters", type=int, default=10, help="timed steps of each case per round")
    parser.add_argument("--rounds", type=int, default=4, help="rounds over all cases; the median round counts")
    parser.add_argument("--eager-only", action="store_true", help="skip every compiled measurement")
    parser.add_argument("--no-reference", action="store_true", help="measure ours only (where timm does not import)")
    parser.add_argument("--json", type=Path, required=True, help="results file, merged into")
    parser.add_argument("--report", type=Path, help="write the table of --json into this file; measure nothing")
    args = parser.parse_args()
    device = torch.cuda.get_device_name() if args.device == "cuda" else f"CPU ({platform.processor() or 'x86-64'})"
    setting = {"device": device, "torch": torch.__version__, "size": args.size, "train_batch": args.train_batch,
               "infer_batch": args.infer_batch}  # fmt: skip
    if args.report:
        text = report(json.loads(args.json.read_text()))
        write_section(args.report, args.json.stem, text)
        print(text)
        return
    merge(args.json, run(args), setting)


if __name__ == "__main__":
    main()
