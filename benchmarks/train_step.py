"""One training step of every bundled spec, eager and with torch.compile, on a GPU (or the CPU).

    python benchmarks/train_step.py [--device cuda] [--batch 32] [--input 299] [--markdown docs/train_step.md]

The step is the paper's: bf16 autocast, channels_last, RMSProp (decay 0.9, epsilon 1.0,
momentum 0.9), gradient clipping. For each spec it records whether the step runs eagerly,
whether torch.compile captures it as one graph (fullgraph=True; the error if not), the loss,
step time and compile time.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from archspec.backends import torch as archspec_torch  # noqa: E402

import archspec  # noqa: E402
from archspec.bundled import list_specs, spec_path  # noqa: E402


def make_step(model: torch.nn.Module, device: str) -> tuple[torch.optim.Optimizer, object]:
    optimizer = torch.optim.RMSprop(model.parameters(), lr=0.045, alpha=0.9, eps=1.0, momentum=0.9)

    def step(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device, dtype=torch.bfloat16):
            loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 2.0)
        optimizer.step()
        return loss.detach()

    return optimizer, step


def synchronize(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def run(path: Path, device: str, batch: int, size: int, compiled: bool) -> dict[str, object]:
    spec = archspec.load(path, input_shape=(size, size, 3))
    model = archspec_torch.build(spec).to(device).to(memory_format=torch.channels_last).train()
    forward = torch.compile(model, fullgraph=True) if compiled else model
    _, step = make_step(forward, device)  # type: ignore[arg-type]
    x = torch.randn(batch, 3, size, size, device=device).to(memory_format=torch.channels_last)
    y = torch.randint(0, spec.output_shape[0], (batch,), device=device)
    start = time.perf_counter()
    loss = step(x, y)  # type: ignore[operator]
    synchronize(device)
    first = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(3):
        loss = step(x, y)  # type: ignore[operator]
    synchronize(device)
    return {"loss": float(loss), "first_s": first, "step_s": (time.perf_counter() - start) / 3}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--input", type=int, default=299)
    parser.add_argument("--markdown", type=Path)
    parser.add_argument("--spec", action="append", help="only these spec names (default: every bundled network)")
    args = parser.parse_args()
    name = torch.cuda.get_device_name() if args.device == "cuda" else "CPU"
    lines = [
        f"Training step on {name}, torch {torch.__version__}, batch {args.batch}, {args.input}x{args.input}, "
        "bf16 autocast, channels_last, RMSProp, clipping",
        "",
        "| spec | eager loss | eager step (ms) | compiled fullgraph | compile + first step (s) | compiled step (ms) |",
        "|---|---|---|---|---|---|",
    ]
    for path in map(spec_path, list_specs()):
        if path.parent.name == "errata" or (args.spec and path.stem not in args.spec):
            continue
        eager = run(path, args.device, args.batch, args.input, compiled=False)
        try:
            fast = run(path, args.device, args.batch, args.input, compiled=True)
            compiled = f"yes | {fast['first_s']:.1f} | {1000 * float(fast['step_s']):.1f}"  # type: ignore[arg-type]
        except Exception as exc:  # a graph break or a compiler error: recorded, not hidden
            traceback.print_exc()
            compiled = f"no: {type(exc).__name__}: {str(exc).splitlines()[0][:120]} | - | -"
        torch._dynamo.reset()
        lines.append(
            f"| {path.stem} | {float(eager['loss']):.3f} | {1000 * float(eager['step_s']):.1f} | {compiled} |"  # type: ignore[arg-type]
        )
        print(lines[-1], flush=True)
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n")


if __name__ == "__main__":
    main()
