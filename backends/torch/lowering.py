"""Lower a checked spec to a live torch.nn.Module, one method per op kind.

The module tree follows the IR names: node `mixed_6b/branch_1/conv_2` is the module
`mixed_6b.branch_1.conv_2`, so state_dict keys read like the spec (`mixed_6b.branch_1.conv_2.conv.weight`).
Ops without parameters are applied functionally. `forward` runs a precomputed program over the
nodes in topological order and drops every intermediate after its last use.
"""

from __future__ import annotations

import keyword
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import torch
from torch import Tensor, nn

from archspec.ir import Node
from archspec.spec import Spec
from backends.torch import layers

Op = Callable[..., Tensor]
_RESERVED = set(dir(nn.ModuleDict())) | set(keyword.kwlist)  # instance attributes too (`training`)


def attribute_name(part: str) -> str:
    """The module attribute for one component of an IR name; a name that nn.Module already uses
    (`training`, `forward`, ...) or a Python keyword gets a trailing underscore."""
    return f"{part}_" if part in _RESERVED else part


def module_path(node_name: str) -> str:
    return ".".join(attribute_name(part) for part in node_name.split("/"))


@dataclass(frozen=True)
class Instruction:
    node: str
    run: Op
    inputs: tuple[int, ...]
    output: int
    release: tuple[int, ...]  # slots whose last use this is


class Network(nn.Module):
    """A spec's network. `forward` returns the output, or a tuple when the spec has several."""

    def __init__(self, spec: Spec) -> None:
        super().__init__()
        self.spec = spec
        self.node_modules: dict[str, nn.Module] = {}
        lowering = Lowering(self)
        slot = {node.name: index for index, node in enumerate(spec.nodes)}
        last_use: dict[int, int] = {}
        for index, node in enumerate(spec.nodes):
            for source in node.inputs:
                last_use[slot[source]] = index
        program = []
        for index, node in enumerate(spec.nodes[1:], start=1):
            kept = spec.outputs
            released = tuple(s for s, last in last_use.items() if last == index and spec.nodes[s].name not in kept)
            inputs = tuple(slot[s] for s in node.inputs)
            program.append(Instruction(node.name, lowering.lower(node), inputs, index, released))
        self.program = tuple(program)
        self.slots = len(spec.nodes)
        self.output_slots = tuple(slot[name] for name in spec.outputs)
        self._head_from = self._split_head()

    def place(self, node: Node, module: nn.Module, holds_weights: bool = True) -> nn.Module:
        parent: nn.Module = self
        *scopes, leaf = node.name.split("/")
        for part in scopes:
            name = attribute_name(part)
            if name not in parent._modules:
                parent.add_module(name, nn.ModuleDict())
            child = parent._modules[name]
            assert child is not None
            parent = child
        parent.add_module(attribute_name(leaf), module)
        if holds_weights:
            self.node_modules[node.name] = module
        return module

    def _run(self, values: list[Tensor | None], program: Sequence[Instruction]) -> None:
        for step in program:
            values[step.output] = step.run(*[values[i] for i in step.inputs])
            for i in step.release:
                values[i] = None

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, ...]:
        values: list[Tensor | None] = [None] * self.slots
        values[0] = x
        self._run(values, self.program)
        outputs = tuple(values[i] for i in self.output_slots)
        return outputs[0] if len(outputs) == 1 else outputs  # type: ignore[return-value]

    def _split_head(self) -> int | None:
        """Where the head starts: the first node whose output is a vector, provided the head reads
        the feature part of the network through that one node's input only."""
        for index, step in enumerate(self.program):
            if len(self.spec.shapes[step.node]) == 1:
                features = step.inputs[0]
                reads = {i for later in self.program[index:] for i in later.inputs}
                single = all(i == features or i >= step.output for i in reads) and len(self.output_slots) == 1
                return index if single else None
        return None

    def forward_features(self, x: Tensor) -> Tensor:
        """The last feature map before pooling and the classifier."""
        if self._head_from is None:
            raise NotImplementedError(f"'{self.spec.name}' has no single feature map before a vector head")
        values: list[Tensor | None] = [None] * self.slots
        values[0] = x
        self._run(values, self.program[: self._head_from])
        features = values[self.program[self._head_from].inputs[0]]
        assert features is not None
        return features

    def forward_head(self, features: Tensor) -> Tensor:
        if self._head_from is None:
            raise NotImplementedError(f"'{self.spec.name}' has no single feature map before a vector head")
        values: list[Tensor | None] = [None] * self.slots
        values[self.program[self._head_from].inputs[0]] = features
        self._run(values, self.program[self._head_from :])
        out = values[self.output_slots[0]]
        assert out is not None
        return out


class Lowering:
    """One method per op kind; each returns the function that computes the node."""

    def __init__(self, network: Network) -> None:
        self.network = network
        self.spec = network.spec

    def lower(self, node: Node) -> Op:
        method: Callable[[Node], Op] | None = getattr(self, f"op_{node.op}", None)
        if method is None:
            raise NotImplementedError(f"the torch backend cannot lower op '{node.op}' (node '{node.name}')")
        return method(node)

    def _in_channels(self, node: Node) -> int:
        return self.spec.shapes[node.inputs[0]][-1]

    def op_conv(self, node: Node) -> Op:
        a = node.attrs
        module = layers.ConvBnAct(
            self._in_channels(node), a["filters"], a["kernel"], a["stride"], a["padding"], a["bias"], a["bn"],
            a["activation"],
        )  # fmt: skip
        return self.network.place(node, module)

    def op_dense(self, node: Node) -> Op:
        a = node.attrs
        module = layers.Dense(self._in_channels(node), a["units"], a["bias"], a["activation"])
        return self.network.place(node, module)

    def op_maxpool(self, node: Node) -> Op:
        a = node.attrs
        return partial(layers.max_pool, kernel=a["kernel"], stride=a["stride"], padding=a["padding"])

    def op_avgpool(self, node: Node) -> Op:
        a = node.attrs
        return partial(
            layers.avg_pool,
            kernel=a["kernel"],
            stride=a["stride"],
            padding=a["padding"],
            include_padding=a["include_padding"],
        )

    def op_concat(self, node: Node) -> Op:
        return lambda *xs: torch.cat(xs, 1)

    def op_add(self, node: Node) -> Op:
        return partial(layers.residual_add, scale=node.attrs["scale"], activation=node.attrs["activation"])

    def op_activation(self, node: Node) -> Op:
        return layers.ACTIVATIONS[node.attrs["fn"]]

    def op_dropout(self, node: Node) -> Op:
        # A module, so that train()/eval() reach it, in copies of the model too; no state.
        return self.network.place(node, nn.Dropout(node.attrs["rate"]), holds_weights=False)

    def op_global_avgpool(self, node: Node) -> Op:
        return lambda x: x.mean((2, 3))

    def op_flatten(self, node: Node) -> Op:
        return layers.flatten_hwc
