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

from archspec import ops
from archspec.codegen.naming import Constants, Namespace, names_tuple, pascal_case
from archspec.errors import ArchspecError
from archspec.ir import Node, Step
from archspec.ops import BatchNorm, OpGroup
from archspec.spec import Spec

MIN_LOOP = 3  # repeats of at least this many instances are written as loops


def input_name(index: int) -> str:
    """The relative name of a block class's `index`-th input. IR names are identifiers joined by
    "/", so no node inside a block can have this name."""
    return f"<input {index}>"


class CodegenError(ArchspecError):
    """A spec that the code generator cannot express."""


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
    """One class (or function) of generated code: what its instances share, by relative name.
    It takes `inputs` (input_name(0), ...) and returns `results`, a tuple when there are several."""

    class_name: str
    type: str
    nodes: tuple[TemplateNode, ...]
    args: dict[str, list[Any]]  # argument name -> its value in each instance, in order
    instances: tuple[str, ...]
    inputs: tuple[str, ...]
    results: tuple[str, ...]

    def call_args(self, instance: str) -> dict[str, Any]:
        index = self.instances.index(instance)
        return {name: values[index] for name, values in self.args.items()}

    @property
    def single_op(self) -> bool:
        """A top-level op step outside any block: written inline, not as a class of its own."""
        return len(self.nodes) == 1 and self.nodes[0].name == ""


@dataclass(frozen=True)
class PlannedStep:
    """A top-level step as a call of its class: the outside nodes it reads (the class's inputs,
    in order) and its nodes that later steps or the outputs read (the class's results)."""

    step: Step
    cls: BlockClass
    reads: tuple[str, ...]
    results: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    """The steps of a network as calls of block classes."""

    classes: tuple[BlockClass, ...]
    steps: tuple[PlannedStep, ...]
    outputs: tuple[str, ...]  # the network's outputs, node names

    def last_reads(self) -> dict[str, int]:
        """For each value, the index of the last step that reads it; outputs are read at the end."""
        last = {name: index for index, planned in enumerate(self.steps) for name in planned.reads}
        last.update(dict.fromkeys(self.outputs, len(self.steps)))
        return last


def make_plan(spec: Spec) -> Plan:
    members = {step.name: [spec.node(name) for name in step.nodes] for step in spec.steps}
    read_by: dict[str, set[str]] = {}
    for step in spec.steps:
        for name in step.inputs:
            read_by.setdefault(name, set()).add(step.name)
    grouped: dict[tuple[Any, ...], list[tuple[Step, tuple[str, ...]]]] = {}
    for step in spec.steps:
        results = tuple(n.name for n in members[step.name] if n.name in read_by or n.name in spec.outputs)
        key = (step.type, _signature(step, members[step.name]), tuple(_relative(step, r) for r in results))
        grouped.setdefault(key, []).append((step, results))
    names = Namespace(reserved=("Model", "build", "nn", "torch", "F", "keras", "tf", "layers", "ops"))
    classes, by_step = [], {}
    for (block_type, _, _), found in grouped.items():
        steps = [step for step, _ in found]
        cls = _block_class(spec, block_type, steps, [members[s.name] for s in steps], names, found[0][1])
        classes.append(cls)
        by_step.update({step.name: (cls, results) for step, results in found})
    planned = tuple(PlannedStep(s, by_step[s.name][0], s.inputs, by_step[s.name][1]) for s in spec.steps)
    return Plan(tuple(classes), planned, tuple(spec.outputs))


def _relative(step: Step, name: str) -> str:
    if name == step.name:
        return ""
    prefix = step.name + "/"
    if name.startswith(prefix):
        return name[len(prefix) :]
    return input_name(step.inputs.index(name))


def _signature(step: Step, nodes: Sequence[Node]) -> tuple[Any, ...]:
    return (
        len(step.inputs),
        tuple((_relative(step, n.name), n.op, tuple(_relative(step, i) for i in n.inputs)) for n in nodes),
    )


def _block_class(
    spec: Spec,
    block_type: str,
    steps: list[Step],
    instances: list[list[Node]],
    names: Namespace,
    results: tuple[str, ...],
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
    for k in range(len(steps[0].inputs)):
        widths = [spec.shapes[step.inputs[k]][-1] for step in steps]
        if len(set(widths)) == 1:
            channels[input_name(k)] = Value(literal=widths[0])
        elif k == 0:
            args["in_channels"] = widths
            channels[input_name(k)] = Value(source="in_channels")
        else:
            channels[input_name(k)] = Value(source=argument(f"in_channels_{k}", widths))
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
            elif known is not None and not known.is_literal and _evaluate(known, args) == widths:
                in_channels = known
            else:  # a width the arguments cannot express, or one that is wrong: never trusted unchecked
                in_channels = Value(source=argument(f"{rel.replace('/', '_')}_in_channels", widths))
        channels[rel] = _width(node, attrs, [channels.get(i) for i in inputs])
        template.append(TemplateNode(rel, node.op, inputs, attrs, in_channels))
    return BlockClass(
        names.fresh(pascal_case(block_type)),
        block_type,
        tuple(template),
        args,
        tuple(s.name for s in steps),
        tuple(input_name(k) for k in range(len(steps[0].inputs))),
        tuple(_relative(steps[0], r) for r in results),
    )


def _width(node: Node, attrs: dict[str, Value], inputs: list[Value | None]) -> Value | None:
    """The output width of a node as a Value, where it can be said in terms of the arguments."""
    kind = ops.kind(node.op)
    if kind.width is not None:
        return attrs[kind.width]
    if kind.keeps_width:
        return inputs[0] if inputs else None
    if kind.sums_widths:
        if any(v is None for v in inputs):
            return None
        parts = [v for v in inputs if v is not None]
        if all(p.is_literal for p in parts):
            return Value(literal=sum(p.literal for p in parts))
        constant = sum(p.literal for p in parts if p.is_literal)
        terms = [str(p.source) for p in parts if not p.is_literal] + ([str(constant)] if constant else [])
        return Value(source=" + ".join(terms))
    return None


def _evaluate(width: Value, args: dict[str, list[Any]]) -> list[int] | None:
    """A width's value in each instance, from the arguments its source sums (`in_channels + c7 +
    64`); None where the source is anything else. What the class computes is checked against the
    shapes the front end inferred, so that no rule written here can size a layer wrongly."""
    count = len(next(iter(args.values()))) if args else 0
    totals = [0] * count
    for term in str(width.source).split(" + "):
        if term.isdigit():
            totals = [t + int(term) for t in totals]
        elif term in args and all(isinstance(v, int) and not isinstance(v, bool) for v in args[term]):
            totals = [t + v for t, v in zip(totals, args[term], strict=True)]
        else:
            return None
    return totals


Run = list[PlannedStep]


def repeat_runs(
    plan: Plan, arguments: Callable[[BlockClass, str], dict[str, Any]], starts: frozenset[str] = frozenset()
) -> list[Run]:
    """The steps in runs: consecutive steps of one class called with the same `arguments`, each
    reading the one result of the step before and nothing else reading that result, make a
    repeat (written as a loop when at least MIN_LOOP long). A step named in `starts` begins a run."""
    readers: dict[str, int] = {}
    for planned in plan.steps:
        for name in planned.reads:
            readers[name] = readers.get(name, 0) + 1
    runs: list[Run] = []
    for planned in plan.steps:
        if runs:
            last = runs[-1][-1]
            follows = (
                planned.step.name not in starts
                and planned.cls is last.cls
                and len(last.results) == 1
                and planned.reads == last.results
                and readers[last.results[0]] == 1
                and last.results[0] not in plan.outputs
            )
            if follows and arguments(planned.cls, planned.step.name) == arguments(last.cls, last.step.name):
                runs[-1].append(planned)
                continue
        runs.append([planned])
    return [run for whole in runs for run in ([whole] if len(whole) >= MIN_LOOP else [[item] for item in whole])]


@dataclass(frozen=True)
class Statement:
    """One statement of a network's forward: a run of steps, the variables it reads (its first
    step's inputs) and those it assigns (its last step's results)."""

    run: Run
    reads: tuple[str, ...]
    targets: tuple[str, ...]


def statements(plan: Plan, runs: Sequence[Run], local: Namespace, var: dict[str, str], x: str) -> list[Statement]:
    """Variables for `runs`, given those that hold values already (`var`, by node name, updated):
    a run with one result takes `x` once the value there is read no more, so that a chain of
    steps reads `x = step(x)`; any other result gets a local named after its node."""
    last = plan.last_reads()
    index = {planned.step.name: i for i, planned in enumerate(plan.steps)}
    holder = next((name for name, variable in var.items() if variable == x), None)
    found = []
    for run in runs:
        start = index[run[0].step.name]
        reads = tuple(var[name] for name in run[0].reads)
        results = run[-1].results
        if len(results) == 1 and (holder is None or last.get(holder, -1) <= start):
            targets: tuple[str, ...] = (x,)
            holder = results[0]
        else:
            targets = tuple(local.fresh(name.replace("/", "_")) for name in results)
        var.update(zip(results, targets, strict=True))
        found.append(Statement(run, reads, targets))
    return found


def head_start(spec: Spec, plan: Plan) -> int | None:
    """Where the head starts, if the network splits into features and head (`forward_features`,
    `forward_head`): the first step whose result is a vector, provided the network has one output
    and the head reads the features only through that step's one input."""
    if len(plan.outputs) != 1 or spec.tuple_outputs:
        return None
    for index, planned in enumerate(plan.steps):
        if len(planned.results) == 1 and len(spec.shapes[planned.results[0]]) == 1:
            if len(planned.reads) != 1:
                return None
            own = {name for later in plan.steps[index:] for name in later.step.nodes}
            reads = {name for later in plan.steps[index:] for name in later.reads}
            return index if reads <= own | set(planned.reads) else None
    return None


def classifier(spec: Spec, plan: Plan, head: int | None) -> tuple[PlannedStep, str] | None:
    """The step that holds the network's final dense layer, and that layer's name inside the step
    (empty for a step that is the dense op itself), when the head ends in one: what
    `forward_head(x, pre_logits=True)` stops before."""
    if head is None:
        return None
    output = spec.classifier
    if output is None:
        return None
    owner = next(p for p in plan.steps[head:] if output in p.step.nodes)
    return owner, "" if output == owner.step.name else output[len(owner.step.name) + 1 :]


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
            constants.add(run[0].step.type, names_tuple([instance_name(p.step.name) for p in run]))


def annotation(values: list[Any]) -> str:
    """The type annotation of a constructor argument, from the values it takes."""
    kinds = {type(v) for v in values}
    if len(kinds) == 1:
        kind = kinds.pop()
        return {tuple: "tuple[int, int]"}.get(kind, kind.__name__)
    return "float" if kinds <= {int, float} else "object"
