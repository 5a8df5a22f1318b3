"""Group a spec's top-level steps into block classes for code generation, framework-neutrally.

A generated model has one class per block type, parameterised like a hand-written model: what
is the same in every instance of the type is written as a literal, and what differs becomes a
constructor argument, named after the spec parameter it came from (`pool_filters`, `scale`)
where there is one. Input widths that differ are expressed in terms of the block's
`in_channels` and its arguments (`c7`, `64 + 64 + 96 + pool_filters`) where they can be.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from archspec.ir import Node, Step
from archspec.ops import BatchNorm, OpGroup
from archspec.spec import Spec
from backends import BackendError
from backends.naming import Constants, Namespace, names_tuple, pascal_case

INPUT = "input"  # the relative name of a block's input inside its class
MIN_LOOP = 3  # repeats of at least this many instances are written as loops


class CodegenError(BackendError):
    """A spec that the code generator cannot express (the live model still can)."""


@dataclass(frozen=True)
class Value:
    """An attribute in generated code: a literal, or Python source over constructor arguments."""

    literal: Any = None
    source: str | None = None

    @property
    def is_literal(self) -> bool:
        return self.source is None


@dataclass(frozen=True)
class TemplateNode:
    """One node of a block class: its name inside the block (`branch_1/conv_0`, or "" for a
    single-op step), op, inputs by the same relative names, attributes and input width."""

    name: str
    op: str
    inputs: tuple[str, ...]
    attrs: dict[str, Value]
    in_channels: Value | None


@dataclass(frozen=True)
class BlockClass:
    class_name: str
    type: str
    nodes: tuple[TemplateNode, ...]
    args: dict[str, list[Any]]  # argument name -> its value in each instance, in order
    instances: tuple[str, ...]

    def call_args(self, instance: str) -> dict[str, Any]:
        index = self.instances.index(instance)
        return {name: values[index] for name, values in self.args.items()}


@dataclass(frozen=True)
class Plan:
    """The steps of a network as calls of block classes."""

    classes: tuple[BlockClass, ...]
    steps: tuple[tuple[Step, BlockClass, str], ...]  # step, its class, the step it reads from


def plan(spec: Spec) -> Plan:
    members = {step.name: [spec.node(name) for name in step.nodes] for step in spec.steps}
    producer = {node.name: step.name for step in spec.steps for node in members[step.name]}
    producer["input"] = "input"
    grouped: dict[tuple[str, tuple[Any, ...]], list[Step]] = {}
    sources: dict[str, str] = {}
    for step in spec.steps:
        nodes = members[step.name]
        outside = {i for n in nodes for i in n.inputs if producer.get(i) != step.name}
        if len(outside) != 1 or next(iter(outside)) not in ("input", *(s.output for s in spec.steps)):
            raise CodegenError(
                f"step '{step.name}' reads {sorted(outside)}; generated code supports steps that read "
                "one earlier step's output",
                step.pos,
            )
        sources[step.name] = producer[next(iter(outside))]
        grouped.setdefault((step.type, _signature(step, nodes)), []).append(step)
    names = Namespace(reserved=("Model", "build", "nn", "torch", "F", "keras", "tf", "layers", "ops"))
    classes, by_step = [], {}
    for (block_type, _), steps in grouped.items():
        cls = _block_class(spec, block_type, steps, [members[s.name] for s in steps], names)
        classes.append(cls)
        by_step.update({s.name: cls for s in steps})
    return Plan(tuple(classes), tuple((s, by_step[s.name], sources[s.name]) for s in spec.steps))


def _relative(step: Step, name: str) -> str:
    if name == step.name:
        return ""
    prefix = step.name + "/"
    return name[len(prefix) :] if name.startswith(prefix) else INPUT


def _signature(step: Step, nodes: Sequence[Node]) -> tuple[Any, ...]:
    return tuple((_relative(step, n.name), n.op, tuple(_relative(step, i) for i in n.inputs)) for n in nodes)


def _block_class(
    spec: Spec, block_type: str, steps: list[Step], instances: list[list[Node]], names: Namespace
) -> BlockClass:
    args: dict[str, list[Any]] = {}
    arg_names = Namespace(reserved=("self", "x", "in_channels"))
    chosen: dict[tuple[str, str], str] = {}

    def argument(wanted: str, values: list[Any]) -> str:
        """One constructor argument per distinct (name, values): `$c7` used by four convs is one."""
        key = (wanted, repr(values))
        if key not in chosen:
            chosen[key] = arg_names.fresh(wanted)
            args[chosen[key]] = values
        return chosen[key]

    channels: dict[str, Value | None] = {}
    in_widths = [spec.shapes[_block_input(steps[k], instances[k])][-1] for k in range(len(steps))]
    if len(set(in_widths)) > 1:
        args["in_channels"] = in_widths
        channels[INPUT] = Value(source="in_channels")
    else:
        channels[INPUT] = Value(literal=in_widths[0])
    template = []
    for position, node in enumerate(instances[0]):
        rel = _relative(steps[0], node.name)
        peers = [nodes[position] for nodes in instances]
        attrs = {}
        for attr in node.attrs:
            values = [peer.attrs[attr] for peer in peers]
            if all(v == values[0] for v in values):
                attrs[attr] = Value(literal=values[0])
            else:
                source = node.sources.get(attr, "")
                wanted = source[1:] if re.fullmatch(r"\$[A-Za-z_]\w*", source) else f"{rel.replace('/', '_')}_{attr}"
                attrs[attr] = Value(source=argument(wanted, values))
        inputs = tuple(_relative(steps[0], i) for i in node.inputs)
        in_channels = None
        if node.op in OpGroup.WEIGHTED:
            widths = [spec.shapes[peer.inputs[0]][-1] for peer in peers]
            known = channels.get(inputs[0])
            if all(w == widths[0] for w in widths):
                in_channels = Value(literal=widths[0])
            elif known is not None and not known.is_literal:
                in_channels = known
            else:
                in_channels = Value(source=argument(f"{rel.replace('/', '_')}_in_channels", widths))
        channels[rel] = _width(node, attrs, [channels.get(i) for i in inputs])
        template.append(TemplateNode(rel, node.op, inputs, attrs, in_channels))
    return BlockClass(
        names.fresh(pascal_case(block_type)), block_type, tuple(template), args, tuple(s.name for s in steps)
    )


def _block_input(step: Step, nodes: list[Node]) -> str:
    for node in nodes:
        for source in node.inputs:
            if _relative(step, source) == INPUT:
                return source
    raise CodegenError(f"step '{step.name}' has no input", step.pos)


def _width(node: Node, attrs: dict[str, Value], inputs: list[Value | None]) -> Value | None:
    """The output width of a node as a Value, where it can be said in terms of the arguments."""
    if node.op == "conv":
        return attrs["filters"]
    if node.op == "dense":
        return attrs["units"]
    if node.op == "concat":
        if any(v is None for v in inputs):
            return None
        parts = [v for v in inputs if v is not None]
        if all(p.is_literal for p in parts):
            return Value(literal=sum(p.literal for p in parts))
        constant = sum(p.literal for p in parts if p.is_literal)
        terms = [str(p.source) for p in parts if not p.is_literal] + ([str(constant)] if constant else [])
        return Value(source=" + ".join(terms))
    if node.op in ("flatten",):
        return None
    return inputs[0] if inputs else None


Run = list[tuple[Step, BlockClass, str]]


def repeat_runs(
    plan: Plan, arguments: Callable[[BlockClass, str], dict[str, Any]], kept: frozenset[str] = frozenset()
) -> list[Run]:
    """The steps in runs: consecutive steps of one class called with the same `arguments`, each
    reading the one before, make a repeat (written as a loop when at least MIN_LOOP long). A step
    whose output is `kept` for later ends its run, so that the generated code can name it."""
    runs: list[Run] = []
    for item in plan.steps:
        step, cls, source = item
        if runs:
            last, last_cls, _ = runs[-1][-1]
            follows = cls is last_cls and source == last.name and last.name not in kept
            if follows and arguments(cls, step.name) == arguments(cls, last.name):
                runs[-1].append(item)
                continue
        runs.append([item])
    return [run for whole in runs for run in ([whole] if len(whole) >= MIN_LOOP else [[item] for item in whole])]


def register_constants(plan: Plan, runs: list[Run], constants: Constants, instance_name: Callable[[str], str]) -> None:
    """Every module-level constant a generated file will use (batch-norm settings, the names of a
    repeat's instances by `instance_name`), named before any function or class is written."""
    for cls in plan.classes:
        for node in cls.nodes:
            for value in node.attrs.values():
                if value.is_literal and isinstance(value.literal, BatchNorm):
                    constants.value(value.literal)
        for values in cls.args.values():
            for value in values:
                if isinstance(value, BatchNorm):
                    constants.value(value)
    for run in runs:
        if len(run) > 1:
            constants.add(run[0][0].type, names_tuple([instance_name(step.name) for step, _, _ in run]))


def annotation(values: list[Any]) -> str:
    """The type annotation of a constructor argument, from the values it takes."""
    kinds = {type(v) for v in values}
    if len(kinds) == 1:
        kind = kinds.pop()
        return {tuple: "tuple[int, int]"}.get(kind, kind.__name__)
    return "float" if kinds <= {int, float} else "object"
