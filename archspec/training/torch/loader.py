"""The data of `archspec.training.data` as PyTorch batches: NCHW float tensors and int64 labels.

A training item is addressed by (epoch, image index), so its random crop depends on nothing else
and loader workers, resumption and the number of processes leave it unchanged. The order is
DistributedSampler's: a permutation drawn from (seed, epoch), shared out among the processes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from archspec.frontend.preprocess import Preprocess
from archspec.training import data


class TrainImages(Dataset[tuple[torch.Tensor, int]]):
    def __init__(
        self,
        images: data.ImageSet,
        size: tuple[int, int],
        channels: int,
        augment: data.Augment,
        seed: int,
        preprocess: Preprocess | None = None,
    ) -> None:
        self.images, self.size, self.channels, self.augment, self.seed = images, size, channels, augment, seed
        self.preprocess = preprocess

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, item: tuple[int, int]) -> tuple[torch.Tensor, int]:
        epoch, index = item
        pixels, label = data.train_example(
            self.images, index, epoch, self.seed, self.size, self.channels, self.augment, self.preprocess
        )
        return torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1))), label


class EvalImages(Dataset[tuple[torch.Tensor, int]]):
    """Every evaluation crop of an image, as one (crops, C, H, W) tensor."""

    def __init__(
        self,
        images: data.ImageSet,
        size: tuple[int, int],
        channels: int,
        crops: int = 1,
        preprocess: Preprocess | None = None,
    ) -> None:
        self.images, self.size, self.channels, self.crops, self.preprocess = images, size, channels, crops, preprocess

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        pixels = data.eval_crops(self.images, index, self.size, self.channels, self.crops, self.preprocess)
        return torch.from_numpy(np.ascontiguousarray(pixels.transpose(0, 3, 1, 2))), self.images.label(index)


def epoch_order(count: int, seed: int, epoch: int, rank: int, world: int) -> list[int]:
    """This process's image indices for one epoch, in order (the tail that does not divide evenly
    among the processes is dropped, as every process must take the same number of steps)."""
    everything: Any = range(count)  # the sampler needs only len()
    sampler: DistributedSampler[int] = DistributedSampler(
        everything, num_replicas=world, rank=rank, shuffle=True, seed=seed, drop_last=True
    )
    sampler.set_epoch(epoch)
    return list(sampler)


def train_loader(
    dataset: TrainImages, epoch: int, order: list[int], start: int, batch_size: int, workers: int, pin: bool
) -> DataLoader[tuple[torch.Tensor, int]]:
    """Full batches of `order` from batch number `start` on."""
    items = [(epoch, index) for index in order[start * batch_size :]]
    return DataLoader(
        dataset, batch_size=batch_size, sampler=items, drop_last=True, num_workers=workers, pin_memory=pin
    )


def eval_loader(
    dataset: EvalImages, indices: list[int], batch_size: int, workers: int, pin: bool
) -> DataLoader[tuple[torch.Tensor, int]]:
    """Batches of `batch_size` crops (at least one image each), in order."""
    images_per_batch = max(1, batch_size // dataset.crops)
    return DataLoader(dataset, batch_size=images_per_batch, sampler=indices, num_workers=workers, pin_memory=pin)
