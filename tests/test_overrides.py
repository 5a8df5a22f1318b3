"""`--set KEY=VALUE`: overrides merge over the spec like a variant, are checked like a spec, and a
bad one is a located error that names it, with exit status 1 (2 for one that is not KEY=VALUE)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import archspec
from archspec.errors import SpecError


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "archspec", *args], cwd=cwd, capture_output=True, text=True)


def test_overrides_equal_the_variant_that_writes_them(tmp_path: Path) -> None:
    (tmp_path / "variant.yaml").write_text(
        "archspec: 1\nextends: archspec:inception_resnet_v2.yaml\nparams: {num_classes: 10}\n"
        "input: {shape: [149, 149, 3]}\nblocks: {block35: {params: {scale: 0.2}}}\n"
    )
    variant = archspec.load(tmp_path / "variant.yaml")
    changed = archspec.load(
        "inception_resnet_v2",
        overrides=["params.num_classes=10", "input.shape=[149, 149, 3]", "blocks.block35.params.scale=0.2"],
    )
    assert (changed.input_shape, changed.output_shape) == ((149, 149, 3), (10,))
    assert changed.summary()["nodes"] == variant.summary()["nodes"]
    # Later overrides win, and the input's other settings stay.
    later = archspec.load("inception_resnet_v2", overrides=["input.crop_pct=0.8", "input.crop_pct=0.9"])
    assert (later.preprocess.crop_pct, later.preprocess.interpolation, later.input_shape) == (
        0.9,
        "bicubic",
        (299, 299, 3),
    )


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "params.num_classes=abc",
            "--set params.num_classes:1:1: error: 'units' must be a positive integer, got 'abc'",
        ),
        ("input.shape=[0, 1]", "--set input.shape:1:1: error: 'shape' must be an input shape"),
        ("nonsense.x=1", "--set nonsense.x:1:1: error: unknown key 'nonsense' here"),
        ("input.shape=[149, 149", "--set input.shape:1:"),
        ("params.num_classes=" + "[" * 200, "--set params.num_classes:1:"),
    ],
)
def test_a_bad_override_is_a_located_error(override: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        archspec.load("inception_v4", overrides=[override])
    assert str(caught.value).startswith(message)
    done = cli("check", "inception_v4", "--set", override, cwd=tmp_path)
    assert done.returncode == 1 and done.stderr.startswith(message)
    assert "Traceback" not in done.stderr


def test_overrides_reach_every_command_that_reads_a_spec(tmp_path: Path) -> None:
    summary = cli("summary", "inception_v4", "--set", "params.num_classes=7", "--format", "json", cwd=tmp_path)
    assert summary.returncode == 0 and '"output_shape": [\n    7\n  ]' in summary.stdout
    compiled = cli(
        "compile", "inception_v4", "--backend", "torch", "-o", "m.py", "--set", "params.num_classes=7", cwd=tmp_path
    )
    assert compiled.returncode == 0 and "Dense(1536, 7)" in (tmp_path / "m.py").read_text()
    for text in ("bad", "=1", "a..b=1", "x" * 200 + "=1"):
        usage = cli("check", "inception_v4", "--set", text, cwd=tmp_path)
        assert usage.returncode == 2 and "--set takes KEY=VALUE" in usage.stderr
