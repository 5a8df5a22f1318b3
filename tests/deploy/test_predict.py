"""`archspec predict` on a digits model trained for a few epochs: on validation images it never
trained on, written out as PNG files, it names the right class as often as `archspec eval`
measures, with the spec's class names, preprocessing and probabilities that sum to one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")

from archspec.training import data

SPEC = "examples/inception_resnet_v2_tiny"
IMAGES = 120


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "archspec", *args], cwd=cwd, capture_output=True, text=True, timeout=900
    )


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("predict")
    trained = cli("train", SPEC, "--data", "digits", "--epochs", "3", "--limit", "600", "-o", "run", cwd=where)
    assert trained.returncode == 0, trained.stderr
    return where


def test_predict_names_unseen_digits_at_the_measured_accuracy(run: Path) -> None:
    images = data.subset(data.load("digits", "val"), IMAGES)
    files, labels = [], []
    for i in range(len(images)):
        name = f"val_{i:03d}.png"
        images.image(i).save(run / name)
        files.append(name)
        labels.append(images.label(i))
    scored = cli(
        "eval", SPEC, "--weights", "run", "--data", "digits", "--limit", str(IMAGES), "--format", "json", cwd=run
    )
    assert scored.returncode == 0, scored.stderr
    measured = json.loads(scored.stdout)["top1"]
    assert measured > 0.5  # the model has learnt something: chance is 0.1
    guessed = cli("predict", SPEC, "--weights", "run", "--format", "json", *files, cwd=run)
    assert guessed.returncode == 0, guessed.stderr
    rows = json.loads(guessed.stdout)
    assert [r["image"] for r in rows] == files
    for row in rows:
        assert len(row["top"]) == 5
        assert [g["name"] for g in row["top"]] == [str(g["class"]) for g in row["top"]]  # the spec's names
        probabilities = [g["probability"] for g in row["top"]]
        assert probabilities == sorted(probabilities, reverse=True) and 0 < sum(probabilities) <= 1 + 1e-6
    right = sum(row["top"][0]["class"] == label for row, label in zip(rows, labels, strict=True))
    assert right / len(files) == pytest.approx(measured, abs=1e-9)


def test_the_checkpoint_records_the_input_and_the_classes(run: Path) -> None:
    from archspec.training import checkpoint

    recorded = checkpoint.read_state(run / "run" / "checkpoint")["spec"]
    assert recorded["classes"] == list("0123456789")
    assert recorded["input"] == {"mean": [0.5] * 3, "std": [0.5] * 3, "interpolation": "bilinear", "crop_pct": 0.875}


def test_predict_prints_top_classes_and_refuses_what_it_cannot_read(run: Path) -> None:
    images = data.load("digits", "val")
    images.image(0).save(run / "first.png")
    shown = cli("predict", SPEC, "--weights", "run", "--top", "3", "first.png", cwd=run)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == "first.png:" and len(lines) == 4
    assert all(line.strip().split()[1] == "%" and line.strip().split()[2] in "0123456789" for line in lines[1:])
    (run / "not_an_image.png").write_text("hello")
    broken = cli("predict", SPEC, "--weights", "run", "not_an_image.png", cwd=run)
    assert broken.returncode == 1 and broken.stderr.startswith("error: cannot read image not_an_image.png")
    assert "Traceback" not in broken.stderr
    missing = cli("predict", SPEC, "--weights", "nowhere", "first.png", cwd=run)
    assert missing.returncode == 1 and "nowhere" in missing.stderr


def test_class_names_are_escaped_for_the_terminal(run: Path) -> None:
    """A spec's class names reach the terminal with their control characters escaped: a name
    cannot recolour the screen or move the cursor."""
    names = ", ".join(f'"d{i}\\e[31m\\n"' for i in range(10))
    (run / "escaped.yaml").write_text(f"archspec: 1\nextends: archspec:{SPEC}.yaml\nclasses: [{names}]\n")
    data.load("digits", "val").image(0).save(run / "zero.png")
    shown = cli("predict", "escaped.yaml", "--weights", "run", "--top", "10", "zero.png", cwd=run)
    assert shown.returncode == 0, shown.stderr
    assert "\x1b" not in shown.stdout and "d0\\x1b[31m\\n" in shown.stdout


def test_images_are_read_one_batch_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Predicting on a thousand images never holds more than one batch of them."""
    import numpy as np

    import archspec
    from archspec.deploy import predict

    read: list[str] = []
    monkeypatch.setattr(predict, "read_image", lambda path, spec: read.append(str(path)) or np.zeros((2, 2, 3)))
    batches = predict.batches([f"{i}.png" for i in range(1000)], archspec.load(SPEC))
    first_paths, first = next(batches)
    assert len(read) == len(first_paths) == first.shape[0] == predict.BATCH
    assert sum(len(paths) for paths, _ in batches) + predict.BATCH == 1000
