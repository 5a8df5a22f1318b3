"""Feature stages (`archspec.analysis.stages`): a tap at every reduction, found inside blocks as well
as between them, or the taps a spec lists under `features:`; the front end checks that list."""

from __future__ import annotations

from pathlib import Path
from textwrap import indent

import pytest
from support import run_archspec

import archspec
from archspec.analysis.stages import stages
from archspec.errors import SpecError


def found(spec: archspec.Spec) -> list[tuple[str, int, int]]:
    return [(s.name, s.channels, s.reduction) for s in stages(spec)]


# A stem that reduces twice, two residual blocks and a strided conv: the stem as one block instance
# (STEM_BLOCK) or as top-level steps (STEM_STEPS) has the same stages.
STEM = """\
- {op: conv, name: c1, kernel: 3, stride: 2, padding: valid, filters: 8}
- {op: conv, name: c2, kernel: 3, padding: valid, filters: 8}
- name: m
  branches:
    a: [{op: maxpool, kernel: 3, stride: 2, padding: valid}]
    b: [{op: conv, kernel: 1, filters: 4}, {op: conv, kernel: 3, stride: 2, padding: valid, filters: 8}]
- {op: conv, name: c3, kernel: 3, padding: valid, filters: 12}
"""
REST = """\
  - {block: res, repeat: 2}
  - {op: conv, name: down, kernel: 3, stride: 2, filters: 24}
  - {op: global_avgpool}
  - {op: dense, units: 10}
"""
BLOCKS = """\
archspec: 1
input: {shape: [64, 64, 3]}
blocks:
  res:
    body:
      - {op: conv, kernel: 1, filters: 6}
      - {op: conv, kernel: 1, filters: 12}
      - {op: add, shortcut: input}
"""
STEM_BLOCK = BLOCKS + "  stem:\n    body:\n" + indent(STEM, "      ") + "network:\n  - {block: stem}\n" + REST
STEM_STEPS = BLOCKS + "network:\n" + indent(STEM, "  ") + REST


def test_stages_reach_into_a_stem_whether_it_is_one_block_or_steps() -> None:
    """Where no step ends at a reduction (the stem reduces twice), the tap is the last cut point
    there inside the block: c2, not the 1x1 conv on branch m/b written after it, nor a node inside a
    residual block."""
    as_block, as_steps = archspec.load(STEM_BLOCK), archspec.load(STEM_STEPS)
    assert found(as_block) == [("stem/c2", 8, 2), ("res_2", 12, 4), ("down", 24, 8)]
    assert found(as_steps) == [("c2", 8, 2), ("res_2", 12, 4), ("down", 24, 8)]
    # The stem's own output (c3, at reduction 4) is a step's: the residual blocks after it end the stage.
    assert [s.node for s in stages(as_block)] == ["stem/c2", "res_2/add_0", "down"]


def test_the_automatic_stages_of_inception_v3_are_timm_s() -> None:
    # timm's inception_v3 feature_info: Conv2d_2b, Conv2d_4a, Mixed_5d, Mixed_6e, Mixed_7c.
    assert found(archspec.load("inception_v3")) == [
        ("stem/conv2d_2b", 64, 2), ("stem/conv2d_4a", 192, 4), ("mixed_5d", 288, 8), ("mixed_6e", 768, 16),
        ("mixed_7c", 2048, 32),
    ]  # fmt: skip


def test_reductions_are_the_strides_at_any_input_size() -> None:
    """At 75x75 valid padding leaves Inception-v4's last map 1x1, a ratio of 75, yet its reduction is 32."""
    small = archspec.load("inception_v4", input_shape=(75, 75, 3))
    assert [s.reduction for s in stages(small)] == [2, 4, 8, 16, 32]
    assert [small.shapes[s.node][0] for s in stages(small)] == [35, 17, 7, 3, 1]


def test_a_size_given_by_like_is_no_path_around_the_network() -> None:
    """A segmentation head resized `like: input` reads the input for its size only: the maps on the
    way are still cut points, and the resize is at the input's reduction."""
    spec = archspec.load(
        "archspec: 1\ninput: {shape: [32, 32, 3]}\nnetwork:\n"
        "  - {op: conv, name: a, kernel: 3, stride: 2, filters: 4}\n"
        "  - {op: conv, name: b, kernel: 3, stride: 2, filters: 8}\n"
        "  - {op: resize, name: up, like: input, mode: bilinear}\n"
    )
    assert found(spec) == [("a", 4, 2), ("b", 8, 4), ("up", 8, 1)]


def test_inception_declares_timm_s_taps_and_they_hold_at_any_depth() -> None:
    """inception_v4 lists timm's taps (Mixed_3a at reduction 4, where the automatic rule would take
    Mixed_4a); written as block inputs, they follow a change of depth, in variants too."""
    assert found(archspec.load("inception_v4")) == [
        ("stem/conv2d_2b", 64, 2), ("stem/mixed_3a", 160, 4), ("mixed_5e", 384, 8), ("mixed_6h", 1024, 16),
        ("mixed_7d", 1536, 32),
    ]  # fmt: skip
    assert found(archspec.load("inception_resnet_v2")) == [
        ("stem/conv2d_2b", 64, 2), ("stem/conv2d_4a", 192, 4), ("block35_10", 320, 8), ("block17_20", 1088, 16),
        ("conv_7b", 1536, 32),
    ]  # fmt: skip
    shallow = archspec.load("inception_v4", overrides=["params.inception_a_blocks=2"])
    assert [s.name for s in stages(shallow)][2] == "mixed_5c"
    assert [s.name for s in stages(archspec.load("examples/inception_v4_small"))] == [
        "stem/conv2d_2b", "stem/mixed_3a", "mixed_5c", "mixed_6d", "mixed_7b"
    ]  # fmt: skip
    se = archspec.load("se_inception_resnet_v2", overrides=["params.block35_repeats=3"])
    assert [(s.name, s.channels) for s in stages(se)][1:3] == [("stem/conv2d_4a", 192), ("block35_3", 320)]


TINY = """\
archspec: 1
input: {shape: [32, 32, 3]}
network:
  - {op: conv, name: a, kernel: 3, stride: 2, filters: 4}
  - {op: conv, name: b, kernel: 3, filters: 6}
  - {op: conv, name: c, kernel: 3, stride: 2, filters: 8}
  - {op: global_avgpool, name: pool}
  - {op: dense, name: fc, units: 3}
"""


def test_declared_features_are_the_stages_and_chosen_outputs_keep_those_they_need() -> None:
    assert found(archspec.load(TINY)) == [("b", 6, 2), ("c", 8, 4)]
    declared = archspec.load(TINY + "features: [a, c]\n")
    assert found(declared) == [("a", 4, 2), ("c", 8, 4)]
    assert declared.graph.graph["features"] == ("a", "c")
    # Outputs chosen before the last feature leave it out: the stages are those of what is kept.
    assert found(archspec.load(TINY + "features: [a, c]\noutputs: [b]\n")) == [("a", 4, 2)]


@pytest.mark.parametrize(
    ("features", "message", "hint"),
    [
        ("[a, pool]", "feature 'pool' is a vector of 8 (global_avgpool), not a feature map", "feature maps"),
        ("[a, fc]", "feature 'fc' is a vector of 3 (dense), not a feature map", "feature maps"),
        ("[c, a]", "feature 'a' comes before 'c' in the network", "in the order the network computes"),
        ("[a, a]", "feature 'a' is listed twice (also as 'a')", None),
        ("[a, cc]", "unknown node 'cc'", "did you mean 'c'?"),
        ("[a, c/x]", "'c' in 'c/x' is not a branch or block instance", None),
    ],
)
def test_a_bad_feature_is_a_located_error(features: str, message: str, hint: str | None) -> None:
    """Each at its second entry: line 9, column 15."""
    with pytest.raises(SpecError) as caught:
        archspec.load(TINY + f"features: {features}\n")
    (diagnostic,) = caught.value.diagnostics
    assert (str(diagnostic.pos), diagnostic.message) == ("<string>:9:15", message)
    assert hint is None or hint in (diagnostic.hint or "")
    assert hint is not None or diagnostic.hint is None


def test_check_locates_a_feature_that_is_not_there(tmp_path: Path) -> None:
    """The command line: exit 1 and FILE:LINE:COL at the name, in a variant of a bundled spec."""
    variant = tmp_path / "variant.yaml"
    variant.write_text(
        "archspec: 1\nextends: archspec:inception_v4.yaml\nfeatures:\n  - stem/conv2d_2b\n  - stem/mixd_3a\n"
    )
    result = run_archspec("check", "variant.yaml", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith(
        "variant.yaml:5:5: error: unknown node 'stem/mixd_3a'\n  hint: did you mean 'mixed_3a'?"
    )
    assert "Traceback" not in result.stderr
    variant.write_text("archspec: 1\nextends: archspec:inception_v4.yaml\nfeatures: [stem/conv2d_2b, head/logits]\n")
    result = run_archspec("check", "variant.yaml", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("variant.yaml:3:28: error: feature 'head/logits' is a vector of 1000 (dense)")
    variant.write_text("archspec: 1\nextends: archspec:inception_v4.yaml\nfeatures: []\n")
    result = run_archspec("check", "variant.yaml", cwd=tmp_path)
    assert (result.returncode, result.stderr.splitlines()[0]) == (
        1,
        "variant.yaml:3:11: error: 'features': needs at least 1 item",
    )
