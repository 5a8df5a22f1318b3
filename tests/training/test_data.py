"""The framework-neutral parts of training: the digits data set and its split, ImageFolder
reading, the Inception crops, the recipe's schedules, atomic and verified checkpoints, and the
metrics logs."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import archspec

pytest.importorskip("sklearn")
pytest.importorskip("PIL")
pytest.importorskip("safetensors")

from PIL import Image
from support import make_folder

from archspec.training import checkpoint as ckpt
from archspec.training import data
from archspec.training.recipe import Recipe, Run, ema_decay, learning_rate, resume_conflicts, settle, step_seed

TINY = """
archspec: 1
name: tiny
input: {shape: [16, 16, 3]}
network:
  - {op: conv, kernel: 3x3, filters: WIDTH}
  - {op: global_avgpool}
  - {op: dense, units: 10}
"""


def tiny_spec(width: int = 4) -> archspec.Spec:
    return archspec.load(TINY.replace("WIDTH", str(width)))


# --- digits ------------------------------------------------------------------------------------


def test_digits_split_is_seeded_stratified_and_disjoint() -> None:
    train, val = data.digits_split()
    again_train, again_val = data.digits_split()
    assert np.array_equal(train, again_train) and np.array_equal(val, again_val)
    assert len(train) + len(val) == 1797 and not set(train.tolist()) & set(val.tolist())
    assert len(val) == 359
    labels = data.load_digits_split("val").labels
    assert sorted(np.bincount(labels).tolist())[0] >= 35  # every class in proportion (~36 each)
    other_train, _ = data.digits_split(seed=1)
    assert not np.array_equal(train, other_train)


def test_digits_images_are_8x8_grayscale_with_ten_classes() -> None:
    images = data.load("digits", "train")
    assert len(images) == 1438 and images.classes == tuple("0123456789")
    first = images.image(0)
    assert first.size == (8, 8) and first.mode == "L"
    pixels = np.asarray(first)
    assert pixels.max() <= 255 and pixels.max() > 100
    assert 0 <= images.label(0) <= 9


def test_subset_is_seeded_and_spans_classes() -> None:
    images = data.load("digits", "train")
    part = data.subset(images, 100)
    assert len(part) == 100
    assert len({part.label(i) for i in range(100)}) == 10
    assert [part.label(i) for i in range(100)] == [data.subset(images, 100).label(i) for i in range(100)]
    assert data.subset(images, 10_000) is images


# --- ImageFolder -------------------------------------------------------------------------------


def test_image_folder_reads_sorted_classes(tmp_path: Path) -> None:
    make_folder(tmp_path)
    (tmp_path / "train" / "ant" / "notes.txt").write_text("not an image")
    images = data.load(str(tmp_path), "train")
    assert images.classes == ("ant", "cat")
    assert len(images) == 6 and [images.label(i) for i in range(6)] == [0, 0, 0, 1, 1, 1]
    assert images.image(0).size == (24, 18)


def test_image_folder_errors_are_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(data.DataError, match="does not exist"):
        data.load(str(tmp_path / "nowhere"), "train")
    (tmp_path / "train" / "empty_class").mkdir(parents=True)
    with pytest.raises(data.DataError, match="no images"):
        data.load(str(tmp_path), "train")
    with pytest.raises(data.DataError, match="no val/ directory"):
        data.load(str(tmp_path), "val")
    (tmp_path / "train" / "empty_class" / "bad.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(data.DataError, match="cannot read image"):
        data.load(str(tmp_path), "train").image(0)


# --- crops -------------------------------------------------------------------------------------


def test_training_crop_depends_only_on_seed_epoch_and_index() -> None:
    images = data.load("digits", "train")
    size, augment = (32, 32), data.AUGMENTS["light"]
    first, label = data.train_example(images, 5, epoch=0, seed=0, size=size, channels=3, augment=augment)
    again, _ = data.train_example(images, 5, epoch=0, seed=0, size=size, channels=3, augment=augment)
    other, _ = data.train_example(images, 5, epoch=1, seed=0, size=size, channels=3, augment=augment)
    assert first.shape == (32, 32, 3) and first.dtype == np.float32 and label == images.label(5)
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    assert first.min() >= -1.0 and first.max() <= 1.0 and first.max() > 0
    assert np.array_equal(first[..., 0], first[..., 2])  # grayscale repeated into RGB


def test_random_box_respects_area_and_aspect_ratio() -> None:
    rng = np.random.default_rng(0)
    augment = data.Augment()
    for _ in range(200):
        left, top, right, bottom = data.random_box(rng, 300, 200, augment)
        w, h = right - left, bottom - top
        assert left >= 0 and top >= 0 and right <= 300 + 1e-9 and bottom <= 200 + 1e-9
        assert 0.08 - 1e-9 <= w * h / (300 * 200) <= 1.0 + 1e-9
        assert 3 / 4 - 1e-9 <= w / h <= 4 / 3 + 1e-9 or (w, h) == (300, 200)


def test_central_crop_keeps_the_middle_87_5_percent() -> None:
    assert data.central_box(8, 8) == (0.5, 0.5, 7.5, 7.5)
    assert data.central_box(400, 200) == (25.0, 12.5, 375.0, 187.5)
    # A crop that is not resized: a 16x16 image whose central 14x14 is kept as is.
    pixels = np.arange(256, dtype=np.uint8).reshape(16, 16)
    out = data.crop(Image.fromarray(pixels), (1, 1, 15, 15), (14, 14), channels=1)
    assert out.shape == (14, 14, 1)
    np.testing.assert_allclose(out[..., 0], pixels[1:15, 1:15] * (2 / 255) - 1, atol=1e-6)
    mirrored = data.crop(Image.fromarray(pixels), (1, 1, 15, 15), (14, 14), channels=1, mirror=True)
    np.testing.assert_array_equal(mirrored[:, ::-1], out)


def test_multi_crop_protocols() -> None:
    for width, height in ((24, 18), (18, 24), (30, 30)):
        short = min(width, height)
        assert data.multi_crop_boxes(width, height, 1) == [(data.central_box(width, height), False)]
        twelve, all_144 = data.multi_crop_boxes(width, height, 12), data.multi_crop_boxes(width, height, 144)
        assert len(twelve) == 12 and len(all_144) == 144
        assert set(twelve) <= set(all_144)
        for boxes in (twelve, all_144):
            assert sum(m for _, m in boxes) == len(boxes) // 2  # every crop also mirrored
            for (left, top, right, bottom), _ in boxes:
                assert left >= -1e-9 and top >= -1e-9 and right <= width + 1e-9 and bottom <= height + 1e-9
                assert abs((right - left) - (bottom - top)) < 1e-9  # square crops
        sides = sorted({round(b[2] - b[0], 6) for b, _ in all_144})
        # Four scales of crop (shorter side x 224/256 .. x 224/352) and the whole square.
        assert sides == sorted({round(short * 224 / s, 6) for s in (256, 288, 320, 352)} | {float(short)})
        # 12: one scale whose centre crop is the single crop's central 87.5 %.
        assert {round(b[2] - b[0], 6) for b, _ in twelve} == {round(short * 0.875, 6), float(short)}
    with pytest.raises(ValueError, match="crops must be one of"):
        data.multi_crop_boxes(10, 10, 10)
    stacked = data.eval_crops(data.load("digits", "val"), 0, (32, 32), 3, crops=12)
    assert stacked.shape == (12, 32, 32, 3)


def test_epoch_order_is_a_function_of_seed_and_epoch() -> None:
    order = data.epoch_order(10, seed=0, epoch=0)
    assert sorted(order.tolist()) == list(range(10))
    assert np.array_equal(order, data.epoch_order(10, seed=0, epoch=0))
    assert not np.array_equal(order, data.epoch_order(10, seed=0, epoch=1))
    shares = [data.epoch_order(11, 0, 0, rank, 2) for rank in (0, 1)]
    assert len(shares[0]) == len(shares[1]) == 5 and not set(shares[0]) & set(shares[1])
    assert data.steps_per_epoch(1438, 32) == 44 and data.steps_per_epoch(1438, 32, world=2) == 22


# --- recipe ------------------------------------------------------------------------------------


def test_learning_rate_decays_by_0_94_every_two_epochs() -> None:
    recipe = Recipe()
    assert [learning_rate(recipe, e) for e in range(5)] == [0.045, 0.045, 0.045 * 0.94, 0.045 * 0.94, 0.045 * 0.94**2]
    for epoch in range(0, 100, 7):
        assert learning_rate(recipe, epoch) == pytest.approx(0.045 * 0.94 ** (epoch // 2), rel=1e-12)


def test_moving_average_decay_warms_up_to_0_9999() -> None:
    recipe = Recipe()
    assert ema_decay(recipe, 0) == pytest.approx(0.1)
    assert ema_decay(recipe, 1) == pytest.approx(2 / 11)
    assert ema_decay(recipe, 1000) == pytest.approx(1001 / 1010)
    assert ema_decay(recipe, 10**7) == 0.9999


def test_step_seed_is_stable_and_distinct() -> None:
    assert step_seed(0, 5, 0) == step_seed(0, 5, 0)
    assert len({step_seed(0, s, r) for s in range(50) for r in range(2)}) == 100
    assert 0 <= step_seed(3, 7, 1) < 2**63


def test_settle_takes_missing_settings_from_the_checkpoint() -> None:
    saved = Run(data="digits", input_size=(32, 32), epochs=4, batch_size=16, recipe=Recipe(label_smoothing=0.1))
    asked = {"data": "digits", "input_size": None, "epochs": 6, "batch_size": None, "recipe": {"learning_rate": None}}
    run = settle(asked, saved)
    assert (run.epochs, run.batch_size, run.input_size, run.recipe.label_smoothing) == (6, 16, (32, 32), 0.1)
    assert resume_conflicts(saved, run) == []
    fresh = settle({"data": "digits", "input_size": (32, 32), "batch_size": 8}, None)
    assert fresh.batch_size == 8 and fresh.epochs == Run(data="x", input_size=(1, 1)).epochs
    assert resume_conflicts(saved, fresh) == ["batch_size", "recipe"]
    assert Run.from_json(json.loads(json.dumps(saved.to_json()))) == saved


# --- checkpoints -------------------------------------------------------------------------------


def tensors(value: float) -> dict[str, dict[str, np.ndarray]]:
    weights = {"stem/kernel": np.full((3, 3, 3, 4), value, np.float32)}
    return {"model.safetensors": weights, "ema.safetensors": weights, "optimizer.safetensors": {"a/step": np.zeros(())}}


def position(step: int) -> dict[str, int]:
    return {"epoch": 0, "batch": step, "step": step, "steps_per_epoch": 10, "world_size": 1}


def state_for(spec: archspec.Spec, step: int) -> dict[str, object]:
    """The fields every checkpoint's state has, as a trainer writes them."""
    return {
        "spec": {"name": spec.name, "fingerprint": ckpt.fingerprint(spec)},
        "run": Run(data="digits", input_size=(32, 32)).to_json(),
        "position": position(step),
        "history": [],
    }


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    spec = tiny_spec()
    path = ckpt.write(tmp_path, tensors(1.0), state_for(spec, 3))
    assert path == tmp_path / "checkpoint" and ckpt.locate(tmp_path) == path
    arrays, state = ckpt.read(path, spec)
    assert state["position"] == position(3) and set(state["files"]) == set(ckpt.TENSOR_FILES)
    np.testing.assert_array_equal(arrays["model.safetensors"]["stem/kernel"], np.ones((3, 3, 3, 4)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint"]  # no partial or previous left


def test_a_crash_mid_write_leaves_the_previous_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = tiny_spec()
    ckpt.write(tmp_path, tensors(1.0), state_for(spec, 1))
    real_write = ckpt._write_synced
    written: list[str] = []

    def dies_after_one_file(path: Path, data: bytes) -> None:
        if written:
            raise OSError("disk full")
        written.append(path.name)
        real_write(path, data)

    monkeypatch.setattr(ckpt, "_write_synced", dies_after_one_file)
    with pytest.raises(OSError, match="disk full"):
        ckpt.write(tmp_path, tensors(2.0), state_for(spec, 2))
    monkeypatch.undo()
    arrays, state = ckpt.read(ckpt.locate(tmp_path) or tmp_path, spec)
    assert state["position"] == position(1) and float(arrays["model.safetensors"]["stem/kernel"].max()) == 1.0
    assert (tmp_path / ".checkpoint.partial").exists()  # the debris of the crash ...
    ckpt.write(tmp_path, tensors(3.0), state_for(spec, 3))
    assert not (tmp_path / ".checkpoint.partial").exists()  # ... cleared by the next write
    assert ckpt.read(tmp_path / "checkpoint", spec)[1]["position"] == position(3)


def test_a_crash_between_the_renames_finds_the_previous_checkpoint(tmp_path: Path) -> None:
    spec = tiny_spec()
    ckpt.write(tmp_path, tensors(1.0), state_for(spec, 1))
    (tmp_path / "checkpoint").rename(tmp_path / "checkpoint.previous")  # as if killed right after
    assert ckpt.locate(tmp_path) == tmp_path / "checkpoint.previous"
    assert ckpt.read(tmp_path / "checkpoint.previous", spec)[1]["position"] == position(1)


def test_corrupt_checkpoints_are_refused(tmp_path: Path) -> None:
    spec = tiny_spec()
    path = ckpt.write(tmp_path, tensors(1.0), state_for(spec, 1))
    data_file = path / "ema.safetensors"
    blob = bytearray(data_file.read_bytes())
    blob[-1] ^= 0xFF  # one flipped bit in a weight
    data_file.write_bytes(bytes(blob))
    with pytest.raises(ckpt.CheckpointError, match=r"corrupt: ema.safetensors does not match the sha256"):
        ckpt.read(path, spec)
    with pytest.raises(ckpt.CheckpointError, match="corrupt"):
        ckpt.read_weights(path, spec)
    (path / "model.safetensors").unlink()
    with pytest.raises(ckpt.CheckpointError, match=r"incomplete: model\.safetensors is missing"):
        ckpt.read(path, spec)
    (path / "state.json").write_text("{ not json")
    with pytest.raises(ckpt.CheckpointError, match=r"state\.json is unreadable"):
        ckpt.read(path, spec)
    (path / "state.json").write_text('{"format": 99}')
    with pytest.raises(ckpt.CheckpointError, match="unknown format"):
        ckpt.read(path, spec)


def test_state_json_is_verified_by_its_own_digest_and_its_fields(tmp_path: Path) -> None:
    spec = tiny_spec()
    path = ckpt.write(tmp_path, tensors(1.0), state_for(spec, 1))
    state = json.loads((path / "state.json").read_text())
    state["position"]["step"] = 2  # a plausible edit, as valid JSON
    (path / "state.json").write_text(json.dumps(state))
    with pytest.raises(ckpt.CheckpointError, match=r"state\.json does not match its own sha256"):
        ckpt.read(path, spec)
    state["position"]["step"] = "2"
    state["state_sha256"] = ckpt._state_digest(state)  # forged to match
    (path / "state.json").write_text(json.dumps(state))
    with pytest.raises(ckpt.CheckpointError, match="an unusable position"):
        ckpt.read(path, spec)


def test_a_checkpoint_of_another_spec_is_refused(tmp_path: Path) -> None:
    path = ckpt.write(tmp_path, tensors(1.0), state_for(tiny_spec(4), 1))
    assert ckpt.fingerprint(tiny_spec(4)) == ckpt.fingerprint(tiny_spec(4)) != ckpt.fingerprint(tiny_spec(5))
    with pytest.raises(ckpt.CheckpointError, match="written for spec 'tiny', whose weights differ"):
        ckpt.read(path, tiny_spec(5))


# --- metrics logs ------------------------------------------------------------------------------


def read_events(path: Path) -> list[Any]:
    from tensorboard.compat.proto.event_pb2 import Event

    events, blob, at = [], path.read_bytes(), 0
    while at < len(blob):
        (length,) = struct.unpack("<Q", blob[at : at + 8])
        events.append(Event.FromString(blob[at + 12 : at + 12 + length]))
        at += 12 + length + 4
    return events


def row(epoch: int) -> dict[str, float]:
    return {
        "epoch": epoch, "step": 10 * epoch, "lr": 0.045, "train_loss": 1.0 / epoch, "train_top1": 0.5,
        "val_loss": 0.9 / epoch, "val_top1": 0.6, "val_top5": 0.9, "seconds": 1.0, "images_per_second": 100.0,
    }  # fmt: skip


def test_training_log_writes_csv_png_and_tensorboard(tmp_path: Path) -> None:
    from archspec.training.log import TrainingLog, read_csv

    log = TrainingLog(tmp_path, "tiny", [])
    log.epoch([row(1)])
    log.epoch([row(1), row(2)])
    log.close()
    assert read_csv(tmp_path / "metrics.csv") == [row(1), row(2)]
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (events_file,) = tmp_path.glob("events.out.tfevents.*")
    events = read_events(events_file)
    assert events[0].file_version == "brain.Event:2"
    losses = [(e.step, v.simple_value) for e in events for v in e.summary.value if v.tag == "val/loss"]
    assert losses == [(1, pytest.approx(0.9)), (2, pytest.approx(0.45))]
