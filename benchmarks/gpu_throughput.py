"""Throughput of the models built from the specs against the hand-written timm models, side by side.

    python benchmarks/gpu_throughput.py --json results.json [--model inception_v4] [--compile blocks]
    python benchmarks/gpu_throughput.py --json results.json --report docs/benchmarks.md

Every measurement runs in this process under one setting: bf16 autocast, channels_last, a training
step of forward + backward + RMSProp + gradient clipping at --train-batch, inference (eval,
inference_mode) at --infer-batch. For each model it measures timm's model and ours, eagerly and
compiled, and our inference lowering (batch norm folded, sibling convolutions merged, bf16
weights). `--compile` says how ours is compiled: `model` (torch.compile of the whole network, as
timm's is) or `blocks` (each block on its own, one compilation per block type).

Results are merged into the --json file by (model, implementation, compile, task), so one table
can be gathered over several runs; --report writes the markdown table from it. Achieved TFLOP/s
come from the analysed MACs (2 FLOPs each; a training step counts 3 passes), and % of peak from a
bf16 matrix product measured in the same process.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

import archspec  # noqa: E402
from backends import torch as archspec_torch  # noqa: E402
from backends.torch.inference import for_inference  # noqa: E402
from backends.torch.regional import compile_blocks  # noqa: E402
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


def timed(step: Callable[[], object], device: torch.device, warmup: int, iters: int) -> tuple[float, float]:
    """(seconds of the first call, seconds per call after warm-up)."""
    start = time.perf_counter()
    step()
    synchronize(device)
    first = time.perf_counter() - start
    for _ in range(warmup):
        step()
    synchronize(device)
    start = time.perf_counter()
    for _ in range(iters):
        step()
    synchronize(device)
    return first, (time.perf_counter() - start) / iters


def compiled(model: torch.nn.Module, how: str) -> torch.nn.Module:
    if how == "eager":
        return model
    if how == "blocks":
        assert isinstance(model, archspec_torch.Network)
        return compile_blocks(model)
    return torch.compile(model)  # type: ignore[return-value]


def measure(
    model: torch.nn.Module, task: str, how: str, batch: int, size: int, device: torch.device, args: argparse.Namespace
) -> tuple[float, float, float | None]:
    """(images per second, compile seconds, peak memory in GiB) of one model on one task."""
    model = model.to(device).to(memory_format=torch.channels_last)
    dtype = next(model.parameters()).dtype
    x = torch.randn(batch, 3, size, size, device=device, dtype=dtype).to(memory_format=torch.channels_last)
    if task == "train":
        model.train()
        _, train_step = make_step(compiled(model, how), device.type)
        y = torch.randint(0, 1000, (batch,), device=device)
        step: Callable[[], object] = lambda: train_step(x, y)  # noqa: E731
    else:
        model.eval()
        forward = compiled(model, how)

        def step() -> object:
            with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16):
                return forward(x)

    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    first, seconds = timed(step, device, args.warmup, args.iters)
    memory = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else None
    torch._dynamo.reset()
    return batch / seconds, first - seconds, memory


def make_model(implementation: str, spec: archspec.Spec) -> torch.nn.Module:
    if implementation == "timm":
        import timm

        return timm.create_model(spec.name, pretrained=False)  # type: ignore[no-any-return]
    model = archspec_torch.build(spec)
    return for_inference(model, dtype=torch.bfloat16) if implementation == "archspec-inference" else model


def run(args: argparse.Namespace) -> list[Result]:
    device = torch.device(args.device)
    peak = matmul_peak_tflops(device)
    if peak:
        print(f"bf16 matrix-product peak: {peak:.0f} TFLOP/s", flush=True)
    both, infer = ("train", "infer"), ("infer",)
    cases = [("archspec", "eager", both), ("archspec", args.compile, both)]
    cases += [("archspec-inference", "eager", infer), ("archspec-inference", args.compile, infer)]
    if not args.no_reference:
        cases[:0] = [("timm", "eager", both), ("timm", "model", both)]
    results = []
    for name in args.model or MODELS:
        spec = archspec.load(ROOT / "specs" / f"{name}.yaml", input_shape=(args.size, args.size, 3))
        for implementation, how, tasks in cases:
            if args.eager_only and how != "eager":
                continue
            for task in tasks:
                batch = args.train_batch if task == "train" else args.infer_batch
                torch.manual_seed(0)
                rate, compile_s, memory = measure(
                    make_model(implementation, spec), task, how, batch, args.size, device, args
                )
                flops = 2 * spec.macs * (3 if task == "train" else 1) * rate / 1e12
                result = Result(name, implementation, how, task, batch, rate, compile_s if how != "eager" else None,
                                memory, flops, flops / peak if peak else None)  # fmt: skip
                print(json.dumps(asdict(result)), flush=True)
                results.append(result)
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
        "| ours / ref memory | compile s ours / ref |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
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
                lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--model", action="append", choices=MODELS, help="only these models (default: all three)")
    parser.add_argument("--compile", choices=("model", "blocks"), default="blocks", help="how ours is compiled")
    parser.add_argument("--train-batch", type=int, default=128)
    parser.add_argument("--infer-batch", type=int, default=256)
    parser.add_argument("--size", type=int, default=299)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--eager-only", action="store_true", help="skip every compiled measurement")
    parser.add_argument("--no-reference", action="store_true", help="measure ours only (where timm does not import)")
    parser.add_argument("--json", type=Path, required=True, help="results file, merged into")
    parser.add_argument("--report", type=Path, help="write the markdown table from --json here; measure nothing")
    args = parser.parse_args()
    device = torch.cuda.get_device_name() if args.device == "cuda" else f"CPU ({platform.processor() or 'x86-64'})"
    setting = {"device": device, "torch": torch.__version__, "size": args.size, "train_batch": args.train_batch,
               "infer_batch": args.infer_batch}  # fmt: skip
    if args.report:
        text = report(json.loads(args.json.read_text()))
        args.report.write_text(text)
        print(text)
        return
    merge(args.json, run(args), setting)


if __name__ == "__main__":
    main()
