"""The summary of a checked spec: a JSON-ready dict, and a table for people."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from archspec.analysis.cost import Cost
from archspec.analysis.shapes import Shape, fmt
from archspec.ir import Node, Step


class Checked(Protocol):
    """What a summary reads of a checked network (an archspec.Spec): this module depends on the
    pipeline's data, and the pipeline's Spec on this module, never the other way round."""

    @property
    def name(self) -> str: ...
    @property
    def shapes(self) -> Mapping[str, Shape]: ...
    @property
    def costs(self) -> Mapping[str, Cost]: ...
    @property
    def steps(self) -> Sequence[Step]: ...
    @property
    def nodes(self) -> Sequence[Node]: ...
    @property
    def input_shape(self) -> Shape: ...
    @property
    def output_shape(self) -> Shape: ...
    @property
    def outputs(self) -> tuple[str, ...]: ...
    @property
    def params(self) -> int: ...
    @property
    def macs(self) -> int: ...


def summarize(spec: Checked) -> dict[str, Any]:
    blocks = [
        {
            "name": step.name,
            "type": step.type,
            "output_shape": list(spec.shapes[step.output]),
            "params": sum(spec.costs[name].params for name in step.nodes),
            "macs": sum(spec.costs[name].macs for name in step.nodes),
        }
        for step in spec.steps
    ]
    nodes = [
        {
            "name": n.name,
            "op": n.op,
            "block": n.block,
            "output_shape": list(spec.shapes[n.name]),
            "params": spec.costs[n.name].params,
            "macs": spec.costs[n.name].macs,
            "activation_bytes": spec.costs[n.name].activation_bytes,
        }
        for n in spec.nodes
    ]
    return {
        "name": spec.name,
        "input_shape": list(spec.input_shape),
        "output_shape": list(spec.output_shape),
        "outputs": [{"name": name, "shape": list(spec.shapes[name])} for name in spec.outputs],
        "params": spec.params,
        "macs": spec.macs,
        "flops": 2 * spec.macs,
        "activation_bytes": sum(c.activation_bytes for c in spec.costs.values()),
        "blocks": blocks,
        "nodes": nodes,
    }


def table(summary: dict[str, Any], detail: bool = False) -> str:
    """A fixed-width table: one row per block, or per node with `detail`."""
    rows = summary["nodes"] if detail else summary["blocks"]
    header = ("name", "op" if detail else "type", "output", "params", "MACs")
    body = [
        (r["name"], r["op" if detail else "type"], fmt(tuple(r["output_shape"])), f"{r['params']:,}", f"{r['macs']:,}")
        for r in rows
    ]
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
    right = (False, False, True, True, True)

    def line(row: tuple[str, ...]) -> str:
        cells = [c.rjust(w) if r else c.ljust(w) for c, w, r in zip(row, widths, right, strict=True)]
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * w for w in widths)
    total = (
        f"{summary['name']}: input {fmt(tuple(summary['input_shape']))}, "
        f"{outputs_text(summary)}, params {summary['params']:,}, "
        f"MACs {summary['macs']:,} ({summary['macs'] / 1e9:.3f} G), "
        f"FLOPs {summary['flops']:,} (2 x MACs), "
        f"activations {summary['activation_bytes'] / 2**20:.1f} MiB (float32, batch 1)"
    )
    return "\n".join([line(header), rule, *(line(b) for b in body), rule, total])


def outputs_text(summary: dict[str, Any]) -> str:
    """`output 1000`, or with several outputs each with its name: `outputs 1000 (logits), 17x17x768 (mixed_6e)`."""
    outputs = summary["outputs"]
    if len(outputs) == 1:
        return f"output {fmt(tuple(outputs[0]['shape']))}"
    return "outputs " + ", ".join(f"{fmt(tuple(o['shape']))} ({o['name']})" for o in outputs)
