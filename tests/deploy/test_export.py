"""`archspec export`: each format is written, loaded back on its own, and computes the live
model's outputs, with the spec's input and output names; what exists is replaced only with
--force, and a file that fails its check is not left behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from support import randomize_batch_norm

import archspec

torch = pytest.importorskip("torch")
bt = pytest.importorskip("archspec.backends.torch")

SPEC = "examples/inception_resnet_v2_tiny"
TWO_OUTPUTS = """\
archspec: 1
name: two_heads
input: {shape: 16x16x3}
outputs: [stage, logits]
network:
  - {op: conv, name: stage, kernel: 3, stride: 2, filters: 8}
  - {op: global_avgpool}
  - {op: dense, name: logits, units: 5}
"""


EVERY_SPEC = [name for name in archspec.list_specs() if not name.startswith("errata/")]


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "archspec", *args], cwd=cwd, capture_output=True, text=True)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, torch.nn.Module]:
    """Neutral weights with random batch-norm statistics, and the live model that holds them."""
    model = bt.build(archspec.load(SPEC)).eval()
    randomize_batch_norm(model, seed=4)
    from archspec.weights import neutral as weights

    path = tmp_path_factory.mktemp("weights") / "tiny.safetensors"
    weights.save(bt.get_weights(model), path)
    return path, model


def test_onnx_with_a_dynamic_batch_runs_at_batch_1_and_8(trained: tuple[Path, torch.nn.Module], tmp_path: Path) -> None:
    onnxruntime = pytest.importorskip("onnxruntime")
    weights, model = trained
    done = cli("export", SPEC, "--weights", str(weights), "-o", "tiny.onnx", "--dynamic-batch", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "checked at batch 1 and 8" in done.stdout
    session = onnxruntime.InferenceSession(str(tmp_path / "tiny.onnx"), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["input"]
    assert [o.name for o in session.get_outputs()] == ["head.logits"]
    for batch in (1, 8, 3):
        x = torch.randn(batch, 3, 32, 32, generator=torch.Generator().manual_seed(batch))
        with torch.no_grad():
            expected = model(x).numpy()
        (actual,) = session.run(None, {"input": x.numpy()})
        assert np.abs(actual - expected).max() <= 1e-4 * np.abs(expected).max()
    assert not list(tmp_path.glob(".partial*"))


@pytest.mark.parametrize("flags", [[], ["--inference"]])
def test_pt2_reloads_and_takes_any_batch(
    trained: tuple[Path, torch.nn.Module], tmp_path: Path, flags: list[str]
) -> None:
    weights, model = trained
    done = cli("export", SPEC, "--weights", str(weights), "-o", "tiny.pt2", "--dynamic-batch", *flags, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    program = torch.export.load(str(tmp_path / "tiny.pt2")).module()
    x = torch.randn(5, 3, 32, 32, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        expected, actual = model(x), program(x)
    assert (actual - expected).abs().max() <= 1e-4 * expected.abs().max()


def test_savedmodel_and_keras_archive(trained: tuple[Path, torch.nn.Module], tmp_path: Path) -> None:
    tf = pytest.importorskip("tensorflow")
    keras = pytest.importorskip("keras")
    import archspec.backends.tensorflow  # noqa: F401  (registers archspec's Keras layers for loading)

    weights, model = trained
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        expected = model(x).numpy()
    nhwc = x.permute(0, 2, 3, 1).numpy()
    done = cli(
        "export",
        SPEC,
        "--weights",
        str(weights),
        "-o",
        "saved",
        "--format",
        "savedmodel",
        "--dynamic-batch",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    saved = tf.saved_model.load(str(tmp_path / "saved"))  # kept: its variables live as long as it does
    served = saved.serve(tf.constant(nhwc))
    assert list(served) == ["head.logits"]
    assert np.abs(np.asarray(served["head.logits"]) - expected).max() <= 1e-4 * np.abs(expected).max()
    # Replacing a SavedModel takes --force; a directory that is not one is never replaced.
    again = cli("export", SPEC, "-o", "saved", "--format", "savedmodel", cwd=tmp_path)
    assert (again.returncode, again.stderr) == (1, "error: saved exists; pass --force to replace it\n")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    other = cli("export", SPEC, "-o", "mine", "--format", "savedmodel", "--force", cwd=tmp_path)
    assert other.returncode == 1 and "is a directory that is not a SavedModel" in other.stderr
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    done = cli("export", SPEC, "--weights", str(weights), "-o", "tiny.keras", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    loaded = keras.models.load_model(str(tmp_path / "tiny.keras"))
    assert np.abs(np.asarray(loaded(nhwc, training=False)) - expected).max() <= 1e-4 * np.abs(expected).max()


def test_outputs_are_named_after_their_nodes(tmp_path: Path) -> None:
    onnxruntime = pytest.importorskip("onnxruntime")
    (tmp_path / "two.yaml").write_text(TWO_OUTPUTS)
    done = cli("export", "two.yaml", "-o", "two.onnx", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    session = onnxruntime.InferenceSession(str(tmp_path / "two.onnx"), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["stage", "logits"]
    stage, logits = session.run(None, {"input": np.zeros((1, 3, 16, 16), np.float32)})
    assert (stage.shape, logits.shape) == ((1, 8, 8, 8), (1, 5))


def test_usage_and_refusals(tmp_path: Path) -> None:
    (tmp_path / "two.yaml").write_text(TWO_OUTPUTS)
    unknown = cli("export", "two.yaml", "-o", "two.bin", cwd=tmp_path)
    assert unknown.returncode == 2 and "cannot tell the format from 'two.bin'" in unknown.stderr
    inference = cli("export", "two.yaml", "-o", "two.keras", "--inference", cwd=tmp_path)
    assert inference.returncode == 2 and "it is for onnx and pt2" in inference.stderr
    (tmp_path / "two.pt2").write_text("mine")
    exists = cli("export", "two.yaml", "-o", "two.pt2", cwd=tmp_path)
    assert (exists.returncode, exists.stderr) == (1, "error: two.pt2 exists; pass --force to replace it\n")
    assert (tmp_path / "two.pt2").read_text() == "mine"
    itself = cli("export", "two.yaml", "-o", "two.yaml", "--format", "pt2", "--force", cwd=tmp_path)
    assert itself.returncode == 1 and "is an input of this command" in itself.stderr
    assert (tmp_path / "two.yaml").read_text() == TWO_OUTPUTS


def test_a_file_that_fails_its_check_is_not_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from archspec.backends import BackendError

    from archspec.deploy import export

    monkeypatch.setattr(export, "TOLERANCE", -1.0)  # no file can pass: the check itself must refuse it
    request = export.Request(archspec.load(TWO_OUTPUTS), "pt2", None, dynamic_batch=False, inference=False)
    with pytest.raises(BackendError, match="differs from the live model"):
        export.export(request, tmp_path / "two.pt2")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(
    not os.environ.get("ARCHSPEC_EXPORT_ALL"),
    reason="every bundled spec in every format at its native size takes about 12 minutes on 2 cores; "
    "ARCHSPEC_EXPORT_ALL=1 runs it",
)
@pytest.mark.parametrize("fmt", ["onnx", "pt2", "savedmodel", "keras"])
@pytest.mark.parametrize("name", EVERY_SPEC)
def test_every_bundled_spec_exports_in_every_format(name: str, fmt: str, tmp_path: Path) -> None:
    from archspec.deploy import export

    spec = archspec.load(name)
    torch.manual_seed(0)
    model = bt.build(spec)
    randomize_batch_norm(model, seed=1)
    request = export.Request(spec, fmt, bt.get_weights(model), dynamic_batch=True, inference=False)
    target = tmp_path / (f"{fmt}_model" if fmt == "savedmodel" else f"model.{fmt}")
    done = export.export(request, target)
    assert done.batches == (1, 8) and done.difference <= export.TOLERANCE
    print(f"{name} {fmt}: {done.difference:.2g}")
