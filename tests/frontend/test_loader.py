"""YAML text to position-carrying trees (archspec/frontend/loader.py), and the inputs it must refuse."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from archspec.errors import Pos, SpecError
from archspec.frontend import loader
from archspec.frontend.loader import Map, Seq, load_file, load_text

PARSERS = {"pure-python": yaml.SafeLoader, "libyaml": getattr(yaml, "CSafeLoader", None)}


@pytest.fixture(autouse=True, params=list(PARSERS))
def parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test here runs with both YAML parsers: which one PyYAML has is an install detail,
    and the positions and limits of a spec must not depend on it."""
    chosen = PARSERS[request.param]
    if chosen is None:
        pytest.skip("this PyYAML was built without libyaml")
    monkeypatch.setattr(loader, "_SafeLoader", chosen)
    return str(request.param)


def failure(text: str, name: str = "f.yaml") -> tuple[Pos, str, str | None]:
    """The single diagnostic that loading text produces: its position, message and hint."""
    with pytest.raises(SpecError) as info:
        load_text(text, name)
    (diagnostic,) = info.value.diagnostics
    return diagnostic.pos, diagnostic.message, diagnostic.hint


def at(line: int, col: int, name: str = "f.yaml") -> Pos:
    return Pos(name, line, col)


# -- positions ------------------------------------------------------------------------------------

TEXT = """\
name: net
block:
  kernel: [3, 3]
  steps:
    - conv
    -   {op: pool, k: 2}
"""


def test_values_and_types_are_plain() -> None:
    tree = load_text(TEXT, "f.yaml")
    assert tree == {"name": "net", "block": {"kernel": [3, 3], "steps": ["conv", {"op": "pool", "k": 2}]}}
    assert isinstance(tree, Map)
    assert isinstance(tree["block"], Map)
    assert isinstance(tree["block"]["kernel"], Seq)
    assert isinstance(tree["block"]["steps"][1], Map)


def test_mapping_key_and_value_positions() -> None:
    tree = load_text(TEXT, "f.yaml")
    assert tree.pos == at(1, 1)
    assert tree.key_pos == {"name": at(1, 1), "block": at(2, 1)}
    assert tree.value_pos == {"name": at(1, 7), "block": at(3, 3)}
    block = tree["block"]
    assert block.pos == at(3, 3)
    assert block.key_pos == {"kernel": at(3, 3), "steps": at(4, 3)}
    assert block.value_pos == {"kernel": at(3, 11), "steps": at(5, 5)}
    assert block.at("kernel") == at(3, 11)
    assert block.at("missing") == block.pos


def test_sequence_item_positions() -> None:
    tree = load_text(TEXT, "f.yaml")
    kernel, steps = tree["block"]["kernel"], tree["block"]["steps"]
    assert kernel.pos == at(3, 11)
    assert kernel.item_pos == [at(3, 12), at(3, 15)]
    assert steps.pos == at(5, 5)
    assert steps.item_pos == [at(5, 7), at(6, 9)]
    assert steps.at(1) == at(6, 9)
    assert steps.at(2) == steps.pos
    assert steps.at(-1) == steps.pos
    flow = steps[1]
    assert flow.key_pos == {"op": at(6, 10), "k": at(6, 20)}
    assert flow.value_pos == {"op": at(6, 14), "k": at(6, 23)}


def test_positions_with_crlf_line_endings_and_a_bom(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_bytes(b"\xef\xbb\xbfa: 1\r\nb: [x, yz]\r\n")
    tree = load_file(path, "w.yaml")
    assert tree == {"a": 1, "b": ["x", "yz"]}
    assert tree.key_pos["b"] == at(2, 1, "w.yaml")
    assert tree["b"].item_pos == [at(2, 5, "w.yaml"), at(2, 8, "w.yaml")]


def test_file_name_defaults_to_the_path(tmp_path: Path) -> None:
    path = tmp_path / "n.yaml"
    path.write_text("a: 1\n", encoding="utf-8")
    assert load_file(path).pos == Pos(str(path), 1, 1)


# -- refused keys ---------------------------------------------------------------------------------


def test_duplicate_key() -> None:
    pos, message, hint = failure("a: 1\nb:\n  c: 2\n  c: 3\n")
    assert pos == at(4, 3)
    assert message == "duplicate key 'c'"
    assert hint == "first written at line 3"


def test_duplicate_key_in_a_flow_mapping() -> None:
    pos, message, _ = failure("x: {k: 1, j: 2, k: 3}\n")
    assert pos == at(1, 17)
    assert message == "duplicate key 'k'"


@pytest.mark.parametrize(
    ("text", "shown", "line", "col"),
    [
        ("1: a\n", "1", 1, 1),
        ("b: 1\nnull: a\n", "None", 2, 1),
        ("b: 1\ntrue: a\n", "True", 2, 1),
        ("b: 1\n2.5: a\n", "2.5", 2, 1),
        ("? [a]\n: b\n", "['a']", 1, 3),
    ],
)
def test_keys_must_be_strings(text: str, shown: str, line: int, col: int) -> None:
    pos, message, _ = failure(text)
    assert pos == at(line, col)
    assert message == f"keys must be strings, not {shown}"


def test_quoted_keys_are_strings() -> None:
    assert load_text('"1": a\n"true": b\n') == {"1": "a", "true": "b"}


def test_merge_keys_are_refused() -> None:
    pos, message, _ = failure("base: &b {x: 1}\nderived:\n  <<: *b\n  y: 2\n")
    assert pos == at(3, 3)
    assert message == "YAML merge keys ('<<') are not supported"


# -- documents ------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "   \n# x\n"])
def test_empty_document(text: str) -> None:
    pos, message, _ = failure(text)
    assert pos == at(1, 1)
    assert message == "spec is empty"


def test_several_documents_are_refused() -> None:
    pos, message, _ = failure("a: 1\n---\nb: 2\n")
    assert pos == at(2, 1)
    assert message.startswith("invalid YAML:")
    assert "document" in message


def test_syntax_error_is_located() -> None:
    pos, message, _ = failure("a:\n  b: 1\n c: 2\n")
    assert pos == at(3, 2)
    assert message.startswith("invalid YAML:")


@pytest.mark.parametrize(
    ("text", "tag"),
    [
        ("a: !!python/object/apply:os.system [ls]\n", "tag:yaml.org,2002:python/object/apply:os.system"),
        ("a: !!python/name:os.system ''\n", "tag:yaml.org,2002:python/name:os.system"),
        ("a: !!set {x, y}\n", "tag:yaml.org,2002:set"),
        ("a: !custom 1\n", "!custom"),
    ],
)
def test_non_plain_tags_are_refused(text: str, tag: str) -> None:
    pos, message, _ = failure(text)
    assert pos == at(1, 4)
    assert message == f"YAML tag '{tag}' is not allowed in a spec"


# -- files ----------------------------------------------------------------------------------------


def test_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: café\n".encode("latin-1"))
    with pytest.raises(SpecError) as info:
        load_file(path, "latin1.yaml")
    (diagnostic,) = info.value.diagnostics
    assert (diagnostic.pos.file, diagnostic.pos.line) == ("latin1.yaml", 1)
    assert diagnostic.message.startswith("spec is not UTF-8 text")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as info:
        load_file(tmp_path / "absent.yaml", "absent.yaml")
    (diagnostic,) = info.value.diagnostics
    assert diagnostic.pos == at(1, 1, "absent.yaml")
    assert diagnostic.message.startswith("cannot read spec:")


def test_file_at_the_size_limit_loads(tmp_path: Path) -> None:
    body = b"a: 1\n"
    path = tmp_path / "full.yaml"
    path.write_bytes(body + b"#" * (loader.MAX_BYTES - len(body)))
    assert path.stat().st_size == loader.MAX_BYTES
    assert load_file(path) == {"a": 1}


def test_over_size_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"a: 1\n" + b"#" * loader.MAX_BYTES)
    with pytest.raises(SpecError) as info:
        load_file(path, "big.yaml")
    (diagnostic,) = info.value.diagnostics
    assert diagnostic.pos == at(1, 1, "big.yaml")
    assert diagnostic.message == f"spec is {loader.MAX_BYTES + 5} bytes; the limit is {loader.MAX_BYTES}"


def test_over_size_text_is_refused() -> None:
    pos, message, _ = failure("a: 1\n" + "#" * loader.MAX_BYTES)
    assert pos == at(1, 1)
    assert str(loader.MAX_BYTES) in message


# -- depth and aliases ----------------------------------------------------------------------------


def test_nesting_up_to_the_limit_loads() -> None:
    # The outermost list is level 1, so MAX_DEPTH brackets are exactly at the limit.
    depth = loader.MAX_DEPTH
    tree = load_text("[" * depth + "]" * depth)
    for _ in range(depth - 1):
        tree = tree[0]
    assert tree == []


@pytest.mark.parametrize("extra", [1, 10, 50_000])
def test_nesting_beyond_the_limit_is_refused(extra: int) -> None:
    depth = loader.MAX_DEPTH + extra
    pos, message, _ = failure("x: " + "[" * depth + "]" * depth)
    # The top mapping is level 1, so the first list under `x` is level 2 and bracket number
    # MAX_DEPTH (in column 3 + MAX_DEPTH) is the first beyond the limit. 50,000 levels must be
    # refused before the YAML composer recurses through them.
    assert pos == at(1, 3 + loader.MAX_DEPTH)
    assert message == f"spec is nested deeper than {loader.MAX_DEPTH} levels"


def test_deep_mappings_are_refused() -> None:
    depth = loader.MAX_DEPTH + 3
    pos, message, _ = failure("{a: " * depth + "}" * depth)
    assert pos.line == 1
    assert message == f"spec is nested deeper than {loader.MAX_DEPTH} levels"


# Far past libyaml's own limit of 1000 levels, in each way YAML nests: the level past ours is
# reported at its own position (line, column), with either parser.
DEEP = {
    "block sequences": ("- " * 1100 + "x", (1, 2 * loader.MAX_DEPTH + 1)),
    "flow mappings": ("x: " + "{a: " * 3000 + "}" * 3000, (1, 4 + 4 * (loader.MAX_DEPTH - 1))),
    "block mappings": ("\n".join(" " * i + "a:" for i in range(1200)) + " 1", (65, 65)),
    "unclosed brackets": ("[" * 1500 + "}", (1, loader.MAX_DEPTH + 1)),
}


@pytest.mark.parametrize("text,where", DEEP.values(), ids=DEEP.keys())
def test_nesting_is_refused_at_its_own_level_in_every_form(text: str, where: tuple[int, int]) -> None:
    pos, message, _ = failure(text)
    assert (pos.line, pos.col) == where
    assert message == f"spec is nested deeper than {loader.MAX_DEPTH} levels"


def test_a_yaml_error_before_the_limit_is_still_reported_as_such() -> None:
    pos, message, _ = failure("x: [[[1, 2]]\ny: " + "[" * 2000)
    assert message.startswith("invalid YAML")
    assert pos.line == 2


SYNTAX_ERRORS = {
    "indentation": ("a: 1\n b: 2\n", (2, 3), "mapping values are not allowed here"),
    "unclosed list": (
        "a: [1, 2\n",
        (2, 1),
        "while parsing a flow sequence; expected ',' or ']', but got '<stream end>'",
    ),
    "undefined alias": ("a: *nope\n", (1, 4), "found undefined alias 'nope'"),
    "unclosed quote": ('a: "x\n', (2, 1), "while scanning a quoted scalar; found unexpected end of stream"),
}


@pytest.mark.parametrize("text,where,said", SYNTAX_ERRORS.values(), ids=SYNTAX_ERRORS.keys())
def test_syntax_errors_read_the_same_with_either_parser(text: str, where: tuple[int, int], said: str) -> None:
    pos, message, _ = failure(text)
    assert ((pos.line, pos.col), message) == (where, f"invalid YAML: {said}")


def test_shared_aliases_are_expanded() -> None:
    tree = load_text("base: &b [1, 2]\ncopy: *b\n", "f.yaml")
    assert tree == {"base": [1, 2], "copy": [1, 2]}
    assert tree["copy"].pos == tree["base"].pos == at(1, 7)


# A structure that contains itself only gets deep through its alias; where the limit is passed
# depends on how the cycle unrolls, so only the line is pinned down.
@pytest.mark.parametrize("text", ["&a [*a]\n", "a: &a [*a]\n", "a: &m {k: *m}\n"])
def test_recursive_alias_is_refused(text: str) -> None:
    pos, message, _ = failure(text)
    assert pos.line == 1
    assert message == f"spec is nested deeper than {loader.MAX_DEPTH} levels (an alias that contains itself?)"


def test_alias_bomb_is_refused() -> None:
    lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 9)]
    pos, message, hint = failure("\n".join(lines) + "\n")  # 10**9 leaves if expanded
    assert pos.line in range(1, 10)
    assert message == f"spec expands to more than {loader.MAX_NODES} YAML nodes"
    assert hint is not None and "alias bomb" in hint
