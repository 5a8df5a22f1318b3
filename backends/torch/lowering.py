"""Lower a checked spec to a live torch.nn.Module, one method per op kind.

The module tree follows the IR names: node `mixed_6b/branch_1/conv_2` is the module
`mixed_6b.branch_1.conv_2`, so state_dict keys read like the spec (`mixed_6b.branch_1.conv_2.conv.weight`).
Each top-level step that holds several nodes is a `Block` module (`model.mixed_6b(x)` runs it),
whose `forward` runs a precomputed program over its nodes in topological order and drops every
intermediate after its last use; the network runs its steps the same way. Ops without
parameters are applied functionally.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, partial

import torch
from torch import Tensor, nn

from archspec.ir import Node
from archspec.spec import Spec
from backends.naming import Scopes, pascal_case
from backends.torch import layers

Op = Callable[..., Tensor]


@cache
def reserved_attributes() -> frozenset[str]:
    """Names no IR name may take as a module attribute: what nn.Module and ModuleDict define (a
    ModuleDict refuses a key such as `keys`), what the network and its blocks keep on themselves
    (`spec`, `program`, `forward_head`, ...), in the live model and in generated code alike."""
    own = {"spec", "node_modules", "program", "_head_from", "_names"}
    return frozenset(dir(nn.ModuleDict())) | frozenset(dir(Network)) | frozenset(dir(Block)) | own


@dataclass(frozen=True)
class Call:
    """What a program computes, by name: a node of a block, or a step of the network."""

    name: str
    run: Op
    inputs: Sequence[str]
    outputs: Sequence[str]


SlotCall = tuple[str, Op, tuple[int, ...], tuple[int, ...]]


@dataclass(frozen=True)
class Instruction:
    name: str  # the node or step it computes
    run: Op
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]  # one slot, or one per value of a tuple result
    release: tuple[int, ...]  # slots whose last use this is


@dataclass(frozen=True)
class Program:
    instructions: tuple[Instruction, ...]
    slots: int
    results: tuple[int, ...]

    @staticmethod
    def schedule(calls: Sequence[Call], arguments: Sequence[str], results: Sequence[str]) -> Program:
        """A program for `calls`, given inputs before their users: `arguments` fill the first
        slots, each call's outputs the next ones, and `results` are kept to the end."""
        slot = {name: index for index, name in enumerate(arguments)}
        for call in calls:
            slot.update({name: len(slot) + k for k, name in enumerate(call.outputs)})
        steps = [(c.name, c.run, tuple(slot[i] for i in c.inputs), tuple(slot[o] for o in c.outputs)) for c in calls]
        return Program.assemble(steps, len(slot), tuple(slot[name] for name in results))

    @staticmethod
    def assemble(steps: Sequence[SlotCall], slots: int, results: tuple[int, ...]) -> Program:
        """A program for calls of (name, function, input slots, output slots): each slot that is
        not a result is released by its last reader."""
        last_use = {slot: index for index, (_, _, inputs, _) in enumerate(steps) for slot in inputs}
        instructions = []
        for index, (name, run, inputs, outputs) in enumerate(steps):
            released = tuple(s for s, last in last_use.items() if last == index and s not in results)
            instructions.append(Instruction(name, run, inputs, outputs, released))
        return Program(tuple(instructions), slots, results)

    def run(self, values: list[Tensor | None], start: int = 0, stop: int | None = None) -> None:
        for step in self.instructions[start:stop]:
            result = step.run(*[values[i] for i in step.inputs])
            if len(step.outputs) == 1:
                values[step.outputs[0]] = result
            else:
                for slot, value in zip(step.outputs, result, strict=True):
                    values[slot] = value
            for i in step.release:
                values[i] = None

    def __call__(self, *arguments: Tensor) -> Tensor | tuple[Tensor, ...]:
        values: list[Tensor | None] = [*arguments, *[None] * (self.slots - len(arguments))]
        self.run(values)
        results = tuple(values[i] for i in self.results)
        return results[0] if len(results) == 1 else results  # type: ignore[return-value]


class Block(nn.Module):
    """A top-level step of several nodes (`mixed_6b`): their modules, and the program that runs them
    on the step's inputs. Its result is the value later steps read (a tuple if they read several).

    Each block type has its own subclass (`InceptionB`, from `of_type`) with its own copy of
    `forward`'s code. torch.compile keeps its compiled code per code object, so compiling blocks one
    by one (`backends.torch.regional.compile_blocks`) compiles each block type once and reuses the code for
    every block of that type, and a network of many types stays under the recompile limit."""

    program: Program

    def forward(self, *inputs: Tensor) -> Tensor | tuple[Tensor, ...]:
        return self.program(*inputs)

    @classmethod
    def of_type(cls, block_type: str) -> type[Block]:
        name = pascal_case(block_type)
        code = cls.forward.__code__.replace(co_qualname=f"{name}.forward")
        forward = types.FunctionType(code, cls.forward.__globals__, "forward")
        return type(
            name, (cls,), {"forward": forward, "__module__": cls.__module__, "__doc__": f"Block type {block_type}."}
        )


class Network(nn.Module):
    """A spec's network. `forward` returns the output, or a tuple when the spec has several."""

    def __init__(self, spec: Spec) -> None:
        super().__init__()
        self.spec = spec
        self.node_modules: dict[str, nn.Module] = {}
        # Attribute names in the order codegen asks for them: steps, then each block's modules.
        self._names = Scopes(reserved_attributes())
        lowering = Lowering(self)
        block_of = {node.name: node.block for node in spec.nodes}
        read_elsewhere = {name for node in spec.nodes for name in node.inputs if block_of[name] != node.block}
        block_types: dict[str, type[Block]] = {}
        calls = []
        for step in spec.steps:
            nodes = [spec.node(name) for name in step.nodes]
            arguments = list(step.inputs)
            results = [n.name for n in nodes if n.name in spec.outputs or n.name in read_elsewhere]
            if step.kind == "op":  # a top-level op outside any block
                calls.append(Call(step.name, lowering.lower(nodes[0]), arguments, results))
                continue
            if step.type not in block_types:
                block_types[step.type] = Block.of_type(step.type)
            block = block_types[step.type]()
            self.add_module(self._names.path(step.name)[-1], block)
            block.program = Program.schedule(
                [Call(node.name, lowering.lower(node), node.inputs, (node.name,)) for node in nodes], arguments, results
            )
            calls.append(Call(step.name, block, arguments, results))
        self.program: Program = Program.schedule(calls, ["input"], spec.outputs)
        self._head_from = self._split_head()

    def module_path(self, node_name: str) -> str:
        """The dotted module path of an IR node or step (`mixed_6b.branch_1.conv_2`): its name's
        parts, each renamed only where nn.Module or another part of the same parent has it."""
        return ".".join(self._names.path(node_name))

    def place(self, node: Node, module: nn.Module, holds_weights: bool = True) -> nn.Module:
        parent: nn.Module = self
        *scopes, leaf = self._names.path(node.name)
        for name in scopes:
            if name not in parent._modules:
                parent.add_module(name, nn.ModuleDict())
            child = parent._modules[name]
            assert child is not None
            parent = child
        parent.add_module(leaf, module)
        if holds_weights:
            self.node_modules[node.name] = module
        return module

    @property
    def blocks(self) -> list[Block]:
        return [module for module in self.children() if isinstance(module, Block)]

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, ...]:
        return self.program(x)

    def _split_head(self) -> int | None:
        """Where the head starts: the first step whose output is a vector, provided the head reads
        the feature part of the network through that step's one input (as generated code splits)."""
        if len(self.spec.outputs) != 1:
            return None
        instructions = self.program.instructions
        for index, (step, call) in enumerate(zip(self.spec.steps, instructions, strict=True)):
            if len(self.spec.shapes[step.output]) == 1:
                # Slots are numbered in program order: those at or past this call's are the head's own.
                reads = {i for later in instructions[index:] for i in later.inputs}
                single = len(call.inputs) == 1 and all(i in call.inputs or i >= call.outputs[0] for i in reads)
                return index if single else None
        return None

    def _head(self) -> int:
        if self._head_from is None:
            raise NotImplementedError(f"'{self.spec.name}' has no single feature map before a vector head")
        return self._head_from

    def forward_features(self, x: Tensor) -> Tensor:
        """The last feature map before pooling and the classifier."""
        head = self._head()
        values: list[Tensor | None] = [x, *[None] * (self.program.slots - 1)]
        self.program.run(values, stop=head)
        features = values[self.program.instructions[head].inputs[0]]
        assert features is not None
        return features

    def forward_head(self, features: Tensor) -> Tensor:
        head = self._head()
        values: list[Tensor | None] = [None] * self.program.slots
        values[self.program.instructions[head].inputs[0]] = features
        self.program.run(values, start=head)
        out = values[self.program.results[0]]
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
