"""The torch formats of `archspec export`: ONNX (torch's dynamo exporter, checked with
onnxruntime) and `torch.export` programs (.pt2). The exported module is the live model, or with
`--inference` the folded model of `for_inference`; either is compared with the live model."""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from archspec.backends import BackendError
from archspec.backends.torch import build, set_weights
from archspec.backends.torch.inference import for_inference
from torch import nn

from archspec.deploy.request import Request, Writer, output_names, outputs_list

Runs = list[tuple[list[np.ndarray], list[np.ndarray]]]


def _models(request: Request) -> tuple[nn.Module, nn.Module]:
    """(the live model, the module to export), both in eval mode."""
    live = build(request.spec).eval()
    if request.weights is not None:
        set_weights(live, request.weights)
    exported = for_inference(live) if request.inference else live
    return live, exported


def _dynamic_shapes(request: Request) -> Any:
    if not request.dynamic_batch:
        return None
    return ({0: torch.export.Dim("batch", min=1, max=4096)},)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The exporters report their progress on stdout and warn about their own internals."""
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _example(request: Request) -> tuple[torch.Tensor]:
    """The input to trace with: batch 2 for a dynamic batch, since torch.export fixes a dimension
    of size 1 as a constant."""
    height, width, channels = request.spec.input_shape
    return (torch.randn(2 if request.dynamic_batch else 1, channels, height, width),)


def _live_outputs(live: nn.Module, inputs: list[np.ndarray]) -> list[list[np.ndarray]]:
    with torch.no_grad():
        return [outputs_list(live(torch.from_numpy(x))) for x in inputs]


def write_onnx(request: Request, path: Path) -> Runs:
    try:
        import onnxruntime
    except ImportError:
        raise BackendError(
            "ONNX export needs onnx, onnxscript and onnxruntime: pip install 'archspec[export]'"
        ) from None
    live, exported = _models(request)
    inputs = request.inputs(channels_last=False)
    with _quiet(), torch.no_grad():
        torch.onnx.export(
            exported,
            _example(request),
            str(path),
            input_names=["input"],
            output_names=output_names(request.spec),
            dynamic_shapes=_dynamic_shapes(request),
            dynamo=True,
            external_data=False,  # one file, which also holds the weights
        )
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    loaded = [session.run(output_names(request.spec), {"input": x}) for x in inputs]
    return list(zip(_live_outputs(live, inputs), [outputs_list(o) for o in loaded], strict=True))


def write_pt2(request: Request, path: Path) -> Runs:
    live, exported = _models(request)
    inputs = request.inputs(channels_last=False)
    with _quiet(), torch.no_grad():
        program = torch.export.export(exported, _example(request), dynamic_shapes=_dynamic_shapes(request))
        torch.export.save(program, str(path))
    loaded = torch.export.load(str(path)).module()
    with torch.no_grad():
        back = [outputs_list(loaded(torch.from_numpy(x))) for x in inputs]
    return list(zip(_live_outputs(live, inputs), back, strict=True))


WRITERS: dict[str, Writer] = {"onnx": write_onnx, "pt2": write_pt2}
