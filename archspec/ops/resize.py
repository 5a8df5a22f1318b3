"""resize: a feature map resized to another height and width, by an integer `factor`, to a fixed
`size`, or to the size of the node named by `like` (a segmentation head's logits to the input's
size, a U-Net decoder's map to its skip connection's).

Exactly PyTorch's `F.interpolate`, which both backends compute: a destination cell d of an axis
resized from n to m cells reads the source coordinate found with the scale s = n / m in float32
arithmetic. `nearest` reads cell floor(d * s) (PyTorch's `nearest`, not `nearest-exact`).
`bilinear` interpolates between the two cells around s * (d + 0.5) - 0.5, clamped at 0 (pixel
centres: TensorFlow's half-pixel rule), or, with `align_corners`, around d * (n - 1) / (m - 1),
so that the corner cells of both grids coincide.
"""

from __future__ import annotations

from archspec.ir import Node
from archspec.limits import MAX_TENSOR_ELEMENTS
from archspec.ops.base import Lookup, OpKind, Shape, ShapeError, elements, feature_map, fmt, like_size, pair, register

MODES = ("nearest", "bilinear")


def shape(n: Node, shapes: list[Shape], lookup: Lookup) -> Shape:
    h, w, c = feature_map(n, shapes[0])
    factor, size = n.attrs["factor"], n.attrs["size"]
    given = [k for k, v in (("factor", factor), ("size", size)) if v is not None] + (
        ["like"] if len(shapes) > 1 else []
    )
    if len(given) != 1:
        where = n.where(given[-1]) if given and given[-1] != "like" else None
        raise ShapeError(
            f"a resize takes one of factor, size or like; got {', '.join(given) or 'none'}",
            pos=where,
            recovered=shapes[0],
        )
    if n.attrs["align_corners"] and n.attrs["mode"] != "bilinear":
        raise ShapeError("align_corners applies to mode: bilinear only", pos=n.where("align_corners"))
    if len(shapes) > 1:
        out = (*like_size(n, shapes, lookup), c)
    elif factor is not None:
        out = (h * factor[0], w * factor[1], c)
    else:
        out = (size[0], size[1], c)
    if elements(out) > MAX_TENSOR_ELEMENTS:
        raise ShapeError(
            f"the resized map {fmt(out)} has {elements(out):,} elements; the limit is {MAX_TENSOR_ELEMENTS:,}",
            pos=n.where("factor" if factor is not None else "size"),
        )
    return out


def label(node: Node) -> str:
    a = node.attrs
    to = f"x{pair(a['factor'])}" if a["factor"] is not None else (pair(a["size"]) if a["size"] else "like")
    corners = ", align corners" if a["align_corners"] else ""
    return f"Resize ({a['mode']} {to}{corners})"


register(
    OpKind(
        "resize",
        "Resize a map by an integer factor, to a size, or to the size of node `like` (PyTorch's interpolate).",
        {"factor": None, "size": None, "mode": "nearest", "align_corners": False},
        shape,
        label,
        operands="like",
        keeps_width=True,
    )
)
