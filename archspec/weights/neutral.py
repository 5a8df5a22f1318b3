"""Framework-neutral weights: one flat mapping from key to numpy array, shared by every backend.

A key is `<IR node name>/<role>`, e.g. `mixed_6b/branch_1/conv_2/kernel`. Roles and layouts:

    kernel           conv: (kh, kw, in / groups, out)   dense: (in, out)
    depthwise_kernel separable_conv: (kh, kw, in, depth_multiplier)
    pointwise_kernel separable_conv: (1, 1, in x depth_multiplier, out)
    bias             (out,)
    gamma, beta      (out,)   batch-norm scale and offset, present when the spec enables them
    moving_mean      (out,)   batch-norm running statistics
    moving_variance  (out,)

These are TensorFlow's layouts; the PyTorch backend transposes on the way in and out. A dense
layer after `flatten` sees its input in H, W, C order in every backend, so one kernel fits both.
Files are safetensors, never pickle.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from archspec.errors import ArchspecError
from archspec.ops import weight_shapes

if TYPE_CHECKING:
    import numpy as np

    from archspec.spec import Spec


class WeightsError(ArchspecError, ValueError):
    """Weights that do not fit a spec: an array missing, left over, of another shape or dtype,
    with the spec position of the op it belongs to where there is one."""


def key(node: str, role: str) -> str:
    return f"{node}/{role}"


def expected_shapes(spec: Spec) -> dict[str, tuple[int, ...]]:
    """Every weight key of a spec and the shape its array must have."""
    return {
        key(node.name, role): shape
        for node in spec.nodes
        for role, shape in weight_shapes(
            node.op, node.attrs, spec.shapes[node.inputs[0]][-1] if node.inputs else 0
        ).items()
    }


def check(spec: Spec, weights: dict[str, np.ndarray]) -> None:
    """Raise WeightsError (a ValueError) naming the first missing, unexpected or misshapen array,
    at the spec line of the op it belongs to."""
    wanted = expected_shapes(spec)
    for name, shape in wanted.items():
        pos = spec.node(name.rsplit("/", 1)[0]).pos
        if name not in weights:
            raise WeightsError(f"weights for '{spec.name}' lack '{name}' {shape}", pos)
        if tuple(weights[name].shape) != shape:
            raise WeightsError(f"'{name}' has shape {tuple(weights[name].shape)}, the spec needs {shape}", pos)
        if getattr(weights[name], "dtype", None) is not None and weights[name].dtype.kind != "f":
            raise WeightsError(f"'{name}' holds {weights[name].dtype} values; weights are floating point", pos)
    extra = sorted(set(weights) - set(wanted))
    if extra:
        raise WeightsError(f"weights have {len(extra)} arrays the spec does not use, first '{extra[0]}'")


# Files archspec writes say in their metadata which layout they hold, so that a file of one
# layout is never read as another: a square kernel (a 4096x4096 dense layer) has the same shape
# in both, and only this tells them apart. Files written elsewhere carry none and are checked
# by their keys and shapes alone.
LAYOUT = "archspec_layout"


def save(weights: dict[str, np.ndarray], path: Path | str) -> None:
    import numpy as np
    from safetensors.numpy import save_file

    # safetensors writes an array's buffer as it lies in memory: a transposed view would be
    # stored scrambled, so every array is made C-contiguous first.
    arrays = {k: np.ascontiguousarray(v) for k, v in sorted(weights.items())}
    save_file(arrays, str(path), metadata={LAYOUT: "neutral"})


def load(path: Path | str, layout: str = "neutral") -> dict[str, np.ndarray]:
    """The arrays of a weight file of `layout` (neutral, or torch's state_dict), float32 wherever
    that is exact (float16, bfloat16, float8); ValueError for a file that is not safetensors, a
    dtype that cannot be read, or a file whose metadata says it holds another layout."""
    from archspec.weights import tensor_file

    arrays, metadata = tensor_file.read_with_metadata(path)
    written = metadata.get(LAYOUT, layout)
    if written != layout:
        raise ValueError(f"it holds {written} weights, not {layout} ones (read it as --from {written})")
    return arrays
