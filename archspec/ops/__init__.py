"""The op kinds: one definition per kind, one module per kind (`archspec/ops/conv.py`, ...), in
one registry that every stage and backend reads (as timm's `register_model` / `list_models`).

A kind's definition (`base.OpKind`) holds its attributes and defaults, how its operands are
written, its groups, its shape and cost rules, its neutral weight roles, and its drawing label;
the JSON Schema of its step is derived from it (`archspec.frontend.schema`). Each backend adds one
helper per kind, marked with the kind it emits. Adding a kind is one module here plus those helpers.
"""

from __future__ import annotations

import fnmatch
import importlib
import pkgutil
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from archspec.ops.attrs import ACTIVATIONS, PADDINGS, REQUIRED, SCHEMA_TYPES, WIRING, AttrError, BatchNorm
from archspec.ops.attrs import canonical_attrs as _canonical
from archspec.ops.base import REGISTRY, OpKind

__all__ = [
    "ACTIVATIONS",
    "INPUT",
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
    "classifiers",
    "kind",
    "layout",
    "list_ops",
    "weight_shapes",
    "width_attr",
]

# Each module of this package that defines kinds registers them as it is imported: a new kind is
# a new module here and nothing else. They are imported in name order, the schema's and the docs'.
for _module in sorted(found.name for found in pkgutil.iter_modules(__path__)):
    importlib.import_module(f"{__name__}.{_module}")

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
    CLASSIFYING = _group("classifying")  # as a network's output, its units are the classes (num_classes)


INPUT = "input"  # the kind of the network's input node, which the expander makes (and its name)


def classifiers(outputs: Sequence[str], op_of: Callable[[str], str]) -> tuple[str, ...]:
    """The outputs whose units are the classes: those of a classifying kind (a dense layer), whose
    width the width multiplier leaves alone. The first of them, where it is the network's first
    output, is *the* classifier (`Spec.classifier`): what num_classes sets, reset_classifier
    replaces and forward_head(pre_logits=True) stops before."""
    return tuple(name for name in outputs if op_of(name) in OpGroup.CLASSIFYING)


def layout(op: str, role: str) -> str:
    """The layout kind of one weight role of an op kind (`archspec.ops.base.LAYOUTS`)."""
    return REGISTRY[op].layouts.get(role, "vector")


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
