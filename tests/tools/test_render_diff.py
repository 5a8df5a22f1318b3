"""`archspec render A --diff B`: what B adds is drawn in green where B wires it, A's edges that B
lacks are dashed, and a legend names the three colours; run as a user runs it, on two small specs
written here and on bundled pairs."""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from functools import cache
from pathlib import Path

import pytest
from dot import Dot, parse
from support import run_archspec

import archspec
from archspec.limits import MAX_DRAWN_NODES
from archspec.tools import diff, render

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")

# B inserts a step between stem and mix (widen), adds a node inside mix's right branch
# (maxpool_0) and appends a step after the last one (refine), which becomes B's output.
SPEC_A = """
archspec: 1
name: small
input: {shape: [32, 32, 3]}
blocks:
  mix:
    body:
      - branches:
          left: [{op: conv, kernel: 1x1, filters: 8}]
          right: [{op: conv, kernel: 3x3, filters: 8}]
network:
  - {op: conv, name: stem, kernel: 3x3, stride: 2, filters: 8}
  - {block: mix}
  - {op: global_avgpool, name: pool}
  - {op: dense, name: logits, units: 10}
"""
SPEC_B = (
    SPEC_A.replace("name: small", "name: small_b")
    .replace(
        "right: [{op: conv, kernel: 3x3, filters: 8}]",
        "right: [{op: conv, kernel: 3x3, filters: 8}, {op: maxpool, kernel: 3x3, stride: 1, padding: same}]",
    )
    .replace("  - {block: mix}\n", "  - {op: conv, name: widen, kernel: 1x1, filters: 16}\n  - {block: mix}\n")
    .replace("units: 10}\n", "units: 10}\n  - {op: dense, name: refine, units: 5}\n")
)
MAXPOOL = render.added_id("mix/right/maxpool_0")


def added(drawing: Dot) -> set[str]:
    """The boxes of what B adds."""
    return {name for name in drawing.nodes if name.startswith(render.ADDED_ID)}


def is_added(edge: dict[str, str], label: str) -> bool:
    """An edge B adds, labelled with B's shape."""
    return edge.get("color") == render.ADDED_LINE and edge.get("label") == label and "style" not in edge


def is_gone(edge: dict[str, str]) -> bool:
    """An edge of A's that B lacks."""
    return edge.get("style") == "dashed" and edge.get("color") == render.REMOVED_LINE


def has_legend(drawing: Dot) -> bool:
    line = drawing.lines.get(render.LEGEND_ID, "")
    colours = (render.CHANGED_FILL, render.REMOVED_FILL, render.ADDED_FILL)
    words = ("changed in B (amber)", "not in B (red", "added by B (green)")
    return all(f'bgcolor="{c}"' in line for c in colours) and all(w in line for w in words)


@pytest.fixture
def specs(tmp_path: Path) -> Path:
    (tmp_path / "a.yaml").write_text(SPEC_A)
    (tmp_path / "b.yaml").write_text(SPEC_B)
    return tmp_path


def draw(folder: Path, *view: str, a: str = "a.yaml", b: str = "b.yaml") -> Dot:
    """`archspec render A --diff B [view] -o x.dot`, as a user runs it."""
    done = run_archspec("render", a, "--diff", b, *view, "-o", "x.dot", "--force", cwd=folder)
    assert done.returncode == 0, done.stderr
    return parse((folder / "x.dot").read_text())


# -- two small specs -----------------------------------------------------------------------------


def test_blocks_view_draws_the_steps_b_inserts_and_appends_where_b_wires_them(specs: Path) -> None:
    drawing = draw(specs)
    assert added(drawing) == {render.added_id("widen"), render.added_id("refine")}
    widen, refine = drawing.nodes["@b:widen"], drawing.nodes["@b:refine"]
    assert widen["label"] == "1x1 Conv (16)\nadded by B" and widen["fillcolor"] == render.ADDED_FILL
    assert refine["label"] == "FC (5)\nadded by B" and refine["fillcolor"] == render.ADDED_FILL
    # Inserted in the middle: stem -> widen -> mix in green, with B's shapes; A's stem -> mix is dashed.
    assert is_added(drawing.edge("stem", "@b:widen"), " 16x16x8")
    assert is_added(drawing.edge("@b:widen", "mix"), " 16x16x16")
    assert is_gone(drawing.edge("stem", "mix"))
    # Appended at the end: refine reads logits and is B's output; A's logits -> Output is dashed.
    assert is_added(drawing.edge("logits", "@b:refine"), " 10")
    assert is_added(drawing.edge("@b:refine", "@output0"), " 5")
    assert is_gone(drawing.edge("logits", "@output0"))
    # What both have is drawn as A draws it; the block B adds a node to is amber.
    assert drawing.edge("mix", "pool") == {"label": " 16x16x16", "tooltip": "mix/concat_0"}
    assert drawing.nodes["mix"]["fillcolor"] == render.CHANGED_FILL
    assert has_legend(drawing)
    title = "diff against B = small_b; B adds 2 steps (widen, refine) and 1 node in changed steps"
    assert title in drawing.text


def test_layers_view_draws_a_node_b_adds_inside_a_block_in_that_block(specs: Path) -> None:
    drawing = draw(specs, "--level", "layers")
    assert added(drawing) == {MAXPOOL, render.added_id("widen"), render.added_id("refine")}
    assert drawing.nodes[MAXPOOL]["label"] == "3x3 MaxPool" and drawing.nodes[MAXPOOL]["fillcolor"] == render.ADDED_FILL
    assert drawing.cluster_of[MAXPOOL] == "cluster_mix"
    # conv_0 -> maxpool_0 -> concat_0 in B; A's conv_0 -> concat_0 is dashed.
    assert is_added(drawing.edge("mix/right/conv_0", MAXPOOL), " 16x16x8")
    assert is_added(drawing.edge(MAXPOOL, "mix/concat_0"), " 16x16x8")
    assert is_gone(drawing.edge("mix/right/conv_0", "mix/concat_0"))
    assert drawing.edge("mix/left/conv_0", "mix/concat_0") == {"label": " 16x16x8", "tooltip": "mix/left/conv_0"}
    # The inserted step feeds both branches.
    assert is_added(drawing.edge("stem", "@b:widen"), " 16x16x8")
    for branch in ("mix/left/conv_0", "mix/right/conv_0"):
        assert is_added(drawing.edge("@b:widen", branch), " 16x16x16")
        assert is_gone(drawing.edge("stem", branch))
    assert is_added(drawing.edge("logits", "@b:refine"), " 10")
    assert has_legend(drawing)


def test_block_view_draws_the_node_b_adds_in_its_branch_and_what_b_reads(specs: Path) -> None:
    drawing = draw(specs, "--block", "mix")
    assert added(drawing) == {MAXPOOL, render.added_id("widen")}
    assert drawing.nodes[MAXPOOL]["group"] == drawing.nodes["mix/right/conv_0"]["group"]  # one column
    assert is_added(drawing.edge("mix/right/conv_0", MAXPOOL), " 16x16x8")
    assert is_added(drawing.edge(MAXPOOL, "mix/concat_0"), " 16x16x8")
    assert is_gone(drawing.edge("mix/right/conv_0", "mix/concat_0"))
    # B's block reads widen, which A's does not: an input box of its own, green.
    reads = drawing.nodes["@b:widen"]
    assert reads["label"] == "widen\n16x16x16" and reads["fillcolor"] == render.ADDED_FILL
    assert is_added(drawing.edge("@b:widen", "mix/left/conv_0"), " 16x16x16")
    assert is_gone(drawing.edge("@input0", "mix/left/conv_0"))
    assert drawing.edge("mix/concat_0", "@output") == {}  # both end at the concat
    assert has_legend(drawing)


def test_a_box_b_feeds_through_another_op_keeps_a_edge_into_it(tmp_path: Path) -> None:
    """B puts a maxpool in front of the block's conv: stem no longer feeds the conv but still feeds
    the block, so the blocks view keeps A's edge and draws no second one; the block view shows how."""
    unit = "archspec: 1\ninput: {shape: [16, 16, 3]}\nblocks:\n  unit:\n    body:\n{body}network:\n"
    conv, pool = (
        "      - {op: conv, kernel: 3x3, filters: 8}\n",
        "      - {op: maxpool, kernel: 3x3, stride: 1, padding: same}\n",
    )
    network = "  - {op: conv, name: stem, kernel: 3x3, filters: 4}\n  - {block: unit}\n"
    (tmp_path / "a.yaml").write_text(unit.replace("{body}", conv) + network)
    (tmp_path / "b.yaml").write_text(unit.replace("{body}", pool + conv) + network)
    blocks = draw(tmp_path)
    assert blocks.edge("stem", "unit") == {"label": " 16x16x4", "tooltip": "stem"} and not added(blocks)
    block = draw(tmp_path, "--block", "unit")
    assert is_gone(block.edge("@input0", "unit/conv_0"))
    assert is_added(block.edge("@input0", "@b:unit/maxpool_0"), " 16x16x4")
    assert is_added(block.edge("@b:unit/maxpool_0", "unit/conv_0"), " 16x16x4")


def test_a_step_b_adds_under_a_name_a_uses_is_a_box_of_its_own(tmp_path: Path) -> None:
    """B swaps A's two steps: B's x cannot be matched with A's x, so A's is removed and B's added,
    two boxes that share a name and not an id."""
    head = "archspec: 1\ninput: {shape: [8, 8, 3]}\nnetwork:\n"
    x, y = "  - {op: conv, name: x, kernel: 1x1, filters: 4}\n", "  - {op: maxpool, name: y, kernel: 2x2, stride: 2}\n"
    (tmp_path / "a.yaml").write_text(head + x + y)
    (tmp_path / "b.yaml").write_text(head + y + x)
    drawing = draw(tmp_path)
    assert drawing.nodes["x"]["fillcolor"] == render.REMOVED_FILL
    assert drawing.nodes["@b:x"]["fillcolor"] == render.ADDED_FILL
    assert is_added(drawing.edge("y", "@b:x"), " 4x4x3") and is_added(drawing.edge("@b:x", "@output0"), " 4x4x4")
    assert is_gone(drawing.edge("x", "y"))


def test_many_added_instances_are_one_box_and_the_box_limit_holds(specs: Path) -> None:
    many = SPEC_B.replace("  - {block: mix}\n", "  - {block: mix}\n  - {block: mix, repeat: 800}\n")
    (specs / "many.yaml").write_text(many)
    drawing = draw(specs, b="many.yaml")
    assert added(drawing) == {render.added_id(name) for name in ("widen", "refine", "mix_1")}
    assert drawing.nodes["@b:mix_1"]["label"] == "800 x mix\nmix_1 .. mix_800\nadded by B"
    assert is_added(drawing.edge("mix", "@b:mix_1"), " 16x16x16") and is_added(
        drawing.edge("@b:mix_1", "pool"), " 16x16x16"
    )
    # Every op of 800 blocks is more than Graphviz lays out in time: refused, as for A's own.
    assert len(draw(specs, "--level", "layers", b="many.yaml").nodes) > MAX_DRAWN_NODES
    done = run_archspec("render", "a.yaml", "--diff", "many.yaml", "--level", "layers", "-o", "x.svg", cwd=specs)
    assert done.returncode == 1 and f"limit {MAX_DRAWN_NODES}" in done.stderr


# -- bundled specs ---------------------------------------------------------------------------------


def test_the_paper_stem_is_drawn_into_inception_resnet_v2(tmp_path: Path) -> None:
    a, b = "inception_resnet_v2", "inception_resnet_v2_paper"
    stem = draw(tmp_path, "--block", "stem", a=a, b=b)
    assert len(added(stem)) == 13 and all(stem.nodes[n]["fillcolor"] == render.ADDED_FILL for n in added(stem))
    first = ("@b:stem/mixed_3a/branch_0/maxpool_0", "@b:stem/mixed_3a/branch_1/conv_0")
    assert all(is_added(stem.edge("stem/conv2d_2b", n), " 147x147x64") for n in first)
    assert is_gone(stem.edge("stem/conv2d_2b", "stem/maxpool_3a"))
    assert is_added(stem.edge("@b:stem/mixed_5a", "@output"), " 35x35x384")
    assert is_gone(stem.edge("stem/maxpool_5a", "@output"))
    assert has_legend(stem)
    blocks = draw(tmp_path, a=a, b=b)
    assert not added(blocks)  # the paper adds no step, only the ops of its stem
    assert is_gone(blocks.edge("stem", "mixed_5b")) and is_gone(blocks.edge("mixed_5b", "block35_1"))
    assert is_added(blocks.edge("stem", "block35_1"), " 35x35x384")  # around the Mixed_5b that B lacks
    assert has_legend(blocks)


def test_the_auxiliary_head_is_drawn_from_mixed_6e_to_an_output_of_its_own(tmp_path: Path) -> None:
    drawing = draw(tmp_path, a="inception_v3", b="inception_v3_aux")
    assert added(drawing) == {"@b:aux"}
    assert is_added(drawing.edge("mixed_6b", "@b:aux"), " 17x17x768")  # the group mixed_6b .. mixed_6e
    assert drawing.edge("mixed_6b", "@b:aux")["tooltip"] == "mixed_6e/concat_0 (added by B)"
    assert is_added(drawing.edge("@b:aux", "@output1"), " 1000")
    assert drawing.nodes["@output1"]["fillcolor"] == render.ADDED_FILL
    assert not any(is_gone(attrs) for _, _, attrs in drawing.edges)  # B keeps all of A


@cache
def load(name: str) -> archspec.Spec:
    return archspec.load(name)


PAIRS = [
    ("inception_resnet_v2", "inception_resnet_v2_paper"),
    ("inception_v3", "inception_v3_aux"),
    ("inception_v4", "examples/inception_v4_small"),
    ("resnet50", "densenet121"),
]


@pytest.mark.parametrize(("a", "b"), [p for pair in PAIRS for p in (pair, pair[::-1])], ids="-".join)
def test_every_view_draws_each_node_b_adds_once_and_wires_only_drawn_boxes(a: str, b: str) -> None:
    spec_a, spec_b = load(a), load(b)
    found = diff.diff(spec_a, spec_b)
    highlight = diff.highlight(found, spec_a, spec_b)
    unmatched = {render.added_id(n.name) for n in spec_b.nodes if n.name not in set(found.matches.values())}
    layers = parse(render.to_dot(spec_a, level="layers", highlight=highlight))  # parse checks every edge's ends
    assert added(layers) == unmatched
    for view in [{}, *({"block": t} for t in render.block_types(spec_a))]:
        assert has_legend(parse(render.to_dot(spec_a, highlight=highlight, **view)))


# -- images and the page ----------------------------------------------------------------------------


@needs_dot
@pytest.mark.parametrize("view", [(), ("--level", "layers"), ("--block", "mix")], ids=["blocks", "layers", "block"])
def test_the_drawing_renders_as_svg_with_its_legend(specs: Path, view: tuple[str, ...]) -> None:
    done = run_archspec("render", "a.yaml", "--diff", "b.yaml", *view, "-o", "x.svg", cwd=specs)
    assert done.returncode == 0, done.stderr
    root = ET.fromstring((specs / "x.svg").read_text())
    text = "".join(root.itertext())
    assert all(words in text for words in ("changed in B (amber)", "not in B (red", "added by B (green)"))
    fills = {element.get("fill") for element in root.iter()}
    assert {render.CHANGED_FILL, render.REMOVED_FILL, render.ADDED_FILL} <= fills
    assert "3x3 MaxPool" in text if view else "1x1 Conv (16)" in text


@needs_dot
def test_png_and_pdf_render_too(specs: Path) -> None:
    for name, magic in (("x.png", b"\x89PNG"), ("x.pdf", b"%PDF")):
        done = run_archspec("render", "a.yaml", "--diff", "b.yaml", "-o", name, cwd=specs)
        assert done.returncode == 0, done.stderr
        assert (specs / name).read_bytes().startswith(magic)


@needs_dot
def test_the_page_colours_a_and_places_only_its_boxes(specs: Path) -> None:
    """The page opens only A's steps, so it draws nothing of B's: its blocks view has A's boxes."""
    done = run_archspec("render", "a.yaml", "--diff", "b.yaml", "-o", "x.html", cwd=specs)
    assert done.returncode == 0, done.stderr
    html = (specs / "x.html").read_text()
    found = re.search(r'<script id="data" type="application/json">(.*?)</script>', html, re.DOTALL)
    assert found is not None
    data = json.loads(found.group(1))
    assert {n["id"] for n in data["top"]["nodes"]} == {*data["groups"], "@input", "@output0"}
    assert data["steps"]["mix"]["status"] == "changed"
    assert "amber = changed in B, red = not in B; B adds 2 steps (widen, refine)" in data["legend"]
