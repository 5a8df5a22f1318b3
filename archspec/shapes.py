"""Static shape inference: one rule per op kind, exact valid/same arithmetic.

Shapes are (H, W, C) for feature maps and (C,) for vectors, batch left out. A node whose input
could not be shaped is skipped, so one mistake is reported once, not at every node after it; an
add or concat that does not fit still passes a best-guess shape on, so that later, independent
mistakes are found in the same run.
"""

from __future__ import annotations

from collections.abc import Callable

from archspec.errors import Collector, Pos
from archspec.graph import Graph, node, ordered
from archspec.ir import Node
from archspec.limits import MAX_TENSOR_ELEMENTS
from archspec.ops import weight_shapes, width_attr
from archspec.padding import output_size

Shape = tuple[int, ...]


class ShapeError(Exception):
    def __init__(self, message: str, pos: Pos | None = None, hint: str | None = None, recovered: Shape | None = None):
        super().__init__(message)
        self.pos, self.hint, self.recovered = pos, hint, recovered


def fmt(shape: Shape) -> str:
    return "x".join(str(d) for d in shape)


def infer(graph: Graph, errors: Collector) -> dict[str, Shape]:
    shapes: dict[str, Shape] = {}
    for n in ordered(graph):
        if any(source not in shapes for source in n.inputs):
            continue
        try:
            shapes[n.name] = RULES[n.op](n, [shapes[s] for s in n.inputs], graph)
            _check_size(n, shapes[n.name], shapes[n.inputs[0]][-1] if n.inputs else 0)
        except ShapeError as exc:
            errors.error(exc.pos or n.pos, f"{n.op} '{n.name}': {exc}", exc.hint, group=f"shape of {n.op}")
            if exc.recovered is not None:
                shapes[n.name] = exc.recovered
    return shapes


def elements(shape: Shape) -> int:
    total = 1
    for dim in shape:
        total *= dim
    return total


def _check_size(n: Node, out: Shape, in_width: int) -> None:
    """ShapeError for an output or a weight too large for any framework to allocate or index:
    past MAX_TENSOR_ELEMENTS (int32 indexing), a network can be checked but never built."""
    tensors = {
        "output": out,
        **{f"weight '{role}'": shape for role, shape in weight_shapes(n.op, n.attrs, in_width).items()},
    }
    for what, shape in tensors.items():
        if elements(shape) > MAX_TENSOR_ELEMENTS:
            width = width_attr(n.op)
            raise ShapeError(
                f"its {what} of {fmt(shape)} has {elements(shape):,} elements; the limit is {MAX_TENSOR_ELEMENTS:,}",
                pos=n.where(width) if width else None,
                hint="no framework indexes a tensor this large (int32 offsets)",
            )


def _feature_map(n: Node, shape: Shape) -> tuple[int, int, int]:
    if len(shape) != 3:
        raise ShapeError(
            f"needs an HxWxC input, got a vector of {shape[0]}",
            hint="spatial ops must come before global_avgpool/flatten",
        )
    return shape[0], shape[1], shape[2]


def _window(n: Node, shape: Shape) -> tuple[int, int]:
    h, w, _ = _feature_map(n, shape)
    (kh, kw), (sh, sw), padding = n.attrs["kernel"], n.attrs["stride"], n.attrs["padding"]
    out_h, out_w = output_size(h, kh, sh, padding), output_size(w, kw, sw, padding)
    if out_h < 1 or out_w < 1:
        raise ShapeError(
            f"{kh}x{kw} kernel does not fit the {h}x{w} input with valid padding",
            pos=n.where("kernel"),
            hint="use padding: same, a smaller kernel, or a larger input",
        )
    return out_h, out_w


def _input(n: Node, shapes: list[Shape], graph: Graph) -> Shape:
    shape: Shape = n.attrs["shape"]
    return shape


def _conv(n: Node, shapes: list[Shape], graph: Graph) -> Shape:
    return (*_window(n, shapes[0]), n.attrs["filters"])


def _pool(n: Node, shapes: list[Shape], graph: Graph) -> Shape:
    return (*_window(n, shapes[0]), shapes[0][2])


def _same(n: Node, shapes: list[Shape], graph: Graph) -> Shape:
    return shapes[0]


def _concat(n: Node, shapes: list[Shape], graph: Graph) -> Shape:
    first = shapes[0]
    for source, shape in zip(n.inputs[1:], shapes[1:], strict=True):
        if len(shape) != len(first) or shape[:-1] != first[:-1]:
            kind = "spatial size" if len(shape) == 3 else "rank"
            raise ShapeError(
                f"input '{source}' is {fmt(shape[:-1]) or fmt(shape)} but '{n.inputs[0]}' is "
                f"{fmt(first[:-1]) or fmt(first)} (filter concat needs the same {kind})",
                hint=f"that input is written at {node(graph, source).pos}",
                recovered=(*first[:-1], sum(s[-1] for s in shapes)),
            )
    return (*first[:-1], sum(s[-1] for s in shapes))


def _add(n: Node, shapes: list[Shape], graph: Graph) -> Shape:
    shortcut, residual = shapes
    if shortcut == residual:
        return shortcut
    short_node, res_node = node(graph, n.inputs[0]), node(graph, n.inputs[1])
    blame = n.pos
    width = width_attr(res_node.op)  # a residual's width is set by its last projection
    if width is not None and residual[-1] != shortcut[-1]:
        blame = res_node.where(width)
    raise ShapeError(
        f"shortcut '{short_node.name}' is {fmt(shortcut)} (from {short_node.pos}) but residual "
        f"'{res_node.name}' is {fmt(residual)} (from {res_node.pos}); the add is at {n.pos}",
        pos=blame,
        hint=f"the residual must project back to {shortcut[-1]} channels" if residual[-1] != shortcut[-1] else None,
        recovered=shortcut,
    )


def _global_pool(n: Node, shapes: list[Shape], graph: Graph) -> Shape:
    return (_feature_map(n, shapes[0])[2],)


def _flatten(n: Node, shapes: list[Shape], graph: Graph) -> Shape:
    return (elements(shapes[0]),)


def _dense(n: Node, shapes: list[Shape], graph: Graph) -> Shape:
    if len(shapes[0]) != 1:
        raise ShapeError(
            f"needs a vector input, got {fmt(shapes[0])}", hint="add 'global_avgpool' or 'flatten' before it"
        )
    return (n.attrs["units"],)


RULES: dict[str, Callable[[Node, list[Shape], Graph], Shape]] = {
    "input": _input,
    "conv": _conv,
    "maxpool": _pool,
    "avgpool": _pool,
    "concat": _concat,
    "add": _add,
    "activation": _same,
    "dropout": _same,
    "global_avgpool": _global_pool,
    "flatten": _flatten,
    "dense": _dense,
}
