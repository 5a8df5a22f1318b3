"""An inference lowering of a built network: batch norm folded into the convolutions, and
sibling convolutions that read one tensor merged into one convolution.

In eval mode batch norm is a fixed affine map per channel, so it folds into the convolution
before it: with s = gamma / sqrt(running_var + eps), the kernel becomes W * s and the bias
(b - running_mean) * s + beta. Each layer then runs one pass over its output fewer.

Inception blocks open with several convolutions of the block's input, one per branch (three 1x1
convolutions in Inception-A). Siblings that read the same tensor with the same kernel, stride,
padding and activation are computed as one convolution holding the filters of all, whose output
is split between the branches: the input is read once, and the matrix product is wider.

The lowered model computes what the model computes in eval mode, up to rounding. It is for
inference only: it has no batch norm left to train, and its state_dict is its own.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from backends.torch.layers import ConvBnAct
from backends.torch.lowering import Network, Program, SlotCall


def for_inference(model: Network, dtype: torch.dtype | None = None, merge_siblings: bool = True) -> Network:
    """A new model for inference with `model`'s weights (on its device, in `dtype` if given; its
    input must then be of that dtype). `model` itself is left as it is, compiled or not."""
    lowered = Network(model.spec)
    lowered.load_state_dict(model.state_dict())
    lowered.eval().requires_grad_(False)
    with torch.no_grad():
        for module in lowered.modules():
            if isinstance(module, ConvBnAct) and module.bn is not None:
                fold_batch_norm(module)
    if merge_siblings:
        lowered.program = merge_sibling_convs(lowered, lowered.program)
        for block in lowered.blocks:
            block.program = merge_sibling_convs(lowered, block.program)
    tensors = list(model.state_dict().values())
    return lowered.to(device=tensors[0].device if tensors else None, dtype=dtype)


def fold_batch_norm(layer: ConvBnAct) -> None:
    """Fold the layer's batch norm (with its running statistics) into its convolution, in place."""
    bn, conv = layer.bn, layer.conv
    assert bn is not None and bn.running_mean is not None and bn.running_var is not None
    scale = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)
    bias = conv.bias.double() if conv.bias is not None else torch.zeros_like(scale)
    folded_bias = (bias - bn.running_mean.double()) * scale + bn.bias.double()
    conv.weight.copy_(conv.weight.double() * scale.view(-1, 1, 1, 1))
    conv.bias = nn.Parameter(folded_bias.to(conv.weight.dtype), requires_grad=False)
    layer.bn = None


class SplitConv(nn.Module):
    """Sibling convolutions computed as one; returns each sibling's part of the output."""

    def __init__(self, siblings: list[ConvBnAct]) -> None:
        super().__init__()
        first = siblings[0]
        self.sizes = [s.conv.out_channels for s in siblings]
        self.layer = ConvBnAct(first.conv.in_channels, sum(self.sizes), first.kernel, first.stride, bias=True,
                               bn=None, activation=first.activation)  # fmt: skip
        self.layer.pad_in_forward = first.pad_in_forward
        self.layer.conv.padding = first.conv.padding
        with torch.no_grad():
            self.layer.conv.weight.copy_(torch.cat([s.conv.weight for s in siblings]))
            biases = [s.conv.bias if s.conv.bias is not None else s.conv.weight.new_zeros(n) for s, n in
                      zip(siblings, self.sizes, strict=True)]  # fmt: skip
            assert self.layer.conv.bias is not None
            self.layer.conv.bias.copy_(torch.cat(biases))
        self.layer.to(first.conv.weight.device).requires_grad_(False)

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        return tuple(self.layer(x).split(self.sizes, 1))


def merge_sibling_convs(model: Network, program: Program) -> Program:
    """`program` with each group of mergeable sibling convolutions replaced by one SplitConv,
    which takes the first sibling's place in the program and in the module tree."""
    groups: dict[tuple[object, ...], list[int]] = {}
    for index, step in enumerate(program.instructions):
        layer = step.run
        if isinstance(layer, ConvBnAct) and layer.bn is None and len(step.inputs) == 1:
            conv = layer.conv
            key = (step.inputs[0], layer.kernel, layer.stride, layer.pad_in_forward, conv.padding, conv.dilation,
                   conv.groups, layer.activation)  # fmt: skip
            groups.setdefault(key, []).append(index)
    replaced: dict[int, SlotCall | None] = {}  # None: merged into an earlier sibling
    for members in (g for g in groups.values() if len(g) > 1):
        steps = [program.instructions[i] for i in members]
        merged = SplitConv([step.run for step in steps])  # type: ignore[misc]
        for k, step in enumerate(steps):
            parent_path, _, leaf = model.module_path(step.name).rpartition(".")
            parent = model.get_submodule(parent_path)
            delattr(parent, leaf)
            if k == 0:
                parent.add_module(leaf, merged)
            del model.node_modules[step.name]
        outputs = tuple(slot for step in steps for slot in step.outputs)
        replaced[members[0]] = (steps[0].name, merged, steps[0].inputs, outputs)
        replaced.update(dict.fromkeys(members[1:]))
    calls = [
        replaced.get(i, (step.name, step.run, step.inputs, step.outputs)) for i, step in enumerate(program.instructions)
    ]
    return Program.assemble([c for c in calls if c is not None], program.slots, program.results)
