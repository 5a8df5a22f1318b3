"""`archspec train --backend tf`: the Keras trainer learns the example spec on digits, writes the
same neutral checkpoint that `archspec eval` (PyTorch or Keras) reads back to the same accuracy,
and refuses to resume a checkpoint written by the other backend."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("keras")
pytest.importorskip("sklearn")
pytest.importorskip("tensorboard")

from support import ROOT

EXAMPLE = "specs/examples/inception_resnet_v2_tiny.yaml"


def archspec_cli(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "archspec", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_keras_training_learns_digits_and_eval_reproduces_it(tmp_path: Path) -> None:
    out = tmp_path / "tf"
    result = archspec_cli("train", EXAMPLE, "--backend", "tf", "--data", "digits", "--epochs", "2", "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    state = json.loads((out / "checkpoint" / "state.json").read_text())
    assert state["backend"] == "tf" and state["position"]["step"] == 88
    last = state["history"][-1]
    assert last["val_top1"] > 0.6  # chance is 0.1
    assert (out / "metrics.csv").is_file() and (out / "curves.png").is_file()

    for backend in ("torch", "tf"):
        evaluated = archspec_cli(
            "eval", EXAMPLE, "--weights", str(out), "--data", "digits", "--backend", backend, "--format", "json"
        )
        assert evaluated.returncode == 0, evaluated.stderr[-3000:]
        # Keras evaluates as its validation did; PyTorch's kernels may move an image across a tie.
        tolerance = 0.0 if backend == "tf" else 1.5 / 359
        assert json.loads(evaluated.stdout)["top1"] == pytest.approx(last["val_top1"], abs=tolerance), backend

    refused = archspec_cli("train", EXAMPLE, "--data", "digits", "--epochs", "3", "--out", str(out), "--resume")
    assert refused.returncode == 1
    assert "it was written by --backend tf" in refused.stderr and "Traceback" not in refused.stderr


SMALL = (
    "archspec: 1\nname: small\ninput: {shape: [8, 8, 3]}\nnetwork:\n"
    "  - {op: conv, kernel: 3x3, filters: 4}\n  - {op: global_avgpool}\n  - {op: dense, units: 10}\n"
)


@pytest.mark.parametrize(("optimizer", "slots"), [("sgd", {"momentum"}), ("adamw", {"momentum", "velocity"})])
def test_keras_trains_with_the_chosen_optimizer_and_schedule(optimizer: str, slots: set[str], tmp_path: Path) -> None:
    from archspec.training.recipe import Run, step_rate

    spec, out = tmp_path / "small.yaml", tmp_path / optimizer
    spec.write_text(SMALL)
    options = ["--optimizer", optimizer, "--schedule", "cosine", "--warmup-epochs", "1", "--epochs", "2"]
    args = ["train", str(spec), "--backend", "tf", "--data", "digits", "--limit", "64", "--batch-size", "16"]
    result = archspec_cli(*args, *options, "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    state = json.loads((out / "checkpoint" / "state.json").read_text())
    run = Run.from_json(state["run"])
    assert (run.recipe.optimizer, run.recipe.schedule, run.recipe.warmup_epochs) == (optimizer, "cosine", 1)
    # Each epoch's row records the rate of its last step, as the schedule gives it.
    assert [row["lr"] for row in state["history"]] == [pytest.approx(step_rate(run.recipe, e, 3, 4, 2)) for e in (0, 1)]
    from safetensors.numpy import load_file

    saved = load_file(out / "checkpoint" / "optimizer.safetensors")
    kinds = {key.rsplit("_", 1)[-1] for key in saved if key.startswith("optimizer/") and "kernel" in key}
    assert kinds == slots
