"""Every bundled spec through the whole front end, against its golden file and the reference
numbers of the architecture sheet. Adding a spec under specs/ adds its tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import ERRATA, NETWORKS, ROOT, SMALL_NETWORKS, golden_path, golden_text

import archspec
from archspec.errors import SpecError


@pytest.fixture(autouse=True)
def _repository_relative_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


@pytest.mark.parametrize("path", NETWORKS, ids=lambda p: p.stem)
def test_bundled_spec_passes_the_pipeline(path: Path) -> None:
    spec = archspec.load(path)
    summary = spec.summary()
    assert len(spec.graph) == len(summary["nodes"]) > 1
    assert summary["params"] == sum(n["params"] for n in summary["nodes"])
    assert summary["params"] == sum(b["params"] for b in summary["blocks"])
    assert summary["macs"] == sum(b["macs"] for b in summary["blocks"])
    assert summary["flops"] == 2 * summary["macs"]
    assert summary["output_shape"] == summary["blocks"][-1]["output_shape"]
    assert json.loads(json.dumps(summary)) == summary  # plain JSON, nothing lost
    names = [n["name"] for n in summary["nodes"]]
    assert len(names) == len(set(names))
    assert all(n["block"] in {b["name"] for b in summary["blocks"]} | {"input"} for n in summary["nodes"])


@pytest.mark.parametrize("path", NETWORKS + ERRATA, ids=lambda p: p.stem)
def test_bundled_spec_matches_golden(path: Path) -> None:
    golden = golden_path(path)
    assert golden.is_file(), f"no golden file for {path}; run `make golden`"
    assert golden_text(path) == golden.read_text(encoding="utf-8"), f"{golden} is stale; run `make golden` and review"


@pytest.mark.parametrize("path", NETWORKS, ids=lambda p: p.stem)
def test_bundled_spec_opens_with_a_source_comment(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# ") and len(first) > 20


# Parameter counts of the reference PyTorch implementations (timm), and MACs at 299x299x3,
# from the architecture sheet (sections 7.1 and 7.2).
REFERENCE = {
    "inception_v3": (23_834_568, 5.713e9),
    "inception_v4": (42_679_816, 12.254e9),
    "inception_resnet_v2": (55_843_464, 13.156e9),
    "inception_resnet_v1": (22_756_328, 6.206e9),
    "inception_resnet_v2_paper": (32_433_928, 9.258e9),
}


@pytest.mark.parametrize("name", REFERENCE)
def test_reference_params_and_macs(name: str) -> None:
    spec = archspec.load(ROOT / "specs" / f"{name}.yaml")
    params, macs = REFERENCE[name]
    assert spec.params == params
    assert abs(spec.macs - macs) / macs < 0.005


def _stages(*rows: tuple[str, tuple[int, ...]]) -> dict[str, tuple[int, ...]]:
    return dict(rows)


def _many(names: list[str], shape: tuple[int, ...]) -> list[tuple[str, tuple[int, ...]]]:
    return [(n, shape) for n in names]


# Stage output shapes at 299x299x3 from the architecture sheet (sections 1.5, 2.8, 3.3, 4.1, 4.3).
STAGES = {
    "inception_v3": _stages(
        ("stem", (35, 35, 192)),
        ("mixed_5b", (35, 35, 256)),
        ("mixed_5c", (35, 35, 288)),
        ("mixed_5d", (35, 35, 288)),
        ("mixed_6a", (17, 17, 768)),
        *_many(["mixed_6b", "mixed_6c", "mixed_6d", "mixed_6e"], (17, 17, 768)),
        ("mixed_7a", (8, 8, 1280)),
        ("mixed_7b", (8, 8, 2048)),
        ("mixed_7c", (8, 8, 2048)),
        ("head", (1000,)),
    ),
    "inception_v4": _stages(
        ("stem", (35, 35, 384)),
        *_many(["mixed_5b", "mixed_5c", "mixed_5d", "mixed_5e"], (35, 35, 384)),
        ("mixed_6a", (17, 17, 1024)),
        *_many([f"mixed_6{c}" for c in "bcdefgh"], (17, 17, 1024)),
        ("mixed_7a", (8, 8, 1536)),
        *_many(["mixed_7b", "mixed_7c", "mixed_7d"], (8, 8, 1536)),
        ("head", (1000,)),
    ),
    "inception_resnet_v1": _stages(
        ("stem", (35, 35, 256)),
        *_many([f"block35_{i}" for i in range(1, 6)], (35, 35, 256)),
        ("reduction_a", (17, 17, 896)),
        *_many([f"block17_{i}" for i in range(1, 11)], (17, 17, 896)),
        ("reduction_b", (8, 8, 1792)),
        *_many([f"block8_{i}" for i in range(1, 6)], (8, 8, 1792)),
        ("head", (1000,)),
    ),
    "inception_resnet_v2": _stages(
        ("stem", (35, 35, 192)),
        ("mixed_5b", (35, 35, 320)),
        *_many([f"block35_{i}" for i in range(1, 11)], (35, 35, 320)),
        ("mixed_6a", (17, 17, 1088)),
        *_many([f"block17_{i}" for i in range(1, 21)], (17, 17, 1088)),
        ("mixed_7a", (8, 8, 2080)),
        *_many([f"block8_{i}" for i in range(1, 11)], (8, 8, 2080)),
        ("conv_7b", (8, 8, 1536)),
        ("head", (1000,)),
    ),
    "inception_resnet_v2_paper": _stages(
        ("stem", (35, 35, 384)),
        *_many([f"block35_{i}" for i in range(1, 6)], (35, 35, 384)),
        ("reduction_a", (17, 17, 1152)),
        *_many([f"block17_{i}" for i in range(1, 11)], (17, 17, 1152)),
        ("reduction_b", (8, 8, 2144)),
        *_many([f"block8_{i}" for i in range(1, 6)], (8, 8, 2144)),
        ("head", (1000,)),
    ),
}


@pytest.mark.parametrize("name", STAGES)
def test_block_output_shapes_match_the_stage_tables(name: str) -> None:
    blocks = archspec.load(ROOT / "specs" / f"{name}.yaml").summary()["blocks"]
    assert [(b["name"], tuple(b["output_shape"])) for b in blocks] == list(STAGES[name].items())


def test_stem_layer_shapes_of_inception_v4() -> None:
    spec = archspec.load(ROOT / "specs" / "inception_v4.yaml")
    expected = {
        "stem/conv2d_1a": (149, 149, 32),
        "stem/conv2d_2a": (147, 147, 32),
        "stem/conv2d_2b": (147, 147, 64),
        "stem/mixed_3a": (73, 73, 160),
        "stem/mixed_4a": (71, 71, 192),
        "stem/mixed_5a": (35, 35, 384),
    }
    assert {name: spec.shapes[name] for name in expected} == expected


def test_reduction_a_is_one_block_with_the_papers_table() -> None:
    expected = {
        "inception_v4": (192, 224, 256, 384),
        "inception_resnet_v1": (192, 192, 256, 384),
        "inception_resnet_v2": (256, 256, 384, 384),
        "inception_resnet_v2_paper": (256, 256, 384, 384),
    }
    for name, (k, l_, m, n) in expected.items():
        spec = archspec.load(ROOT / "specs" / f"{name}.yaml")
        step = next(s for s in spec.steps if s.type == "reduction_a")
        filters = [node.attrs["filters"] for node in spec.nodes if node.block == step.name and node.op == "conv"]
        assert filters == [n, k, l_, m], name


def test_residual_scales_and_final_block_of_inception_resnet_v2() -> None:
    spec = archspec.load(ROOT / "specs" / "inception_resnet_v2.yaml")
    adds = {n.block: n.attrs for n in spec.nodes if n.op == "add"}
    assert len(adds) == 40
    assert {adds[f"block35_{i}"]["scale"] for i in range(1, 11)} == {0.17}
    assert {adds[f"block17_{i}"]["scale"] for i in range(1, 21)} == {0.10}
    assert {adds[f"block8_{i}"]["scale"] for i in range(1, 10)} == {0.20}
    assert adds["block8_10"]["scale"] == 1.0 and adds["block8_10"]["activation"] == "none"
    assert {adds[f"block8_{i}"]["activation"] for i in range(1, 10)} == {"relu"}


@pytest.mark.parametrize("path", ERRATA, ids=lambda p: p.stem)
def test_errata_spec_is_rejected(path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        archspec.load(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    located = {lines[d.pos.line - 1] for d in caught.value.diagnostics if d.pos.file == str(path.relative_to(ROOT))}
    assert any("1154" in line for line in located)
    assert any("2048" in line for line in located)
    messages = " ".join(d.message for d in caught.value.diagnostics)
    assert "1154" in messages and "1152" in messages and "2048" in messages and "2144" in messages


def test_variant_extends_and_overrides() -> None:
    base = archspec.load(ROOT / "specs" / "inception_v4.yaml")
    small = archspec.load(ROOT / "specs" / "examples" / "inception_v4_small.yaml")
    assert small.input_shape == (149, 149, 3)
    assert small.output_shape == (10,)
    assert [s.type for s in small.steps].count("inception_a") == 2
    assert [s.name for s in small.steps if s.type == "inception_b"] == ["mixed_6b", "mixed_6c", "mixed_6d"]
    assert base.params - small.params == 2 * 317_632 + 4 * 2_936_256 + 2 * 4_553_088 + 1_537_000 - 15_370


VARIANT_BASE = """\
archspec: 1
name: base
input: {shape: [16, 16, 3]}
blocks:
  unit:
    description: one conv
    params: {f: 4, k: 3}
    body:
      - {op: conv, filters: $f, kernel: $k}
network:
  - {block: unit, name: u}
  - {op: global_avgpool}
  - {op: dense, units: 10}
"""


def test_a_variant_may_override_only_a_blocks_params_or_description(tmp_path: Path) -> None:
    """As the README promises, a mapping merges: a block without a body keeps the base's body."""
    (tmp_path / "base.yaml").write_text(VARIANT_BASE)
    (tmp_path / "wide.yaml").write_text(
        "archspec: 1\nextends: base.yaml\nname: wide\nblocks:\n  unit:\n    params: {f: 8}\n"
    )
    (tmp_path / "told.yaml").write_text(
        "archspec: 1\nextends: base.yaml\nname: told\nblocks:\n  unit: {description: a conv}\n"
    )
    base, wide = archspec.load(tmp_path / "base.yaml"), archspec.load(tmp_path / "wide.yaml")
    assert base.shapes["u/conv_0"] == (16, 16, 4) and wide.shapes["u/conv_0"] == (16, 16, 8)
    assert wide.node("u/conv_0").attrs["kernel"] == (3, 3)  # the param not given keeps the base's value
    assert archspec.load(tmp_path / "told.yaml").params == base.params


def test_a_variant_block_without_a_body_anywhere_is_located(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(VARIANT_BASE)
    (tmp_path / "new.yaml").write_text(
        "archspec: 1\nextends: base.yaml\nname: new\nblocks:\n  other:\n    params: {f: 8}\n"
    )
    with pytest.raises(SpecError) as caught:
        archspec.load(tmp_path / "new.yaml")
    (diagnostic,) = caught.value.diagnostics
    assert (diagnostic.pos.line, diagnostic.pos.col) == (5, 3)
    assert diagnostic.message == "block 'other' has no 'body', here or in the spec it extends"
    (tmp_path / "alone.yaml").write_text(
        VARIANT_BASE.replace("    body:\n      - {op: conv, filters: $f, kernel: $k}\n", "")
    )
    with pytest.raises(SpecError, match="'unit' needs 'body'"):  # without extends, a block is whole
        archspec.load(tmp_path / "alone.yaml")


def test_input_shape_override() -> None:
    spec = archspec.load(ROOT / "specs" / "inception_v3.yaml", input_shape=(331, 331, 3))
    assert spec.input_shape == (331, 331, 3)
    assert spec.shapes[spec.steps[0].output] == (39, 39, 192)
    assert spec.params == 23_834_568


def test_every_bundled_network_but_the_auxiliary_head_fits_the_small_test_input() -> None:
    """The backends' tests build each network at SMALL_INPUT; none is left out unawares."""
    # U-Net's 18 unpadded 3x3 convs and four 2x2 pools take only sizes 16 b + 124 with b >= 4 (every
    # pooled map even, the expansive path's maps large enough): 188 at the least, never 107;
    # tests/backends/torch/test_unet.py checks it at 188x188x1 in both backends.
    assert [p.stem for p in NETWORKS if p not in SMALL_NETWORKS] == ["inception_v3_aux", "unet"]


def test_the_squeeze_excitation_gates_add_what_the_paper_s_formula_says() -> None:
    """Hu et al., Section 4: an SE gate of reduction r on width C adds 2 C^2 / r weights (plus,
    here, the two biases); every residual block of Inception-ResNet-v2 gets one."""
    base = archspec.load(ROOT / "specs" / "inception_resnet_v2.yaml")
    gated = archspec.load(ROOT / "specs" / "se_inception_resnet_v2.yaml")
    widths = [step.output for step in base.steps if step.type in ("block35", "block17", "block8")]
    channels = [base.shapes[name][-1] for name in widths]
    assert sorted(set(channels)) == [320, 1088, 2080] and len(channels) == 40
    assert gated.params - base.params == sum(2 * c * c // 16 + c // 16 + c for c in channels)
    gates = [n for n in gated.nodes if n.op == "multiply"]
    assert len(gates) == 40 and all(gated.shapes[n.inputs[1]][:2] == (1, 1) for n in gates)


def test_the_readme_s_squeeze_excitation_example_is_the_bundled_one() -> None:
    example = (ROOT / "specs" / "examples" / "inception_resnet_v2_se35.yaml").read_text()
    assert example[example.index("archspec: 1") :] in (ROOT / "README.md").read_text()
    base = archspec.load(ROOT / "specs" / "inception_resnet_v2.yaml")
    gated = archspec.load(ROOT / "specs" / "examples" / "inception_resnet_v2_se35.yaml")
    assert gated.params - base.params == 10 * (2 * 320 * 320 // 16 + 320 // 16 + 320) == 131_400
