"""Import a PyTorch model as an archspec spec, with its weights (`archspec import`).

    imported = import_model(model, input_shape=(299, 299, 3), name="inception_v4")
    imported.text      # the spec, as `archspec.importers.structure` writes it
    imported.weights   # {IR node/role: array}, neutral layouts (archspec.weights.neutral)

The model is traced with torch.fx in eval mode; modules of the kinds below are kept whole (a
timm `BatchNormAct2d` is a batch norm with its activation), everything else is traced through,
and each call is recorded with the modules it was made in. Each traced op becomes an IR op:

    Conv2d -> conv; a BatchNorm2d and an activation after it join it (conv + bn + act is one conv);
        a subclass whose forward computes more (timm's Conv2dSame, StdConv2d) is refused by name
    BatchNorm2d that no conv holds -> batch_norm; GroupNorm -> group_norm
    LayerNorm over a vector or a channels-last map, and LayerNorm2d (traced through) -> layer_norm
    x.permute(0, 2, 3, 1) ... x.permute(0, 3, 1, 2): a channels-last region, in which Linear is a
        1x1 conv, activations and layer norms apply to the channels, and x * gamma is a layer_scale
    x * parameter of (C, 1, 1) -> layer_scale; StochasticDepth(mode="row"), timm's DropPath -> drop_path
    MaxPool2d, AvgPool2d (and F.max_pool2d, F.avg_pool2d) -> maxpool, avgpool, padding kept as written
    AdaptiveAvgPool2d(1), F.adaptive_avg_pool2d(x, 1), x.mean((2, 3)) -> global_avgpool (+ Flatten: one op);
        AdaptiveAvgPool2d to another size -> adaptive_avgpool
    Upsample, F.interpolate (nearest, bilinear; a whole factor, a size, or `size=y.shape[-2:]`) -> resize
    x.chunk(k, 1), torch.split(x, s, 1), x[:, a:b] -> channel_slice; x.view(N, g, C // g, H, W),
        transpose(1, 2) (or permute(0, 2, 1, 3, 4)), view(N, C, H, W) -> channel_shuffle
    Linear -> dense; Dropout -> dropout; Flatten, torch.flatten, x.view(x.size(0), -1) -> flatten
    torch.cat(dim=1) -> concat; a + b, a + s * b -> add (s its scale); a * b -> multiply
    ReLU, ReLU6, GELU, SiLU, Sigmoid, Tanh, Hardswish, Hardsigmoid, Mish, Softmax over the channels,
        as modules or functions -> the activation
    Identity, x.contiguous(), Dropout(0) -> nothing; sizes (x.shape, x.size(1) // g) -> numbers

Anything else is an `ImportFailure` that names the module and the op. The spec is then checked
like any, the model built from it is given the weights, and both models are run on one random
batch: the import is done only when their outputs agree (`Imported.difference`).
"""

from __future__ import annotations

import contextlib
import copy
import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import fx, nn

from archspec.backends.torch.reference import flattened_map
from archspec.backends.torch.weights import to_neutral
from archspec.errors import ArchspecError, first_lines, printable
from archspec.errors import shown as shown_value
from archspec.importers import structure
from archspec.importers.structure import INPUT, Header, Layer, Scope
from archspec.spec import Spec, load
from archspec.weights import neutral


class ImportFailure(ArchspecError):
    """The model cannot be written as a spec; the message names the module and the op."""


ACTIVATIONS: dict[type[nn.Module], str] = {
    nn.ReLU: "relu",
    nn.ReLU6: "relu6",
    nn.SiLU: "silu",
    nn.Sigmoid: "sigmoid",
    nn.Tanh: "tanh",
    nn.Hardswish: "hardswish",
    nn.Hardsigmoid: "hardsigmoid",
    nn.Mish: "mish",
}
ACTIVATION_FUNCTIONS: dict[Any, str] = {
    F.relu: "relu",
    torch.relu: "relu",
    torch.relu_: "relu",
    F.relu6: "relu6",
    F.silu: "silu",
    torch.sigmoid: "sigmoid",
    F.sigmoid: "sigmoid",
    torch.tanh: "tanh",
    F.tanh: "tanh",
    F.hardswish: "hardswish",
    F.hardsigmoid: "hardsigmoid",
    F.mish: "mish",
}
ACTIVATION_METHODS = {"relu": "relu", "relu_": "relu", "sigmoid": "sigmoid", "tanh": "tanh"}
# Kept whole; a LayerNorm subclass (LayerNorm2d) is traced through, its permutes seen as written.
KEPT = (
    nn.Conv2d, nn.BatchNorm2d, nn.Linear, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.Flatten,
    nn.Dropout, nn.Identity, nn.GELU, nn.Softmax, nn.GroupNorm, nn.LayerNorm, nn.Upsample, nn.LeakyReLU, *ACTIVATIONS,
)  # fmt: skip
DROP_PATHS = ("StochasticDepth", "DropPath")  # torchvision's and timm's, kept whole: see _drop_path_rate
CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)


class _Tracer(fx.Tracer):
    """torch.fx's tracer, keeping the modules archspec maps whole and recording for every node
    the modules it was called in."""

    def __init__(self) -> None:
        super().__init__()
        self.scopes: list[Scope] = []

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        kept = isinstance(m, KEPT) and not (isinstance(m, nn.LayerNorm) and type(m) is not nn.LayerNorm)
        return kept or type(m).__name__ in DROP_PATHS or super().is_leaf_module(m, module_qualified_name)

    def call_module(self, m: nn.Module, forward: Callable[..., Any], args: Any, kwargs: Any) -> Any:
        path = self.path_of_module(m)
        if self.is_leaf_module(m, path):
            return super().call_module(m, forward, args, kwargs)
        self.scopes.append(Scope(path, type(m).__name__, isinstance(m, CONTAINERS)))
        try:
            return super().call_module(m, forward, args, kwargs)
        finally:
            self.scopes.pop()

    def create_node(self, *args: Any, **kwargs: Any) -> fx.Node:
        node = super().create_node(*args, **kwargs)
        node.meta["archspec_scopes"] = tuple(self.scopes)
        return node


@dataclass(frozen=True)
class _ChannelsLast:
    """A map permuted to N, H, W, C (ConvNeXt's blocks): layer norms, linears and activations
    apply to its channels, and a permute back makes it a map again."""

    layer: str


@dataclass(frozen=True)
class _Parameter:
    """A tensor of the model read directly (a layer scale, a norm's weight), and its module."""

    tensor: torch.Tensor
    owner: nn.Module


@dataclass(frozen=True)
class _Split:
    """The parts of `x.chunk(k, 1)` or `torch.split(x, sizes, 1)`: each a slice of the channels."""

    layer: str
    bounds: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class _Grouped:
    """A map viewed as (N, groups, C / groups, H, W), `swapped` once the two group axes are
    transposed: viewed back as (N, C, H, W), the swap is a channel shuffle."""

    layer: str
    groups: int
    swapped: bool = False


@dataclass
class _Raw:
    """A traced op: its layer, and the modules whose tensors it carries (`conv`, `bn`, `linear`),
    more than one where a batch norm joined the conv before it."""

    layer: Layer
    modules: dict[str, Any] = field(default_factory=dict)  # conv, bn, linear: the modules it carries
    vectors: dict[str, torch.Tensor] = field(default_factory=dict)  # gamma, beta: per-channel tensors


@dataclass
class Imported:
    text: str
    spec: Spec
    weights: dict[str, np.ndarray]
    difference: float  # the largest output difference from the model, relative to its largest output
    unused: tuple[str, ...] = ()  # modules with parameters that the traced forward never calls
    notes: tuple[str, ...] = ()  # what the spec leaves out of the model's configuration, and why


def _pair(value: Any) -> list[int]:
    return list(value) if isinstance(value, tuple | list) else [int(value), int(value)]


def _size(value: list[int]) -> str | int | list[int]:
    return value[0] if value[0] == value[1] else value


def _kernel(value: list[int]) -> str:
    return f"{value[0]}x{value[1]}"


def _padding(pad: Any, kernel: list[int], stride: list[int], dilation: list[int], where: str) -> Any:
    """PyTorch's padding as the spec writes it: `valid` for none, `same` where it is (stride 1,
    an odd reach, half of it each side), else the pads as written: PyTorch pads both sides alike."""
    if isinstance(pad, str):
        if pad == "valid":
            return "valid"
        if pad == "same" and all(s == 1 for s in stride):
            return "same"
        raise ImportFailure(f"{where}: padding '{pad}' with stride {stride} has no archspec form")
    pads = _pair(pad)
    if pads == [0, 0]:  # a 1x1 window pads nothing either way: the default says it
        return "same" if kernel == [1, 1] else "valid"
    reach = [d * (k - 1) for k, d in zip(kernel, dilation, strict=True)]
    if stride == [1, 1] and all(r % 2 == 0 and p == r // 2 for p, r in zip(pads, reach, strict=True)):
        return "same"
    return pads[0] if pads[0] == pads[1] else pads


class _Mapper:
    """Walks the traced graph in order and makes one raw op per node that computes something."""

    def __init__(self, model: nn.Module, graph: fx.Graph):
        self.model, self.graph = model, graph
        self.raws: dict[str, _Raw] = {}
        self.values: dict[fx.Node, Any] = {}  # a node's value: a layer id, or a Python value
        self.calls: dict[str, int] = {}

    def run(self) -> tuple[list[_Raw], list[str]]:
        outputs: list[str] = []
        for node in self.graph.nodes:
            if node.op == "placeholder":
                if INPUT in self.values.values():
                    raise ImportFailure(f"the model takes more than one input ('{node.target}'); archspec takes one")
                self.values[node] = INPUT
            elif node.op == "output":
                outputs = self._outputs(node.args[0])
            elif node.op == "call_module":
                self.values[node] = self._module(node)
            elif node.op in ("call_function", "call_method"):
                self.values[node] = self._function(node)
            else:  # get_attr: a tensor of the model used as a value (a layer scale, a norm's weight)
                owner, _, leaf = str(node.target).rpartition(".")
                tensor = getattr(self.model.get_submodule(owner), leaf)
                if not isinstance(tensor, torch.Tensor):
                    raise ImportFailure(f"{node.target}: the model reads an attribute that is not a tensor")
                self.values[node] = _Parameter(tensor.detach(), self.model.get_submodule(owner))
        return list(self.raws.values()), outputs

    def _outputs(self, value: Any) -> list[str]:
        items = (
            tuple(value.values()) if isinstance(value, dict) else value if isinstance(value, tuple | list) else (value,)
        )
        found = [self.values.get(item) for item in items]
        if not found or not all(isinstance(v, str) and v in self.raws for v in found):
            raise ImportFailure("the model's output must be a tensor or a tuple of tensors it computes")
        return found  # type: ignore[return-value]

    def _where(self, node: fx.Node) -> str:
        scopes = node.meta.get("archspec_scopes", ())
        return scopes[-1].path if scopes else "the model's forward"

    def _new(self, node: fx.Node, op: str, attrs: dict[str, Any], inputs: Sequence[str], path: str | None) -> str:
        base = path or f"{self._where(node)}/{node.name}"
        count = self.calls.get(base, 0)
        self.calls[base] = count + 1
        lid = base if count == 0 else f"{base}#{count}"
        scopes = node.meta.get("archspec_scopes", ())
        self.raws[lid] = _Raw(Layer(lid, op, attrs, tuple(inputs), scopes, path))
        return lid

    def _operand(self, node: fx.Node, value: Any) -> tuple[str, bool]:
        """The layer a tensor argument is, and whether it is a channels-last view of it."""
        found = self.values.get(value) if isinstance(value, fx.Node) else None
        if isinstance(found, _ChannelsLast):
            return found.layer, True
        return self._tensor(node, value), False

    def _kept(self, lid: str, channels_last: bool) -> Any:
        return _ChannelsLast(lid) if channels_last else lid

    def _tensor(self, node: fx.Node, value: Any) -> str:
        found = self.values.get(value) if isinstance(value, fx.Node) else None
        if isinstance(found, _ChannelsLast):
            what = node.name if node.op == "call_function" else node.target  # fx names a call after its function
            raise ImportFailure(
                f"{self._where(node)}: '{what}' on a channels-last map; archspec follows one only through "
                "layer norms, linears, activations, a layer scale and the permute back"
            )
        if not isinstance(found, str):
            raise ImportFailure(
                f"{self._where(node)}: '{node.target}' reads something that is not a tensor archspec follows"
            )
        return found

    # -- modules -------------------------------------------------------------------------------

    def _module(self, node: fx.Node) -> Any:
        path = str(node.target)
        module = self.model.get_submodule(path)
        if not node.args:
            raise ImportFailure(f"{path}: a module called without a tensor")
        source, last = self._operand(node, node.args[0])
        where = f"{path} ({type(module).__name__})"
        if last:
            return self._kept(self._channels_last_module(node, module, source, path, where), True)
        if isinstance(module, nn.Conv2d):
            if type(module).forward is not nn.Conv2d.forward:  # timm's Conv2dSame, StdConv2d
                raise ImportFailure(
                    f"{where}: a Conv2d whose forward computes more than a conv (its padding or its weights)"
                )
            return self._conv(node, module, source, path)
        if isinstance(module, nn.GroupNorm):
            attrs = {"groups": module.num_groups, "eps": float(module.eps)}
            return self._norm(node, "group_norm", attrs, source, path, module, module.weight, module.bias)
        if type(module) is nn.LayerNorm:
            return self._layer_norm(node, module, source, path, vector=len(self._shape(node.args[0])) == 2)
        rate = _drop_path_rate(module, where)
        if rate is not None:
            return source if rate == 0 else self._new(node, "drop_path", {"rate": rate}, [source], path)
        if isinstance(module, nn.Upsample):
            return self._resize(
                node, source, module.size, module.scale_factor, module.mode, module.align_corners, where
            )
        if isinstance(module, nn.BatchNorm2d):
            return self._batch_norm(node, module, source, path)
        if isinstance(module, nn.Linear):
            lid = self._new(
                node,
                "dense",
                {"units": module.out_features, "bias": module.bias is not None, "activation": "none"},
                [source],
                path,
            )
            self.raws[lid].modules["linear"] = module
            return lid
        if isinstance(module, nn.LeakyReLU):
            return self._leaky_relu(node, source, float(module.negative_slope), path)
        if isinstance(module, nn.Softmax) and module.dim == -1 and len(self._shape(node.args[0])) != 2:
            raise ImportFailure(f"{where}: softmax along the last dimension of a map (its width), not the channels")
        if type(module) in ACTIVATIONS or isinstance(module, nn.GELU | nn.Softmax):
            return self._activation(node, source, _module_activation(module, where), path)
        if isinstance(module, nn.MaxPool2d | nn.AvgPool2d):
            return self._pool(node, source, module, path)
        if isinstance(module, nn.AdaptiveAvgPool2d):
            return self._adaptive_pool(node, source, module.output_size, path, where)
        if isinstance(module, nn.Flatten):
            if module.start_dim != 1 or module.end_dim != -1:
                raise ImportFailure(f"{where}: flatten from dimension {module.start_dim}; archspec flattens from 1")
            return self._new(node, "flatten", {}, [source], path)
        if isinstance(module, nn.Dropout):
            return source if module.p == 0 else self._new(node, "dropout", {"rate": float(module.p)}, [source], path)
        if isinstance(module, nn.Identity):
            return source
        kind = f"{type(module).__module__}.{type(module).__name__}"
        raise ImportFailure(f"{path}: no archspec op for the module {kind}")

    def _channels_last_module(self, node: fx.Node, module: nn.Module, source: str, path: str, where: str) -> str:
        """A module applied to a channels-last map: to its channels, as on a map in N, C, H, W."""
        if type(module) is nn.LayerNorm:
            return self._layer_norm(node, module, source, path, vector=True)
        if isinstance(module, nn.Linear):  # on each position's channels: a 1x1 conv
            attrs = {"kernel": "1x1", "filters": module.out_features, "bias": module.bias is not None,
                     "bn": False, "activation": "none"}  # fmt: skip
            lid = self._new(node, "conv", attrs, [source], path)
            self.raws[lid].modules["pointwise"] = module
            return lid
        if type(module) in ACTIVATIONS or isinstance(module, nn.GELU):
            return self._activation(node, source, _module_activation(module, where), path)
        rate = _drop_path_rate(module, where)
        if rate is not None or isinstance(module, nn.Identity) or (isinstance(module, nn.Dropout) and module.p == 0):
            return source if not rate else self._new(node, "drop_path", {"rate": rate}, [source], path)
        raise ImportFailure(f"{where}: on a channels-last map; archspec follows one only through layer norms, "
                            "linears, activations and the permute back")  # fmt: skip

    def _layer_norm(self, node: fx.Node, norm: nn.LayerNorm, source: str, path: str, vector: bool) -> str:
        """A LayerNorm over the last dimension of a vector or of a channels-last map: its channels."""
        if len(norm.normalized_shape) != 1:
            raise ImportFailure(f"{path} (LayerNorm): over {len(norm.normalized_shape)} dimensions, not the channels")
        if not vector:
            raise ImportFailure(f"{path} (LayerNorm): over the last dimension of a map (its width), not its channels")
        return self._norm(node, "layer_norm", {"eps": float(norm.eps)}, source, path, norm, norm.weight, norm.bias)

    def _norm(
        self,
        node: fx.Node,
        op: str,
        attrs: dict[str, Any],
        source: str,
        path: str | None,
        owner: nn.Module,
        weight: torch.Tensor | None,
        bias: torch.Tensor | None,
    ) -> str:
        """A layer or group norm; without an affine weight or bias, gamma 1 or beta 0."""
        lid = self._new(node, op, attrs, [source], path)
        raw = self.raws[lid]
        raw.modules["norm"] = owner
        channels = (weight if weight is not None else bias) if weight is not None or bias is not None else None
        width = self._shape(node.args[0])[1 if op == "group_norm" else -1] if channels is None else channels.numel()
        raw.vectors["gamma"] = weight.detach() if weight is not None else torch.ones(width)
        raw.vectors["beta"] = bias.detach() if bias is not None else torch.zeros(width)
        return lid

    def _shape(self, value: Any) -> tuple[int, ...]:
        """The shape a traced tensor had in the recorded run (empty where unknown)."""
        return tuple(value.meta.get("archspec_shape", ())) if isinstance(value, fx.Node) else ()

    def _resize(
        self,
        node: fx.Node,
        source: str,
        size: Any,
        factor: Any,
        mode: str,
        align_corners: Any,
        where: str,
        path: str | None = None,
    ) -> str:
        """F.interpolate or nn.Upsample: to a size (given, or another tensor's, `x.shape[-2:]`) or by
        integer factors, nearest (PyTorch's) or bilinear."""
        if mode not in ("nearest", "bilinear"):
            raise ImportFailure(f"{where}: interpolation mode '{mode}'; archspec resizes nearest or bilinear")
        attrs: dict[str, Any] = {"mode": mode}
        if mode == "bilinear" and align_corners:
            attrs["align_corners"] = True
        inputs = [source]
        found = self.values.get(size) if isinstance(size, fx.Node) else None
        if isinstance(found, tuple) and found[0] == "size" and len(found) == 3 and _last_two(found[2]):
            inputs.append(self._tensor(node, found[1]))
        elif size is not None and all(isinstance(v, int) for v in _pair(size)):
            attrs["size"] = _size(_pair(size))
        elif factor is not None and size is None:
            factors = [float(f) for f in (factor if isinstance(factor, tuple | list) else (factor, factor))]
            if not all(f.is_integer() and f >= 1 for f in factors):
                raise ImportFailure(f"{where}: a resize by {factor}; archspec resizes by whole factors or to a size")
            attrs["factor"] = _size([int(f) for f in factors])
        else:
            raise ImportFailure(f"{where}: a resize to a size archspec cannot follow ({size})")
        return self._new(node, "resize", attrs, inputs, path)

    def _adaptive_pool(self, node: fx.Node, source: str, size: Any, path: str | None, where: str) -> str:
        """Adaptive average pooling: to 1x1 a global pool (that keeps its dimensions), else to its size."""
        sizes = _pair(size)
        if not all(isinstance(v, int) for v in sizes):
            raise ImportFailure(f"{where}: adaptive average pooling to {size}; archspec pools to a height and width")
        if sizes == [1, 1]:
            return self._new(node, "global_avgpool", {"keepdims": True}, [source], path)
        return self._new(node, "adaptive_avgpool", {"size": _size(sizes)}, [source], path)

    def _conv(self, node: fx.Node, conv: nn.Conv2d, source: str, path: str) -> str:
        where = f"{path} (Conv2d)"
        if conv.padding_mode != "zeros":
            raise ImportFailure(f"{where}: padding mode '{conv.padding_mode}'; archspec pads with zeros")
        kernel, stride, dilation = _pair(conv.kernel_size), _pair(conv.stride), _pair(conv.dilation)
        attrs = {
            "kernel": _kernel(kernel),
            "stride": _size(stride),
            "padding": _padding(conv.padding, kernel, stride, dilation, where),
            "filters": conv.out_channels,
            "groups": conv.groups,
            "dilation": _size(dilation),
            "bias": conv.bias is not None,
            "bn": False,
            "activation": "none",
        }
        lid = self._new(node, "conv", attrs, [source], path)
        self.raws[lid].modules["conv"] = conv
        return lid

    def _batch_norm(self, node: fx.Node, bn: nn.BatchNorm2d, source: str, path: str) -> str:
        """A batch norm (with its activation, a timm BatchNormAct2d's) joins the conv it directly
        follows, when that conv has no activation yet and nothing else reads it; elsewhere (a
        pre-activation, or after a conv's activation, whose order it keeps) it is a batch_norm step."""
        if not bn.track_running_stats or bn.running_mean is None:
            raise ImportFailure(f"{path} (BatchNorm2d): batch norm without running statistics")
        norm: dict[str, Any] = {"eps": float(bn.eps)}
        if bn.momentum is None or not math.isclose(bn.momentum, 0.1):
            norm["momentum"] = 0.1 if bn.momentum is None else float(bn.momentum)
        if not bn.affine:
            norm.update(scale=False, center=False)
        drop, act = getattr(bn, "drop", None), getattr(bn, "act", None)
        if drop is not None and not isinstance(drop, nn.Identity):
            raise ImportFailure(f"{path}.drop ({type(drop).__name__}): dropout inside a batch norm")
        activation = "none"
        if act is not None and not isinstance(act, nn.Identity):
            activation = _module_activation(act, f"{path}.act ({type(act).__name__})")
        raw = self.raws.get(source)
        users = [u for u in node.args[0].users] if isinstance(node.args[0], fx.Node) else []
        if (
            raw is not None
            and raw.layer.op == "conv"
            and raw.layer.attrs["bn"] is False
            and raw.layer.attrs["activation"] == "none"
            and len(users) == 1
        ):
            raw.layer.attrs.update(bn=norm, activation=activation)
            raw.modules["bn"] = bn
            return raw.layer.id
        lid = self._new(node, "batch_norm", {"bn": norm, "activation": activation}, [source], path)
        self.raws[lid].modules["bn"] = bn
        return lid

    def _leaky_relu(self, node: fx.Node, source: str, slope: float, path: str | None) -> str:
        """A leaky ReLU: with PyTorch's default slope an activation that may join the op before it,
        else an activation step of its own that says its slope."""
        if math.isclose(slope, 0.01):
            return self._activation(node, source, "leaky_relu", path)
        return self._new(node, "activation", {"fn": "leaky_relu", "slope": slope}, [source], path)

    def _activation(self, node: fx.Node, source: str, fn: str, path: str | None) -> str:
        """An activation joins the op before it when that op has none and nothing else reads it."""
        raw = self.raws.get(source)
        users = list(node.args[0].users) if isinstance(node.args[0], fx.Node) else []
        joins = raw is not None and raw.layer.op in ("conv", "dense", "add", "batch_norm") and len(users) == 1
        if joins and raw.layer.attrs.get("activation") == "none":  # type: ignore[union-attr]
            raw.layer.attrs["activation"] = fn  # type: ignore[union-attr]
            return source
        return self._new(node, "activation", {"fn": fn}, [source], path)

    def _pool(self, node: fx.Node, source: str, pool: nn.MaxPool2d | nn.AvgPool2d, path: str) -> str:
        kind = "maxpool" if isinstance(pool, nn.MaxPool2d) else "avgpool"
        settings = {
            "kernel_size": pool.kernel_size,
            "stride": pool.stride,
            "padding": pool.padding,
            "ceil_mode": pool.ceil_mode,
            "dilation": getattr(pool, "dilation", 1),
            "count_include_pad": getattr(pool, "count_include_pad", True),
            "divisor_override": getattr(pool, "divisor_override", None),
        }
        return self._pool_op(node, source, kind, settings, path, f"{path} ({type(pool).__name__})")

    def _pool_op(self, node: fx.Node, source: str, kind: str, s: dict[str, Any], path: str | None, where: str) -> str:
        kernel = _pair(s["kernel_size"])
        stride = _pair(s["stride"] if s["stride"] not in (None, ()) else s["kernel_size"])
        if _pair(s["dilation"]) != [1, 1] or s.get("divisor_override") or s.get("return_indices"):
            raise ImportFailure(f"{where}: a dilated pool, a divisor override or returned indices")
        attrs: dict[str, Any] = {
            "kernel": _kernel(kernel),
            "stride": _size(stride),
            "padding": _padding(s["padding"], kernel, stride, [1, 1], where),
            "ceil_mode": bool(s["ceil_mode"]),
        }
        if kind == "avgpool":
            # PyTorch counts padded cells unless told not to; the spec's `same` leaves them out.
            attrs["include_padding"] = bool(s["count_include_pad"]) and attrs["padding"] != "valid"
        return self._new(node, kind, attrs, [source], path)

    # -- functions and methods -----------------------------------------------------------------

    def _function(self, node: fx.Node) -> Any:
        target = node.target
        args: Any = node.args  # fx's Argument type is too wide to be of use here
        kwargs: Any = node.kwargs
        name = target if isinstance(target, str) else getattr(target, "__name__", str(target))
        where = self._where(node)
        if node.op == "call_method" and target in ("size", "dim"):
            return ("size", args[0], *args[1:])
        if target is getattr and len(args) == 2 and args[1] == "shape":
            return ("size", args[0])
        if target is operator.getitem and isinstance(self.values.get(args[0]), tuple):
            return ("size", self.values[args[0]][1], args[1])
        if target is operator.getitem and isinstance(self.values.get(args[0]), _Split):
            split = self.values[args[0]]
            start, stop = split.bounds[args[1]]
            return self._new(node, "channel_slice", {"start": start, "stop": stop}, [split.layer], None)
        if target is operator.getitem and _channel_subscript(args[1]) is not None:
            start, stop = _channel_subscript(args[1]) or (0, 0)
            source = self._tensor(node, args[0])
            start, stop, _ = slice(start, stop).indices(self._shape(args[0])[1])
            return self._new(node, "channel_slice", {"start": start, "stop": stop}, [source], None)
        if target in (operator.floordiv, operator.mul, operator.add, operator.sub):
            return self._size_arithmetic(node, target, args, where)
        if target is torch.chunk or (node.op == "call_method" and target == "chunk"):
            return self._split(node, args, kwargs, where, chunks=True)
        if target is torch.split or (node.op == "call_method" and target == "split"):
            return self._split(node, args, kwargs, where, chunks=False)
        if node.op == "call_method" and target in ("view", "reshape") and self._grouping(node, args) is not None:
            return self._grouping(node, args)
        if args and isinstance(self.values.get(args[0]), _Grouped):
            return self._regrouped(node, target, args, where)
        if target is torch.permute or (node.op == "call_method" and target == "permute"):
            return self._permute(node, args, kwargs, where)
        if (
            node.op == "call_method"
            and target in ("reshape", "view")
            and isinstance(self.values.get(args[0]), _Parameter)
        ):
            found = self.values[args[0]]  # a parameter shaped to broadcast: its values, reshaped
            sizes = args[1] if len(args) == 2 and isinstance(args[1], tuple | list) else args[1:]
            return _Parameter(found.tensor.reshape(*sizes), found.owner)
        if target is F.layer_norm:
            return self._layer_norm_function(node, args, kwargs, where)
        if target in (F.interpolate, F.upsample):
            names = ["input", "size", "scale_factor", "mode", "align_corners", "recompute_scale_factor", "antialias"]
            given = {**dict(zip(names, args, strict=False)), **kwargs}
            if given.get("antialias"):
                raise ImportFailure(f"{where}: an antialiased resize; archspec's is PyTorch's plain one")
            source = self._tensor(node, given["input"])
            mode, corners = given.get("mode", "nearest"), given.get("align_corners")
            return self._resize(node, source, given.get("size"), given.get("scale_factor"), mode, corners, where)
        if target in (torch.cat, torch.concat):
            tensors = args[0] if args else kwargs["tensors"]
            dim = args[1] if len(args) > 1 else kwargs.get("dim", 0)
            if dim not in (1, -3):
                raise ImportFailure(f"{where}: torch.cat along dimension {dim}; archspec concatenates channels (1)")
            return self._new(node, "concat", {}, [self._tensor(node, t) for t in tensors], None)
        if target in (operator.add, operator.iadd, torch.add) or (
            node.op == "call_method" and target in ("add", "add_")
        ):
            return self._add(node, args, kwargs, where)
        if target in (operator.mul, operator.imul, torch.mul) or (
            node.op == "call_method" and target in ("mul", "mul_")
        ):
            return self._mul(node, args, where)
        fn = ACTIVATION_FUNCTIONS.get(target) if node.op == "call_function" else ACTIVATION_METHODS.get(str(target))
        if target is F.gelu:
            if kwargs.get("approximate", "none") != "none":
                raise ImportFailure(f"{where}: F.gelu(approximate='tanh'); archspec's gelu is the exact one")
            fn = "gelu"
        if fn is not None:
            source, last = self._operand(node, args[0])
            return self._kept(self._activation(node, source, fn, None), last)
        if target is F.leaky_relu:
            slope = args[1] if len(args) > 1 else kwargs.get("negative_slope", 0.01)
            source, last = self._operand(node, args[0])
            return self._kept(self._leaky_relu(node, source, float(slope), None), last)
        if target in (F.softmax, torch.softmax) or (node.op == "call_method" and target == "softmax"):
            dim = args[1] if len(args) > 1 else kwargs.get("dim")
            if not (dim == 1 or (dim == -1 and len(self._shape(args[0])) == 2)):
                rank = len(self._shape(args[0]))
                raise ImportFailure(f"{where}: softmax along dimension {dim} of a {rank}-d tensor, not the channels")
            return self._activation(node, self._tensor(node, args[0]), "softmax", None)
        if target in (F.max_pool2d, F.avg_pool2d):
            return self._pool_function(node, target, args, kwargs, where)
        if target is F.adaptive_avg_pool2d:
            size = args[1] if len(args) > 1 else kwargs.get("output_size")
            return self._adaptive_pool(node, self._tensor(node, args[0]), size, None, where)
        if target is torch.mean or (node.op == "call_method" and target == "mean"):
            dims = args[1] if len(args) > 1 else kwargs.get("dim")
            if sorted(int(d) % 4 for d in (dims if isinstance(dims, tuple | list) else [dims])) != [2, 3]:
                raise ImportFailure(f"{where}: a mean over dimensions {dims}; archspec averages over height and width")
            keep = bool(args[2] if len(args) > 2 else kwargs.get("keepdim", False))
            return self._new(node, "global_avgpool", {"keepdims": keep}, [self._tensor(node, args[0])], None)
        if target is torch.flatten or (node.op == "call_method" and target == "flatten"):
            start = args[1] if len(args) > 1 else kwargs.get("start_dim", 0)
            if start != 1:
                raise ImportFailure(f"{where}: flatten from dimension {start}; archspec keeps the batch (1)")
            return self._new(node, "flatten", {}, [self._tensor(node, args[0])], None)
        if node.op == "call_method" and target in ("view", "reshape") and self._is_flatten(args):
            return self._new(node, "flatten", {}, [self._tensor(node, args[0])], None)
        if target is F.dropout:
            p = args[1] if len(args) > 1 else kwargs.get("p", 0.5)
            training = args[2] if len(args) > 2 else kwargs.get("training", True)
            source = self._tensor(node, args[0])
            return source if not training or p == 0 else self._new(node, "dropout", {"rate": float(p)}, [source], None)
        if node.op == "call_method" and target in ("contiguous", "clone"):
            return self._tensor(node, args[0])
        shown = (
            f"Tensor.{target}"
            if node.op == "call_method"
            else f"{getattr(target, '__module__', '') or ''}.{name}".lstrip(".")
        )
        raise ImportFailure(f"{where}: no archspec op for {shown}")

    def _size(self, value: Any) -> int | None:
        """A size as a number: a literal, or a dimension other than the batch of a traced tensor,
        as the recorded run had it (the spec fixes every size but the batch)."""
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        found = self.values.get(value) if isinstance(value, fx.Node) else None
        if isinstance(found, int) and not isinstance(found, bool):
            return found
        if isinstance(found, tuple) and found[0] == "size" and len(found) == 3 and isinstance(found[2], int):
            shape = self._shape(found[1])
            if found[2] % 4 != 0 and len(shape) == 4:
                return shape[found[2]]
        return None

    def _is_batch(self, value: Any) -> bool:
        found = self.values.get(value) if isinstance(value, fx.Node) else None
        return value == -1 or (isinstance(found, tuple) and found[0] == "size" and found[2:] == (0,))

    def _size_arithmetic(self, node: fx.Node, target: Any, args: Sequence[Any], where: str) -> Any:
        """Arithmetic on sizes (`channels // groups`): done here, on the sizes the spec fixes."""
        numbers = [self._size(a) for a in args]
        if len(args) == 2 and all(n is not None for n in numbers) and any(isinstance(a, fx.Node) for a in args):
            return target(*numbers)
        if target is operator.add:
            return self._add(node, args, node.kwargs, where)
        if target is operator.mul:
            return self._mul(node, args, where)
        raise ImportFailure(f"{where}: arithmetic ({getattr(target, '__name__', target)}) archspec cannot follow")

    def _split(self, node: fx.Node, args: Sequence[Any], kwargs: dict[str, Any], where: str, chunks: bool) -> _Split:
        """x.chunk(k, 1) (k parts of ceil(C / k) channels, the last smaller) or torch.split(x, s, 1)
        (parts of s channels, or of the sizes listed): the parts' channel bounds."""
        source = self._tensor(node, args[0])
        given = args[1] if len(args) > 1 else kwargs.get("chunks" if chunks else "split_size_or_sections")
        dim = args[2] if len(args) > 2 else kwargs.get("dim", 0)
        channels = self._shape(args[0])[1] if len(self._shape(args[0])) > 1 else 0
        if dim not in (1, -3) or not channels:
            raise ImportFailure(f"{where}: a split along dimension {dim}; archspec splits the channels (1)")
        if isinstance(given, int):
            size = -(-channels // given) if chunks else given
            sizes = [min(size, channels - start) for start in range(0, channels, size)]
        elif isinstance(given, tuple | list) and not chunks:
            sizes = [int(v) for v in given]
        else:
            raise ImportFailure(f"{where}: a split into parts archspec cannot follow ({given})")
        bounds = [(sum(sizes[:i]), sum(sizes[: i + 1])) for i in range(len(sizes))]
        return _Split(source, tuple(bounds))

    def _grouping(self, node: fx.Node, args: Sequence[Any]) -> _Grouped | None:
        """x.view(N, g, C / g, H, W): the channels in g groups, the first step of a channel shuffle."""
        sizes = args[1] if len(args) == 2 and isinstance(args[1], tuple | list) else args[1:]
        found = self.values.get(args[0])
        shape = self._shape(args[0])
        if not isinstance(found, str) or len(sizes) != 5 or len(shape) != 4 or not self._is_batch(sizes[0]):
            return None
        groups, per_group, height, width = (self._size(v) for v in sizes[1:])
        if groups is None or per_group is None or groups * per_group != shape[1] or (height, width) != shape[2:]:
            return None
        return _Grouped(found, groups)

    def _regrouped(self, node: fx.Node, target: Any, args: Sequence[Any], where: str) -> Any:
        """The rest of a channel shuffle: the group axes swapped (transpose(1, 2) or permute(0, 2,
        1, 3, 4)), then viewed back as (N, C, H, W)."""
        grouped: _Grouped = self.values[args[0]]
        rest = [a if isinstance(a, int) else (self._size(a) or 0) for a in args[1:]]
        named = str(target) if node.op == "call_method" else getattr(target, "__name__", "")
        dims = args[1] if len(args) == 2 and isinstance(args[1], tuple | list) else args[1:]
        swaps = (named == "transpose" and sorted(int(d) % 5 for d in rest) == [1, 2]) or (
            named == "permute" and tuple(int(d) % 5 for d in dims) == (0, 2, 1, 3, 4)
        )
        if swaps and target in (torch.transpose, torch.permute, "transpose", "permute"):
            return _Grouped(grouped.layer, grouped.groups, not grouped.swapped)
        if node.op == "call_method" and target == "contiguous":
            return grouped
        flattened = (target is torch.flatten or target == "flatten") and rest[:2] in ([1, 2], [1])
        if (node.op == "call_method" and target in ("view", "reshape")) or flattened:
            shape = self._shape(node)
            if len(shape) == 4 and grouped.swapped and (flattened or self._is_batch(args[1])):
                return self._new(node, "channel_shuffle", {"groups": grouped.groups}, [grouped.layer], None)
            if len(shape) == 4 and not grouped.swapped:
                return grouped.layer  # grouped and back: nothing moved
        raise ImportFailure(f"{where}: channels in groups, then '{getattr(target, '__name__', target)}'; archspec "
                            "follows a channel shuffle (view as groups, swap the group axes, view back)")  # fmt: skip

    def _is_flatten(self, args: Sequence[Any]) -> bool:
        """x.view(x.size(0), -1): the batch kept, the rest flattened."""
        if len(args) != 3 or args[2] != -1 or not isinstance(args[1], fx.Node):
            return False
        size = self.values.get(args[1])
        return isinstance(size, tuple) and size[0] == "size" and size[1] is args[0] and size[2:] == (0,)

    def _pool_function(
        self, node: fx.Node, target: Any, args: Sequence[Any], kwargs: dict[str, Any], where: str
    ) -> str:
        names = ["input", "kernel_size", "stride", "padding"]
        names += (
            ["dilation", "ceil_mode", "return_indices"]
            if target is F.max_pool2d
            else ["ceil_mode", "count_include_pad", "divisor_override"]
        )
        given = {**dict(zip(names, args, strict=False)), **kwargs}
        settings = {
            "kernel_size": given["kernel_size"],
            "stride": given.get("stride"),
            "padding": given.get("padding", 0),
            "ceil_mode": given.get("ceil_mode", False),
            "dilation": given.get("dilation", 1),
            "count_include_pad": given.get("count_include_pad", True),
            "divisor_override": given.get("divisor_override"),
            "return_indices": given.get("return_indices", False),
        }
        kind = "maxpool" if target is F.max_pool2d else "avgpool"
        return self._pool_op(node, self._tensor(node, given["input"]), kind, settings, None, where)

    def _add(self, node: fx.Node, args: Sequence[Any], kwargs: dict[str, Any], where: str) -> str:
        """a + b, or with one operand scaled (a * s + b, torch.add(b, a, alpha=s)): an add whose
        residual is the scaled operand."""
        if len(args) != 2 or not all(isinstance(a, fx.Node) for a in args):
            raise ImportFailure(f"{where}: adding a number to a tensor; archspec adds tensors")
        values = [self.values.get(a) for a in args]
        scale = 1.0
        operands: list[str] = []
        for value in values:
            if isinstance(value, tuple) and value[0] == "scaled":
                scale = value[2]
                operands.insert(0, value[1])
            elif isinstance(value, str):
                operands.append(value)
            else:
                raise ImportFailure(f"{where}: an add of something that is not a tensor archspec follows")
        if "alpha" in kwargs:
            scale = float(kwargs["alpha"])
            operands = [operands[1], operands[0]]  # torch.add(input, other, alpha): other is scaled
        if sum(isinstance(v, tuple) for v in values) > 1:
            raise ImportFailure(f"{where}: an add of two scaled tensors; archspec scales one operand")
        return self._new(node, "add", {"scale": float(scale), "activation": "none"}, operands, None)

    def _mul(self, node: fx.Node, args: Sequence[Any], where: str) -> Any:
        scales = [self.values[a] for a in args if isinstance(a, fx.Node) and isinstance(self.values.get(a), _Parameter)]
        if scales:
            return self._layer_scale(node, args, scales[0], where)
        tensors = [a for a in args if isinstance(a, fx.Node)]
        numbers = [a for a in args if isinstance(a, int | float) and not isinstance(a, bool)]
        if len(tensors) == 2:  # the map first, then its gate, whichever order the model writes
            tensors.sort(key=_elements, reverse=True)
            return self._new(node, "multiply", {}, [self._tensor(node, t) for t in tensors], None)
        if len(tensors) == 1 and len(numbers) == 1:
            if any(u.target not in (operator.add, operator.iadd, torch.add) for u in node.users):
                raise ImportFailure(
                    f"{where}: a tensor times {numbers[0]} that no add uses; archspec scales only a residual"
                )
            return ("scaled", self._tensor(node, tensors[0]), float(numbers[0]))
        raise ImportFailure(f"{where}: a multiplication archspec cannot write")

    def _layer_scale(self, node: fx.Node, args: Sequence[Any], scale: _Parameter, where: str) -> Any:
        """A map times a per-channel parameter: (C, 1, 1) on a map, (C,) on a channels-last one."""
        values = [a for a in args if isinstance(a, fx.Node) and not isinstance(self.values.get(a), _Parameter)]
        value = values[0] if len(values) == 1 else None
        if value is None or len(args) != 2:
            raise ImportFailure(f"{where}: a product of parameters; archspec scales a map by one")
        source, last = self._operand(node, value)
        shape, channels = tuple(scale.tensor.shape), scale.tensor.numel()
        fits = shape == (channels,) if last else shape in ((channels, 1, 1), (1, channels, 1, 1))
        if not fits:
            layout = "channels-last map" if last else "map"
            raise ImportFailure(f"{where}: a {layout} times a parameter of shape {shape}; archspec scales each channel")
        lid = self._new(node, "layer_scale", {}, [source], None)
        self.raws[lid].vectors["gamma"] = scale.tensor.reshape(-1)
        self.raws[lid].modules["owner"] = scale.owner
        return self._kept(lid, last)

    def _permute(self, node: fx.Node, args: Sequence[Any], kwargs: dict[str, Any], where: str) -> Any:
        """N, C, H, W to N, H, W, C and back: the channels-last region of a ConvNeXt block."""
        dims = kwargs.get("dims", args[1:] if len(args) > 2 else args[1] if len(args) > 1 else ())
        dims = tuple(int(d) % 4 for d in dims)
        source, last = self._operand(node, args[0])
        if dims == (0, 2, 3, 1) and not last:
            return _ChannelsLast(source)
        if dims == (0, 3, 1, 2) and last:
            return source
        raise ImportFailure(f"{where}: a permute to {dims}; archspec follows channels-last maps (0, 2, 3, 1) and back")

    def _layer_norm_function(self, node: fx.Node, args: Sequence[Any], kwargs: dict[str, Any], where: str) -> Any:
        """F.layer_norm over the channels: of a channels-last map, or of a vector (LayerNorm2d's inside)."""
        names = ["input", "normalized_shape", "weight", "bias", "eps"]
        given = {**dict(zip(names, args, strict=False)), **kwargs}
        source, last = self._operand(node, given["input"])
        if len(given["normalized_shape"]) != 1 or not (last or len(self._shape(given["input"])) == 2):
            raise ImportFailure(f"{where}: F.layer_norm over other dimensions than the channels")
        weight, bias = (
            self.values.get(given[k]) if isinstance(given.get(k), fx.Node) else None for k in ("weight", "bias")
        )
        owner = next((p.owner for p in (weight, bias) if isinstance(p, _Parameter)), self.model)
        tensors = [p.tensor if isinstance(p, _Parameter) else None for p in (weight, bias)]
        attrs = {"eps": float(given.get("eps", 1e-5))}
        return self._kept(self._norm(node, "layer_norm", attrs, source, None, owner, *tensors), last)


def _drop_path_rate(module: nn.Module, where: str) -> float | None:
    """The rate of a stochastic-depth module (torchvision's StochasticDepth, timm's DropPath), known
    by its name and settings, since archspec depends on neither library; None for other modules."""
    name = type(module).__name__
    if name == "StochasticDepth" and hasattr(module, "p") and hasattr(module, "mode"):
        if module.mode != "row":
            raise ImportFailure(f"{where}: stochastic depth of mode '{module.mode}'; archspec drops each image (row)")
        return float(getattr(module, "p"))  # noqa: B009  (an attribute nn.Module's type does not declare)
    if name == "DropPath" and hasattr(module, "drop_prob"):
        if not getattr(module, "scale_by_keep", True):
            raise ImportFailure(f"{where}: a drop path that does not scale the kept images")
        return float(getattr(module, "drop_prob"))  # noqa: B009
    return None


def _channel_subscript(index: Any) -> tuple[int | None, int | None] | None:
    """The channel bounds of `x[:, a:b]` (every other axis whole), or None for other subscripts."""
    if not isinstance(index, tuple) or len(index) < 2 or index[0] != slice(None):
        return None
    if not isinstance(index[1], slice) or index[1].step not in (None, 1):
        return None
    if any(part not in (slice(None), Ellipsis) for part in index[2:]):
        return None
    bounds = (index[1].start, index[1].stop)
    return bounds if all(b is None or isinstance(b, int) for b in bounds) else None


def _last_two(index: Any) -> bool:
    """Whether a subscript of a 4-d shape takes its height and width (`x.shape[-2:]`, `[2:]`, `[2:4]`)."""
    return isinstance(index, slice) and index.step in (None, 1) and index.start in (-2, 2) and index.stop in (None, 4)


class _ShapeRecorder(fx.Interpreter):
    """Runs a traced graph and writes each tensor's shape on its node, as fx's shape propagation."""

    def run_node(self, n: fx.Node) -> Any:
        result = super().run_node(n)
        if isinstance(result, torch.Tensor):
            n.meta["archspec_shape"] = tuple(result.shape)
        return result


def _record_shapes(model: nn.Module, graph: fx.Graph, input_shape: Sequence[int]) -> None:
    """Each node's shape at one HxWxC input, where the model runs on it; where it does not, the
    mapping that follows names what it cannot write, or the comparison says the model failed."""
    height, width, channels = input_shape
    with contextlib.suppress(Exception), torch.no_grad():  # the shapes only order a multiply's operands
        _ShapeRecorder(fx.GraphModule(model, graph)).run(torch.zeros(1, channels, height, width))


def _elements(node: fx.Node) -> int:
    """How many elements a traced node's value has, as `_record_shapes` found (0 if unknown)."""
    return math.prod(node.meta.get("archspec_shape", (0,)))


def _module_activation(module: nn.Module, where: str) -> str:
    if type(module) in ACTIVATIONS:
        return ACTIVATIONS[type(module)]
    if isinstance(module, nn.GELU):
        if module.approximate != "none":
            raise ImportFailure(f"{where}: GELU(approximate='tanh'); archspec's gelu is the exact one")
        return "gelu"
    if isinstance(module, nn.Softmax):
        if module.dim not in (1, -1):
            raise ImportFailure(f"{where}: softmax along dimension {module.dim}, not the channels")
        return "softmax"
    if isinstance(module, nn.LeakyReLU):  # inside a layer (timm's BatchNormAct2d): PyTorch's slope only
        if not math.isclose(module.negative_slope, 0.01):
            raise ImportFailure(f"{where}: a leaky ReLU of slope {module.negative_slope} inside a layer; archspec "
                                "joins slope 0.01 to a layer, another slope is an activation step")  # fmt: skip
        return "leaky_relu"
    raise ImportFailure(f"{where}: no archspec activation for {type(module).__name__}")


def _global_flatten(raws: list[_Raw], outputs: list[str]) -> list[_Raw]:
    """A flatten right after a global pool that keeps its dimensions is that pool without them."""
    by_id = {raw.layer.id: raw for raw in raws}
    users: dict[str, int] = {}
    for raw in raws:
        for source in raw.layer.inputs:
            users[source] = users.get(source, 0) + 1
    gone: dict[str, str] = {}
    for raw in raws:
        layer = raw.layer
        if layer.op != "flatten":
            continue
        pool = by_id.get(layer.inputs[0])
        if pool and pool.layer.op == "global_avgpool" and pool.layer.attrs["keepdims"] and users[pool.layer.id] == 1:
            pool.layer.attrs["keepdims"] = False
            gone[layer.id] = pool.layer.id
    kept = [raw for raw in raws if raw.layer.id not in gone]
    for raw in kept:
        raw.layer.inputs = tuple(gone.get(i, i) for i in raw.layer.inputs)
    outputs[:] = [gone.get(o, o) for o in outputs]
    return kept


def trace(model: nn.Module, input_shape: Sequence[int]) -> tuple[list[_Raw], list[str]]:
    """The model's ops as raw layers, in the order computed, and its outputs. Each traced node's
    shape at an HxWxC `input_shape` is recorded as torch.fx's shape propagation records it."""
    model = model.eval()
    tracer = _Tracer()
    try:
        graph = tracer.trace(model)
    except ImportFailure:
        raise
    except Exception as exc:  # torch.fx cannot follow data-dependent control flow
        raise ImportFailure(
            f"torch.fx cannot trace the model: {type(exc).__name__}: {str(exc).splitlines()[0]}"
        ) from None
    _drop_unused(graph)
    _record_shapes(model, graph, input_shape)
    raws, outputs = _Mapper(model, graph).run()
    raws = _global_flatten(raws, outputs)
    _named_by_their_modules(raws)
    return raws, outputs


def _drop_unused(graph: fx.Graph) -> None:
    """Drop the values a forward computes and never uses (Res2Net's first `spx[0]`), last first; an
    in-place call (`x.relu_()`) is kept, as its effect is on its input."""
    for node in reversed(list(graph.nodes)):
        in_place = isinstance(node.target, str) and node.target.endswith("_") and node.op == "call_method"
        if node.op not in ("placeholder", "output") and not node.users and not in_place:
            graph.erase_node(node)


def _named_by_their_modules(raws: Sequence[_Raw]) -> None:
    """An op that is all its module computes (a ConvNormAct's conv, batch norm and activation;
    timm's SelectAdaptivePool2d) is named after that module, and no longer sits inside it."""
    ops_in: dict[Scope, int] = {}
    for raw in raws:
        for scope in raw.layer.scope:
            ops_in[scope] = ops_in.get(scope, 0) + 1
    for raw in raws:
        layer = raw.layer
        while layer.scope and not layer.scope[-1].container and ops_in[layer.scope[-1]] == 1:
            layer.path, layer.scope = layer.scope[-1].path, layer.scope[:-1]


def _neutral_weights(spec: Spec, order: Sequence[str], raws: dict[str, _Raw]) -> dict[str, np.ndarray]:
    """Each node's tensors from the modules of its layer, in the neutral layouts."""
    nodes = [name for name in spec.graph if name != INPUT]
    if len(nodes) != len(order):
        raise ImportFailure(f"the written spec has {len(nodes)} ops, the model {len(order)}; this is a bug in archspec")
    wanted = neutral.expected_shapes(spec)
    found: dict[str, np.ndarray] = {}
    for name, lid in zip(nodes, order, strict=True):
        node, raw = spec.node(name), raws[lid]
        if node.op != raw.layer.op:
            raise ImportFailure(
                f"'{name}' is a {node.op} in the spec but {lid} is a {raw.layer.op}; this is a bug in archspec"
            )
        for role, tensor in _tensors(raw, spec, name).items():
            key = neutral.key(name, role)
            if key in wanted:
                found[key] = np.ascontiguousarray(tensor, dtype=np.float32)
    return found


def _tensors(raw: _Raw, spec: Spec, name: str) -> dict[str, np.ndarray]:
    """A layer's tensors by neutral role, in the layouts the torch backend converts to."""
    found: dict[str, np.ndarray] = {}
    conv, bn, linear = raw.modules.get("conv"), raw.modules.get("bn"), raw.modules.get("linear")
    if conv is not None:
        found["kernel"] = to_neutral("conv", conv.weight)
        if conv.bias is not None:
            found["bias"] = to_neutral("vector", conv.bias)
    if bn is not None:
        roles = {"moving_mean": bn.running_mean, "moving_variance": bn.running_var}
        if bn.affine:
            roles.update(gamma=bn.weight, beta=bn.bias)
        found.update({role: to_neutral("vector", tensor) for role, tensor in roles.items()})
    pointwise = raw.modules.get("pointwise")  # a linear on channels-last maps: a 1x1 conv
    if pointwise is not None:
        found["kernel"] = to_neutral("conv", pointwise.weight.detach()[:, :, None, None])
        if pointwise.bias is not None:
            found["bias"] = to_neutral("vector", pointwise.bias)
    found.update({role: to_neutral("vector", tensor) for role, tensor in raw.vectors.items()})
    if linear is not None:
        weight = linear.weight.detach()  # (out, in); a flattened map's inputs are (C, H, W) in PyTorch
        shape = flattened_map(spec, name)  # through dropout and activations, as AlexNet's classifier reads it
        if shape is not None:
            h, w, c = shape
            weight = weight.reshape(-1, c, h, w).permute(0, 2, 3, 1).reshape(weight.shape[0], -1)
        found["kernel"] = to_neutral("dense", weight)
        if linear.bias is not None:
            found["bias"] = to_neutral("vector", linear.bias)
    return found


def header(model: nn.Module, name: str, input_shape: tuple[int, int, int] | None, source: str) -> Header:
    """The spec's name, description and input: the shape given, else timm's pretrained config's,
    with the preprocessing that config names."""
    config = getattr(model, "pretrained_cfg", None) or getattr(model, "default_cfg", None) or {}
    written: dict[str, Any] = {}
    if input_shape is None and "input_size" in config:
        c, h, w = config["input_size"]
        input_shape = (int(h), int(w), int(c))
    if input_shape is None:
        raise ImportFailure("the input shape is not known: give it (--input HxWxC, or input_shape=(H, W, C))")
    written["shape"] = list(input_shape)
    notes = []
    for key in ("mean", "std", "crop_pct"):
        if key not in config:
            continue
        value = _preprocessing(key, config[key], input_shape[2])
        if value is None:
            notes.append(f"the model's pretrained config has {key} {shown_value(config[key])}, which no spec can have; "
                         f"the spec keeps the default")  # fmt: skip
        else:
            written[key] = value
    if config.get("interpolation") in ("nearest", "bilinear", "bicubic"):
        written["interpolation"] = config["interpolation"]
    comment = f"# Imported from {printable(source)} by `archspec import`; blocks, block types and parameters as found."
    return Header(name, f"Imported from {source}.", written, comment, tuple(notes))


def _preprocessing(key: str, value: Any, channels: int) -> Any:
    """A pretrained config's mean, std or crop_pct as a spec writes it, or None where a spec
    could not hold it (NaN, a zero or negative std, another number of channels)."""
    try:
        values = [float(v) for v in (value if isinstance(value, tuple | list) else [value])]
    except (TypeError, ValueError):
        return None
    tiny = float(np.finfo(np.float32).tiny)  # a smaller std is 0 in float32
    good = all(math.isfinite(v) for v in values) and (
        (key == "mean" and len(values) in (1, channels))
        or (key == "std" and len(values) in (1, channels) and min(values) >= tiny)
        or (key == "crop_pct" and len(values) == 1 and 0 < values[0] <= 1)
    )
    if not good:
        return None
    return values[0] if len(set(values)) == 1 else values


def import_model(
    model: nn.Module,
    input_shape: tuple[int, int, int] | None = None,
    name: str = "imported",
    source: str = "a PyTorch model",
    seed: int = 0,
) -> Imported:
    """The model as a checked spec with its weights, verified by running both on one batch."""
    written_header = header(model, name, input_shape, source)
    raws, outputs = trace(model, written_header.input["shape"])
    text, order = structure.write([raw.layer for raw in raws], outputs, written_header)
    try:
        spec = load(text)
    except Exception as exc:  # a spec archspec wrote must check: say so rather than hide it
        raise ImportFailure(f"the written spec does not check ({exc}); this is a bug in archspec\n{text}") from None
    weights = _neutral_weights(spec, order, {raw.layer.id: raw for raw in raws})
    difference = compare(model, spec, weights, seed)
    used = {id(m) for raw in raws for m in raw.modules.values()}
    unused = tuple(
        path
        for path, module in model.named_modules()
        if path
        and not list(module.children())
        and id(module) not in used
        and any(True for _ in module.parameters(recurse=False))
    )
    return Imported(text, spec, weights, difference, unused, written_header.notes)


TOLERANCE = 1e-6  # the largest output difference, relative to the largest output, of an import


def import_factory(
    factory: Callable[[], Any], text: str, input_shape: tuple[int, int, int] | None, name: str
) -> Imported:
    """`archspec import`: the model `factory` makes (`text` is its MODULE:FACTORY) as a spec, or
    ImportFailure when the factory fails, makes no nn.Module, or the spec's model does not give
    the model's outputs."""
    try:
        model = factory()
    except SystemExit as exc:  # the user's factory ran sys.exit(): no model, and no silent exit 0
        raise ImportFailure(f"{text}() called sys.exit({exc.code!r}); nothing was imported") from None
    except Exception as exc:  # the user's factory
        raise ImportFailure(f"{text}() failed: {type(exc).__name__}: {first_lines(exc)}") from None
    if not isinstance(model, nn.Module):
        raise ImportFailure(f"{text}() gave a {type(model).__name__}, not a torch.nn.Module")
    imported = import_model(model, input_shape, name=name, source=text)
    if imported.difference > TOLERANCE:
        raise ImportFailure(
            f"the imported model differs from the original by {imported.difference:.2g}; nothing written"
        )
    return imported


def compare(model: nn.Module, spec: Spec, weights: dict[str, np.ndarray], seed: int = 0) -> float:
    """The largest difference of the two models' outputs on one random batch of two, relative
    to the largest output, in eval mode and float64 (so that only the import can differ)."""
    from archspec.backends.torch import build, set_weights

    built = build(spec)
    set_weights(built, weights)
    generator = torch.Generator().manual_seed(seed)
    h, w, c = spec.input_shape
    x = torch.randn(2, c, h, w, generator=generator, dtype=torch.float64)
    reference, mine = copy.deepcopy(model).eval().double(), built.eval().double()  # the caller's model stays
    with torch.no_grad():
        expected, found = _outputs(reference(x)), _outputs(mine(x))
    scale = max(float(e.abs().max()) for e in expected) or 1.0
    return max(float((e - f).abs().max()) for e, f in zip(expected, found, strict=True)) / scale


def _outputs(value: Any) -> list[torch.Tensor]:
    """A model's outputs in order: a tensor, a tuple or list of them, or a dict's values (torchvision's
    segmentation models return {"out": ...})."""
    if isinstance(value, dict):
        return list(value.values())
    return list(value) if isinstance(value, tuple | list) else [value]
