"""`archspec render`: the DOT of every bundled spec at each level, checked against the IR (node
and edge counts, repeat collapsing, every shape label), the paper-style op labels, and the
Graphviz outputs (SVG is well-formed XML, PNG is a PNG), which skip where Graphviz is absent."""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from functools import cache
from pathlib import Path

import pytest
from dot import STRING, parse, unquote
from support import NETWORKS, ROOT

import archspec
from archspec.analysis.shapes import fmt
from archspec.ops import OpGroup
from archspec.spec import Spec
from archspec.tools import render

HAS_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAS_DOT, reason="Graphviz's dot is not installed (make install tries apt-get)")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@cache
def load(path: Path) -> Spec:
    return archspec.load(path)


def is_instance(spec: Spec, name: str) -> bool:
    return name not in spec.graph  # a top-level op or branches step is a node itself


def expected_groups(spec: Spec) -> list[list[str]]:
    """Consecutive block instances of one type, written independently of the renderer."""
    groups: list[list[str]] = []
    for (_, instance), steps in itertools.groupby(spec.steps, lambda s: (s.type, is_instance(spec, s.name))):
        names = [s.name for s in steps]
        groups += [names] if instance else [[n] for n in names]
    return groups


SPEC_BLOCKS = [
    pytest.param(path, block, id=f"{path.stem}-{block}")
    for path in NETWORKS
    for block in dict.fromkeys(s.type for s in archspec.load(path).steps if is_instance(archspec.load(path), s.name))
]

# -- blocks level --------------------------------------------------------------------------------


def test_a_head_that_reads_an_earlier_step_is_drawn_from_that_step() -> None:
    """inception_v3_aux: the auxiliary head and Mixed_7a both read Mixed_6e, and each output has
    its own end."""
    spec = load(ROOT / "specs" / "inception_v3_aux.yaml")
    assert not is_chain(ROOT / "specs" / "inception_v3_aux.yaml")
    dot = parse(render.to_dot(spec))
    into = {head: tail for tail, head, _ in dot.edges}
    assert into["aux"] == into["mixed_7a"] == "mixed_6b"  # the box of mixed_6b .. mixed_6e
    ends = {tail: edge["label"].strip() for tail, head, edge in dot.edges if head.startswith("@output")}
    assert ends == {"head": "1000", "aux": "1000"}
    assert len(dot.of_class("io")) == 1 + len(spec.outputs) == 3
    assert "299x299x3 -> 1000, 1000," in render.to_dot(spec)


def is_chain(path: Path) -> bool:
    """Every step reads the one before it (the auxiliary head of inception_v3_aux does not)."""
    steps = archspec.load(path).steps
    return all(
        step.inputs == (before,) for step, before in zip(steps, ["input", *(s.output for s in steps[:-1])], strict=True)
    )


CHAINS = [path for path in NETWORKS if is_chain(path)]


@pytest.mark.parametrize("path", CHAINS, ids=lambda p: p.stem)
def test_blocks_level_has_one_box_per_group_and_shapes_on_every_edge(path: Path) -> None:
    spec = load(path)
    dot = parse(render.to_dot(spec))
    groups = expected_groups(spec)
    boxes = dot.of_class("step")
    assert list(boxes) == [g[0] for g in groups]
    assert len(dot.of_class("io")) == 1 + len(spec.outputs) == len(dot.nodes) - len(groups)
    # A chain: the input, one edge between consecutive boxes, one into each output.
    assert len(dot.edges) == len(groups) + len(spec.outputs)
    output_of = {step.name: step.output for step in spec.steps}
    chain = [spec.input_shape] + [spec.shapes[output_of[group[-1]]] for group in groups]
    assert [edge["label"].strip() for _, _, edge in dot.edges] == [fmt(shape) for shape in chain]
    members = {group[0]: group for group in groups}
    for tail, _, edge in dot.edges:  # the label is the shape of the tensor the edge names
        assert edge["label"].strip() == fmt(spec.shapes[edge["tooltip"]])
        owner = spec.node(edge["tooltip"]).block
        assert (tail == render.INPUT_ID) if owner == "input" else (owner in members[tail])


@pytest.mark.parametrize("path", NETWORKS, ids=lambda p: p.stem)
def test_blocks_level_labels_count_the_repeats(path: Path) -> None:
    spec = load(path)
    boxes = parse(render.to_dot(spec)).of_class("step")
    for group in expected_groups(spec):
        label = boxes[group[0]]["label"].split("\n")
        step = next(s for s in spec.steps if s.name == group[0])
        if len(group) > 1:
            assert label[:2] == [f"{len(group)} x {step.type}", f"{group[0]} .. {group[-1]}"]
            widths = [fmt(spec.shapes[s.output]) for s in spec.steps if s.name in group]
            if len(set(widths)) > 1:  # a changing width is spelled out, and right
                assert f"outputs {', '.join(widths)}" in label
        elif is_instance(spec, step.name):
            assert label[0] == step.type


def test_inception_v4_draws_seven_inception_b_as_one_box() -> None:
    spec = load(ROOT / "specs" / "inception_v4.yaml")
    boxes = parse(render.to_dot(spec)).of_class("step")
    with_b = [attrs["label"] for attrs in boxes.values() if "inception_b" in attrs["label"]]
    assert with_b == ["7 x inception_b\nmixed_6b .. mixed_6h"]
    labels = [attrs["label"].split("\n")[0] for attrs in boxes.values()]
    assert labels == [
        "stem_v4",
        "4 x inception_a",
        "reduction_a",
        "7 x inception_b",
        "reduction_b",
        "3 x inception_c",
        "classifier",
    ]


def test_a_differing_instance_is_named_in_its_box() -> None:
    spec = load(ROOT / "specs" / "inception_resnet_v2.yaml")
    boxes = parse(render.to_dot(spec)).of_class("step")
    assert boxes["block8_1"]["label"] == "10 x block8\nblock8_1 .. block8_10\nblock8_10 differs from block8_1"
    assert boxes["block17_1"]["label"] == "20 x block17\nblock17_1 .. block17_20"


def test_top_level_ops_are_drawn_as_ops_and_not_collapsed() -> None:
    text = """
input: {shape: [32, 32, 3]}
network:
  - {op: conv, kernel: 3x3, filters: 16}
  - {op: conv, kernel: 3x3, filters: 32, stride: 2, padding: valid}
  - {op: global_avgpool}
  - {op: dense, units: 10}
"""
    spec = archspec.load(text)
    dot = parse(render.to_dot(spec))
    labels = [a["label"] for a in dot.of_class("step").values()]
    assert labels == ["3x3 Conv (16)", "3x3 Conv (32 stride 2 V)", "Global Avg Pooling", "FC (10)"]
    assert [e[2]["label"].strip() for e in dot.edges] == ["32x32x3", "32x32x16", "15x15x32", "32", "10"]


# -- layers level --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", NETWORKS, ids=lambda p: p.stem)
def test_layers_level_has_every_node_and_every_edge_with_its_shape(path: Path) -> None:
    spec = load(path)
    dot = parse(render.to_dot(spec, level="layers"))
    assert list(dot.nodes) == [n.name for n in spec.nodes]
    pairs = [(tail, head) for tail, head, _ in dot.edges]
    assert len(pairs) == len(set(pairs)) == spec.graph.number_of_edges()
    assert set(pairs) == set(spec.graph.edges)
    for tail, _, edge in dot.edges:
        assert edge["label"].strip() == fmt(spec.shapes[tail])
    for node in spec.nodes:  # one cluster per block instance; the input and top-level ops outside
        expected = f"cluster_{node.block}" if is_instance(spec, node.block) and node.block != "input" else None
        assert dot.cluster_of.get(node.name) == expected


# -- one block -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "block"), SPEC_BLOCKS)
def test_block_view_draws_the_first_instance_with_its_shapes(path: Path, block: str) -> None:
    spec = load(path)
    dot = parse(render.to_dot(spec, block=block))
    first = next(s for s in spec.steps if s.type == block)
    nodes = [n for n in spec.nodes if n.block == first.name]
    assert list(dot.of_class("layer")) == [n.name for n in nodes]
    inside = {n.name for n in nodes}
    sources = list(dict.fromkeys(i for n in nodes for i in n.inputs if i not in inside))
    io = dot.of_class("io")
    assert len(io) == len(sources) + 1
    assert io[f"{render.INPUT_ID}0"]["label"].split("\n")[-1] == fmt(spec.shapes[sources[0]])
    assert io[render.OUTPUT_ID]["label"] == f"Output\n{fmt(spec.shapes[first.output])}"
    internal = sum(len(dict.fromkeys(n.inputs)) for n in nodes)
    assert len(dot.edges) == internal + 1  # every operand, plus the edge to the output box
    for _, head, edge in dot.edges:
        if "label" in edge:  # the operands of joins (concat, add, multiply) carry their shapes
            assert spec.node(head).op in OpGroup.JOINING
            assert edge["label"].strip() == fmt(spec.shapes[edge["tooltip"]])
    assert dot.graph["ordering"] == "out"


def test_block_view_accepts_a_type_or_an_instance() -> None:
    spec = load(ROOT / "specs" / "inception_v4.yaml")
    assert render.to_dot(spec, block="inception_b") == render.to_dot(spec, block="mixed_6b")
    later = parse(render.to_dot(spec, block="mixed_6c"))
    assert all(name.startswith("mixed_6c/") for name in later.of_class("layer"))
    with pytest.raises(render.UnknownBlock) as caught:
        render.to_dot(spec, block="inception_z")
    assert "inception_b" in caught.value.types and "mixed_6c" in caught.value.instances


def labels(path: str, block: str) -> list[str]:
    dot = parse(render.to_dot(load(ROOT / path), block=block))
    return [a["label"] for a in dot.of_class("layer").values()]


def test_ops_are_labelled_as_in_the_paper() -> None:
    assert labels("specs/inception_v4.yaml", "reduction_a") == [
        "3x3 Conv (384 stride 2 V)",
        "1x1 Conv (192)",
        "3x3 Conv (224)",
        "3x3 Conv (256 stride 2 V)",
        "3x3 MaxPool (stride 2 V)",
        "Filter concat",
    ]
    inception_b = labels("specs/inception_v4.yaml", "inception_b")
    assert inception_b[-3:] == ["3x3 Avg Pooling", "1x1 Conv (128)", "Filter concat"]
    assert inception_b[1:4] == ["1x1 Conv (192)", "1x7 Conv (224)", "7x1 Conv (256)"]
    assert labels("specs/inception_resnet_v2.yaml", "block8")[-3:] == [
        "Filter concat",
        "1x1 Conv (2080 Linear)",
        "+ (x 0.20), ReLU",
    ]
    assert labels("specs/inception_resnet_v2.yaml", "block8_10")[-1] == "+"  # scale 1.0, no activation
    head = ["Global Avg Pooling", "Dropout (rate 0.2, keep 0.8)", "FC (1000)"]
    assert labels("specs/inception_v4.yaml", "head") == head


def test_branches_sit_side_by_side_in_spec_order() -> None:
    spec = load(ROOT / "specs" / "inception_v4.yaml")
    dot = parse(render.to_dot(spec, block="inception_c"))
    heads = [f"mixed_7b/branch_{i}/{op}_0" for i, op in enumerate(["conv", "conv", "conv", "avgpool"])]
    assert heads in dot.same_rank  # the first op of every branch right under the input
    out_of_input = [head for tail, head, _ in dot.edges if tail == f"{render.INPUT_ID}0"]
    assert out_of_input == heads  # with ordering=out, edge order is left-to-right order
    assert dot.nodes[heads[1]]["group"] == "mixed_7b/branch_1" != dot.nodes[heads[2]]["group"]


def test_the_shortcut_of_a_residual_block_is_drawn_last() -> None:
    spec = load(ROOT / "specs" / "inception_resnet_v2.yaml")
    dot = parse(render.to_dot(spec, block="block17"))
    tail, head, edge = dot.edges[-2]  # the last is the edge to the output box
    assert (tail, head) == (f"{render.INPUT_ID}0", "block17_1/residual")
    assert edge["label"].strip() == "17x17x1088"


# -- DOT text ------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["plain", 'a "quoted" name', "back\\slash \\N \\G", "two\nlines", "x{y}[z];"])
def test_quote_round_trips_through_dot_strings(text: str) -> None:
    quoted = render.quote(text)
    assert re.fullmatch(STRING, quoted)
    assert unquote(quoted[1:-1]) == text
    assert "\n" not in quoted


def test_rankdir_and_bad_arguments() -> None:
    spec = load(ROOT / "specs" / "inception_v4.yaml")
    assert parse(render.to_dot(spec, rankdir="LR")).graph["rankdir"] == "LR"
    with pytest.raises(ValueError, match="rankdir"):
        render.to_dot(spec, rankdir="BT")
    with pytest.raises(ValueError, match="level"):
        render.to_dot(spec, level="ops")


# -- Graphviz outputs and the command line --------------------------------------------------------


def archspec_cli(*args: str, path: str | None = None) -> subprocess.CompletedProcess[bytes]:
    env = None if path is None else {"PATH": path}
    return subprocess.run([sys.executable, "-m", "archspec", *args], cwd=ROOT, capture_output=True, env=env)


@needs_dot
@pytest.mark.parametrize("path", NETWORKS, ids=lambda p: p.stem)
def test_svg_is_well_formed_xml(path: Path) -> None:
    spec = load(path)
    step = next(s for s in spec.steps[1:] if s.kind == "block")  # the first instance of its type
    views = [(render.to_dot(spec), spec.output_shape), (render.to_dot(spec, block=step.type), spec.shapes[step.output])]
    for text, shape in views:
        root = ET.fromstring(render.to_image(text, "svg"))
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        assert fmt(shape) in "".join(root.itertext())


@needs_dot
def test_layers_svg_and_escaped_labels_survive_graphviz() -> None:
    root = ET.fromstring(render.to_image(render.to_dot(load(ROOT / "specs" / "inception_v4.yaml"), "layers"), "svg"))
    assert "1x7 Conv (224)" in "".join(root.itertext())
    tricky = render.digraph("t", [render.node_line("a", {"label": 'say "<&>" \\N'})], {})
    assert 'say "<&>" \\N' in "".join(ET.fromstring(render.to_image(tricky, "svg")).itertext())


@needs_dot
def test_cli_writes_png_and_pdf(tmp_path: Path) -> None:
    png, pdf = tmp_path / "v4.png", tmp_path / "b8.out"
    assert archspec_cli("render", "specs/inception_v4.yaml", "-o", str(png)).returncode == 0
    assert png.read_bytes().startswith(PNG_SIGNATURE)
    result = archspec_cli("render", "specs/inception_resnet_v2.yaml", "--block=block8", "-o", str(pdf), "--format=pdf")
    assert result.returncode == 0, result.stderr
    assert pdf.read_bytes().startswith(b"%PDF")


def test_cli_writes_dot_without_graphviz(tmp_path: Path) -> None:
    out = tmp_path / "v4.dot"
    result = archspec_cli("render", "specs/inception_v4.yaml", "--level", "layers", "-o", str(out), path="")
    assert result.returncode == 0, result.stderr
    assert parse(out.read_text()).nodes.keys() == {n.name for n in load(ROOT / "specs" / "inception_v4.yaml").nodes}


def test_cli_errors(tmp_path: Path) -> None:
    missing = archspec_cli("render", "specs/inception_v4.yaml", "-o", str(tmp_path / "v4.svg"), path=str(tmp_path))
    assert missing.returncode == 1 and missing.stderr.startswith(b"error: Graphviz's 'dot' program is not installed")
    unknown = archspec_cli("render", "specs/inception_v4.yaml", "--block", "inception_z", "-o", "-")
    assert unknown.returncode == 2 and b"block types: stem_v4, inception_a, reduction_a, inception_b" in unknown.stderr
    errata = archspec_cli("render", "specs/errata/inception_resnet_v2_as_printed.yaml", "-o", "-")
    assert errata.returncode == 1 and re.match(rb"specs/errata/\S+:\d+:\d+: error: ", errata.stderr)
    assert archspec_cli("render", "specs/inception_v4.yaml", "-o", "v4.gif").returncode == 2
    assert archspec_cli("render", "specs/inception_v4.yaml").returncode == 2
    assert archspec_cli("render", "specs/inception_v4.yaml", "--level=layers", "--block=x", "-o", "-").returncode == 2
    for result in (missing, unknown, errata):
        assert b"Traceback" not in result.stderr


def test_cli_lists_block_types() -> None:
    result = archspec_cli("render", "specs/inception_resnet_v2.yaml", "--list-blocks")
    assert result.returncode == 0
    assert result.stdout.decode().split() == [
        "stem_v3",
        "mixed_5b",
        "block35",
        "reduction_a",
        "block17",
        "reduction_b",
        "block8",
        "conv_7b",
        "classifier",
    ]
