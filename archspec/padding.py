"""The exact valid/same arithmetic, shared by shape inference and every backend.

`same` follows TensorFlow: out = ceil(in / stride), total padding = max((out - 1) * stride + k - in, 0),
the smaller half before and the larger half after. `valid`: out = floor((in - k) / stride) + 1.
"""

from __future__ import annotations


def output_size(size: int, kernel: int, stride: int, padding: str) -> int:
    """Output length along one axis; < 1 means the kernel does not fit (only with valid)."""
    if padding == "same":
        return -(-size // stride)
    return (size - kernel) // stride + 1


def same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """(before, after) padding of TensorFlow's same along one axis."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2
