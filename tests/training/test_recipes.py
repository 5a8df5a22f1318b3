"""Trainer options beside the paper's recipe: optimizer, schedule with warm-up, weight decay and
augmentation, recorded in the checkpoint and restored by --resume; and the progress a run shows
within an epoch."""

from __future__ import annotations

import itertools
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")
pytest.importorskip("tqdm")
pytest.importorskip("matplotlib")

from support import ROOT  # noqa: E402

import archspec  # noqa: E402
from archspec import cli  # noqa: E402
from archspec.training import checkpoint as ckpt  # noqa: E402
from archspec.training import data  # noqa: E402
from archspec.training.log import read_csv  # noqa: E402
from archspec.training.recipe import Recipe, Run, learning_rate, resume_conflicts, settle, step_rate  # noqa: E402

SMALL = (
    "archspec: 1\nname: small\ninput: {shape: [8, 8, 3]}\nnetwork:\n"
    "  - {op: conv, kernel: 3x3, filters: 4}\n  - {op: global_avgpool}\n  - {op: dense, units: 10}\n"
)
# 64 digits in batches of 16: four steps an epoch.
QUICK = ("--data", "digits", "--limit", "64", "--batch-size", "16")


def test_the_step_schedule_is_the_paper_s_and_changes_once_an_epoch() -> None:
    recipe = Recipe()
    for epoch in range(6):
        for batch in range(4):
            assert step_rate(recipe, epoch, batch, 4, 6) == 0.045 * 0.94 ** (epoch // 2)


def test_cosine_with_warm_up_rises_to_the_peak_then_falls_to_zero() -> None:
    recipe = Recipe(schedule="cosine", warmup_epochs=2, learning_rate=0.1)
    steps, epochs = 10, 12
    rates = [step_rate(recipe, e, b, steps, epochs) for e in range(epochs) for b in range(steps)]
    warm, rest = rates[: 2 * steps], rates[2 * steps :]
    assert warm[0] == pytest.approx(0.1 / 20) and warm[-1] == pytest.approx(0.1)  # the first step moves
    assert all(b - a == pytest.approx(0.1 / 20) for a, b in itertools.pairwise(warm))  # linear
    assert rest[0] == pytest.approx(0.1) and all(b < a for a, b in itertools.pairwise(rest))
    # Halfway through the cosine part the rate is half the peak; at the run's end it reaches 0.
    assert learning_rate(recipe, 2 + 5, epochs) == pytest.approx(0.05)
    assert learning_rate(recipe, epochs, epochs) == pytest.approx(0.0, abs=1e-12)
    assert rest[-1] == pytest.approx(0.1 * 0.5 * (1 + math.cos(math.pi * (99 / 100))))


def test_an_optimizer_brings_its_own_defaults_unless_told_and_resume_keeps_what_was_chosen() -> None:
    asked: dict[str, Any] = {"data": "digits", "input_size": (8, 8), "recipe": {"optimizer": "adamw"}}
    run = settle(asked, None)
    assert (run.recipe.optimizer, run.recipe.learning_rate, run.recipe.weight_decay) == ("adamw", 1e-3, 0.05)
    told = settle({**asked, "recipe": {"optimizer": "adamw", "learning_rate": 0.01}}, None)
    assert told.recipe.learning_rate == 0.01 and told.recipe.weight_decay == 0.05
    assert settle({"data": "digits", "input_size": (8, 8)}, None).recipe.augment == "light"  # digits' own crop
    assert settle({"data": "/images", "input_size": (8, 8)}, None).recipe.augment == "inception"
    # Resumed with no options: the checkpoint's recipe, whole. Resumed with another: a conflict.
    assert settle({"data": "digits", "input_size": None, "recipe": {}}, run) == run
    other = settle({"data": "digits", "input_size": None, "recipe": {"optimizer": "sgd"}}, run)
    assert resume_conflicts(run, other) == ["recipe"]


def test_a_recorded_recipe_is_input_and_is_checked() -> None:
    good = Run(data="digits", input_size=(8, 8), recipe=Recipe(optimizer="sgd", schedule="cosine")).to_json()
    assert Run.from_json(good).recipe.schedule == "cosine"
    for name, value in (("optimizer", "adam"), ("schedule", 3), ("augment", "mixup"), ("warmup_epochs", 1.5)):
        with pytest.raises(ValueError, match=name):
            Run.from_json({**good, "recipe": {**good["recipe"], name: value}})
    with pytest.raises(ValueError, match="negative"):
        Run.from_json({**good, "recipe": {**good["recipe"], "weight_decay": -1.0}})
    # A run recorded before runs chose their crop trained with its data's.
    old = {**good, "recipe": {k: v for k, v in good["recipe"].items() if k != "augment"}}
    assert Run.from_json(old).recipe.augment == "light"


def test_each_crop_the_recipe_names() -> None:
    images = data.load("digits", "train")
    size = (16, 16)
    whole = data.train_example(images, 0, 0, 0, size, 3, data.augment_for("none"))[0]
    again = data.train_example(images, 0, 1, 5, size, 3, data.augment_for("none"))[0]
    assert (whole == again).all()  # no randomness at all
    flips = [data.train_example(images, 0, e, 0, size, 3, data.augment_for("flip"))[0] for e in range(8)]
    assert any((f == whole).all() for f in flips) and any((f == whole[:, ::-1]).all() for f in flips)
    crops = [data.train_example(images, 0, e, 0, size, 3, data.augment_for("inception"))[0] for e in range(4)]
    assert not all((c == crops[0]).all() for c in crops)


@pytest.fixture
def small(tmp_path: Path) -> Path:
    spec = tmp_path / "small.yaml"
    spec.write_text(SMALL)
    return spec


@pytest.mark.parametrize("optimizer", ["rmsprop", "sgd", "adamw"])
def test_each_optimizer_is_built_with_decay_on_kernels_only(optimizer: str, small: Path) -> None:
    from archspec.backends.torch import build

    from archspec.training.torch.train import make_optimizer

    made = make_optimizer(build(archspec.load(small)), Recipe(optimizer=optimizer, weight_decay=0.3))
    expected = {"rmsprop": torch.optim.RMSprop, "sgd": torch.optim.SGD, "adamw": torch.optim.AdamW}[optimizer]
    assert type(made) is expected
    kernels, others = made.param_groups
    assert kernels["weight_decay"] == 0.3 and all(p.ndim > 1 for p in kernels["params"])
    assert others["weight_decay"] == 0.0 and all(p.ndim == 1 for p in others["params"])


def test_options_are_recorded_trained_with_and_restored_by_resume(
    small: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = small
    out = tmp_path / "run"
    chosen = ["--optimizer", "sgd", "--schedule", "cosine", "--warmup-epochs", "1", "--weight-decay", "0.001"]
    args = ["train", str(spec), *QUICK, "--out", str(out), "--augment", "flip"]
    assert cli.main([*args, *chosen, "--epochs", "1"]) == 0
    recipe = ckpt.read_state(out / "checkpoint")["run"]["recipe"]
    assert (recipe["optimizer"], recipe["schedule"], recipe["warmup_epochs"]) == ("sgd", "cosine", 1)
    assert (recipe["weight_decay"], recipe["augment"], recipe["learning_rate"]) == (0.001, "flip", 0.045)
    # SGD's state is a momentum buffer per parameter; RMSProp's would hold square averages.
    slots = ckpt.read(out / "checkpoint", archspec.load(spec))[0]["optimizer.safetensors"]
    assert any("momentum_buffer" in key for key in slots) and not any("square_avg" in key for key in slots)
    # The warm-up epoch ends at the peak rate: its last step's rate is the one the metrics record.
    assert read_csv(out / "metrics.csv")[0]["lr"] == pytest.approx(0.045)
    capsys.readouterr()
    # --resume with no options trains on with the recorded ones; the cosine reaches 0 at epoch 3.
    assert cli.main(["train", str(spec), "--data", "digits", "--out", str(out), "--resume", "--epochs", "3"]) == 0
    rows = read_csv(out / "metrics.csv")
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    # Epoch 2's last step starts at 1.75 epochs: 0.375 of the way from the warm-up's end to epoch 3.
    assert rows[1]["lr"] == pytest.approx(0.045 * 0.5 * (1 + math.cos(math.pi * 0.375)))
    assert ckpt.read_state(out / "checkpoint")["run"]["recipe"] == recipe
    assert (
        cli.main(["train", str(spec), "--data", "digits", "--out", str(out), "--resume", "--optimizer", "adamw"]) == 1
    )
    assert "cannot resume" in capsys.readouterr().err


def test_progress_is_a_line_every_n_steps_without_a_terminal(small: Path, tmp_path: Path) -> None:
    spec = small

    def train(out: str, *options: str) -> str:
        command = [sys.executable, "-m", "archspec", "train", str(spec), *QUICK, "--epochs", "1", "-o", out, *options]
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
        assert done.returncode == 0, done.stderr
        return done.stderr

    lines = [line for line in train(str(tmp_path / "a"), "--log-every", "2").splitlines() if "step" in line]
    assert [line.split("  ")[1] for line in lines] == ["step 2/4", "step 4/4"]
    assert all(line.startswith("epoch 1/1  step ") and " loss " in line and " img/s" in line for line in lines)
    default = [line for line in train(str(tmp_path / "b")).splitlines() if "  step " in line]
    assert len(default) == 4  # ten an epoch at most: here every step of four
    assert "  step " not in train(str(tmp_path / "c"), "--log-every", "0")


def test_progress_is_a_bar_on_a_terminal(small: Path, tmp_path: Path) -> None:
    import fcntl
    import os
    import pty
    import struct
    import termios

    leader, follower = pty.openpty()
    # A terminal 100 columns wide: a new pseudo-terminal has none, and tqdm fits its bar in that.
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    out_dir = str(tmp_path / "run")
    command = [sys.executable, "-m", "archspec", "train", str(small), *QUICK, "--epochs", "1", "-o", out_dir]
    # tqdm redraws at most every 0.1 s by default, and four steps of this network take less.
    env = {**os.environ, "TQDM_MININTERVAL": "0"}
    with subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=follower, text=True) as process:
        os.close(follower)
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal closed: the run is over
                break
            if not chunk:
                break
            shown += chunk
        out = process.stdout.read() if process.stdout else ""
        assert process.wait(timeout=600) == 0, shown.decode(errors="replace")[-2000:]
    os.close(leader)
    text = shown.decode(errors="replace")
    assert "epoch 1/1:" in text and "step" in text and "loss=" in text and "lr=" in text  # tqdm's bar
    assert "  step 1/4" not in text  # no log lines where there is a bar
    assert "done: small, 1 epoch" in out
