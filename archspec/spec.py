"""The front-end pipeline, one stage after another, and the `Spec` it produces.

load -> validate -> link (include, extends) -> expand -> graph -> lint -> shapes -> cost.
Each stage reports every error it can find before the pipeline stops.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any

from archspec import bundled
from archspec.analysis.cost import Cost, check_totals, node_cost
from archspec.analysis.shapes import Shape, fmt, infer
from archspec.analysis.summary import summarize
from archspec.errors import Collector, Diagnostic, Pos, SpecError
from archspec.frontend import width
from archspec.frontend.expand import Expansion, expand
from archspec.frontend.linker import Linker, display_name, project_root, resolve
from archspec.frontend.loader import Map, check_path
from archspec.frontend.overrides import PREFIX as OVERRIDE_PREFIX
from archspec.frontend.overrides import apply as apply_overrides
from archspec.frontend.preprocess import Preprocess
from archspec.ir import Node, Step
from archspec.ir import graph as ir_graph
from archspec.ir.graph import Graph
from archspec.ir.lint import lint
from archspec.ops import classifiers


@dataclass(frozen=True, eq=False)
class Spec:
    """A checked network: its IR graph with every node's shape and cost."""

    name: str
    source: str
    graph: Graph
    shapes: Mapping[str, Shape]
    costs: Mapping[str, Cost]
    files: tuple[Path, ...] = ()  # every file read to make it, the spec's own first: never to be written over
    notes: tuple[Diagnostic, ...] = ()  # what check prints beside "ok": values that change nothing, nodes left out
    preprocess: Preprocess | None = None  # how images become the input; None only for a failed input
    classes: tuple[str, ...] | None = None  # a name per unit of the (first) output, where the spec gives them
    origin: tuple[str | Path, dict[str, Any]] | None = None  # load's arguments: the source and the keywords
    tuple_outputs: bool = False  # the model returns a tuple (Keras: a list) even of one output
    arguments: tuple[tuple[str, Any], ...] = ()  # the values of the spec's top-level `params:`, by name

    @cached_property
    def nodes(self) -> tuple[Node, ...]:
        """Every node, inputs before the nodes that use them."""
        return tuple(ir_graph.ordered(self.graph))

    def node(self, name: str) -> Node:
        return ir_graph.node(self.graph, name)

    @property
    def steps(self) -> tuple[Step, ...]:
        steps: tuple[Step, ...] = self.graph.graph["steps"]
        return steps

    @property
    def outputs(self) -> tuple[str, ...]:
        outputs: tuple[str, ...] = self.graph.graph["outputs"]
        return outputs

    @property
    def classifier(self) -> str | None:
        """The final dense layer whose units are the classes, where the network's first output is
        one (`archspec.ops.classifiers`): what num_classes sets and reset_classifier replaces."""
        found = classifiers(self.outputs, lambda name: self.node(name).op)
        return found[0] if found and found[0] == self.outputs[0] else None

    @property
    def input_shape(self) -> Shape:
        return self.shapes["input"]

    @property
    def output_shape(self) -> Shape:
        return self.shapes[self.outputs[0]]

    @property
    def params(self) -> int:
        return sum(c.params for c in self.costs.values())

    @property
    def macs(self) -> int:
        return sum(c.macs for c in self.costs.values())

    def __deepcopy__(self, memo: dict[int, Any]) -> Spec:
        return self  # immutable: copies of a model (an EMA, say) share their spec

    def summary(self) -> dict[str, Any]:
        return summarize(self)

    def with_outputs(self, outputs: Sequence[str], as_tuple: bool = False) -> Spec:
        """The same spec with other outputs, any nodes by name (`mixed_6e`, `mixed_6a/concat_0`):
        the part of the network that none of them needs is left out. A feature extractor; with
        `as_tuple`, its model returns a tuple however many outputs there are."""
        # New outputs end in no changed layer, so num_classes goes.
        return self._reloaded(outputs=tuple(outputs), num_classes=None, tuple_outputs=as_tuple)

    def with_num_classes(self, num_classes: int) -> Spec:
        """The same spec with `num_classes` units in its final dense layer (timm's
        reset_classifier); its class names, if any, are dropped."""
        return self._reloaded(num_classes=num_classes)

    def with_input_size(self, size: tuple[int, int]) -> Spec:
        """The same spec at another input height and width; its channels stay."""
        if size == self.input_shape[:2]:
            return self
        return self._reloaded(input_shape=(size[0], size[1], self.input_shape[2]))

    def _reloaded(self, **changed: Any) -> Spec:
        if self.origin is None:
            raise ValueError("only a spec made by archspec.load can be changed")
        source, keywords = self.origin
        return load(source, **{**keywords, **changed})


def locate(source: str | Path) -> Path | None:
    """The file `source` names, or None when it is YAML text. A string without a line break is
    a path if it ends in .yaml or .yml or names an existing file, else the name of a bundled
    spec; a path that does not exist may also be a bundled spec's name."""
    if isinstance(source, Path):
        check_path(source, Pos(display_name(source), 1, 1))  # before asking the OS about it
        return source if source.exists() else (bundled.find(str(source)) or source)
    if "\n" in source:
        return None
    check_path(source, Pos(display_name(Path(source)), 1, 1))
    if source.endswith((".yaml", ".yml")) or Path(source).is_file():
        return locate(Path(source))
    if bundled.NAME.fullmatch(source):
        found = bundled.find(source)
        if found is None:
            close = bundled.close_names(source)
            hint = f"did you mean {', '.join(close)}? " if close else ""
            raise SpecError.at(
                Pos(source, 1, 1),
                f"no spec file and no bundled spec named '{source}'",
                hint=f"{hint}`archspec list` shows the bundled specs",
            )
        return found
    return None


def spec_file(argument: str) -> Path:
    """A command line's SPEC: a file's path or a bundled spec's name, never YAML text."""
    return (locate(argument) if "\n" not in argument else None) or Path(argument)


def load(
    source: str | Path,
    *,
    input_shape: tuple[int, int, int] | None = None,
    outputs: tuple[str, ...] | None = None,
    roots: tuple[Path, ...] = (),
    num_classes: int | None = None,
    overrides: Sequence[str] = (),
    tuple_outputs: bool = False,
) -> Spec:
    """A spec to a checked Spec; raises SpecError with every problem. `source` is a file's path,
    a bundled spec's name (`inception_v4`, as `archspec list` shows them) or YAML text;
    `overrides` are `KEY=VALUE` changes, as the command line's `--set` (`archspec.frontend.overrides`)."""
    path = locate(source)
    if path is not None:
        folder = resolve(path, Pos(display_name(path), 1, 1)).parent
        linker = Linker([folder, *filter(None, [project_root(folder)]), *roots])
        document = linker.link_file(path)
        name, where = path.stem, display_name(path)
    else:
        assert isinstance(source, str)  # locate gives a path for every Path
        linker = Linker([Path.cwd(), *roots])
        document = linker.link_text(source, "<string>", Path.cwd())
        name, where = "network", "<string>"
    document = apply_overrides(document, overrides)
    if isinstance(document.get("classes"), str):  # a class file that --set names: from the current folder
        document = linker.with_class_file(document, Path.cwd(), also_root=Path.cwd())
    errors = Collector()

    def changed(pos: Pos) -> bool:  # written by a variant or an override: meant to change something
        return pos.file in linker.variants or pos.file.startswith(OVERRIDE_PREFIX)

    expansion = expand(document, name, errors, input_shape, outputs, changed)
    errors.raise_if_any()
    if num_classes is not None:
        expansion = _with_units(expansion, num_classes)
    scaled = width.scaled(expansion, document.get("width"))
    expansion = expansion if scaled is expansion else width.fit_residuals(scaled, expansion)
    graph = ir_graph.build(expansion)
    notes = expansion.warnings + _dropped_note(graph, expansion.chosen_at)
    lint(graph, errors)
    errors.raise_if_any()
    shapes = infer(graph, errors)
    errors.raise_if_any()
    _check_features(expansion, graph, shapes, errors)
    costs = {n: node_cost(ir_graph.node(graph, n), shapes) for n in graph}
    check_totals(graph, costs, errors)
    written = document if num_classes is None else Map()  # new units: the spec's names no longer fit
    classes = _classes(written, shapes[expansion.outputs[0]] if expansion.outputs else None, errors)
    errors.raise_if_any()
    return Spec(
        expansion.name,
        where,
        graph,
        shapes,
        costs,
        files=tuple(linker.files),
        notes=notes,
        preprocess=expansion.preprocess,
        classes=classes,
        tuple_outputs=tuple_outputs or len(expansion.outputs) > 1,
        arguments=expansion.arguments,
        origin=(
            source if path is None else path.absolute(),
            {
                "input_shape": input_shape,
                "outputs": outputs,
                "roots": roots,
                "num_classes": num_classes,
                "overrides": tuple(overrides),
                "tuple_outputs": tuple_outputs,
            },
        ),
    )


def _with_units(expansion: Expansion, units: int) -> Expansion:
    """The expansion with `units` in its first output, which must be a dense op."""
    if not 1 <= units <= 10**9:
        raise ValueError(f"num_classes must be from 1 to 10^9, not {units}")
    output = expansion.outputs[0]
    op_of = {node.name: node.op for node in expansion.nodes}
    nodes = []
    for node in expansion.nodes:
        if node.name == output:
            if not classifiers([output], op_of.__getitem__):
                raise ValueError(f"'{output}' is a {node.op}, not a dense layer whose units can change")
            node = replace(node, attrs=MappingProxyType({**node.attrs, "units": units}))
        nodes.append(node)
    return replace(expansion, nodes=tuple(nodes))


def _classes(document: Map, output: Shape | None, errors: Collector) -> tuple[str, ...] | None:
    """The spec's class names, which must be unique and as many as the first output's units when
    that output is a vector (an output chosen among inner nodes has no classes to check)."""
    written = document.get("classes")
    if written is None:
        return None
    names = tuple(str(name) for name in written)
    where = document.at("classes")
    counts = Counter(names)  # a set, not a scan per name: a list of 100,000 names stays quick
    repeated = next((n for n in names if counts[n] > 1), None)
    if repeated is not None:
        errors.error(where, f"class '{repeated}' is named twice")
    if output is not None and len(output) == 1 and output[0] != len(names):
        errors.error(where, f"{len(names)} class names for an output of {output[0]} units")
    return names


def _check_features(expansion: Expansion, graph: Graph, shapes: Mapping[str, Shape], errors: Collector) -> None:
    """The written `features:` name distinct feature maps, in the order the network computes them
    (timm's `feature_info` order, which `out_indices` counts in). Those that chosen outputs leave
    out are no longer the model's and are not checked."""
    order = {n.name: index for index, n in enumerate(ir_graph.ordered(graph))}
    listed: dict[str, str] = {}  # node -> the entry that named it
    previous = None
    for feature in [f for f in expansion.features or () if f.node in graph]:
        shape, named = shapes[feature.node], f"feature '{feature.text}'"
        if feature.text != feature.node:
            named += f" (node '{feature.node}')"
        if len(shape) != 3:
            kind = "a vector of" if len(shape) == 1 else "of shape"
            op = ir_graph.node(graph, feature.node).op
            hint = "features lists feature maps (height x width x channels), such as a block's output"
            errors.error(feature.pos, f"{named} is {kind} {fmt(shape)} ({op}), not a feature map", hint)
        elif feature.node in listed:
            errors.error(feature.pos, f"{named} is listed twice (also as '{listed[feature.node]}')")
        elif previous is not None and order[feature.node] < order[previous.node]:
            errors.error(
                feature.pos,
                f"{named} comes before '{previous.text}' in the network",
                hint="list features in the order the network computes them, as timm's feature_info",
            )
        listed.setdefault(feature.node, feature.text)
        previous = feature


def _dropped_note(graph: ir_graph.Graph, chosen_at: Pos | None) -> tuple[Diagnostic, ...]:
    dropped: tuple[str, ...] = graph.graph["dropped"]
    if not dropped or chosen_at is None:
        return ()
    shown = ", ".join(dropped[:3]) + (f", ... {dropped[-1]}" if len(dropped) > 3 else "")
    count = f"{len(dropped)} node{'s' if len(dropped) != 1 else ''}"
    message = f"{count} that no output needs {'are' if len(dropped) != 1 else 'is'} left out ({shown})"
    return (Diagnostic(chosen_at, message, severity="note"),)
