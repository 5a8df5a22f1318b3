"""What one op kind's definition holds (`OpKind`), and the helpers the definitions share: shape
errors and the window arithmetic of convs and pools, and the paper's way of writing labels.

A kind's definition is all the front end knows of it: attributes and defaults, how its operands
are written, its groups, its shape and cost rules, its weights in the neutral layout, and its
label and colour in drawings. The JSON Schema of its step is derived from these.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from archspec.errors import ArchspecError, Pos
from archspec.ir import Node
from archspec.limits import MAX_TENSOR_ELEMENTS
from archspec.ops.padding import axis_pads, output_size

Shape = tuple[int, ...]
Lookup = Callable[[str], Node]  # a node of the graph by name, for messages about an input


class ShapeError(ArchspecError):
    """A node whose inputs do not fit its kind; `recovered` is a best guess at its output shape, so
    that shape inference goes on and finds independent mistakes further on."""

    def __init__(self, message: str, pos: Pos | None = None, hint: str | None = None, recovered: Shape | None = None):
        super().__init__(message, pos, hint)
        self.recovered = recovered


def fmt(shape: Shape) -> str:
    return "x".join(str(d) for d in shape)


def elements(shape: Shape) -> int:
    total = 1
    for dim in shape:
        total *= dim
    return total


def _free(n: Node, inputs: list[Shape], out: Shape) -> tuple[int, int]:
    return 0, 0


def _no_weights(attrs: Mapping[str, Any], in_width: int) -> dict[str, tuple[int, ...]]:
    return {}


# The layouts of weight roles in the neutral format (TensorFlow's), by kind: each backend converts a
# role by its kind, never by its name. A role a definition does not list is a vector of C.
LAYOUTS = {
    "conv": "(kh, kw, in / groups, out): a conv kernel",
    "dense": "(in, out): a dense kernel",
    "depthwise": "(kh, kw, in, depth_multiplier): a depthwise kernel",
    "conv_transpose": "(kh, kw, out, in): a transposed conv kernel (Keras's Conv2DTranspose)",
    "vector": "(C,): a bias, a scale, a shift, a statistic",
}

# How a kind's operands are written: the step before (or `input:`), a list under `inputs:`,
# `shortcut:` and `residual:` (the step before by default), or the step before and, where given, a
# node under `like:` whose shape (never its values) the op reads.
OPERANDS = ("previous", "inputs", "shortcut", "like")


@dataclass(frozen=True)
class OpKind:
    """One op kind. `shape(node, input shapes, lookup)` gives its output shape or raises
    ShapeError; `cost(node, input shapes, output shape)` its (parameters, MACs); `weights(attrs,
    input width)` its neutral weight roles and their shapes (TensorFlow's layouts); `label(node)`
    its box in a drawing, as the paper's figures write it."""

    name: str
    description: str
    attrs: Mapping[str, Any]  # attribute -> default (attrs.REQUIRED where it must be given)
    shape: Callable[[Node, list[Shape], Lookup], Shape]
    label: Callable[[Node], str]
    operands: str = "previous"
    groups: frozenset[str] = frozenset()
    cost: Callable[[Node, list[Shape], Shape], tuple[int, int]] = _free
    weights: Callable[[Mapping[str, Any], int], dict[str, tuple[int, ...]]] = _no_weights
    width: str | None = None  # the attribute that sets the output width, for weighted kinds
    layouts: Mapping[str, str] = field(default_factory=dict)  # weight role -> its layout kind (LAYOUTS)
    keeps_width: bool = False  # the output has the first input's width (channels)
    sums_widths: bool = False  # the output's width is the sum of its inputs' (a filter concat)
    fill: str = "#ffffff"  # the box's colour in drawings
    in_network: bool = True  # a step may use it (the input node is made by the expander)


REGISTRY: dict[str, OpKind] = {}  # filled as archspec.ops imports each kind's module


def register(*kinds: OpKind) -> None:
    """Add op kinds to the registry; each name once (as timm's `register_model`)."""
    for kind in kinds:
        if kind.name in REGISTRY:
            raise ValueError(f"op kind '{kind.name}' is defined twice")
        if kind.operands not in OPERANDS:
            raise ValueError(f"op kind '{kind.name}' has operands '{kind.operands}', not one of {OPERANDS}")
        if not set(kind.layouts.values()) <= set(LAYOUTS):
            raise ValueError(f"op kind '{kind.name}' names a weight layout that is none of {tuple(LAYOUTS)}")
        REGISTRY[kind.name] = kind


# -- shapes ---------------------------------------------------------------------------------------


def feature_map(n: Node, shape: Shape) -> tuple[int, int, int]:
    if len(shape) != 3:
        raise ShapeError(
            f"needs an HxWxC input, got a vector of {shape[0]}",
            hint="spatial ops must come before global_avgpool/flatten",
        )
    return shape[0], shape[1], shape[2]


def window(n: Node, shape: Shape, pool: bool = False) -> tuple[int, int]:
    """The output size of a conv or pool over an HxWxC input. A pool's explicit pads are at most
    half its kernel (PyTorch's rule), so that no window sees only padding."""
    h, w, _ = feature_map(n, shape)
    (kh, kw), (sh, sw), padding = effective_kernel(n.attrs), n.attrs["stride"], n.attrs["padding"]
    ceil_mode = bool(n.attrs.get("ceil_mode", False))
    sizes, padded = [], []
    for axis, (size, k, s) in enumerate(((h, kh, sh), (w, kw, sw))):
        before, after = axis_pads(size, k, s, padding, axis)
        if pool and not isinstance(padding, str) and max(before, after) > k // 2:
            raise ShapeError(
                f"pads {before} and {after} on a {k}-wide window: a pool pads at most half its window ({k // 2})",
                pos=n.where("padding"),
            )
        sizes.append(output_size(size, k, s, (before, after), ceil_mode))
        padded.append(size + before + after)
    if padded[0] * padded[1] * shape[2] > MAX_TENSOR_ELEMENTS:  # a huge same-padded dilation, say
        attr = "dilation" if "dilation" in n.attr_pos else ("padding" if "padding" in n.attr_pos else "kernel")
        total = padded[0] * padded[1] * shape[2]
        raise ShapeError(
            f"padding makes its {h}x{w} input {padded[0]}x{padded[1]}x{shape[2]}, which has {total:,} elements; "
            f"the limit is {MAX_TENSOR_ELEMENTS:,}",
            pos=n.where(attr),
        )
    if sizes[0] < 1 or sizes[1] < 1:
        raise ShapeError(
            f"{kh}x{kw} kernel does not fit the {h}x{w} input with {padding_text(padding)} padding",
            pos=n.where("kernel"),
            hint="use padding: same, a smaller kernel, or a larger input",
        )
    return sizes[0], sizes[1]


def effective_kernel(attrs: Mapping[str, Any]) -> tuple[int, int]:
    """The extent of a kernel on the input: dilation d spreads k taps over d * (k - 1) + 1 cells."""
    (kh, kw), (dh, dw) = attrs["kernel"], attrs.get("dilation", (1, 1))
    return dh * (kh - 1) + 1, dw * (kw - 1) + 1


def padding_text(padding: Any) -> str:
    return padding if isinstance(padding, str) else "[" + ", ".join(map(str, padding)) + "]"


def same_shape(n: Node, shapes: list[Shape], lookup: Lookup) -> Shape:
    return shapes[0]


def grouped_shape(n: Node, shapes: list[Shape], lookup: Lookup) -> Shape:
    """The input's shape, where `groups` divides its channels (a channel shuffle, a group norm)."""
    channels, groups = feature_map(n, shapes[0])[2], n.attrs["groups"]
    if channels % groups:
        raise ShapeError(f"{groups} groups must divide the {channels} input channels", pos=n.where("groups"))
    return shapes[0]


def like_size(n: Node, shapes: list[Shape], lookup: Lookup) -> tuple[int, int]:
    """The height and width of the node a `like:` operand names (a resize's or a crop's target)."""
    like = shapes[1]
    if len(like) != 3:
        raise ShapeError(
            f"like: '{n.inputs[1]}' is a vector, not a map to take the size of (it has {like[0]} values)",
            hint=f"that node is written at {lookup(n.inputs[1]).pos}",
        )
    return like[0], like[1]


# -- weights ---------------------------------------------------------------------------------------


def output_roles(attrs: Mapping[str, Any], out: int) -> dict[str, tuple[int, ...]]:
    """The bias and batch norm's tensors after a conv's output of `out` channels, where enabled."""
    roles: dict[str, tuple[int, ...]] = {}
    if attrs["bias"]:
        roles["bias"] = (out,)
    bn = attrs["bn"]
    if bn is not None:
        if bn.scale:
            roles["gamma"] = (out,)
        if bn.center:
            roles["beta"] = (out,)
        roles["moving_mean"] = roles["moving_variance"] = (out,)
    return roles


def affine_cost(n: Node, inputs: list[Shape], out: Shape) -> tuple[int, int]:
    """A norm's gamma and beta per channel; like batch norm, it counts no multiply-accumulates."""
    return 2 * out[-1], 0


def affine_roles(attrs: Mapping[str, Any], in_width: int) -> dict[str, tuple[int, ...]]:
    return {"gamma": (in_width,), "beta": (in_width,)}


def batch_norm_params(attrs: Mapping[str, Any], out: int) -> int:
    """The bias and batch norm's trainable parameters (gamma, beta) after `out` channels."""
    bn = attrs["bn"]
    return (out if attrs["bias"] else 0) + (out * (int(bn.scale) + int(bn.center)) if bn is not None else 0)


# -- labels ---------------------------------------------------------------------------------------

ACTIVATION_NAMES = {
    "relu": "ReLU",
    "relu6": "ReLU6",
    "gelu": "GELU",
    "silu": "SiLU",
    "sigmoid": "Sigmoid",
    "tanh": "Tanh",
    "hardswish": "Hardswish",
    "hardsigmoid": "Hardsigmoid",
    "hardtanh": "Hardtanh",
    "elu": "ELU",
    "mish": "Mish",
    "leaky_relu": "LeakyReLU",
    "softmax": "Softmax",
}


def pair(value: tuple[int, int]) -> str:
    return f"{value[0]}x{value[1]}"


def stride_and_padding(node: Node) -> list[str]:
    """The paper writes "stride 2" and "V" (valid padding) only where they differ from 1 / same;
    explicit pads are written "pad 3" or "pad [0, 1, 0, 1]", and ceil mode "ceil"."""
    stride: tuple[int, int] = node.attrs["stride"]
    parts = [] if stride == (1, 1) else [f"stride {stride[0] if stride[0] == stride[1] else pair(stride)}"]
    padding = node.attrs["padding"]
    if padding == "valid":
        parts.append("V")
    elif not isinstance(padding, str):
        parts.append(f"pad {padding[0]}" if len(set(padding)) == 1 else f"pad {padding_text(padding)}")
    return parts + (["ceil"] if node.attrs.get("ceil_mode") else [])


def number(value: float) -> str:
    """0.2 as the paper's 0.20; anything finer keeps its own digits."""
    two = f"{value:.2f}"
    return two if float(two) == value else f"{value:g}"


def conv_label(kind: str, node: Node, extra: list[str]) -> str:
    """ "1x7 Conv (224)", "3x3 Conv (384 stride 2 V)", "1x1 Conv (2080 Linear)": the kernel, the
    width, then whatever differs from stride 1, same padding and ReLU."""
    a = node.attrs
    activation = a["activation"]
    detail = [] if activation == "relu" else ["Linear" if activation == "none" else ACTIVATION_NAMES[activation]]
    return f"{pair(a['kernel'])} {kind} ({' '.join([str(a['filters']), *stride_and_padding(node), *detail, *extra])})"


def fixed(text: str) -> Callable[[Node], str]:
    return lambda node: text
