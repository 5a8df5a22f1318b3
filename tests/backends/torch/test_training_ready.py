"""The built PyTorch models are ready for training: channels_last, bf16 autocast, a full-graph
torch.compile capture, the paper's optimiser with gradient clipping, and DistributedDataParallel
without unused parameters. (Speed on a GPU is measured by the benchmarks, not here.)"""

from __future__ import annotations

import os
import socket

import pytest

import archspec

torch = pytest.importorskip("torch")
bt = pytest.importorskip("archspec.backends.torch")

from support import ROOT  # noqa: E402

SMALL = ROOT / "specs" / "examples" / "inception_v4_small.yaml"


def small_model(seed: int = 0) -> torch.nn.Module:
    """Inception-v4 with 2/3/1 blocks and 10 classes, at 75x75, the smallest input it takes."""
    torch.manual_seed(seed)
    return bt.build(archspec.load(SMALL, input_shape=(75, 75, 3)))


def paper_optimizer(model: torch.nn.Module) -> torch.optim.Optimizer:
    """RMSProp with decay 0.9 and epsilon 1.0 (paper Sec. 4), momentum 0.9 (TF-slim)."""
    return torch.optim.RMSprop(model.parameters(), lr=0.045, alpha=0.9, eps=1.0, momentum=0.9)


def train_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor) -> float:
    optimizer.zero_grad(set_to_none=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 2.0)
    optimizer.step()
    return float(loss.detach())


def test_channels_last_gives_the_same_outputs() -> None:
    model = small_model()
    model.eval()
    x = torch.randn(2, 3, 75, 75)
    with torch.no_grad():
        expected = model(x)
        model = model.to(memory_format=torch.channels_last)
        got = model(x.to(memory_format=torch.channels_last))
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


def test_bf16_training_step_with_clipping_changes_every_parameter() -> None:
    model = small_model()
    model.train()
    model = model.to(memory_format=torch.channels_last)
    optimizer = paper_optimizer(model)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    x = torch.randn(4, 3, 75, 75).to(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (4,))
    losses = [train_step(model, optimizer, x, y) for _ in range(2)]
    assert all(torch.isfinite(torch.tensor(losses)))
    unchanged = [name for name, p in model.named_parameters() if p.requires_grad and torch.equal(p, before[name])]
    assert unchanged == []  # every parameter takes part: DDP needs no find_unused_parameters


def test_torch_compile_captures_the_whole_graph() -> None:
    """fullgraph=True fails on any graph break; the eager backend checks capture without the
    cost of generating kernels (the GPU benchmark compiles with inductor)."""
    model = small_model()
    model.eval()
    compiled = torch.compile(model, fullgraph=True, backend="eager")
    x = torch.randn(2, 3, 75, 75)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), model(x))
    torch._dynamo.reset()


def test_torch_compile_captures_forward_and_backward() -> None:
    model = small_model()
    model.train()
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    x, y = torch.randn(2, 3, 75, 75), torch.randint(0, 10, (2,))
    loss = torch.nn.functional.cross_entropy(compiled(x), y)
    loss.backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    torch._dynamo.reset()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ddp_worker(rank: int, world: int, port: int, results: dict[int, list[float]]) -> None:
    os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"] = "127.0.0.1", str(port)
    torch.distributed.init_process_group("gloo", rank=rank, world_size=world)
    try:
        model = small_model(seed=0)
        ddp = torch.nn.parallel.DistributedDataParallel(model, find_unused_parameters=False)
        optimizer = paper_optimizer(ddp)
        generator = torch.Generator().manual_seed(rank)
        for _ in range(2):
            x, y = torch.randn(2, 3, 75, 75, generator=generator), torch.randint(0, 10, (2,), generator=generator)
            train_step(ddp, optimizer, x, y)
        results[rank] = [float(p.detach().double().sum()) for p in model.parameters()]
    finally:
        torch.distributed.destroy_process_group()


def test_distributed_data_parallel_keeps_replicas_identical() -> None:
    """Two gloo processes on different data: after two steps the replicas are still equal,
    so every gradient was all-reduced (an unused parameter would have stopped DDP)."""
    import torch.multiprocessing as mp

    with mp.Manager() as manager:
        results = manager.dict()
        mp.spawn(_ddp_worker, args=(2, _free_port(), results), nprocs=2, join=True)
        assert results[0] == results[1]
