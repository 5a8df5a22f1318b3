"""The safetensors reader of archspec.weights.tensor_file against torch's own files and conversions:
every bit pattern of bfloat16 and both float8 kinds decodes to the float32 torch gives, float64
is read only where it is exact, and integer arrays keep their dtype."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from archspec.weights import tensor_file

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")


@pytest.mark.parametrize(
    ("dtype", "bits"),
    [("bfloat16", torch.int16), ("float8_e4m3fn", torch.uint8), ("float8_e5m2", torch.uint8), ("float16", torch.int16)],
)
def test_every_bit_pattern_decodes_as_torch_does(tmp_path: Path, dtype: str, bits: torch.dtype) -> None:
    count = 256 if bits == torch.uint8 else 65536
    start = 0 if bits == torch.uint8 else -32768
    patterns = torch.arange(start, start + count, dtype=torch.int32).to(bits).reshape(16, -1)
    values = patterns.view(getattr(torch, dtype))
    safetensors_torch.save_file({"w": values}, str(tmp_path / "w.safetensors"))
    read = tensor_file.read(tmp_path / "w.safetensors")["w"]
    assert read.dtype == np.float32 and read.shape == tuple(values.shape)
    np.testing.assert_array_equal(read, values.float().numpy())  # NaNs compare equal here


def test_float64_is_read_only_where_it_is_exact(tmp_path: Path) -> None:
    exact = torch.tensor([0.5, -2.0, 3.25], dtype=torch.float64)
    safetensors_torch.save_file({"w": exact}, str(tmp_path / "exact.safetensors"))
    np.testing.assert_array_equal(tensor_file.read(tmp_path / "exact.safetensors")["w"], exact.float().numpy())
    safetensors_torch.save_file({"w": torch.tensor([0.1], dtype=torch.float64)}, str(tmp_path / "lossy.safetensors"))
    with pytest.raises(ValueError, match="'w' is float64 and would lose precision as float32"):
        tensor_file.read(tmp_path / "lossy.safetensors")


def test_integers_keep_their_dtype_and_float32_its_values(tmp_path: Path) -> None:
    arrays = {"count": torch.tensor(7, dtype=torch.int64), "w": torch.randn(3, 4)}
    safetensors_torch.save_file(arrays, str(tmp_path / "m.safetensors"))
    read = tensor_file.read(tmp_path / "m.safetensors")
    assert read["count"].dtype == np.int64 and read["count"].shape == () and int(read["count"]) == 7
    np.testing.assert_array_equal(read["w"], arrays["w"].numpy())
    read["w"][0, 0] = 1.0  # writable, like the safetensors package's arrays


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    import os

    os.mkfifo(tmp_path / "pipe.safetensors")
    with pytest.raises(ValueError, match="not a regular file"):
        tensor_file.read(tmp_path / "pipe.safetensors")


@pytest.mark.parametrize("dtype", ["bfloat16", "float8_e4m3fn", "float16"])
def test_convert_and_eval_take_low_precision_weights(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], dtype: str
) -> None:
    """A neutral file of the right keys and shapes in a narrower float converts and evaluates."""
    from hostile import BASE, SPEC

    import archspec
    from archspec import cli
    from archspec.weights import neutral

    monkeypatch.chdir(tmp_path)
    (tmp_path / SPEC).write_text(BASE)
    spec = archspec.load(tmp_path / SPEC)
    generator = torch.Generator().manual_seed(0)
    narrow = {
        key: (torch.rand(shape, generator=generator) + 0.5).to(getattr(torch, dtype))
        for key, shape in neutral.expected_shapes(spec).items()
    }
    safetensors_torch.save_file(narrow, str(tmp_path / "narrow.safetensors"))
    argv = ["convert", SPEC, "--from", "neutral", "narrow.safetensors", "--to", "neutral", "wide.safetensors"]
    assert cli.main(argv) == 0, capsys.readouterr().err
    wide = neutral.load(tmp_path / "wide.safetensors")
    for key, tensor in narrow.items():
        np.testing.assert_array_equal(wide[key], tensor.float().numpy())
    argv = ["eval", SPEC, "--weights", "narrow.safetensors", "--data", "digits", "--limit", "16"]
    assert cli.main(argv) == 0, capsys.readouterr().err
    assert "top-1 error" in capsys.readouterr().out
