"""The bundled specs, as the tests and the golden-file script see them, and helpers the tests share."""

from __future__ import annotations

import importlib.util
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import archspec
from archspec.analysis.summary import table
from archspec.bundled import list_specs, spec_path
from archspec.errors import SpecError

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
GOLDEN = TESTS / "golden"
NETWORKS = [p for p in map(spec_path, list_specs()) if p.parent.name != "errata"]
ERRATA = [p for p in map(spec_path, list_specs()) if p.parent.name == "errata"]
SMALL_INPUT = (107, 107, 3)  # quick, and every bundled network but one fits


def fits(path: Path, input_shape: tuple[int, int, int]) -> bool:
    try:
        archspec.load(path, input_shape=input_shape)
    except SpecError:
        return False
    return True


# inception_v3_aux's auxiliary head (a 5x5 stride-3 pool, then a 5x5 valid conv) needs the 17x17
# grid of its native 299x299 input; tests/test_torchvision_reference.py checks it at that size.
SMALL_NETWORKS = [p for p in NETWORKS if fits(p, SMALL_INPUT)]


def golden_text(path: Path) -> str:
    """What the golden file of a bundled spec holds: its block table and its node table,
    or, for an errata spec, the errors that check reports."""
    try:
        summary = archspec.load(path).summary()
    except SpecError as exc:
        return str(exc) + "\n"
    return table(summary) + "\n\n" + table(summary, detail=True) + "\n"


def state_dict_text(path: Path) -> str:
    """What the state_dict golden file of a bundled spec holds: each key of its PyTorch model's
    state_dict, in order, with the tensor's shape. Weight files written by any earlier version
    load as long as these stay."""
    from archspec.backends import torch as bt

    state = bt.build(archspec.load(path)).state_dict()
    return "".join(f"{key} {'x'.join(map(str, value.shape)) or '()'}\n" for key, value in state.items())


def golden_path(path: Path) -> Path:
    prefix = "" if path.parent.name == "specs" else f"{path.parent.name}__"
    return GOLDEN / f"{prefix}{path.stem}.txt"


def state_dict_path(path: Path) -> Path:
    return GOLDEN / "state_dict" / golden_path(path).name


def load_generated(source: str, path: Path) -> ModuleType:
    """Write generated source to `path` and import it as a module."""
    path.write_text(source)
    name = f"_generated_{path.stem}"  # never the name of a test helper module (`hostile`, say)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


def ruff_accepts(folder: Path) -> None:
    """`ruff check` and `ruff format --check`, with default settings, pass on every file there."""
    for command in (["check"], ["format", "--check"]):
        found = subprocess.run(
            [sys.executable, "-m", "ruff", *command, "--isolated", "--no-cache", str(folder)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert found.returncode == 0, found.stdout + found.stderr


def assert_same_outputs(got: Any, expected: Any) -> None:
    """Two torch models' outputs (a tensor, or a tuple of them) are equal up to float32 rounding."""
    import torch

    got = list(got) if isinstance(got, (tuple, list)) else [got]
    expected = list(expected) if isinstance(expected, (tuple, list)) else [expected]
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def tools_accept(model: Any, input_shape: tuple[int, int, int]) -> None:
    """torch.fx, torch.export with a dynamic batch and a full-graph torch.compile each compute
    what the eager model does (export at another batch size too; the fx graph at another input
    size where the network takes one: it computes any padding from each input's size)."""
    import torch

    same = assert_same_outputs
    model.eval()
    height, width, channels = input_shape
    x, other_batch = torch.randn(2, channels, height, width), torch.randn(3, channels, height, width)
    with torch.no_grad():
        expected = model(x)
        traced = torch.fx.symbolic_trace(model)
        same(traced(x), expected)
        batch = torch.export.Dim("batch", min=1, max=64)
        exported = torch.export.export(model, (x,), dynamic_shapes=({0: batch},)).module()
        same(exported(x), expected)
        same(exported(other_batch), model(other_batch))
        compiled = torch.compile(model, fullgraph=True, backend="eager")
        same(compiled(x), expected)
        torch._dynamo.reset()
        bigger = torch.randn(1, channels, height + 1, width + 3)
        try:
            expected = model(bigger)
        except RuntimeError:  # a flatten or a fixed-size head: the network takes one input size
            return
        same(traced(bigger), expected)


def randomize_batch_norm(model: Any, seed: int = 0) -> None:
    """Random running statistics for every batch norm of a torch model, and random gamma and beta
    where they are trained (a batch norm without `scale` or `center` keeps its frozen 1 or 0), so
    that eval outputs test how the statistics are mapped or folded."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                n = module.num_features
                module.running_mean.copy_(torch.rand(n, generator=generator) - 0.5)
                module.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
                if module.weight.requires_grad:
                    module.weight.copy_(torch.rand(n, generator=generator) + 0.5)
                if module.bias.requires_grad:
                    module.bias.copy_(torch.rand(n, generator=generator) - 0.5)


class Overtime(BaseException):
    """Raised by `deadline`; a BaseException, so that no `except Exception` can swallow it."""


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise Overtime in the block if it runs longer than `seconds` (SIGALRM; the main thread)."""

    def expire(signum: int, frame: object) -> None:
        raise Overtime(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_archspec(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The command line as a user runs it, in its own process: exit status, stdout, stderr."""
    command = [sys.executable, "-m", "archspec", *map(str, args)]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)


def make_folder(root: Path, classes: tuple[str, ...] = ("cat", "ant"), per_class: int = 3) -> None:
    """An image folder (`train/CLASS/N.png`, `val/...`) of random 24x18 RGB images."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for name in classes:
            (root / split / name).mkdir(parents=True)
            for i in range(per_class):
                pixels = rng.integers(0, 256, (18, 24, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(root / split / name / f"{i}.png")


def machine_threads(env: dict[str, str]) -> dict[str, str]:
    """`env` without the one-thread pins that tests/conftest.py gives each pytest-xdist worker: for
    a command whose printed numbers depend on how many threads compute them (the README's training
    shows what it prints on 2 cores)."""
    pinned = [name for name in env.get("ARCHSPEC_TEST_PINNED", "").split(",") if name]
    return {name: value for name, value in env.items() if name not in pinned}
