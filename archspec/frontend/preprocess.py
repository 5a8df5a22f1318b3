"""How images become the network's input: the spec's `input:` beside its shape, as timm's model
configs and Keras Applications' `preprocess_input` say it.

    input: {shape: 299x299x3, mean: 0.5, std: 0.5, interpolation: bicubic, crop_pct: 0.875}

A crop of an image is resized to the input's height and width with `interpolation`, its pixels
scaled to [0, 1], and each channel c becomes (pixel - mean[c]) / std[c]. One-crop evaluation and
`archspec predict` take the central `crop_pct` of the image's height and width. The defaults
(0.5, 0.5, bilinear, 0.875) are the Inception preprocessing: pixels in [-1, 1].
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from archspec.errors import Collector

INTERPOLATIONS = ("nearest", "bilinear", "bicubic")
DEFAULT_MEAN = 0.5
DEFAULT_STD = 0.5
DEFAULT_INTERPOLATION = "bilinear"
DEFAULT_CROP_PCT = 0.875
SMALLEST_STD = 1.1754943508222875e-38  # the smallest normal float32: the models divide by it in float32


@dataclass(frozen=True)
class Preprocess:
    mean: tuple[float, ...]
    std: tuple[float, ...]
    interpolation: str = DEFAULT_INTERPOLATION
    crop_pct: float = DEFAULT_CROP_PCT

    @classmethod
    def default(cls, channels: int) -> Preprocess:
        return cls((DEFAULT_MEAN,) * channels, (DEFAULT_STD,) * channels)

    def as_json(self) -> dict[str, Any]:
        return {
            "mean": list(self.mean),
            "std": list(self.std),
            "interpolation": self.interpolation,
            "crop_pct": self.crop_pct,
        }


def from_input(written: Any, channels: int, errors: Collector, at: Any) -> Preprocess:
    """The preprocessing a spec's (schema-checked) `input:` mapping gives; a mean or std list must
    have one value per channel, and a std must be positive. `at(key)` is a key's position."""
    values = {}
    for key, default in (("mean", DEFAULT_MEAN), ("std", DEFAULT_STD)):
        given = written.get(key, default)
        numbers = [float(v) for v in given] if isinstance(given, list) else [float(given)] * channels
        if len(numbers) != channels:
            errors.error(at(key), f"input {key} has {len(numbers)} values but the input has {channels} channels")
            numbers = [default] * channels
        if key == "std" and not all(v >= SMALLEST_STD and math.isfinite(v) for v in numbers):
            errors.error(
                at(key),
                f"input std must be at least {SMALLEST_STD:.3g} in every channel: a smaller one is 0 in float32, "
                "and every pixel divided by it infinite",
            )
            numbers = [default] * channels
        values[key] = tuple(numbers)
    return Preprocess(
        values["mean"],
        values["std"],
        str(written.get("interpolation", DEFAULT_INTERPOLATION)),
        float(written.get("crop_pct", DEFAULT_CROP_PCT)),
    )
