"""Training and evaluation data, framework-neutral: image sets, the Inception crops, data order.

Two sources:

- `digits`: the 8x8 handwritten digits that scikit-learn ships (1,797 images, 10 classes), split
  once into training and validation sets by a fixed seed and upscaled to the network's input by
  the crops below: a real, small data set for demos and tests.
- an ImageFolder directory: `ROOT/train/CLASS/*.jpg` and `ROOT/val/CLASS/*.jpg`, classes in
  sorted order (ImageNet's layout); read with Pillow.

Every image is produced by one crop-and-resize: a box in the source image's pixel coordinates is
resampled to the network's input size, optionally mirrored, and normalised, as the spec's
`input:` says (`archspec.frontend.preprocess`; by default bilinear and [-1, 1], the Inception
preprocessing). Training takes a random box (`random_box`), evaluation the central `crop_pct`
(`central_box`, 87.5 % by default) or the multi-crop sets of `multi_crop_boxes`.

Randomness is a pure function of (seed, epoch, image index), never of a global generator, so a
run resumed mid-epoch sees exactly the images and crops the uninterrupted run would have seen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image

from archspec.errors import ArchspecError
from archspec.frontend.preprocess import Preprocess

# The digits split: 20 % of each class for validation, drawn with a fixed seed so that training
# and `archspec eval` agree on the validation set without being told any training setting.
DIGITS_SPLIT_SEED = 0
DIGITS_VALIDATION_FRACTION = 0.2
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".ppm", ".tif", ".tiff")

Box = tuple[float, float, float, float]  # left, top, right, bottom in source pixels


class DataError(ArchspecError):
    """A data source that cannot be used; the message says why, in one line."""


class ImageSet(Protocol):
    """A labelled image collection: len, class names, and one source image at a time."""

    @property
    def classes(self) -> tuple[str, ...]: ...

    def __len__(self) -> int: ...

    def image(self, index: int) -> Image.Image: ...

    def label(self, index: int) -> int: ...


@dataclass(frozen=True)
class ArrayImages:
    """Images held in memory as a (N, H, W) uint8 array (grayscale) with integer labels."""

    pixels: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.labels)

    def image(self, index: int) -> Image.Image:
        return Image.fromarray(self.pixels[index])  # 2-D uint8: grayscale ("L")

    def label(self, index: int) -> int:
        return int(self.labels[index])


@dataclass(frozen=True)
class FolderImages:
    """An ImageFolder: one subdirectory per class, image files decoded on demand."""

    files: tuple[Path, ...]
    labels: tuple[int, ...]
    classes: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.files)

    def image(self, index: int) -> Image.Image:
        try:
            with Image.open(self.files[index]) as opened:
                opened.load()
                return opened.copy()
        except OSError as exc:  # Pillow's UnidentifiedImageError is an OSError
            raise DataError(f"cannot read image {self.files[index]}: {exc}") from exc

    def label(self, index: int) -> int:
        return self.labels[index]


@dataclass(frozen=True)
class Subset:
    """Some images of another set, by index."""

    base: ImageSet
    indices: tuple[int, ...]

    @property
    def classes(self) -> tuple[str, ...]:
        return self.base.classes

    def __len__(self) -> int:
        return len(self.indices)

    def image(self, index: int) -> Image.Image:
        return self.base.image(self.indices[index])

    def label(self, index: int) -> int:
        return self.base.label(self.indices[index])


def digits_split(seed: int = DIGITS_SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the training and validation images among scikit-learn's 1,797 digits: a seeded
    stratified split, so every class is in the validation set in proportion."""
    from sklearn.datasets import load_digits

    labels = np.asarray(load_digits().target)
    rng = np.random.default_rng(seed)
    train: list[int] = []
    val: list[int] = []
    for digit in range(10):
        members = rng.permutation(np.flatnonzero(labels == digit))
        cut = round(len(members) * DIGITS_VALIDATION_FRACTION)
        val.extend(members[:cut].tolist())
        train.extend(members[cut:].tolist())
    return np.array(sorted(train)), np.array(sorted(val))


def load_digits_split(split: str) -> ArrayImages:
    """The digits of one split as 8x8 grayscale images (0..16 scaled to 0..255)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    train, val = digits_split()
    chosen = train if split == "train" else val
    pixels = np.rint(np.asarray(digits.images)[chosen] * (255.0 / 16.0)).astype(np.uint8)
    return ArrayImages(pixels, np.asarray(digits.target)[chosen].astype(np.int64), tuple(str(d) for d in range(10)))


def load_folder(root: Path) -> FolderImages:
    """An ImageFolder directory; DataError when it has no class directories or no images."""
    if not root.is_dir():
        raise DataError(f"{root} is not a directory")
    classes = tuple(sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")))
    if not classes:
        raise DataError(f"{root} has no class directories (expected {root}/CLASS/IMAGE)")
    files: list[Path] = []
    labels: list[int] = []
    for label, name in enumerate(classes):
        for path in sorted((root / name).rglob("*")):
            if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
                files.append(path)
                labels.append(label)
    if not files:
        raise DataError(f"{root} has class directories but no images ({', '.join(IMAGE_SUFFIXES)})")
    return FolderImages(tuple(files), tuple(labels), classes)


def load(source: str, split: str) -> ImageSet:
    """`digits`, or an ImageFolder root with train/ and val/ (for evaluation, a root without
    val/ is itself the evaluation set)."""
    if split not in ("train", "val"):
        raise ValueError(f"split must be 'train' or 'val', not {split!r}")
    if source == "digits":
        return load_digits_split(split)
    root = Path(source)
    if not root.exists():
        raise DataError(f"data directory {source} does not exist (give an ImageFolder root or 'digits')")
    if (root / split).is_dir():
        return load_folder(root / split)
    if split == "val" and not (root / "train").is_dir():
        return load_folder(root)
    raise DataError(f"{source} has no {split}/ directory (expected {source}/{split}/CLASS/IMAGE)")


def subset(images: ImageSet, limit: int | None, seed: int = 0) -> ImageSet:
    """At most `limit` images, drawn at random (an ImageFolder is sorted by class, so its first
    images would all be of one class)."""
    if limit is None or limit >= len(images):
        return images
    chosen = np.sort(np.random.default_rng(seed).choice(len(images), size=limit, replace=False))
    return Subset(images, tuple(int(i) for i in chosen))


# --- crops -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Augment:
    """The training crop. GoogLeNet's and Inception's: a box of 8 %-100 % of the image's area with
    aspect ratio 3/4-4/3, mirrored half the time."""

    area: tuple[float, float] = (0.08, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip: bool = True


# The crops a recipe names (`recipe.AUGMENTS`): Inception's; half the image or more, unmirrored
# (digits' default); the whole image mirrored half the time; the whole image.
AUGMENTS = {
    "inception": Augment(),
    "light": Augment(area=(0.5, 1.0), flip=False),
    "flip": Augment(area=(1.0, 1.0), ratio=(1.0, 1.0)),
    "none": Augment(area=(1.0, 1.0), ratio=(1.0, 1.0), flip=False),
}
EVAL_FRACTION = 0.875  # the Inception evaluation crop: the central 87.5 % of height and width


def augment_for(name: str) -> Augment:
    return AUGMENTS[name]


def sample_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The generator for one image in one epoch: independent of the order images are visited in."""
    return np.random.default_rng((seed, epoch, index))


def random_box(rng: np.random.Generator, width: int, height: int, augment: Augment) -> Box:
    """A random box of the image with the area and aspect ratio of `augment`; after 10 tries that
    do not fit, the whole image."""
    area = width * height
    log_ratio = (math.log(augment.ratio[0]), math.log(augment.ratio[1]))
    for _ in range(10):
        target = area * rng.uniform(*augment.area)
        ratio = math.exp(rng.uniform(*log_ratio))
        w = math.sqrt(target * ratio)
        h = math.sqrt(target / ratio)
        if w <= width and h <= height:
            left = rng.uniform(0, width - w)
            top = rng.uniform(0, height - h)
            return (left, top, left + w, top + h)
    return (0.0, 0.0, float(width), float(height))


def central_box(width: int, height: int, fraction: float = EVAL_FRACTION) -> Box:
    """The central `fraction` of height and of width (TF's central_crop; not a square)."""
    dx, dy = width * (1 - fraction) / 2, height * (1 - fraction) / 2
    return (dx, dy, width - dx, height - dy)


# GoogLeNet's multi-crop scales: the shorter side resized to 256, 288, 320 and 352 for 224x224
# crops, i.e. to these multiples of the crop size.
MULTI_CROP_SCALES = (256 / 224, 288 / 224, 320 / 224, 352 / 224)
CROP_COUNTS = (1, 12, 144)


def _square_crops(square: Box, crop: float) -> list[Box]:
    """The 4 corners and the centre of a square (crop side `crop`), then the whole square."""
    left, top, right, bottom = square
    cx, cy = (left + right) / 2, (top + bottom) / 2
    corners = [(left, top), (right - crop, top), (left, bottom - crop), (right - crop, bottom - crop)]
    boxes = [(x, y, x + crop, y + crop) for x, y in corners]
    boxes.append((cx - crop / 2, cy - crop / 2, cx + crop / 2, cy + crop / 2))
    boxes.append(square)
    return boxes


def multi_crop_boxes(width: int, height: int, crops: int, crop_pct: float = EVAL_FRACTION) -> list[tuple[Box, bool]]:
    """The evaluation crops of one image as (box, mirrored) pairs.

    1: the central `crop_pct` (`central_box`; 87.5 % by default).
    144 (GoogLeNet, Szegedy et al. 2014, Sec. 10): 4 scales (the shorter side resized to 256, 288,
    320, 352 for a 224 crop, scaled to the input size) x 3 squares of the resized image (left,
    centre, right; top, centre, bottom for portrait images) x 6 crops (4 corners and centre at the
    input size, plus the whole square resized) x 2 (as is and mirrored).
    12: the same at one scale (shorter side 256/224 of the crop, the scale whose centre crop is the
    single crop's 87.5 %) and one square (the central one): 6 crops x 2 mirrors.
    Boxes are in the source image's pixels: resampling once keeps the crops sharp.
    """
    if crops == 1:
        return [(central_box(width, height, crop_pct), False)]
    if crops not in CROP_COUNTS:
        raise ValueError(f"crops must be one of {CROP_COUNTS}, not {crops}")
    short = min(width, height)
    scales = MULTI_CROP_SCALES[:1] if crops == 12 else MULTI_CROP_SCALES
    squares = [_central_square(width, height)] if crops == 12 else _three_squares(width, height)
    boxes: list[tuple[Box, bool]] = []
    for scale in scales:
        crop = short / scale  # the crop size, measured in source pixels at this scale
        for square in squares:
            for box in _square_crops(square, crop):
                boxes.extend([(box, False), (box, True)])
    return boxes


def _central_square(width: int, height: int) -> Box:
    side = min(width, height)
    left, top = (width - side) / 2, (height - side) / 2
    return (left, top, left + side, top + side)


def _three_squares(width: int, height: int) -> list[Box]:
    side = min(width, height)
    if width >= height:
        return [(x, 0.0, x + side, float(side)) for x in (0.0, (width - side) / 2, float(width - side))]
    return [(0.0, y, float(side), y + side) for y in (0.0, (height - side) / 2, float(height - side))]


def in_mode(image: Image.Image, channels: int) -> Image.Image:
    """The image as grayscale ("L") or RGB, to match the network's input channels."""
    if channels not in (1, 3):
        raise DataError(f"the network takes {channels} input channels; images give 1 (grayscale) or 3 (RGB)")
    mode = "L" if channels == 1 else "RGB"
    return image if image.mode == mode else image.convert(mode)


RESAMPLING = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
}


def crop(
    image: Image.Image,
    box: Box,
    size: tuple[int, int],
    channels: int,
    mirror: bool = False,
    preprocess: Preprocess | None = None,
) -> np.ndarray:
    """One crop: `box` resampled to `size` (H, W), mirrored if asked, as a float32 (H, W, C) array
    normalised by `preprocess` (by default to [-1, 1]). Grayscale and colour sources are
    converted to the network's channel count."""
    how = preprocess or Preprocess.default(channels)
    out = in_mode(image, channels).resize((size[1], size[0]), RESAMPLING[how.interpolation], box=box)
    if mirror:
        out = out.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    pixels = np.asarray(out, dtype=np.float32).reshape(size[0], size[1], channels)
    # (pixels / 255 - mean) / std as one multiply-add: with the defaults, pixels * 2/255 - 1.
    scale = np.asarray([1 / (255 * s) for s in how.std], dtype=np.float32)
    offset = np.asarray([-m / s for m, s in zip(how.mean, how.std, strict=True)], dtype=np.float32)
    return pixels * scale + offset


def train_example(
    images: ImageSet,
    index: int,
    epoch: int,
    seed: int,
    size: tuple[int, int],
    channels: int,
    augment: Augment,
    preprocess: Preprocess | None = None,
) -> tuple[np.ndarray, int]:
    """One training image: a random crop, a random mirror, determined by (seed, epoch, index)."""
    rng = sample_rng(seed, epoch, index)
    image = images.image(index)
    box = random_box(rng, image.width, image.height, augment)
    mirror = augment.flip and bool(rng.integers(2))
    return crop(image, box, size, channels, mirror, preprocess), images.label(index)


def eval_crops(
    images: ImageSet,
    index: int,
    size: tuple[int, int],
    channels: int,
    crops: int = 1,
    preprocess: Preprocess | None = None,
) -> np.ndarray:
    """Every evaluation crop of one image, stacked: (crops, H, W, C)."""
    image = in_mode(images.image(index), channels)  # converted once, not once per crop
    crop_pct = preprocess.crop_pct if preprocess else EVAL_FRACTION
    boxes = multi_crop_boxes(image.width, image.height, crops, crop_pct)
    return np.stack([crop(image, box, size, channels, m, preprocess) for box, m in boxes])


def epoch_order(count: int, seed: int, epoch: int, rank: int = 0, world: int = 1) -> np.ndarray:
    """This process's share of one epoch's shuffled order: a function of (seed, epoch) only, cut
    into `world` equal interleaved shares (the tail that does not divide evenly is dropped)."""
    order = np.random.default_rng((seed, epoch)).permutation(count)
    usable = count - count % world
    return order[:usable][rank::world]


def steps_per_epoch(count: int, batch_size: int, world: int = 1) -> int:
    """Full batches per process per epoch (a short last batch would upset batch norm)."""
    return (count // world) // batch_size


def check_classes(images: ImageSet, outputs: int, source: str) -> None:
    """DataError unless the data has as many classes as the network has outputs."""
    if len(images.classes) != outputs:
        raise DataError(f"{source} has {len(images.classes)} classes but the network has {outputs} outputs")
