"""One process's place in a training job: a single process, or one of several started by
`torchrun` (which sets RANK, LOCAL_RANK and WORLD_SIZE). Several processes use NCCL on GPUs and
gloo on CPUs; metrics are summed over all of them, and only rank 0 writes logs and checkpoints.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.distributed as dist

from archspec.backends.torch.live import Network


@dataclass(frozen=True)
class Cluster:
    rank: int
    world: int
    device: torch.device
    owns_group: bool = False  # whether this object started the process group (and ends it)

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1

    @classmethod
    def from_env(cls) -> Cluster:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        cuda = torch.cuda.is_available()
        if world <= 1:
            return cls(0, 1, torch.device("cuda" if cuda else "cpu"))
        rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
        device = torch.device("cuda", local_rank) if cuda else torch.device("cpu")
        if cuda:
            torch.cuda.set_device(device)
        owns = not dist.is_initialized()
        if owns:
            dist.init_process_group("nccl" if cuda else "gloo")
        return cls(rank, world, device, owns)

    def sum(self, values: Sequence[float]) -> list[float]:
        """Element-wise sums over every process (float64, so counts stay exact)."""
        if not self.distributed:
            return [float(v) for v in values]
        tensor = torch.tensor(list(values), dtype=torch.float64, device=self.device)
        dist.all_reduce(tensor)
        return [float(v) for v in tensor.tolist()]

    def any(self, flag: bool) -> bool:
        """True on every process when it is true on one: all stop at the same step."""
        return self.sum([1.0 if flag else 0.0])[0] > 0 if self.distributed else flag

    def broadcast(self, tensors: Sequence[torch.Tensor]) -> None:
        """Give every process rank 0's values of these tensors."""
        if self.distributed:
            for tensor in tensors:
                dist.broadcast(tensor, src=0)

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def place(self, model: Network) -> Network:
        """The model on this process's device, in channels_last (faster convolutions)."""
        model.to(self.device)
        model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # missing from torch's stubs
        return model

    def close(self) -> None:
        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()
