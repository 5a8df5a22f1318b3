"""The op kinds: one definition per kind, one module per kind (`archspec/ops/conv.py`, ...), in
one registry that every stage and backend reads (as timm's `register_model` / `list_models`).

A kind's definition (`base.OpKind`) holds its attributes and defaults, how its operands are
written, its groups, its shape and cost rules, its neutral weight roles, and its drawing label;
the JSON Schema of its step is derived from it (`archspec.frontend.schema`). Each backend adds one
emitter per kind. Adding a kind is one module here, imported below, plus those emitters.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from typing import Any

# Each module registers its kinds; this order is the schema's and the documentation's.
# isort: off
from archspec.ops import input, conv, separable_conv, pool, concat, add, activation, dropout  # noqa: F401
from archspec.ops import multiply, global_avgpool, flatten, dense  # noqa: F401

# isort: on
from archspec.ops.attrs import ACTIVATIONS, PADDINGS, REQUIRED, SCHEMA_TYPES, WIRING, AttrError, BatchNorm
from archspec.ops.attrs import canonical_attrs as _canonical
from archspec.ops.base import REGISTRY, OpKind

__all__ = [
    "ACTIVATIONS",
    "OP_ATTRS",
    "OP_KINDS",
    "PADDINGS",
    "REGISTRY",
    "REQUIRED",
    "SCHEMA_TYPES",
    "WIRING",
    "AttrError",
    "BatchNorm",
    "OpGroup",
    "OpKind",
    "canonical_attrs",
    "kind",
    "list_ops",
    "weight_shapes",
    "width_attr",
]

OP_KINDS = tuple(REGISTRY)
OP_ATTRS: dict[str, Mapping[str, Any]] = {name: k.attrs for name, k in REGISTRY.items()}


def kind(name: str) -> OpKind:
    return REGISTRY[name]


def list_ops(pattern: str = "*") -> list[str]:
    """The kinds a step may use whose names match a shell-style pattern, sorted."""
    return sorted(name for name, k in REGISTRY.items() if k.in_network and fnmatch.fnmatchcase(name, pattern))


def _group(name: str) -> frozenset[str]:
    return frozenset(k.name for k in REGISTRY.values() if name in k.groups)


class OpGroup:
    """Named sets of op kinds, so that a fact about several kinds is stated once (as tinygrad's
    GroupOp): every stage and backend asks these instead of listing kinds itself. Each kind
    names its groups in its definition."""

    WEIGHTED = _group("weighted")  # carry weights: kernel, bias, batch norm (see weight_shapes)
    POOLING = _group("pooling")  # a window over a feature map, no weights
    MODE_DEPENDENT = _group("mode_dependent")  # computes differently in training and in evaluation
    JOINING = _group("joining")  # reads several inputs that must fit together


def width_attr(op: str) -> str | None:
    """The attribute that sets a weighted op's output width."""
    return REGISTRY[op].width


def weight_shapes(op: str, attrs: Mapping[str, Any], in_width: int) -> dict[str, tuple[int, ...]]:
    """The neutral weight roles of one node and their shapes (TensorFlow's layouts: a conv kernel
    is (kh, kw, in, out), a dense kernel (in, out)); empty for ops without weights."""
    return REGISTRY[op].weights(attrs, in_width)


def canonical_attrs(op: str, given: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The op's attributes with defaults filled in, each in canonical form; problems per name."""
    return _canonical(op, REGISTRY[op].attrs, given)
