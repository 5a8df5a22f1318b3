"""conv_transpose: a transposed convolution (the gradient of a conv with respect to its input),
then optional batch norm and an activation: the learned upsampling of U-Net's decoder ("up-conv
2x2") and of FCN heads. It is PyTorch's ConvTranspose2d: each input cell adds the kernel, scaled
by its value, to the output at stride steps, so that an axis of n cells gives
(n - 1) * stride + kernel cells; `padding` then crops that many cells from both ends and
`output_padding` adds cells at the end (which only the bias reaches)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from archspec.ir import Node
from archspec.limits import MAX_TENSOR_ELEMENTS
from archspec.ops.attrs import REQUIRED
from archspec.ops.base import (
    Lookup,
    OpKind,
    Shape,
    ShapeError,
    batch_norm_params,
    conv_label,
    elements,
    feature_map,
    output_roles,
    register,
)


def crops(n: Node) -> tuple[int, int]:
    """The cells cropped from both ends of each axis (PyTorch's `padding` of a transposed conv)."""
    padding = n.attrs["padding"]
    if padding == "valid":
        return (0, 0)
    if isinstance(padding, str) or padding[0] != padding[1] or padding[2] != padding[3]:
        raise ShapeError(
            f"a transposed conv crops the same number of cells from both ends of an axis (PyTorch's padding: "
            f"valid, p or [ph, pw]), not {padding}",
            pos=n.where("padding"),
        )
    return (padding[0], padding[2])


def shape(n: Node, shapes: list[Shape], lookup: Lookup) -> Shape:
    h, w, _ = feature_map(n, shapes[0])
    (kh, kw), (sh, sw), extra = n.attrs["kernel"], n.attrs["stride"], n.attrs["output_padding"]
    if extra[0] >= sh or extra[1] >= sw:
        raise ShapeError(
            f"output_padding {extra[0]}x{extra[1]} must be smaller than the stride {sh}x{sw}",
            pos=n.where("output_padding"),
        )
    ph, pw = crops(n)
    out = ((h - 1) * sh - 2 * ph + kh + extra[0], (w - 1) * sw - 2 * pw + kw + extra[1], n.attrs["filters"])
    if out[0] < 1 or out[1] < 1:
        raise ShapeError(
            f"padding {ph}x{pw} crops the whole {out[0] + 2 * ph}x{out[1] + 2 * pw} output", pos=n.where("padding")
        )
    if elements(out) > MAX_TENSOR_ELEMENTS:
        raise ShapeError(
            f"the output {out[0]}x{out[1]}x{out[2]} has {elements(out):,} elements; the limit is "
            f"{MAX_TENSOR_ELEMENTS:,}",
            pos=n.where("stride"),
        )
    return out


def cost(n: Node, inputs: list[Shape], out: Shape) -> tuple[int, int]:
    """Each input cell multiplies the whole kernel: MACs are the input's cells times the kernel's
    weights (torch.utils.flop_counter counts a transposed conv so)."""
    kh, kw = n.attrs["kernel"]
    h, w, channels = inputs[0]
    filters = n.attrs["filters"]
    kernel = kh * kw * channels * filters
    return kernel + batch_norm_params(n.attrs, filters), kernel * h * w


def weights(attrs: Mapping[str, Any], in_width: int) -> dict[str, tuple[int, ...]]:
    """A (kh, kw, out, in) kernel (Keras's Conv2DTranspose), a bias, and batch norm's tensors."""
    out = attrs["filters"]
    return {"kernel": (*attrs["kernel"], out, in_width), **output_roles(attrs, out)}


register(
    OpKind(
        "conv_transpose",
        "Transposed convolution (PyTorch's ConvTranspose2d), optionally followed by batch norm and an activation.",
        {
            "kernel": REQUIRED,
            "stride": 1,
            "padding": "valid",
            "output_padding": 0,
            "filters": REQUIRED,
            "bias": None,  # None: a bias only when there is no batch norm to absorb it
            "bn": False,
            "activation": "none",
        },
        shape,
        lambda node: conv_label("ConvTranspose", node, []),
        groups=frozenset({"weighted"}),
        cost=cost,
        weights=weights,
        width="filters",
        layouts={"kernel": "conv_transpose"},
        fill="#fff6d5",
    ),
)
