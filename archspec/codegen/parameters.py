"""The spec's top-level `params:` (and the input's channels) as constructor arguments.

A hand-written model takes `num_classes`, `in_chans`, a dropout rate; so does a generated one,
wherever the front end shows that the code with another value is the code with this one, the
value alone replaced. Each number is checked by loading the spec again with two other values
(`--set params.NAME=VALUE`, or another input channel count) and comparing the plans: every
attribute, input width or block argument that changed must be the value itself, before and
after, and nothing else may change (not a class, a node, a step or a shape rule). Those places
then read the argument; a block class that holds one takes it too. A parameter that changes
anything else (a repeat count, a width computed from it) stays a literal, and the model's
docstring says so.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from archspec.codegen.plan import Plan, TemplateNode, Value, make_plan
from archspec.errors import SpecError
from archspec.spec import Spec

IN_CHANS = "in_chans"  # timm's name for the input's channels
Site = tuple[str, str, str, str]  # (kind, class name, node or instance, attribute or argument)


@dataclass(frozen=True)
class Parameters:
    """The constructor's arguments, the plan that reads them, and what stays as written."""

    plan: Plan
    exposed: tuple[tuple[str, Any], ...]  # (name, the spec's value), in the spec's order
    kept: tuple[str, ...]  # numeric params that stay literals
    # (class name, instance) -> block argument -> the constructor argument it passes on
    passed: dict[tuple[str, str], dict[str, str]]


def parameterise(spec: Spec) -> Parameters:
    """The plan of `spec` with every parameter that can be an argument read as one."""
    base = make_plan(spec)
    candidates = [(k, v) for k, v in spec.arguments if _probes(v)]
    candidates.append((IN_CHANS, spec.input_shape[2]))
    found: dict[str, list[Site]] = {}
    kept = []
    for name, value in candidates:
        sites = _sites(spec, base, name, value)
        if sites:
            found[name] = sites
        elif sites is None and name != IN_CHANS:
            kept.append(name)
    taken = {arg for cls in base.classes if not cls.single_op for arg in cls.args}
    for name in [n for n in found if n in taken]:  # a block argument of the same name
        kept.append(name)
        del found[name]
    exposed = tuple((n, v) for n, v in candidates if n in found)
    plan, passed = _apply(base, found, dict(exposed))
    return Parameters(plan, exposed, tuple(kept), passed)


def _probes(value: Any) -> tuple[Any, ...]:
    """Two other values to try a parameter with; none for what is not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return ()
    if isinstance(value, int):
        return (value + 1, value + 2)
    return (value / 2, value * 0.75) if value else (0.25, 0.5)


def _sites(spec: Spec, base: Plan, name: str, value: Any) -> list[Site] | None:
    """Where the plan holds the parameter: the same places at each other value, holding that
    value exactly; empty where it changes nothing, None where it changes anything else."""
    found: list[list[Site]] = []
    for other in _probes(value):
        try:
            assert spec.origin is not None
            if name == IN_CHANS:  # a mean and std per channel would not fit: the model does not read them
                height, width, _ = spec.input_shape
                overrides = (*spec.origin[1]["overrides"], "input.mean=0.5", "input.std=0.5")
                probe = spec._reloaded(input_shape=(height, width, other), overrides=overrides)
            else:
                overrides = (*spec.origin[1]["overrides"], f"params.{name}={other!r}")
                probe = spec._reloaded(overrides=overrides)
        except (SpecError, ValueError):
            return None
        sites = _differences(base, make_plan(probe), value, other)
        if sites is None:
            return None
        found.append(sites)
    return found[0] if all(sites == found[0] for sites in found) else None


def _differences(base: Plan, probe: Plan, value: Any, other: Any) -> list[Site] | None:
    """The places where `probe` differs from `base`, each holding `value` in one and `other` in
    the other; None when anything else differs."""

    def holds(a: Any, b: Any) -> bool:
        return type(a) is type(value) and a == value and type(b) is type(other) and b == other

    shape = [(s.step.name, s.cls.class_name, s.reads, s.results) for s in base.steps]
    if shape != [(s.step.name, s.cls.class_name, s.reads, s.results) for s in probe.steps]:
        return None
    if base.outputs != probe.outputs or len(base.classes) != len(probe.classes):
        return None
    sites: list[Site] = []
    for ours, theirs in zip(base.classes, probe.classes, strict=True):
        if (ours.class_name, ours.instances, ours.inputs, ours.results, list(ours.args)) != (
            theirs.class_name, theirs.instances, theirs.inputs, theirs.results, list(theirs.args)
        ) or len(ours.nodes) != len(theirs.nodes):  # fmt: skip
            return None
        for a, b in zip(ours.nodes, theirs.nodes, strict=True):
            if (a.name, a.op, a.inputs, list(a.attrs)) != (b.name, b.op, b.inputs, list(b.attrs)):
                return None
            pairs = [(k, a.attrs[k], b.attrs[k]) for k in a.attrs] + [("", a.in_channels, b.in_channels)]
            for key, x, y in pairs:
                if x == y:
                    continue
                if x is None or y is None or not (x.is_literal and y.is_literal and holds(x.literal, y.literal)):
                    return None
                sites.append(("node", ours.class_name, a.name, key))
        for arg, values in ours.args.items():
            for instance, x, y in zip(ours.instances, values, theirs.args[arg], strict=True):
                if x != y and not holds(x, y):
                    return None
                if x != y:
                    sites.append(("arg", ours.class_name, instance, arg))
    return sites


def _apply(
    plan: Plan, found: dict[str, list[Site]], defaults: dict[str, Any]
) -> tuple[Plan, dict[tuple[str, str], dict[str, str]]]:
    """The plan with each site reading its parameter: a node's attribute (or input width) as an
    expression of it, which a block class then takes as an argument of the same name; a block
    argument at a call as the constructor's argument passed on."""
    passed: dict[tuple[str, str], dict[str, str]] = {}
    classes = {cls.class_name: cls for cls in plan.classes}
    for name, sites in found.items():
        for kind, class_name, where, key in sites:
            cls = classes[class_name]
            if kind == "arg":
                passed.setdefault((class_name, where), {})[key] = name
                continue
            nodes = tuple(_reading(n, key, name) if n.name == where else n for n in cls.nodes)
            args = cls.args
            if not cls.single_op and name not in args:
                args = {**args, name: [defaults[name]] * len(cls.instances)}
                for instance in cls.instances:
                    passed.setdefault((class_name, instance), {})[name] = name
            classes[class_name] = replace(cls, nodes=nodes, args=args)
    steps = tuple(replace(s, cls=classes[s.cls.class_name]) for s in plan.steps)
    return Plan(tuple(classes[c.class_name] for c in plan.classes), steps, plan.outputs), passed


def _reading(node: TemplateNode, key: str, name: str) -> TemplateNode:
    """The node with attribute `key` ("" for its input width) read from the parameter `name`."""
    if not key:
        return replace(node, in_channels=Value(source=name))
    return replace(node, attrs={**node.attrs, key: Value(source=name)})


def described(parameters: Parameters) -> str:
    """What the model's docstring says of its arguments."""
    text = ""
    if parameters.exposed:
        names = ", ".join(name for name, _ in parameters.exposed)
        text += f" Its arguments ({names}) may differ from the spec's values."
    if parameters.kept:
        text += f" The spec's {', '.join(parameters.kept)} change more than their own values, so they stay as written."
    return text
