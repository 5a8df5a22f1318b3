"""The live PyTorch model: the source that `archspec compile` writes, run.

`build` generates the spec's source (`archspec.backends.torch.codegen`), executes it as a module of its
own (`archspec.codegen.source`) and instantiates its model class, extended by `Network` with what the
rest of archspec asks of a built model: its spec and source, the module of each IR node, and its
blocks. `Network` adds no module and no forward code, so the live model's state_dict keys and
computation are the written file's.

Module paths follow the IR names: node `mixed_6b/branch_1/conv_2` is the module
`mixed_6b.branch_1.conv_2`, so state_dict keys read like the spec. Each block type is a class of
its own with its own `forward` code object: torch.compile keeps its compiled code per code
object, which is what lets `archspec.backends.torch.regional` compile each block type once.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from archspec.backends.torch import codegen
from torch import nn

from archspec.analysis.stages import stages
from archspec.codegen import source as generated_source
from archspec.ops import OpGroup
from archspec.spec import Spec, load


class Network(nn.Module):
    """What a live model keeps beside its generated class's modules (names codegen reserves)."""

    spec: Spec
    source: str
    node_modules: dict[str, nn.Module]  # every IR node that carries weights, in the spec's order
    block_types: tuple[type[nn.Module], ...]

    @property
    def generated(self) -> ModuleType:
        """The module the model's source defines: its helpers (`ConvBnAct`, ...) and classes."""
        return sys.modules[type(self).__module__]

    @property
    def blocks(self) -> list[nn.Module]:
        """The top-level block modules, in order."""
        return [module for module in self.children() if isinstance(module, self.block_types)]

    @property
    def feature_info(self) -> list[dict[str, Any]]:
        """timm's feature_info: for each stage (`archspec.analysis.stages`), its module (the step,
        or a module inside one: `stem.conv2d_2b`), channels and reduction of the input's size; of a
        model that returns stages, those it returns."""
        found = stages(self.spec)
        returned = [s for s in found if s.node in self.spec.outputs]
        shown = returned if self.spec.tuple_outputs and returned else found
        return [
            {
                "module": s.name if s.name != s.node else self._paths.get(s.node, s.node.replace("/", ".")),
                "num_chs": s.channels,
                "reduction": s.reduction,
            }
            for s in shown
        ]

    def reset_classifier(self, num_classes: int) -> None:
        """timm's: a freshly initialised final dense layer of `num_classes` units in place of the
        network's, or none for 0 (the model then returns `forward_head(x, pre_logits=True)`).
        `spec` and `source` become those of the new model: `compile` of `model.spec` writes it."""
        output = self.spec.classifier
        if len(self.spec.outputs) != 1 or output is None:
            raise ValueError(f"'{self.spec.name}' does not end in one dense layer; it has no classifier to reset")
        old = self.node_modules[output]
        assert isinstance(old, nn.Linear)
        if num_classes == 0:
            spec = self.spec.with_outputs(self.spec.node(output).inputs)
            new: nn.Module = nn.Identity()
        else:
            spec = self.spec.with_num_classes(num_classes)
            new = type(old)(old.in_features, num_classes, old.bias is not None, spec.node(output).attrs["activation"])
        parent, _, leaf = self.module_path(output).rpartition(".")
        setattr(self.get_submodule(parent), leaf, new.to(old.weight.device, old.weight.dtype))
        self.spec, self.source = spec, codegen.generate(spec)
        self.node_modules = {n: new if n == output else m for n, m in self.node_modules.items() if n in spec.graph}

    def module_path(self, node_name: str) -> str:
        """The dotted module path of an IR node that is a module (`mixed_6b.branch_1.conv_2`)."""
        return self._paths[node_name]

    _paths: dict[str, str]


def build(
    spec: Spec | str | Path,
    features: Sequence[str] | None = None,
    features_only: bool = False,
    *,
    num_classes: int | None = None,
    out_indices: Sequence[int] | None = None,
) -> Network:
    """A freshly initialised model that computes the spec's network: the generated file's model.
    `spec` is a loaded Spec, or what `archspec.load` takes (a bundled name, a path, YAML text).
    With `features` (node names: `["mixed_5e", "mixed_6e", "mixed_7c"]`), the model returns those
    nodes' tensors, in that order, and holds only the part of the network they need;
    `features_only` is timm's: the output of every stage (`feature_info`), or of the stages
    `out_indices` picks (negative from the last). Either returns a tuple, even of one tensor.
    `num_classes`, as timm's `create_model` takes it: that many units in the final dense layer
    (`spec.with_num_classes`), or 0 for none (the model returns the pooled features)."""
    if not isinstance(spec, Spec):
        spec = load(spec)
    if num_classes:
        spec = spec.with_num_classes(num_classes)
    if out_indices is not None and not features_only:
        raise ValueError("out_indices picks stages of a features_only model; give features_only=True")
    if features_only and not features:
        found = stages(spec)
        try:
            features = [found[i].node for i in (range(len(found)) if out_indices is None else out_indices)]
        except IndexError:
            raise ValueError(f"out_indices {list(out_indices or ())}: '{spec.name}' has {len(found)} stages") from None
    if features:
        spec = spec.with_outputs(features, as_tuple=True)
    emitted = codegen.emit(spec)
    module = generated_source.load(emitted.source, f"torch_{spec.name}")
    model: Network = _live(getattr(module, emitted.model_class))()
    model.spec = spec
    model.source = emitted.source
    model._paths = dict(emitted.module_paths)
    model.node_modules = {
        name: model.get_submodule(path)
        for name, path in emitted.module_paths.items()
        if spec.node(name).op in OpGroup.WEIGHTED
    }
    model.block_types = tuple(getattr(module, name) for name in emitted.block_classes)
    if num_classes == 0:
        model.reset_classifier(0)
    return model


@cache
def _live(generated: type[nn.Module]) -> type[Network]:
    """The generated model class with Network's bookkeeping mixed in (one per generated class)."""
    return type(
        generated.__name__, (generated, Network), {"__module__": generated.__module__, "__doc__": generated.__doc__}
    )
