"""timm and torchvision, the reference implementations, imported beside any build of torch.

timm imports torchvision. PyPI's torchvision is a CUDA build: beside a CPU build of torch its
import fails, registering kernels for the operators `torchvision::nms` and `torchvision::qnms`
whose schemas its C++ library did not get to define. Declaring the two schemas and importing
again lets it load; the detection ops stay unusable, and timm's classifiers never call them.
Where torchvision matches torch (a CUDA machine), the first import works and nothing is declared."""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

from torch import library as op_schemas

_SCHEMAS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor qdets, Tensor scores, float iou_threshold) -> Tensor",
)
_declared: list[op_schemas.Library] = []  # kept alive: a dropped Library takes its schemas with it


def import_timm() -> ModuleType:
    return _import("timm")


def import_torchvision() -> ModuleType:
    """torchvision itself, for its reference models (googlenet, inception_v3, resnet50)."""
    return _import("torchvision")


def _import(module: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except RuntimeError as exc:
        if "torchvision::nms" not in str(exc) or _declared:
            raise
    for name in [name for name in sys.modules if name.split(".")[0] in ("torchvision", "timm")]:
        del sys.modules[name]  # the half-imported modules of the failed attempt
    declared = op_schemas.Library("torchvision", "DEF")
    for schema in _SCHEMAS:
        declared.define(schema)
    _declared.append(declared)
    return importlib.import_module(module)
