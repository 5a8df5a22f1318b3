"""The exact padding arithmetic, shared by shape inference and every backend.

`padding` is `same`, `valid`, or explicit pads (top, bottom, left, right).
`same` follows TensorFlow: out = ceil(in / stride), total padding = max((out - 1) * stride + k - in, 0),
the smaller half before and the larger half after. `valid` pads nothing. With pads (before, after)
along an axis, out = floor((in + before + after - k) / stride) + 1; with `ceil_mode` (PyTorch's
rule) the division rounds up, except that the last window must start inside the input or the
padding before it.
"""

from __future__ import annotations

Padding = str | tuple[int, int, int, int]


def same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """(before, after) padding of TensorFlow's same along one axis."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def axis_pads(
    size: int, kernel: int, stride: int, padding: Padding, axis: int
) -> tuple[int, int]:
    """(before, after) padding along one axis (0: height, 1: width)."""
    if padding == "same":
        return same_pads(size, kernel, stride)
    if padding == "valid":
        return (0, 0)
    assert not isinstance(padding, str)
    return padding[2 * axis], padding[2 * axis + 1]


def output_size(
    size: int,
    kernel: int,
    stride: int,
    padding: str | tuple[int, int],
    ceil_mode: bool = False,
) -> int:
    """Output length along one axis with `same`, `valid` or (before, after) pads; < 1 means the
    kernel does not fit."""
    if padding == "same":
        return -(-size // stride)
    before, after = (0, 0) if isinstance(padding, str) else padding
    span = size + before + after - kernel
    if span < 0:
        return 0
    if not ceil_mode:
        return span // stride + 1
    out = -(-span // stride) + 1
    # the last window would start in the padding after
    if (out - 1) * stride >= size + before:
        out -= 1
    return out


def window_pads(
    size: int, kernel: int, stride: int, padding: Padding, axis: int, ceil_mode: bool
) -> tuple[int, int]:
    """(before, after) padding after which a plain floor-mode window pass over the padded axis
    gives exactly this padding's output size. `after` may be more than the declared padding (the
    reach of ceil_mode's last window) or negative (input cells that no window reaches, cropped)."""
    before, declared = axis_pads(size, kernel, stride, padding, axis)
    out = output_size(size, kernel, stride, (before, declared), ceil_mode)
    return before, (out - 1) * stride + kernel - size - before
