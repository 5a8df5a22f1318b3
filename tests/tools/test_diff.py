"""`archspec diff A B`: the two IRs aligned, every difference named, and deltas that add up to
the difference of the two summaries exactly; `render A --diff B` colours them."""

from __future__ import annotations

import itertools
import json
from functools import cache
from pathlib import Path

import pytest
from support import NETWORKS, run_archspec

import archspec
from archspec.tools import diff, render


@cache
def load(name: str) -> archspec.Spec:
    return archspec.load(name)


def by_name(found: diff.Diff) -> dict[str, diff.StepChange]:
    return {(s.a or s.b).name: s for s in found.steps}  # type: ignore[union-attr]


def test_the_paper_diff_names_every_difference_the_reference_sheet_lists() -> None:
    """architecture.md, section 8, items 3-7: the stem, Mixed_5b, the block counts, the widths,
    the scales of the last block and Conv2d_7b, each where it is."""
    found = diff.diff(load("inception_resnet_v2"), load("inception_resnet_v2_paper"))
    steps = by_name(found)
    # 3. The stem: Inception-v3's plus Mixed_5b in the implementations, Inception-v4's in the paper.
    assert (steps["stem"].a.type, steps["stem"].b.type, steps["stem"].status) == ("stem_v3", "stem_v4", "changed")
    assert steps["stem"].shape == ((35, 35, 192), (35, 35, 384))
    assert steps["mixed_5b"].status == "removed"
    # 5. Block counts 10/20/10 -> 5/10/5: the surplus instances, the final block8 among them, are removed.
    removed = [s.a.name for s in found.steps if s.status == "removed" and s.a.type in ("block35", "block17", "block8")]
    expected = [f"block35_{i}" for i in range(6, 11)] + [f"block17_{i}" for i in range(11, 21)]
    assert removed == expected + [f"block8_{i}" for i in range(6, 11)]
    # 4. Widths: each up-projection, and the reductions' outputs.
    for block, (wide_a, wide_b) in (("block35_1", (320, 384)), ("block17_1", (1088, 1152)), ("block8_1", (2080, 2144))):
        up = next(n for n in steps[block].nodes if n.a == f"{block}/up")
        assert ("filters", wide_a, wide_b) in up.attrs
        assert steps[block].values == (("channels", wide_a, wide_b),)
    renamed = {s.a.name: s.b.name for s in found.steps if s.a and s.b and s.a.name != s.b.name}
    assert renamed == {"mixed_6a": "reduction_a", "mixed_7a": "reduction_b"}
    assert steps["mixed_6a"].shape == ((17, 17, 1088), (17, 17, 1152))
    assert steps["mixed_7a"].shape == ((8, 8, 2080), (8, 8, 2144))
    # 6 and 7. The final block8 (scale 1.0, no ReLU) and Conv2d_7b are not in the paper.
    assert dict((k, x) for k, x, _ in steps["block8_10"].values) == {
        "channels": 2080,
        "scale": 1.0,
        "activation": "none",
    }
    assert steps["conv_7b"].status == "removed"
    text = diff.table(found)
    for line in (
        "stem (stem_v3 -> stem_v4): changed, output 35x35x192 -> 35x35x384",
        "mixed_5b (mixed_5b): removed",
        "block35_6 .. block35_10 (5 x block35): removed",
        "block17_11 .. block17_20 (10 x block17): removed",
        "mixed_6a -> reduction_a (reduction_a): changed, output 17x17x1088 -> 17x17x1152",
        "~ up: filters 2080 -> 2144",
        "block8_10 (block8): removed",
        "with channels 2080, scale 1.0, activation none",
        "conv_7b (conv_7b): removed",
    ):
        assert line in text, line


@pytest.mark.parametrize(
    ("a", "b"), list(itertools.combinations([p.stem for p in NETWORKS if p.parent.name == "specs"], 2))
)
def test_the_deltas_add_up_to_the_difference_of_the_summaries(a: str, b: str) -> None:
    spec_a, spec_b = load(a), load(b)
    found = diff.diff(spec_a, spec_b)
    summary_a, summary_b = spec_a.summary(), spec_b.summary()
    report = diff.to_json(found)
    for figure in ("params", "macs", "activation_bytes"):
        assert report["totals"][figure]["delta"] == summary_b[figure] - summary_a[figure]
    for figure in ("params", "macs"):
        assert sum(s[figure]["delta"] for s in report["steps"]) == summary_b[figure] - summary_a[figure]
        per_step = sum(n[figure]["delta"] for s in report["steps"] for n in s["nodes"] if s["status"] == "changed")
        assert per_step == sum(s[figure]["delta"] for s in report["steps"] if s["status"] == "changed")
    # Every step of each spec appears once, in its order.
    assert [s["a"] for s in report["steps"] if s["a"]] == [step.name for step in spec_a.steps]
    assert [s["b"] for s in report["steps"] if s["b"]] == [step.name for step in spec_b.steps]


def test_a_spec_against_itself_differs_in_nothing() -> None:
    found = diff.diff(load("inception_v4"), archspec.load("inception_v4"))
    assert not found.changed and all(s.status == "same" for s in found.steps)
    assert "steps: 0 differ, 18 the same" in diff.table(found)


BASE = """
archspec: 1
input: {shape: [32, 32, 3]}
blocks:
  mix:
    params: {wide: 16}
    body:
      - branches:
          left: [{op: conv, kernel: 1x1, filters: $wide}]
          right: [{op: conv, kernel: 3x3, filters: 8}, {op: maxpool, kernel: 3x3, stride: 1, padding: same}]
network:
  - {op: conv, name: stem, kernel: 3x3, stride: 2, filters: 8}
  - {block: mix, repeat: 2}
  - {op: global_avgpool}
  - {op: dense, name: logits, units: 10}
"""


def test_attributes_wiring_and_renames_inside_a_block_are_named() -> None:
    a = archspec.load(BASE)
    changed = (
        BASE.replace(
            "left: [{op: conv, kernel: 1x1, filters: $wide}]", "left: [{op: conv, kernel: 1x3, filters: $wide}]"
        )
        .replace("{block: mix, repeat: 2}", "{block: mix, repeat: 3, with: {wide: 24}}")
        .replace("name: stem", "name: first")
    )
    found = diff.diff(a, archspec.load(changed))
    steps = by_name(found)
    assert [s.status for s in found.steps] == ["changed", "changed", "changed", "added", "changed", "changed"]
    assert steps["global_avgpool_0"].shape == ((24,), (32,))  # 16 + 8 channels, then 24 + 8
    assert (steps["stem"].a.name, steps["stem"].b.name) == ("stem", "first")  # a renamed op, matched by position
    left = next(n for n in steps["mix_1"].nodes if n.a == "mix_1/left/conv_0")
    assert ("kernel", (1, 1), (1, 3)) in left.attrs and ("filters", 16, 24) in left.attrs
    assert steps["mix_1"].values == (("wide", 16, 24),)
    assert "~ left/conv_0: kernel 1x1 -> 1x3, filters 16 -> 24" in diff.table(found)
    # The concat's order is its operands' order: swapping the branches is a change of wiring.
    swapped = BASE.replace("left:", "zleft:").replace("right:", "left:").replace("zleft:", "right:")
    concat = next(n for n in by_name(diff.diff(a, archspec.load(swapped)))["mix_1"].nodes if n.a == "mix_1/concat_0")
    assert concat.inputs == (("left/conv_0", "right/maxpool_0"), ("right/conv_0", "left/maxpool_0"))


def test_the_command_line_reports_and_exits_0_whether_or_not_specs_differ(tmp_path: Path) -> None:
    done = run_archspec("diff", "inception_resnet_v2", "inception_resnet_v2_paper", "--format", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["totals"]["params"] == {"a": 55_843_464, "b": 32_433_928, "delta": 32_433_928 - 55_843_464}
    same = run_archspec("diff", "inception_v4", "inception_v4", cwd=tmp_path)
    assert same.returncode == 0 and "0 differ" in same.stdout
    # --set changes B only: what an override does.
    override = run_archspec("diff", "inception_v4", "inception_v4", "--set", "params.num_classes=10", cwd=tmp_path)
    assert override.returncode == 0 and "~ logits: units 1000 -> 10, output 1000 -> 10" in override.stdout


def test_a_spec_error_on_either_side_exits_1_located_without_traceback(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(
        "archspec: 1\ninput: {shape: [32, 32, 3]}\nnetwork:\n  - {op: conv, filters: -1}\n"
    )
    for args in (("bad.yaml", "inception_v4"), ("inception_v4", "bad.yaml")):
        done = run_archspec("diff", *args, cwd=tmp_path)
        assert done.returncode == 1 and done.stderr.startswith("bad.yaml:4:")
        assert "Traceback" not in done.stderr
    done = run_archspec("diff", "inception_v4", "inception_v4", "--set", "input.shape=[0]", cwd=tmp_path)
    assert done.returncode == 1 and done.stderr.startswith("--set input.shape:1:1: error:")


def test_render_diff_colours_what_b_changes_and_lacks(tmp_path: Path) -> None:
    spec, paper = load("inception_resnet_v2"), load("inception_resnet_v2_paper")
    highlight = diff.highlight(diff.diff(spec, paper), spec, paper)
    dot = render.to_dot(spec, highlight=highlight)
    boxes = {line.split('"')[1]: line for line in dot.splitlines() if 'class="step"' in line}
    assert (
        f'fillcolor="{render.REMOVED_FILL}"' in boxes["mixed_5b"]
        and f'fillcolor="{render.REMOVED_FILL}"' in boxes["conv_7b"]
    )
    assert f'fillcolor="{render.CHANGED_FILL}"' in boxes["stem"]
    assert "in B: 5 removed, 5 changed of 10" in boxes["block35_1"]
    assert "diff against B = inception_resnet_v2_paper" in dot
    layers = render.to_dot(spec, block="stem", highlight=highlight)
    assert f'fillcolor="{render.REMOVED_FILL}", tooltip="stem/conv2d_4a (removed in B)"' in layers
    plain = render.to_dot(spec)
    assert render.CHANGED_FILL not in plain and render.REMOVED_FILL not in plain
    assert render.ADDED_FILL not in plain and render.LEGEND_ID not in plain
    done = run_archspec(
        "render", "inception_resnet_v2", "--diff", "inception_resnet_v2_paper", "-o", "d.dot", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "d.dot").read_text() == dot


def test_ignore_shapes_keeps_what_a_node_itself_changes(tmp_path: Path) -> None:
    """Another input size changes every node's size; --ignore-shapes leaves only the dropout rate
    that the second override changes itself."""
    overrides = ("--set", "input.shape=[149,149,3]")
    plain = run_archspec("diff", "inception_v4", "inception_v4", *overrides, cwd=tmp_path)
    assert plain.returncode == 0, plain.stderr
    assert "steps: 18 differ, 0 the same" in plain.stdout
    ignored = run_archspec(
        "diff", "inception_v4", "inception_v4", *overrides, "--set", "params.dropout=0.5", "--ignore-shapes",
        cwd=tmp_path,
    )  # fmt: skip
    assert ignored.returncode == 0, ignored.stderr
    assert "steps: 1 differ, 17 the same" in ignored.stdout
    assert "~ dropout_0: rate 0.2 -> 0.5" in ignored.stdout


def test_set_changes_b_in_render_diff_as_in_diff(tmp_path: Path) -> None:
    done = run_archspec(
        "render", "inception_v4", "--diff", "inception_v4", "--set", "params.inception_a_blocks=3", "-o", "d.dot",
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    dot = (tmp_path / "d.dot").read_text()
    assert "4 x inception_a" in dot and "in B: 1 removed of 4" in dot  # A drawn, B's change marked
