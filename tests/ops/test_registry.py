"""Every op kind that archspec knows is known everywhere: the schema, shape and cost rules, the
drawing labels, the weight roles, both backends' lowerings and both code generators. A kind
added to `archspec.ops` and missed in one of these fails here, not in a user's spec."""

from __future__ import annotations

import json
from typing import Any

import pytest
from support import ROOT

import archspec
from archspec import ops
from archspec.codegen.plan import CodegenError
from archspec.frontend import schema
from archspec.ops import OP_KINDS, OpGroup, weight_shapes
from archspec.tools import render

EVERY_OP = """
archspec: 1
input: {shape: [8, 8, 3]}
network:
  - {op: conv, name: a, kernel: 1, filters: 4}
  - {op: separable_conv, name: sa, kernel: 3, filters: 4, depth_multiplier: 2}
  - {op: maxpool, name: b, kernel: 2}
  - {op: avgpool, name: c, kernel: 2}
  - {op: concat, name: d, inputs: [a, c]}
  - {op: channel_shuffle, name: cs0, groups: 2}
  - {op: channel_slice, name: cl0, stop: 4}
  - {op: channel_slice, name: cl1, input: cs0, start: 4, stop: 8}
  - {op: concat, name: cs, inputs: [cl1, cl0]}
  - {op: conv, name: e, kernel: 3, filters: 8, groups: 2, dilation: 2}
  - {op: batch_norm, name: bn, activation: relu}
  - {op: layer_norm, name: ln, eps: 0.000001}
  - {op: group_norm, name: gn, groups: 4}
  - {op: layer_scale, name: ls, init: 0.5}
  - {op: drop_path, name: dp, rate: 0.2}
  - {op: resize, name: rs, factor: 2, mode: bilinear}
  - {op: resize, name: rl0, like: bn}
  - {op: conv_transpose, name: ct, kernel: 3, stride: 2, padding: 1, output_padding: 1, filters: 8}
  - {op: center_crop, name: rl, like: bn}
  - {op: add, name: f, shortcut: cs, scale: 0.5}
  - {op: activation, name: g0, fn: tanh}
  - {op: adaptive_avgpool, name: ap, size: 3x2}
  - {op: resize, name: g, like: g0, mode: bilinear}
  - {op: global_avgpool, name: s, keepdims: true}
  - {op: multiply, name: m, inputs: [g, s]}
  - {op: global_avgpool, name: h}
  - {op: layer_norm, name: hn}
  - {op: flatten, name: i}
  - {op: dropout, name: j, rate: 0.1}
  - {op: dense, name: k, units: 3}
"""


def schema_kinds() -> set[str]:
    """The kinds the JSON Schema accepts in `op:`, from its if/then dispatch."""
    found: set[str] = set()

    def walk(item: Any) -> None:
        if isinstance(item, dict):
            op = item.get("properties", {}).get("op", {}) if isinstance(item.get("properties"), dict) else {}
            if isinstance(op, dict) and "const" in op:
                found.add(op["const"])
            for value in item.values():
                walk(value)
        elif isinstance(item, list):
            for value in item:
                walk(value)

    walk(json.loads((ROOT / "archspec" / "schema" / "spec.schema.json").read_text()))
    return found


def test_the_schema_accepts_exactly_the_registered_kinds() -> None:
    # `input` is the spec's own `input:` mapping, not a step.
    assert schema_kinds() == set(OP_KINDS) - {"input"}


def test_the_schema_file_is_the_registry_s() -> None:
    """Editors read the schema file; each kind's part of it is derived from the kind's definition."""
    written = json.loads(schema.SCHEMA_PATH.read_text(encoding="utf-8"))
    assert schema.with_op_kinds(written) == written, "run `make schema` after changing an op kind"


def test_list_ops_matches_like_list_models() -> None:
    assert ops.list_ops("*pool") == ["adaptive_avgpool", "avgpool", "global_avgpool", "maxpool"]
    assert "input" not in ops.list_ops()
    assert ops.list_ops("nothing*") == []


def test_the_spec_below_uses_every_kind() -> None:
    assert {node.op for node in archspec.load(EVERY_OP).nodes} == set(OP_KINDS)


@pytest.mark.parametrize("kind", OP_KINDS)
def test_every_kind_has_a_shape_rule_a_cost_rule_and_a_label(kind: str) -> None:
    spec = archspec.load(EVERY_OP)
    node = next(n for n in spec.nodes if n.op == kind)
    shape = spec.shapes[node.name]
    assert ops.kind(kind).shape(node, [spec.shapes[i] for i in node.inputs], spec.node) == shape
    assert ops.kind(kind).cost(node, [spec.shapes[i] for i in node.inputs], shape) == (
        spec.costs[node.name].params,
        spec.costs[node.name].macs,
    )
    assert render.op_label(node)
    roles = weight_shapes(kind, node.attrs, spec.shapes[node.inputs[0]][-1] if node.inputs else 0)
    assert bool(roles) == (kind in OpGroup.WEIGHTED)


@pytest.mark.slow
@pytest.mark.parametrize("kind", [k for k in OP_KINDS if k != "input"])
def test_every_kind_has_a_marked_helper_in_both_backends(kind: str) -> None:
    """Each backend's helper of a kind takes only the kind's attributes, by their names, keeps
    every weight role the kind has, and (torch) is a module exactly when the kind has weights or
    a mode."""
    import inspect

    pytest.importorskip("torch")
    pytest.importorskip("keras")
    from archspec.backends.tensorflow import codegen as tf_codegen
    from archspec.backends.torch import codegen as torch_codegen

    from archspec.codegen import helpers

    spec = archspec.load(EVERY_OP)
    node = next(n for n in spec.nodes if n.op == kind)
    roles = set(weight_shapes(kind, node.attrs, spec.shapes[node.inputs[0]][-1]))
    torch_helper, keras_helper = torch_codegen.helper(kind), tf_codegen.helper(kind)
    if kind in OpGroup.WEIGHTED | OpGroup.MODE_DEPENDENT:  # a module, whose state the model holds
        assert inspect.isclass(torch_helper)
    for found in (torch_helper, keras_helper):
        skip = int(inspect.isclass(found) and torch_codegen._takes_width(kind))
        signature = helpers.signature(found, skip=skip)
        assert set(signature.required) | set(signature.defaults) <= set(ops.kind(kind).attrs)
        assert roles <= set(helpers.mark_of(found).weights)
        makes_module = inspect.isclass(found) or helpers.mark_of(found).module
        assert signature.inputs != 0 or makes_module  # a function takes its inputs
    source = "".join(helpers.source([torch_helper, keras_helper]))
    assert "@emits" not in source and "archspec" not in source  # a written file needs no archspec


@pytest.mark.slow
def test_an_unknown_kind_is_refused_by_each_backend() -> None:
    pytest.importorskip("torch")
    pytest.importorskip("keras")
    from archspec.backends.tensorflow import codegen as tf_codegen
    from archspec.backends.torch import codegen as torch_codegen

    with pytest.raises(CodegenError, match="torch code generator cannot emit op 'no_such_op'"):
        torch_codegen.helper("no_such_op")
    with pytest.raises(CodegenError, match="tensorflow code generator cannot emit op 'no_such_op'"):
        tf_codegen.helper("no_such_op")


def test_the_readme_s_op_table_is_the_registry_s() -> None:
    """The README's table of ops names every kind a step may use, and each with every attribute
    its definition has: a kind or an attribute added to the registry and not documented fails."""
    import re

    text = (ROOT / "README.md").read_text()
    table = text[text.index("| op | attributes (defaults) |") :].split("\n\n")[0].splitlines()[2:]
    documented: dict[str, str] = {}
    for row in table:
        kinds, attributes = row.strip("|").split("|", 1)
        for name in re.findall(r"`([a-z_]+)`", kinds):
            documented[name] = attributes
    assert set(documented) == set(ops.list_ops())
    for name, attributes in documented.items():
        missing = [a for a in ops.kind(name).attrs if f"`{a}`" not in attributes]
        assert not missing, f"the README's row of {name} does not mention {missing}"
