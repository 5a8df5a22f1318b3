"""`archspec train` and `archspec eval` on PyTorch: a short real run on digits that learns, an
interruption by SIGTERM that resumes to the very same weights and metrics, evaluation that
reproduces the training's validation accuracy, two processes under torchrun, and the errors a
user can make, each a clear line."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")
pytest.importorskip("tqdm")
pytest.importorskip("matplotlib")
pytest.importorskip("tensorboard")

from support import ROOT, make_folder  # noqa: E402

from archspec import cli  # noqa: E402
from archspec.training import checkpoint as ckpt  # noqa: E402
from archspec.training.log import TIMING, read_csv  # noqa: E402
from archspec.training.recipe import Recipe  # noqa: E402

EXAMPLE = "specs/examples/inception_resnet_v2_tiny.yaml"
# Two epochs on all 1,438 training digits: 44 steps each; a checkpoint every 5 steps as well.
SHORT = ("--data", "digits", "--epochs", "2", "--checkpoint-every", "5")
HINT = "(give an ImageFolder root or 'digits')"


def archspec_cli(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "archspec", *args], cwd=ROOT, capture_output=True, text=True, **kwargs)


def state_of(run_dir: Path) -> dict[str, Any]:
    return ckpt.read_state(run_dir / "checkpoint")


def without_timing(rows: list[dict[str, float]]) -> list[dict[str, float]]:
    return [{k: v for k, v in r.items() if k not in TIMING} for r in rows]


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted short run on digits."""
    out = tmp_path_factory.mktemp("runs") / "whole"
    result = archspec_cli("train", EXAMPLE, *SHORT, "--out", str(out), timeout=600)
    assert result.returncode == 0, result.stderr
    assert "done: inception_resnet_v2_tiny, 2 epochs" in result.stdout
    return out


def test_a_short_run_learns_and_logs(finished: Path) -> None:
    rows = read_csv(finished / "metrics.csv")
    assert [int(r["epoch"]) for r in rows] == [1, 2] and [int(r["step"]) for r in rows] == [44, 88]
    assert rows[-1]["val_top1"] > 0.6  # chance is 0.1
    assert rows[-1]["train_loss"] < rows[0]["train_loss"]
    assert (finished / "curves.png").stat().st_size > 1000
    assert len(list(finished.glob("events.out.tfevents.*"))) == 1
    state = state_of(finished)
    assert state["position"] == {"epoch": 2, "batch": 0, "step": 88, "steps_per_epoch": 44, "world_size": 1}
    assert state["spec"]["name"] == "inception_resnet_v2_tiny" and not state["interrupted"]
    assert without_timing(state["history"]) == without_timing(rows)


def test_sigterm_then_resume_ends_exactly_as_an_uninterrupted_run(finished: Path, tmp_path: Path) -> None:
    out = tmp_path / "interrupted"
    command = [sys.executable, "-m", "archspec", "train", EXAMPLE, *SHORT, "--out", str(out)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not (out / "checkpoint" / "state.json").exists():  # the first checkpoint, at step 5
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.02)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 128 + signal.SIGTERM, stderr
    assert "stopped by SIGTERM" in stderr and "Traceback" not in stderr
    stopped = state_of(out)
    assert stopped["interrupted"] and stopped["position"]["epoch"] == 0
    assert 5 <= stopped["position"]["batch"] < 44  # in the middle of the first epoch

    resumed = archspec_cli("train", EXAMPLE, *SHORT, "--out", str(out), "--resume", timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert without_timing(read_csv(out / "metrics.csv")) == without_timing(read_csv(finished / "metrics.csv"))
    # Same weights, moving average and optimizer state to the last bit: equal sha256 digests.
    assert state_of(out)["files"] == state_of(finished)["files"]


def test_sigkill_then_resume_ends_exactly_as_an_uninterrupted_run(finished: Path, tmp_path: Path) -> None:
    """kill -9 gives the run no chance to save: it comes right after the first checkpoint appears,
    while the next steps run and the next checkpoint may be being written. --resume then finds
    the last complete checkpoint (`checkpoint` or `checkpoint.previous`) and still ends with the
    same bits. (One moment only: each case costs two training runs of the suite's time.)"""
    delay = 0.2
    out = tmp_path / "killed"
    command = [sys.executable, "-m", "archspec", "train", EXAMPLE, *SHORT, "--out", str(out)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not (out / "checkpoint" / "state.json").exists():
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.01)
    time.sleep(delay)
    process.kill()
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert ckpt.locate(out) is not None
    resumed = archspec_cli("train", EXAMPLE, *SHORT, "--out", str(out), "--resume", timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert not (out / ckpt.PARTIAL).exists() and not (out / ckpt.PREVIOUS).exists()
    assert without_timing(read_csv(out / "metrics.csv")) == without_timing(read_csv(finished / "metrics.csv"))
    assert state_of(out)["files"] == state_of(finished)["files"]


def test_eval_reproduces_the_validation_accuracy_from_the_checkpoint(finished: Path) -> None:
    result = archspec_cli("eval", EXAMPLE, "--weights", str(finished), "--data", "digits", "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    last = read_csv(finished / "metrics.csv")[-1]
    assert report["images"] == 359 and report["crops"] == 1 and report["models"] == 1
    assert report["top1"] == last["val_top1"] and report["top5"] == last["val_top5"]
    assert report["top1_error"] == pytest.approx(1 - last["val_top1"])


def test_eval_multi_crop_and_ensemble(finished: Path, capsys: pytest.CaptureFixture[str]) -> None:
    weights = str(finished / "checkpoint" / "ema.safetensors")
    common = [EXAMPLE, "--data", "digits", "--limit", "40", "--format", "json"]
    reports = {}
    for name, extra in {
        "single": ["--weights", weights],
        "twelve": ["--weights", weights, "--crops", "12"],
        "ensemble": ["--weights", weights, "--ensemble", str(finished), "--crops", "12"],
    }.items():
        assert cli.main(["eval", *common, *extra]) == 0
        reports[name] = json.loads(capsys.readouterr().out)
    assert reports["twelve"]["crops"] == 12 and reports["ensemble"]["models"] == 2
    assert reports["single"]["top1"] > 0.5 and reports["twelve"]["top1"] > 0.5
    # Two copies of one model average to that model.
    assert reports["ensemble"]["top1"] == reports["twelve"]["top1"]
    assert reports["ensemble"]["loss"] == pytest.approx(reports["twelve"]["loss"], rel=1e-5)


def test_two_processes_under_torchrun_write_from_rank_0_only(tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        "-m", "archspec", "train", EXAMPLE, "--data", "digits", "--epochs", "1", "--limit", "256", "--out", str(out),
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("done: inception_resnet_v2_tiny") == 1  # only rank 0 reports
    assert result.stdout.count("epoch 1/1") == 1
    assert len(read_csv(out / "metrics.csv")) == 1
    assert len(list(out.glob("events.out.tfevents.*"))) == 1
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith("events.")) == [
        "checkpoint",
        "curves.png",
        "metrics.csv",
    ]
    position = state_of(out)["position"]
    assert position["world_size"] == 2 and position["steps_per_epoch"] == (256 // 2) // 32 == position["step"]


# --- units of the loop -------------------------------------------------------------------------


def test_loss_adds_auxiliary_heads_and_smooths_labels() -> None:
    from archspec.training.torch.train import loss_of

    main, aux = torch.randn(4, 10), torch.randn(4, 10)
    labels = torch.tensor([1, 2, 3, 4])
    ce = torch.nn.functional.cross_entropy
    plain = loss_of(main, labels, Recipe())
    assert torch.equal(plain, ce(main, labels))
    both = loss_of((main, aux), labels, Recipe(aux_weight=0.4, label_smoothing=0.1))
    expected = ce(main, labels, label_smoothing=0.1) + 0.4 * ce(aux, labels, label_smoothing=0.1)
    torch.testing.assert_close(both, expected)


def test_moving_average_update() -> None:
    from archspec.backends.torch import build, get_weights

    import archspec
    from archspec.training.torch.distributed import Cluster
    from archspec.training.torch.ema import Ema

    spec = archspec.load(ROOT / EXAMPLE)
    cluster = Cluster(0, 1, torch.device("cpu"))
    model = cluster.place(build(spec))
    ema = Ema(model, cluster)
    before = {k: v.copy() for k, v in get_weights(ema.model).items()}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    ema.update(model, 0.75)
    after, current = get_weights(ema.model), get_weights(model)
    assert set(after) == set(before)  # gamma and beta included: the average is evaluable
    for key in ("stem/conv2d_1a/kernel", "head/logits/bias", "stem/conv2d_1a/gamma"):
        torch.testing.assert_close(
            torch.from_numpy(after[key]), torch.from_numpy(0.75 * before[key] + 0.25 * current[key])
        )


def train_on_folder(tmp_path: Path, network: str, per_class: int, *options: str) -> tuple[Path, Path]:
    """One epoch of a 16x16 two-class spec on a generated image folder: (spec file, run directory)."""
    make_folder(tmp_path / "data", per_class=per_class)
    spec = tmp_path / "two.yaml"
    spec.write_text(f"archspec: 1\nname: two\ninput: {{shape: [16, 16, 3]}}\n{network}")
    out = tmp_path / "run"
    args = [str(spec), "--data", str(tmp_path / "data"), "--epochs", "1", "--batch-size", "4", "--out", str(out)]
    assert cli.main(["train", *args, *options]) == 0
    return spec, out


def test_training_on_an_image_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    network = "network:\n  - {op: conv, kernel: 3x3, filters: 4}\n  - {op: global_avgpool}\n  - {op: dense, units: 2}\n"
    spec, out = train_on_folder(tmp_path, network, 8)
    assert "done: two, 1 epoch," in capsys.readouterr().out
    assert cli.main(["eval", str(spec), "--weights", str(out), "--data", str(tmp_path / "data"), "--crops", "144"]) == 0
    assert "two on " in (report := capsys.readouterr().out) and "(16 images), 144 crops, 1 model: top-1 error" in report


def test_training_with_compiled_blocks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--compile blocks` trains through torch.compile'd blocks, and checkpoints keep the keys."""
    from torch._dynamo.utils import counters

    network = (
        "blocks:\n  pair:\n    body:\n      - branches:\n          a: [{op: conv, kernel: 1x1, filters: 4}]\n"
        "          b: [{op: conv, kernel: 3x3, filters: 4}]\n"
        "network:\n  - {block: pair, repeat: 3}\n  - {op: global_avgpool}\n  - {op: dense, units: 2}\n"
    )
    counters.clear()
    spec, out = train_on_folder(tmp_path, network, 4, "--compile", "blocks")
    # Three blocks of one type, two graphs: the first block reads the image, which needs no gradient;
    # the other two read activations and share one graph.
    assert counters["stats"]["unique_graphs"] == 2
    assert "done: two, 1 epoch," in capsys.readouterr().out
    assert cli.main(["eval", str(spec), "--weights", str(out), "--data", str(tmp_path / "data")]) == 0
    assert "(8 images), 1 crop, 1 model: top-1 error" in capsys.readouterr().out


# --- errors ------------------------------------------------------------------------------------


def run_main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = cli.main(args)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def test_bad_data_and_run_directories_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run_main(["train", EXAMPLE, "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "a")], capsys)
    assert code == 1 and err == f"error: data directory {tmp_path / 'nowhere'} does not exist {HINT}\n"
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    code, err = run_main(["train", EXAMPLE, "--data", "digits", "--out", str(busy)], capsys)
    assert code == 1 and "is not empty: pass --resume" in err and (busy / "notes.txt").exists()
    code, err = run_main(["train", EXAMPLE, "--data", "digits", "--out", str(busy), "--resume"], capsys)
    assert code == 1 and err.startswith("error: ") and "has no checkpoint to resume" in err


def test_corrupt_mismatched_and_conflicting_checkpoints_are_refused(
    finished: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "copy"
    shutil.copytree(finished, run)
    args = ["train", EXAMPLE, "--data", "digits", "--out", str(run), "--resume", "--epochs", "3"]
    code, err = run_main([*args, "--batch-size", "16"], capsys)
    assert code == 1 and "it was trained with batch_size 32 (now 16)" in err
    other = tmp_path / "other.yaml"
    other.write_text(
        "archspec: 1\nname: other\ninput: {shape: [32, 32, 3]}\nnetwork:\n"
        "  - {op: conv, kernel: 3x3, filters: 4}\n  - {op: global_avgpool}\n  - {op: dense, units: 10}\n"
    )
    code, err = run_main(["train", str(other), *args[2:]], capsys)
    assert code == 1 and "for spec 'inception_resnet_v2_tiny', whose weights differ from those of 'other'" in err
    code, err = run_main(["eval", str(other), "--weights", str(run), "--data", "digits"], capsys)
    assert code == 1 and "spec fingerprints differ" in err
    model = run / "checkpoint" / "model.safetensors"
    blob = bytearray(model.read_bytes())
    blob[-2] ^= 0x01
    model.write_bytes(bytes(blob))
    code, err = run_main(args, capsys)
    assert code == 1 and "is corrupt: model.safetensors does not match the sha256" in err
    code, err = run_main(["eval", EXAMPLE, "--weights", str(tmp_path / "none.safetensors"), "--data", "digits"], capsys)
    assert code == 1 and "does not exist" in err


def test_spec_errors_and_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("input: {shape: [8, 8, 3]}\nnetwork:\n  - {op: conv, kernel: 9x9, padding: valid, filters: 2}\n")
    code, err = run_main(["train", str(bad), "--data", "digits"], capsys)
    assert code == 1 and err.startswith(f"{bad}:3:24: error: conv 'conv_0': 9x9 kernel does not fit")
    for args in (
        ["train", EXAMPLE],  # no --data
        ["train", EXAMPLE, "--data", "digits", "--epochs", "0"],
        ["train", EXAMPLE, "--data", "digits", "--input", "32"],
        ["train", EXAMPLE, "--data", "digits", "--amp", "fp16"],
        ["eval", EXAMPLE, "--data", "digits", "--weights", "w.safetensors", "--crops", "7"],
    ):
        with pytest.raises(SystemExit) as exit_info:
            cli.main(args)
        assert exit_info.value.code == 2, args
