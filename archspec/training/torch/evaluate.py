"""Evaluation as the Inception papers do it: softmax scores averaged over crops (1, 12 or 144, see
`archspec.training.data.multi_crop_boxes`) and over the models of an ensemble, then top-1 and top-5 error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from archspec.backends.torch import build, set_weights
from archspec.backends.torch.live import Network
from archspec.frontend.preprocess import Preprocess
from archspec.spec import Spec
from archspec.training import data
from archspec.training.log import progress
from archspec.training.metrics import EMPTY, Totals, totals
from archspec.training.torch.distributed import Cluster
from archspec.training.torch.loader import EvalImages, eval_loader

EVAL_BATCH = 64  # crops per forward pass; training and `archspec eval` use the same


def main_output(outputs: torch.Tensor | tuple[torch.Tensor, ...]) -> torch.Tensor:
    """The classifier's logits: the spec's first output (later ones are auxiliary heads)."""
    return outputs[0] if isinstance(outputs, tuple) else outputs


@torch.no_grad()
def probabilities(models: Sequence[Network], crops: torch.Tensor) -> torch.Tensor:
    """Softmax scores of a (images, crops, C, H, W) batch averaged over crops and models."""
    images, per_image = crops.shape[:2]
    flat = crops.flatten(0, 1).contiguous(memory_format=torch.channels_last)
    total = torch.zeros((), device=crops.device)
    for model in models:
        scores = torch.softmax(main_output(model(flat)).float(), dim=1)
        total = total + scores.view(images, per_image, -1).mean(1)
    return total / len(models)


def evaluate(
    models: Sequence[Network],
    images: data.ImageSet,
    size: tuple[int, int],
    channels: int,
    device: torch.device,
    crops: int = 1,
    indices: Sequence[int] | None = None,
    workers: int = 0,
    bar: Any = None,
    preprocess: Preprocess | None = None,
) -> Totals:
    """Evaluate `models` (in eval mode) on the images at `indices` (all by default), updating
    the progress `bar` if given."""
    for model in models:
        model.eval()
    dataset = EvalImages(images, size, channels, crops, preprocess)
    chosen = list(range(len(images)) if indices is None else indices)
    loader = eval_loader(dataset, chosen, EVAL_BATCH, workers, pin=device.type == "cuda")
    result = EMPTY
    for batch, labels in loader:
        probs = probabilities(models, batch.to(device, non_blocking=True))
        result = result + totals(probs.cpu().numpy(), labels.numpy())
        if bar is not None:
            bar.update(len(labels))
    return result


def evaluate_weights(
    spec: Spec, members: Sequence[dict[str, np.ndarray]], images: data.ImageSet, crops: int = 1, workers: int = 0
) -> dict[str, float]:
    """Top-1 and top-5 error (and accuracy, and loss) of one set of neutral weights or the
    ensemble of several; ValueError when weights do not fit the spec."""
    cluster = Cluster(0, 1, torch.device("cuda" if torch.cuda.is_available() else "cpu"))  # one process
    models = []
    for weights in members:
        model = cluster.place(build(spec))
        set_weights(model, weights)
        models.append(model)
    height, width, channels = spec.input_shape
    bar = progress(len(images), f"eval, {crops} crop{'s' if crops > 1 else ''}")
    try:
        result = evaluate(
            models, images, (height, width), channels, cluster.device, crops, None, workers, bar, spec.preprocess
        )
    finally:
        bar.close()
    return {**result.errors(), **result.metrics()}
