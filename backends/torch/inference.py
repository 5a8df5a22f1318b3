"""An inference lowering of a built network: batch norm folded into the convolutions, and
sibling convolutions that read one tensor merged into one convolution.

In eval mode batch norm is a fixed affine map per channel, so it folds into the convolution
before it: with s = gamma / sqrt(running_var + eps), the kernel becomes W * s and the bias
(b - running_mean) * s + beta. Each layer then runs one pass over its output fewer.

Inception blocks open with several convolutions of the block's input, one per branch (three 1x1
convolutions in Inception-A). Siblings that read the same tensor with the same kernel, stride,
padding and activation are computed as one convolution holding the filters of all, whose output
is split between the branches: the input is read once, and the matrix product is wider.

The merge is a torch.fx rewrite of the built model, whose code is the generated source: the
model is traced with its layers and size-dependent helpers (pools, padding) kept as single calls,
each group of mergeable siblings becomes one call of a `SplitConv` whose parts replace their uses,
and the graph is compiled back to Python (`GraphModule.recompile`).

The lowered model computes what the model computes in eval mode, up to rounding. It is for
inference only: it has no batch norm left to train, and its state_dict is its own.
"""

from __future__ import annotations

import copy
import operator
from typing import Any

import torch
from archspec.backends.torch import layers
from archspec.backends.torch.live import Network, build
from torch import Tensor, fx, nn

from archspec.codegen import helpers


def for_inference(model: Network, dtype: torch.dtype | None = None, merge_siblings: bool = True) -> nn.Module:
    """A new model for inference with `model`'s weights (on its device, in `dtype` if given; its
    input must then be of that dtype). `model` itself is left as it is, compiled or not."""
    built = build(model.spec)
    built.load_state_dict(model.state_dict())
    built.eval().requires_grad_(False)
    conv, separable = _generated(built, "ConvBnAct"), _generated(built, "SeparableConvBnAct")
    alone = _generated(built, "BatchNormAct")
    with torch.no_grad():
        for path, module in list(built.named_modules()):
            layer: Any = module
            if isinstance(layer, conv) and hasattr(layer, "bn"):
                fold_batch_norm(layer, layer.conv)
            elif isinstance(layer, separable) and hasattr(layer, "bn"):
                fold_batch_norm(layer, layer.pointwise)
            elif isinstance(layer, alone):  # no conv to fold into: a scale and a shift per channel
                parent, _, leaf = path.rpartition(".")
                setattr(built.get_submodule(parent), leaf, ChannelAffine(layer))
    lowered: nn.Module = merge_sibling_convs(built) if merge_siblings else built
    tensors = list(model.state_dict().values())
    return lowered.to(device=tensors[0].device if tensors else None, dtype=dtype)


def _generated(model: Network, name: str) -> tuple[Any, ...]:
    """The class of this name in the model's generated source, as a tuple for isinstance: empty
    where the source has none (a network without that kind of layer)."""
    found = getattr(model.generated, name, None)
    return (found,) if found is not None else ()


def fold_batch_norm(layer: Any, conv: nn.Conv2d) -> None:
    """Fold a layer's batch norm (with its running statistics) into the convolution before it
    (a ConvBnAct's conv, a SeparableConvBnAct's pointwise conv), in place."""
    bn = layer.bn
    assert bn.running_mean is not None and bn.running_var is not None
    scale = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)
    bias = conv.bias.double() if conv.bias is not None else torch.zeros_like(scale)
    folded_bias = (bias - bn.running_mean.double()) * scale + bn.bias.double()
    conv.weight.copy_(conv.weight.double() * scale.view(-1, 1, 1, 1))
    conv.bias = nn.Parameter(folded_bias.to(conv.weight.dtype), requires_grad=False)
    del layer.bn


class ChannelAffine(nn.Module):
    """A batch norm on its own (a `batch_norm` step), in eval mode: x * scale + shift per channel,
    then its activation."""

    def __init__(self, bn: Any) -> None:
        super().__init__()
        assert bn.running_mean is not None and bn.running_var is not None
        scale = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)
        self.register_buffer("scale", scale.to(bn.weight.dtype)[:, None, None])
        self.register_buffer(
            "shift", (bn.bias.double() - bn.running_mean.double() * scale).to(bn.weight.dtype)[:, None, None]
        )
        self.act = bn.act

    scale: Tensor
    shift: Tensor

    def forward(self, x: Tensor) -> Tensor:
        result: Tensor = self.act(x * self.scale + self.shift)
        return result


class SplitConv(nn.Module):
    """Sibling convolutions computed as one; returns each sibling's part of the output."""

    def __init__(self, siblings: list[Any]) -> None:
        super().__init__()
        first = siblings[0]
        self.sizes = [s.conv.out_channels for s in siblings]
        self.layer = copy.deepcopy(first)  # its padding and activation, with every sibling's filters
        old = first.conv
        self.layer.conv = nn.Conv2d(old.in_channels, sum(self.sizes), old.kernel_size, old.stride, old.padding,
                                    old.dilation, bias=True)  # fmt: skip
        with torch.no_grad():
            self.layer.conv.weight.copy_(torch.cat([s.conv.weight for s in siblings]))
            biases = [s.conv.bias if s.conv.bias is not None else s.conv.weight.new_zeros(n) for s, n in
                      zip(siblings, self.sizes, strict=True)]  # fmt: skip
            self.layer.conv.bias.copy_(torch.cat(biases))
        self.layer.to(first.conv.weight.device).requires_grad_(False)

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        return tuple(self.layer(x).split(self.sizes, 1))


class _LayerTracer(fx.Tracer):
    """Traces through blocks and ModuleDicts, keeping each layer (conv, dense, ...) one call."""

    def __init__(self, layer_types: tuple[type[nn.Module], ...], functions: tuple[Any, ...]) -> None:
        super().__init__(autowrap_functions=functions)
        self.layer_types = layer_types

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return isinstance(m, self.layer_types) or super().is_leaf_module(m, module_qualified_name)


def merge_sibling_convs(model: Network) -> fx.GraphModule:
    """The model as a GraphModule in which each group of mergeable sibling convolutions (one input,
    no batch norm, no groups, the same kernel, stride, padding, dilation and activation) is one SplitConv, which takes
    the first sibling's place in the module tree."""
    generated = model.generated
    # The helpers that read their input's size are traced as one call each (their marks say which).
    leaves = [h.__name__ for h in helpers.marked(layers) if helpers.mark_of(h).leaf and hasattr(generated, h.__name__)]
    conv_types = _generated(model, "ConvBnAct")
    # Every layer class of the source (a conv, a norm, a drop path) is one call, and so is a folded batch norm.
    classes = [h for h in helpers.marked(layers) if isinstance(h, type) and issubclass(h, nn.Module)]
    layer_types = tuple(getattr(generated, c.__name__) for c in classes if hasattr(generated, c.__name__))
    layer_types += (ChannelAffine,)
    tracer = _LayerTracer(layer_types, tuple(getattr(generated, name) for name in leaves))
    graph = tracer.trace(model)
    groups: dict[tuple[object, ...], list[fx.Node]] = {}
    for node in graph.nodes:
        if node.op != "call_module" or len(node.args) != 1 or node.kwargs:
            continue
        layer = model.get_submodule(str(node.target))
        if isinstance(layer, conv_types) and not hasattr(layer, "bn") and layer.conv.groups == 1:
            conv = layer.conv
            tail = (repr(getattr(layer, "pad", None)), repr(layer.act))  # the padding module, the activation
            key = (node.args[0], conv.kernel_size, conv.stride, conv.padding, conv.dilation, *tail)
            groups.setdefault(key, []).append(node)
    for members in (g for g in groups.values() if len(g) > 1):
        merged = SplitConv([model.get_submodule(str(node.target)) for node in members])
        first = str(members[0].target)
        for node in members:
            parent, _, leaf = str(node.target).rpartition(".")
            delattr(model.get_submodule(parent), leaf)
        parent, _, leaf = first.rpartition(".")
        model.get_submodule(parent).add_module(leaf, merged)
        with graph.inserting_before(members[0]):  # every sibling's input is defined before the first
            call = graph.call_module(first, (members[0].args[0],))
            for index, node in enumerate(members):
                node.replace_all_uses_with(graph.call_function(operator.getitem, (call, index)))
        for node in members:
            graph.erase_node(node)
    graph.lint()
    return fx.GraphModule(model, graph, type(model).__name__)
