"""`archspec predict`: the classes a spec's trained weights see in image files.

Each image is prepared as one-crop evaluation prepares it, by the spec's `input:` (the central
`crop_pct`, resized with its interpolation, normalised with its mean and std), and the first
output's softmax gives the top classes, named by the spec's `classes:` where it has them.
"""

from __future__ import annotations

import os
import stat
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from archspec.errors import first_lines, printable
from archspec.limits import MAX_IMAGE_PIXELS
from archspec.training import data

if TYPE_CHECKING:
    from archspec.spec import Spec

BATCH = 32  # images per forward pass


@dataclass(frozen=True)
class Guess:
    index: int
    name: str
    probability: float

    def as_json(self) -> dict[str, object]:
        return {"class": self.index, "name": self.name, "probability": self.probability}


def read_image(path: Path, spec: Spec) -> np.ndarray:
    """One image file as the network's input, (H, W, C); DataError for a file that is not a
    regular file (a FIFO would block), claims more than MAX_IMAGE_PIXELS, or that Pillow cannot
    read (a decompression bomb, a text chunk that inflates past its limit, a truncated file)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise data.DataError(f"cannot read image {printable(str(path))}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as file:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise data.DataError(f"cannot read image {printable(str(path))}: it is not a regular file")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the size is checked below
                image = _opened(file, str(path))
        except data.DataError:
            raise
        except Exception as exc:  # Pillow's errors for a file it cannot read are of many kinds
            raise data.DataError(f"cannot read image {printable(str(path))}: {first_lines(exc)}") from None
    height, width, channels = spec.input_shape
    crop_pct = spec.preprocess.crop_pct if spec.preprocess else data.EVAL_FRACTION
    box = data.central_box(image.width, image.height, crop_pct)
    return data.crop(image, box, (height, width), channels, preprocess=spec.preprocess)


def _opened(file: Any, shown: str) -> Image.Image:
    """The image in an open file, refused before its pixels are decoded where there are too many."""
    with Image.open(file) as opened:  # reads the header only
        if opened.width * opened.height > MAX_IMAGE_PIXELS:
            raise data.DataError(
                f"image {printable(shown)} is {opened.width}x{opened.height}, more than {MAX_IMAGE_PIXELS:,} pixels"
            )
        opened.load()
        return opened.copy()


def batches(paths: list[str], spec: Spec) -> Iterator[tuple[list[str], np.ndarray]]:
    """The images, BATCH at a time, each batch's paths and its (N, H, W, C) inputs: never more
    than one batch of images in memory."""
    for start in range(0, len(paths), BATCH):
        chunk = paths[start : start + BATCH]
        yield chunk, np.stack([read_image(Path(path), spec) for path in chunk])


def scorer(spec: Spec, weights: dict[str, np.ndarray], backend: str) -> Callable[[np.ndarray], np.ndarray]:
    """The model of `spec` with `weights`, as a function from NHWC inputs to the first output's
    softmax scores, (N, classes)."""
    if backend == "tf":
        from archspec.backends import tensorflow as btf
        from archspec.training.tensorflow.evaluate import predictor

        model = btf.build(spec)
        btf.set_weights(model, weights, spec=spec)
        scores: Callable[[np.ndarray], np.ndarray] = predictor(model)
        return scores
    import torch

    from archspec.backends import torch as bt
    from archspec.training.torch.evaluate import probabilities as torch_probabilities

    net = bt.build(spec).eval()
    bt.set_weights(net, weights)

    def torch_scores(inputs: np.ndarray) -> np.ndarray:
        nchw = torch.from_numpy(np.ascontiguousarray(inputs.transpose(0, 3, 1, 2)))
        found: np.ndarray = torch_probabilities([net], nchw[:, None]).numpy()
        return found

    return torch_scores


def top(spec: Spec, scores: np.ndarray, k: int) -> list[Guess]:
    """The k most probable classes of one image's scores, most probable first."""
    order = np.argsort(-scores, kind="stable")[:k]
    names = spec.classes
    return [Guess(int(i), names[i] if names else f"class {int(i)}", float(scores[i])) for i in order]
