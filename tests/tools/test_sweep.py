"""`archspec sweep`: a grid of variants through the front end, the front of params against MACs,
CSV, JSON and a plot; and the `width:` multiplier the sweeps of width use."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import run_archspec

import archspec
from archspec.errors import SpecError
from archspec.frontend import width
from archspec.tools import sweep


def test_an_axis_reads_its_values_as_a_yaml_list() -> None:
    assert sweep.axis("params.x=1,2,3").values == (1, 2, 3)
    assert sweep.axis("input.shape=[149,149,3],[299, 299, 3]").values == ([149, 149, 3], [299, 299, 3])
    assert sweep.axis("input.shape=[149,149,3]").values == ([149, 149, 3],)  # one value: a constant
    assert sweep.axis("params.act='relu',gelu").values == ("relu", "gelu")
    with pytest.raises(SpecError, match=r"^--set params.x:1:"):
        sweep.axis("params.x=[1,")


def test_the_grid_is_every_combination_last_axis_fastest_and_bounded() -> None:
    axes = [sweep.axis("a=1,2"), sweep.axis("b=x,y,z")]
    assert sweep.grid(axes) == [(1, "x"), (1, "y"), (1, "z"), (2, "x"), (2, "y"), (2, "z")]
    with pytest.raises(ValueError, match="more than 10,000"):
        sweep.grid([sweep.axis("a=" + ",".join(map(str, range(101))))] * 2)


def point(params: int, macs: int) -> sweep.Point:
    return sweep.Point((), {"params": params, "macs": macs})


@given(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20)), min_size=1, max_size=40))
def test_the_front_is_exactly_the_points_no_other_point_beats(pairs: list[tuple[int, int]]) -> None:
    points = [point(p, m) for p, m in pairs]
    found = sweep.front(points)

    def beaten(i: int) -> bool:
        (p, m) = pairs[i]
        return any(q >= p and n <= m and (q, n) != (p, m) for q, n in pairs)

    assert found == {i for i in range(len(pairs)) if not beaten(i)}


def test_width_rounds_to_the_divisor_within_ten_percent() -> None:
    for exact in (1.0, 7.9, 12.0, 35.7, 160.0, 1001.5):
        for divisor in (1, 8, 32):
            found = width.rounded(exact, divisor)
            assert found % divisor == 0 and found >= divisor and found >= 0.9 * exact
            assert abs(found - exact) <= divisor
    assert width.rounded(96 * 0.5, 8) == 48 and width.rounded(20, 8) == 24


def test_a_width_multiplier_scales_every_width_but_the_classifier() -> None:
    base = archspec.load("inception_v4")
    half = archspec.load("inception_v4", overrides=["width.multiplier=0.5", "width.divisor=16"])
    assert archspec.load("inception_v4", overrides=["width.multiplier=1"]).summary() == base.summary()
    for node in base.nodes:
        scaled = half.node(node.name)
        if node.op == "conv":
            assert scaled.attrs["filters"] == width.rounded(node.attrs["filters"] * 0.5, 16)
        elif node.op == "dense":
            assert scaled.attrs["units"] == node.attrs["units"] == 1000
    assert half.output_shape == (1000,) and half.params < base.params / 3


def cli_sweep(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    done = run_archspec("sweep", *args, cwd=tmp_path)
    return done.returncode, done.stdout, done.stderr


@pytest.mark.slow
def test_a_sweep_writes_every_point_as_the_front_end_computes_it(tmp_path: Path) -> None:
    axes = [
        "--set",
        "width.multiplier=0.5,1",
        "--set",
        "params.inception_b_blocks=3,7",
        "--set",
        "input.shape=[149,149,3]",
    ]
    code, _out, err = cli_sweep(tmp_path, "inception_v4", *axes, "-o", "v4")
    assert code == 0, err
    with (tmp_path / "v4.csv").open() as f:
        rows = list(csv.DictReader(f))
    document = json.loads((tmp_path / "v4.json").read_text())
    assert len(rows) == len(document["points"]) == 4
    assert [a["key"] for a in document["axes"]] == ["width.multiplier", "params.inception_b_blocks", "input.shape"]
    for row, record in zip(rows, document["points"], strict=True):
        overrides = [
            f"width.multiplier={row['width.multiplier']}",
            f"params.inception_b_blocks={row['params.inception_b_blocks']}",
        ]
        spec = archspec.load("inception_v4", overrides=[*overrides, "input.shape=[149,149,3]"])
        assert int(row["params"]) == record["params"] == spec.params
        assert int(row["macs"]) == record["macs"] == spec.macs
        assert record["input.shape"] == [149, 149, 3] and row["input"] == "149x149x3"
    assert [r["front"] for r in document["points"]] == [True, True, True, True]  # depth and width add params faster
    png = (tmp_path / "v4.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    # Nothing is replaced without --force, and all three are checked before any is written.
    (tmp_path / "v4.csv").write_text("mine")
    code, _, err = cli_sweep(tmp_path, "inception_v4", *axes, "-o", "v4")
    assert code == 1 and "v4.csv exists; pass --force" in err and (tmp_path / "v4.csv").read_text() == "mine"
    assert cli_sweep(tmp_path, "inception_v4", *axes, "-o", "v4", "--force")[0] == 0


def test_a_point_that_fails_is_reported_and_the_others_still_written(tmp_path: Path) -> None:
    code, _out, err = cli_sweep(tmp_path, "inception_v4", "--set", "input.shape=[64,64,3],[149,149,3]", "-o", "s")
    assert code == 1
    assert "1 of 2 points failed" in err and err.count("error:") == 1 and "Traceback" not in err
    assert "kernel does not fit the 2x2 input" in err and "in the point input.shape=[64, 64, 3]" in err
    records = json.loads((tmp_path / "s.json").read_text())["points"]
    assert records[0]["params"] is None and "inception_v4.yaml:" in records[0]["error"]
    assert records[1]["params"] == archspec.load("inception_v4", overrides=["input.shape=[149,149,3]"]).params


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("width.multiplier=0.5,abc", "--set width.multiplier:1:1: error: 'multiplier': expected a number, got 'abc'"),
        ("width.factor=1,2", "--set width.factor:1:1: error: unknown key 'factor' in 'width'"),
        ("input.shape=[1,", "--set input.shape:1:"),
    ],
)
def test_a_bad_override_is_located_exit_1_without_traceback(override: str, message: str, tmp_path: Path) -> None:
    code, _, err = cli_sweep(tmp_path, "inception_v4", "--set", override)
    assert code == 1 and message in err and "Traceback" not in err


@pytest.mark.slow
def test_measure_times_each_point_training_step(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    args = ["examples/inception_resnet_v2_tiny", "--set", "input.shape=[32,32,3],[48,48,3]", "-o", "t"]
    code, out, err = cli_sweep(
        tmp_path, *args, "--measure", "torch", "--steps", "1", "--rounds", "2", "--batch-size", "4"
    )
    assert code == 0, err
    records = json.loads((tmp_path / "t.json").read_text())["points"]
    for record in records:
        assert record["step_s"] > 0 and record["images_per_s"] == pytest.approx(4 / record["step_s"])
    assert "step (ms)" in out
    code, _, err = cli_sweep(tmp_path, *args[:3], "--measure", "torch:tpu")
    assert code == 1 and "--measure takes torch or torch:cuda" in err
