"""The time of one training step of each of several specs, measured in one process, interleaved
(`archspec sweep --measure torch`).

The step is the trainer's: forward, the recipe's loss, backward, gradient clipping and RMSProp,
on synthetic images and labels, channels_last; on a GPU under bf16 autocast, as the benchmarks
run. The specs are timed in rounds, one after another, every other round in reverse order, and
each spec's median round counts: whatever drifts during a run (clock speed, other processes, a
warming cache) falls on every spec alike, so the times compare side by side. Only one model
lives at a time: each round builds it again (from the same seed), warms it with one step, and
times `steps` more.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Sequence

import torch

from archspec.backends.torch import build
from archspec.spec import Spec
from archspec.training.recipe import Recipe
from archspec.training.runs import TrainingError
from archspec.training.torch.train import loss_of, make_optimizer


def free_bytes(device: torch.device) -> int | None:
    """The free memory of a CUDA device, where torch can tell it."""
    return int(torch.cuda.mem_get_info(device)[0]) if device.type == "cuda" else None


def device_of(name: str) -> torch.device:
    """`cpu` or `cuda` (`torch:cuda` on the command line); TrainingError when it is not there."""
    if name not in ("cpu", "cuda"):
        raise TrainingError(f"--measure takes torch or torch:cuda, not torch:{name}")
    if name == "cuda" and not torch.cuda.is_available():
        raise TrainingError("--measure torch:cuda: this machine's torch sees no CUDA device")
    return torch.device(name)


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _seconds_per_step(spec: Spec, device: torch.device, batch: int, steps: int) -> float:
    recipe = Recipe()
    torch.manual_seed(0)
    model = build(spec).to(device).to(memory_format=torch.channels_last).train()  # type: ignore[call-overload]
    optimizer = make_optimizer(model, recipe)
    height, width, channels = spec.input_shape
    images = torch.randn(batch, channels, height, width, device=device).contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, spec.output_shape[-1], (batch,), device=device)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            outputs = model(images)
        torch.autograd.backward(loss_of(outputs, labels, recipe))
        torch.nn.utils.clip_grad_norm_(model.parameters(), recipe.clip_norm)
        optimizer.step()

    step()  # the first step allocates the optimizer's slots and warms the allocator
    _synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    _synchronize(device)
    return (time.perf_counter() - start) / steps


def measure(
    specs: Sequence[Spec],
    device: torch.device,
    batch: int,
    steps: int,
    rounds: int,
    advance: Callable[[], None] = lambda: None,
) -> list[float]:
    """Seconds per training step of each spec, the median of `rounds` interleaved rounds;
    `advance` is called after each spec of each round (a progress bar's)."""
    for spec in specs:
        if len(spec.output_shape) != 1:
            raise TrainingError(f"'{spec.name}' does not end in class scores, so it has no training step to time")
    times: list[list[float]] = [[] for _ in specs]
    order = list(range(len(specs)))
    for round_ in range(rounds):
        for index in order if round_ % 2 == 0 else reversed(order):
            times[index].append(_seconds_per_step(specs[index], device, batch, steps))
            gc.collect()  # the model of this point goes before the next is built
            if device.type == "cuda":
                torch.cuda.empty_cache()
            advance()
    return [statistics.median(found) for found in times]
