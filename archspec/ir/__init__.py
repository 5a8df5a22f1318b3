"""The IR records: one frozen Node per op instance, and the network-level steps that own them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from archspec.errors import Pos


@dataclass(frozen=True, eq=False)
class Node:
    """One op instance. `name` is hierarchical and stable (`mixed_6b/branch_1/conv_2`): it becomes
    a module name and a weight key in the backends. `inputs` keeps the written order, which is the
    concat order. `block` is the top-level step that owns the node, `block_type` what that step is."""

    name: str
    op: str
    inputs: tuple[str, ...]
    attrs: Mapping[str, Any]
    pos: Pos
    attr_pos: Mapping[str, Pos]
    block: str
    block_type: str
    sources: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # attr -> its `$param` text

    def where(self, attr: str) -> Pos:
        """Where an attribute's value was written (after parameters), else where the op was."""
        return self.attr_pos.get(attr, self.pos)


@dataclass(frozen=True)
class Step:
    """A top-level step of the network: the stem, a block instance, a reduction, the head.

    `kind` is "block" for a block instance (its nodes are named `step/...`), "branches" for a
    top-level branches step, "op" for a top-level op (its one node is the step). `nodes` are the
    names of the nodes it owns, in the order written; `inputs` the nodes outside it that they read."""

    name: str
    type: str
    output: str
    pos: Pos
    kind: str = "block"
    nodes: tuple[str, ...] = ()
    inputs: tuple[str, ...] = ()
