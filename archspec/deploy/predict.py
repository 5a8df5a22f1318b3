"""`archspec predict`: the classes a spec's trained weights see in image files.

Each image is prepared as one-crop evaluation prepares it, by the spec's `input:` (the central
`crop_pct`, resized with its interpolation, normalised with its mean and std), and the first
output's softmax gives the top classes, named by the spec's `classes:` where it has them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from archspec.training import data

if TYPE_CHECKING:
    from archspec.spec import Spec

BATCH = 32  # images per forward pass


@dataclass(frozen=True)
class Guess:
    index: int
    name: str
    probability: float


def read_image(path: Path, spec: Spec) -> np.ndarray:
    """One image file as the network's input, (H, W, C); DataError for a file Pillow cannot read
    (a decompression bomb among them)."""
    try:
        with Image.open(path) as opened:
            opened.load()
            image = opened.copy()
    except (OSError, Image.DecompressionBombError) as exc:  # UnidentifiedImageError is an OSError
        raise data.DataError(f"cannot read image {path}: {exc}") from None
    height, width, channels = spec.input_shape
    crop_pct = spec.preprocess.crop_pct if spec.preprocess else data.EVAL_FRACTION
    box = data.central_box(image.width, image.height, crop_pct)
    return data.crop(image, box, (height, width), channels, preprocess=spec.preprocess)


def read_images(paths: list[Path], spec: Spec) -> np.ndarray:
    """The images as one (N, H, W, C) batch of inputs."""
    return np.stack([read_image(path, spec) for path in paths])


def probabilities(spec: Spec, weights: dict[str, np.ndarray], inputs: np.ndarray, backend: str) -> np.ndarray:
    """Softmax scores of the first output for NHWC inputs, (N, classes)."""
    if backend == "tf":
        from archspec.backends import tensorflow as btf
        from archspec.training.tensorflow.evaluate import predictor

        model = btf.build(spec)
        btf.set_weights(model, weights, spec=spec)
        scores = predictor(model)
        return np.concatenate([scores(inputs[i : i + BATCH]) for i in range(0, len(inputs), BATCH)])
    import torch

    from archspec.backends import torch as bt
    from archspec.training.torch.evaluate import probabilities as torch_probabilities

    net = bt.build(spec).eval()
    bt.set_weights(net, weights)
    nchw = torch.from_numpy(np.ascontiguousarray(inputs.transpose(0, 3, 1, 2)))
    parts = [torch_probabilities([net], nchw[i : i + BATCH, None]) for i in range(0, len(nchw), BATCH)]
    return torch.cat(parts).numpy()


def top(spec: Spec, scores: np.ndarray, k: int) -> list[Guess]:
    """The k most probable classes of one image's scores, most probable first."""
    order = np.argsort(-scores, kind="stable")[:k]
    names = spec.classes
    return [Guess(int(i), names[i] if names else f"class {int(i)}", float(scores[i])) for i in order]
