"""The spec's input metadata and class names: how they are written, checked, inherited and used
by the data pipeline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import archspec
from archspec.errors import SpecError
from archspec.frontend.preprocess import Preprocess

NETWORK = "network:\n  - {op: global_avgpool}\n  - {op: dense, units: 3}\n"


def spec_text(input_line: str, extra: str = "") -> str:
    return f"archspec: 1\ninput: {input_line}\n{extra}{NETWORK}"


def test_input_metadata_and_its_defaults() -> None:
    given = archspec.load(
        spec_text("{shape: 8x8x3, mean: [0.4, 0.5, 0.6], std: 0.25, interpolation: bicubic, crop_pct: 0.9}")
    )
    assert given.preprocess == Preprocess((0.4, 0.5, 0.6), (0.25, 0.25, 0.25), "bicubic", 0.9)
    assert archspec.load(spec_text("{shape: 8x8x1}")).preprocess == Preprocess((0.5,), (0.5,), "bilinear", 0.875)


@pytest.mark.parametrize(
    ("input_line", "message"),
    [
        (
            "{shape: 8x8x3, mean: [0.4, 0.5]}",
            "<string>:2:29: error: input mean has 2 values but the input has 3 channels",
        ),
        (
            "{shape: 8x8x3, std: [1, 0, 1]}",
            "<string>:2:28: error: input std must be at least 1.18e-38 in every channel",
        ),
        ("{shape: 8x8x3, std: 1.0e-300}", "<string>:2:28: error: input std must be at least 1.18e-38 in every channel"),
        ("{shape: 8x8x3, crop_pct: 1.5}", "<string>:2:33: error: 'crop_pct': 1.5 is greater than the maximum of 1"),
        ("{shape: 8x8x3, interpolation: lanczos}", "<string>:2:38: error: 'interpolation': 'lanczos' is not one of"),
        ("{mean: 0.5}", "<string>:2:8: error: spec has no input shape"),
    ],
)
def test_bad_input_metadata_is_a_located_error(input_line: str, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        archspec.load(spec_text(input_line))
    assert str(caught.value).startswith(message)


def test_a_variant_changes_part_of_the_input_and_inherits_the_rest(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(spec_text("{shape: 8x8x3, interpolation: bicubic, crop_pct: 0.9}"))
    (tmp_path / "variant.yaml").write_text("archspec: 1\nextends: base.yaml\ninput: {crop_pct: 0.8}\n")
    variant = archspec.load(tmp_path / "variant.yaml")
    assert (variant.input_shape, variant.preprocess.interpolation, variant.preprocess.crop_pct) == (
        (8, 8, 3),
        "bicubic",
        0.8,
    )


def test_the_bundled_specs_follow_their_references() -> None:
    assert archspec.load("inception_resnet_v2").preprocess == Preprocess((0.5,) * 3, (0.5,) * 3, "bicubic", 0.8975)
    resnet = archspec.load("resnet50").preprocess
    assert (resnet.mean, resnet.std, resnet.interpolation) == ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225), "bilinear")
    assert archspec.load("examples/inception_resnet_v2_tiny").classes == tuple("0123456789")


def test_classes_from_a_list_or_a_file(tmp_path: Path) -> None:
    listed = archspec.load(spec_text("{shape: 8x8x3}", "classes: [cat, dog, bird]\n"))
    assert listed.classes == ("cat", "dog", "bird")
    (tmp_path / "names.txt").write_text("cat\n\n  dog  \nbird\n")
    (tmp_path / "filed.yaml").write_text(spec_text("{shape: 8x8x3}", "classes: names.txt\n"))
    assert archspec.load(tmp_path / "filed.yaml").classes == ("cat", "dog", "bird")
    assert archspec.load(spec_text("{shape: 8x8x3}")).classes is None


@pytest.mark.parametrize(
    ("classes", "message"),
    [
        ("[cat, dog]", "<string>:3:10: error: 2 class names for an output of 3 units"),
        ("[cat, dog, cat]", "<string>:3:10: error: class 'cat' is named twice"),
        ("../outside.txt", "<string>:3:10: error: '../outside.txt' is outside the spec roots"),
        ("missing.txt", "<string>:3:10: error: class file 'missing.txt' not found"),
    ],
)
def test_bad_classes_are_located_errors(
    classes: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SpecError) as caught:
        archspec.load(spec_text("{shape: 8x8x3}", f"classes: {classes}\n"))
    assert str(caught.value).startswith(message)


def test_the_pipeline_resizes_and_normalises_as_the_spec_says() -> None:
    from PIL import Image

    from archspec.training import data

    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 256, (40, 30, 3), dtype=np.uint8))
    how = Preprocess((0.485, 0.456, 0.406), (0.229, 0.224, 0.225), "bicubic", 0.9)
    box = data.central_box(image.width, image.height, how.crop_pct)
    expected_pixels = np.asarray(image.resize((16, 12), Image.Resampling.BICUBIC, box=box), dtype=np.float64)
    expected = (expected_pixels / 255 - np.array(how.mean)) / np.array(how.std)
    ((got_box, mirrored),) = data.multi_crop_boxes(image.width, image.height, 1, how.crop_pct)
    assert got_box == box == pytest.approx((1.5, 2.0, 28.5, 38.0)) and not mirrored
    actual = data.crop(image, got_box, (12, 16), 3, preprocess=how)
    assert actual.shape == (12, 16, 3) and np.abs(actual - expected).max() < 1e-5
    bilinear = data.crop(image, got_box, (12, 16), 3, preprocess=Preprocess(how.mean, how.std, "bilinear", 0.9))
    assert np.abs(bilinear - actual).max() > 1e-2  # the interpolation is used, not ignored
