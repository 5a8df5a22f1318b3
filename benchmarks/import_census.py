"""Census of `archspec import`: which reference CNNs import, exactly, and why the others do not.

    python benchmarks/import_census.py [--only NAME ...] [--markdown docs/import_census.md]

Each model is built at random init (no weights are downloaded), imported with
`archspec.importers.torch.import_model` at its input size, and compared with the original on one
random batch: a result is `exact` when the largest output difference, relative to the largest
output, is below 1e-4 (in float64 it is 0 or rounding). A failure gives the importer's message,
which names the module and the op it could not map.

The models: every classification model of torchvision's `list_models()` with at most 100 M
parameters, except the vision transformers, Swin and MaxViT (attention, not CNNs), and the timm
models of TIMM_MODELS, one per family of CNN.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from archspec.errors import ArchspecError  # noqa: E402
from archspec.importers.torch import import_model  # noqa: E402
from benchmarks.reference import import_timm, import_torchvision  # noqa: E402

MAX_PARAMS = 100_000_000
TOLERANCE = 1e-4
NOT_CNNS = ("vit_", "swin_", "swin3d", "maxvit_")
# One model per family of timm CNN, the smallest of each that timm lists.
TIMM_MODELS = (
    "resnet18", "resnetv2_50", "resnext26ts", "seresnext26d_32x4d", "skresnet18", "res2net50_26w_4s",
    "resnest14d", "densenet121", "dla34", "dpn68", "vgg11_bn", "repvgg_a0", "inception_v3", "inception_v4",
    "inception_resnet_v2", "xception41", "efficientnet_b0", "efficientnetv2_rw_t", "mixnet_s", "mnasnet_100",
    "mobilenetv2_100", "mobilenetv3_large_100", "lcnet_050", "ghostnet_100", "hardcorenas_a", "fbnetc_100",
    "rexnet_100", "regnetx_002", "regnety_002", "cspresnet50", "cspdarknet53", "darknet53", "dm_nfnet_f0",
    "nf_resnet50", "gernet_s", "hrnet_w18_small", "selecsls42b", "ese_vovnet19b_dw", "tresnet_m",
    "convnext_atto", "convmixer_768_32", "ghostnetv2_100", "tinynet_e", "resnet50d",
)  # fmt: skip


@dataclass
class Row:
    package: str
    model: str
    result: str  # exact, differs, fails, skipped
    reason: str
    seconds: float
    lines: int
    params: int


def torchvision_models() -> list[tuple[str, Callable[[], Any], tuple[int, int, int]]]:
    models = import_torchvision().models
    found = []
    for name in models.list_models(module=models):
        if name.startswith(NOT_CNNS):
            continue
        size = 299 if name == "inception_v3" else 224
        found.append((name, lambda name=name: models.get_model(name, weights=None), (size, size, 3)))
    return found


def timm_models() -> list[tuple[str, Callable[[], Any], tuple[int, int, int] | None]]:
    timm = import_timm()
    return [(name, lambda name=name: timm.create_model(name), None) for name in TIMM_MODELS]


def census_of(package: str, name: str, factory: Callable[[], Any], shape: tuple[int, int, int] | None) -> Row:
    torch.manual_seed(0)
    try:
        model = factory().eval()
    except Exception as exc:  # a name this version of the package does not have
        return Row(package, name, "skipped", f"not built here: {type(exc).__name__}: {exc}"[:160], 0.0, 0, 0)
    params = sum(p.numel() for p in model.parameters())
    if params > MAX_PARAMS:
        return Row(package, name, "skipped", f"{params / 1e6:.0f} M parameters, over 100 M", 0.0, 0, params)
    start = time.perf_counter()
    try:
        imported = import_model(model, input_shape=shape, name=name, source=f"{package} {name}")
    except ArchspecError as exc:
        reason = str(exc).splitlines()[0]
        return Row(package, name, "fails", reason, time.perf_counter() - start, 0, params)
    seconds = time.perf_counter() - start
    lines = len(imported.text.splitlines())
    if imported.difference > TOLERANCE:
        return Row(package, name, "differs", f"relative difference {imported.difference:.2g}", seconds, lines, params)
    return Row(package, name, "exact", "", seconds, lines, params)


def markdown(rows: list[Row]) -> str:
    lines = ["# Import census", "", __doc__.split("\n\n", 2)[2].strip(), ""]
    for package in ("torchvision", "timm"):
        listed = [r for r in rows if r.package == package]
        counted = [r for r in listed if r.result != "skipped"]
        exact = sum(r.result == "exact" for r in counted)
        lines += [f"## {package}: {exact} of {len(counted)} exact ({100 * exact / max(len(counted), 1):.0f} %)", ""]
        lines += ["| model | params | result | reason | seconds | spec lines |", "|---|---|---|---|---|---|"]
        for r in listed:
            reason = r.reason.replace("|", "\\|")
            lines.append(f"| `{r.model}` | {r.params:,} | {r.result} | {reason} | {r.seconds:.1f} | {r.lines or ''} |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="model names to run (default: all)")
    parser.add_argument("--markdown", type=Path, help="write the table to this file")
    args = parser.parse_args()
    rows: list[Row] = []
    for package, models in (("torchvision", torchvision_models()), ("timm", timm_models())):
        for name, factory, shape in models:
            if args.only and name not in args.only:
                continue
            row = census_of(package, name, factory, shape)
            rows.append(row)
            print(f"{package:12} {name:28} {row.result:8} {row.seconds:6.1f}s {row.reason}", flush=True)
    text = markdown(rows)
    if args.markdown:
        args.markdown.write_text(text + "\n", encoding="utf-8")
    else:
        print(text)


if __name__ == "__main__":
    main()
