"""Read a safetensors file into numpy arrays, whatever its dtypes, checking every byte it trusts.

numpy has no bfloat16 or float8, so the safetensors package cannot hand such files to numpy;
this reader decodes them itself. The format is a little-endian u64 header length, a JSON header
of `{key: {dtype, shape, data_offsets}}` and the data. Every field is checked before any array
is made, so a truncated or forged file is a one-line ValueError, never a crash or a huge
allocation. Floating-point arrays come back as float32 where that is exact: float16, bfloat16
and both float8 kinds always are, float64 only when every value survives the round trip.
Integer and boolean arrays come back as they are; other dtypes are refused.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np

MAX_HEADER_BYTES = 100_000_000  # what the safetensors format itself allows

_PLAIN = {
    "F32": np.float32,
    "F16": np.float16,
    "F64": np.float64,
    "I8": np.int8,
    "I16": np.int16,
    "I32": np.int32,
    "I64": np.int64,
    "U8": np.uint8,
    "U16": np.uint16,
    "U32": np.uint32,
    "U64": np.uint64,
    "BOOL": np.bool_,
}
_ITEM_BYTES = {name: np.dtype(kind).itemsize for name, kind in _PLAIN.items()} | {
    "BF16": 2,
    "F8_E4M3": 1,
    "F8_E5M2": 1,
}


def _e4m3_table() -> np.ndarray:
    """The float32 value of each float8 e4m3fn byte: bias 7, no infinities, NaN at S.1111.111."""
    values = np.empty(256, np.float32)
    for byte in range(256):
        sign = -1.0 if byte & 0x80 else 1.0
        exponent, mantissa = (byte >> 3) & 0xF, byte & 0x7
        if exponent == 0xF and mantissa == 0x7:
            values[byte] = np.nan
        elif exponent == 0:
            values[byte] = sign * mantissa / 8 * 2.0**-6
        else:
            values[byte] = sign * (1 + mantissa / 8) * 2.0 ** (exponent - 7)
    return values


def _decode(dtype: str, data: bytes, shape: tuple[int, ...]) -> np.ndarray:
    if dtype in _PLAIN:  # a copy in native byte order, writable
        return np.frombuffer(data, np.dtype(_PLAIN[dtype]).newbyteorder("<")).astype(_PLAIN[dtype]).reshape(shape)
    raw = np.frombuffer(data, np.dtype("<u2") if dtype == "BF16" else np.uint8)
    if dtype == "BF16":  # the upper half of a float32
        return (raw.astype(np.uint32) << 16).view(np.float32).reshape(shape)
    if dtype == "F8_E5M2":  # the upper byte of a float16
        return (raw.astype(np.uint16) << 8).view(np.float16).reshape(shape)
    decoded: np.ndarray = _e4m3_table()[raw]
    return decoded.reshape(shape)


def _as_float32(key: str, array: np.ndarray) -> np.ndarray:
    if array.dtype.kind != "f" or array.dtype == np.float32:
        return array
    converted = array.astype(np.float32)
    if array.dtype.itemsize > 4 and not np.array_equal(converted.astype(array.dtype), array, equal_nan=True):
        raise ValueError(f"'{key}' is {array.dtype} and would lose precision as float32; convert it yourself first")
    return converted


def read(path: Path | str) -> dict[str, np.ndarray]:
    """Every array of a safetensors file, by key; ValueError for a file that is not one."""
    return read_with_metadata(path)[0]


def read_with_metadata(path: Path | str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Every array of a safetensors file and the string metadata its header carries."""
    # Opened without blocking and checked on the descriptor: a FIFO or a device is refused, not read.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError("it is not a regular file")
        size = info.st_size
        head = f.read(8)
        if len(head) < 8:
            raise ValueError("the file is too short to be safetensors")
        length = int.from_bytes(head, "little")
        if length > min(MAX_HEADER_BYTES, size - 8):
            raise ValueError(f"its header claims {length} bytes, past the end of the file")
        try:
            header = json.loads(f.read(length))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ValueError("its header is not JSON") from None
        if not isinstance(header, dict):
            raise ValueError("its header is not a JSON object")
        metadata = header.pop("__metadata__", None)
        if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
            metadata = {}
        data_size = size - 8 - length
        arrays = {}
        for key, entry in header.items():
            start, end = _offsets(key, entry, data_size)
            dtype, shape = entry.get("dtype"), entry.get("shape")
            if dtype not in _ITEM_BYTES:
                raise ValueError(f"'{key}' has dtype {dtype!r}, which weights cannot be read from")
            if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
                raise ValueError(f"'{key}' has an invalid shape {shape!r}")
            count = 1
            for dim in shape:
                count *= dim
            if count * _ITEM_BYTES[dtype] != end - start:
                raise ValueError(
                    f"'{key}' is {end - start} bytes, but {dtype} {tuple(shape)} needs {count * _ITEM_BYTES[dtype]}"
                )
            f.seek(8 + length + start)
            arrays[key] = _as_float32(key, _decode(dtype, f.read(end - start), tuple(shape)))
    return arrays, metadata


def _offsets(key: str, entry: object, data_size: int) -> tuple[int, int]:
    offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(type(o) is int for o in offsets)
        or not 0 <= offsets[0] <= offsets[1] <= data_size
    ):
        raise ValueError(f"'{key}' has data offsets {offsets!r} outside the file's data")
    return offsets[0], offsets[1]
