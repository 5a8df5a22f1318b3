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
from archspec.training import checkpoint as ckpt


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


@given(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20)), min_size=1, max_size=40))
def test_the_front_of_two_costs_is_exactly_the_points_no_other_point_beats(pairs: list[tuple[int, int]]) -> None:
    records = [{"params": p, "macs": m} for p, m in pairs]
    found = sweep.front(records, "macs", "params")

    def beaten(i: int) -> bool:  # another at most as big and at most as costly, and not the same
        (p, m) = pairs[i]
        return any(q <= p and n <= m and (q, n) != (p, m) for q, n in pairs)

    assert found == {i for i in range(len(pairs)) if not beaten(i)}


@given(st.lists(st.tuples(st.integers(0, 20), st.floats(0, 1) | st.none()), min_size=1, max_size=40))
def test_the_front_of_cost_and_accuracy_is_the_most_accurate_for_its_cost(
    pairs: list[tuple[int, float | None]],
) -> None:
    records = [{"macs": m, "val_top1": a} for m, a in pairs]
    found = sweep.front(records, "macs", "val_top1")
    trained = [(m, a) for m, a in pairs if a is not None]

    def beaten(i: int) -> bool:  # another as cheap and as accurate, better in one
        (m, a) = pairs[i]
        return any(n <= m and b >= a and (n, b) != (m, a) for n, b in trained)

    assert found == {i for i, (_, a) in enumerate(pairs) if a is not None and not beaten(i)}


def test_an_axis_is_logarithmic_where_its_values_span_twenty_times_or_as_told() -> None:
    records = [{"macs": 1e6, "params": 5.0, "val_top1": 0.1}, {"macs": 3e7, "params": 50.0, "val_top1": 0.9}]
    assert sweep.log_axes(records, "macs", "params", "auto") == (True, False)
    assert sweep.log_axes(records, "val_top1", "macs", "auto") == (False, True)
    assert sweep.log_axes(records, "macs", "params", "none") == (False, False)
    assert sweep.log_axes(records, "macs", "params", "y") == (False, True)
    assert sweep.log_axes([{"macs": 0, "params": 1}, {"macs": 9e9, "params": 1}], "macs", "params", "auto")[0] is False


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


@pytest.mark.parametrize("multiplier", [0.5, 0.75, 1.25])
@pytest.mark.parametrize(("name", "blocks"), [("inception_resnet_v2", 40), ("examples/inception_resnet_v2_tiny", 6)])
def test_a_scaled_residual_projection_takes_its_shortcut_s_width(name: str, blocks: int, multiplier: float) -> None:
    written = archspec.load(name)
    spec = archspec.load(name, overrides=[f"width.multiplier={multiplier}"])
    adds = [node for node in spec.nodes if node.op == "add"]
    assert len(adds) == blocks
    for add in adds:
        shortcut, residual = (spec.shapes[operand] for operand in add.inputs)
        assert shortcut == residual, add.name
    for node in spec.nodes:  # every other width is the rounded product
        if node.op == "conv" and not any(node.name in add.inputs for add in adds):
            assert node.attrs["filters"] == width.rounded(written.node(node.name).attrs["filters"] * multiplier, 8)
    # The tiny network's narrow branches round away from their total: there the fit is what makes it check.
    ups = [spec.node(add.inputs[1]) for add in adds]
    rounded = [width.rounded(written.node(up.name).attrs["filters"] * multiplier, 8) for up in ups]
    assert any(up.attrs["filters"] != r for up, r in zip(ups, rounded, strict=True)) == ("tiny" in name)


def test_a_residual_that_did_not_fit_as_written_still_does_not_when_scaled(tmp_path: Path) -> None:
    spec = tmp_path / "misfit.yaml"
    spec.write_text(
        "archspec: 1\nname: misfit\ninput: {shape: [8, 8, 3]}\nnetwork:\n"
        "  - {op: conv, kernel: 3x3, filters: 16}\n  - {op: conv, kernel: 1x1, filters: 24}\n"
        "  - {op: add, shortcut: conv_0}\n"
    )
    for multiplier in ("1", "0.5"):
        with pytest.raises(SpecError, match="the residual must project back"):
            archspec.load(spec, overrides=[f"width.multiplier={multiplier}"])


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
    # Against MACs and params, both costs, the front is the points no other undercuts on both.
    pairs = [(r["macs"], r["params"]) for r in document["points"]]
    assert [r["front"] for r in document["points"]] == [
        not any(m <= a and p <= b and (m, p) != (a, b) for m, p in pairs) for a, b in pairs
    ]
    assert sum(r["front"] for r in document["points"]) == 1  # the narrowest, shallowest point
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


def test_the_plot_s_figures_and_keys_must_be_the_sweep_s(tmp_path: Path) -> None:
    code, _, err = cli_sweep(tmp_path, "inception_v4", "--set", "width.multiplier=0.5,1", "--y", "val_top1")
    assert code == 2 and "--y val_top1: not a figure of this sweep (params, macs, flops, activation_bytes)" in err
    code, _, err = cli_sweep(tmp_path, "inception_v4", "--set", "width.multiplier=0.5,1", "--marker", "depth")
    assert code == 2 and "--marker depth: not a swept key or a figure" in err and "Traceback" not in err


@pytest.mark.slow
def test_a_trained_sweep_records_accuracy_for_every_point_and_goes_on_where_it_stopped(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    grid = ["--set", "width.multiplier=0.5,1", "--set", "params.block17_repeats=1,2"]
    training = ["--train", "digits", "--epochs", "2", "--limit", "96", "--runs", "points"]
    args = ["examples/inception_resnet_v2_tiny", *grid, *training, "-o", "tiny"]
    code, out, err = cli_sweep(tmp_path, *args)
    assert code == 0, err
    document = json.loads((tmp_path / "tiny.json").read_text())
    records = document["points"]
    with (tmp_path / "tiny.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(records) == len(rows) == 4 and "val top-1 (%)" in out
    for record, row in zip(records, rows, strict=True):
        assert 0.0 <= record["val_top1"] <= 1.0 and record["epochs"] == 2 and record["train_s"] > 0
        assert float(row["val_top1"]) == record["val_top1"] and row["macs"] and row["params"]  # every figure
        saved = ckpt.read_state(Path(tmp_path, record["run"], "checkpoint"))
        assert saved["history"][-1]["val_top1"] == record["val_top1"]
        assert saved["spec"]["name"] == "inception_resnet_v2_tiny"
    # The points differ: width and depth change the network, so its params and MACs.
    assert len({(r["params"], r["macs"]) for r in records}) == 4
    # The front is of accuracy against MACs: no other point as cheap and as accurate, better in one.
    figures = [(r["macs"], r["val_top1"]) for r in records]
    assert [r["front"] for r in records] == [
        not any(m <= a and t >= b and (m, t) != (a, b) for m, t in figures) for a, b in figures
    ]
    assert (tmp_path / "tiny.png").read_bytes().startswith(b"\x89PNG")

    # Again, with one more width: the four points are read back, not trained again; a point whose
    # folder holds someone's file fails alone and is reported; the others are written.
    wider = ["--set", "width.multiplier=0.5,1,0.75", grid[2], grid[3]]
    blocked = sweep.point_folder([sweep.axis(wider[1]), sweep.axis(wider[3])], (0.75, 1))
    (tmp_path / "points" / blocked).mkdir()
    (tmp_path / "points" / blocked / "notes.txt").write_text("mine")
    code, out, err = cli_sweep(tmp_path, "examples/inception_resnet_v2_tiny", *wider, *training, "-o", "more")
    assert code == 1 and "Traceback" not in err
    assert err.count("epoch 2/2") == 1  # only the new point that could train did
    assert "point 5/6 failed: " in err and "holds files no run wrote" in err and "1 of 6 points failed" in err
    again = json.loads((tmp_path / "more.json").read_text())["points"]
    assert [r["val_top1"] for r in again[:4]] == [r["val_top1"] for r in records]
    assert again[4]["val_top1"] is None and again[4]["params"] > 0 and "holds files no run wrote" in again[4]["error"]
    assert 0.0 <= again[5]["val_top1"] <= 1.0
    assert (tmp_path / "points" / blocked / "notes.txt").read_text() == "mine"


def test_the_plot_takes_chosen_axes_keys_and_scales(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    grid = ["--set", "width.multiplier=0.5,1", "--set", "params.inception_b_blocks=3,5"]
    grid += ["--set", "input.shape=[75,75,3]"]
    chosen = ["--x", "params", "--y", "activation_bytes", "--color", "macs", "--marker", "width.multiplier"]
    code, out, err = cli_sweep(tmp_path, "inception_v4", *grid, *chosen, "--log", "both", "-o", "s")
    assert code == 0, err
    records = json.loads((tmp_path / "s.json").read_text())["points"]
    pairs = [(r["params"], r["activation_bytes"]) for r in records]
    assert [r["front"] for r in records] == [
        not any(p <= a and b <= c and (p, b) != (a, c) for p, b in pairs) for a, c in pairs
    ]
    assert out.count("\n* ") + out.startswith("* ") == sum(r["front"] for r in records)
    assert (tmp_path / "s.png").read_bytes().startswith(b"\x89PNG")
