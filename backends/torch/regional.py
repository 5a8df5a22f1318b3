"""Regional compilation: torch.compile each block of a built network on its own.

Compiling a whole Inception network hands the compiler one graph some hundred convolutions deep,
forward and backward. Compiling block by block hands it one graph per block type instead: every
block type is a generated class with its own `forward` code, torch.compile caches compiled
code per code object, and blocks of one type with equal shapes pass each other's guards, so the
twenty Block17s of Inception-ResNet-v2 are compiled once. The few top-level ops between blocks
run eagerly; block boundaries fall between convolutions, which are library calls either way.
"""

from __future__ import annotations

from typing import Any

from archspec.backends.torch.live import Network


def compile_blocks(model: Network, **options: Any) -> Network:
    """Compile every block of `model` in place (options as for torch.compile) and return it.
    Copy the model first if you need an uncompiled one: a copy of a compiled block would still
    call the original's compiled code."""
    # Shapes are fixed per block: without this, the second shape one block type meets (an
    # Inception-A reading 192 channels, then 256) would be recompiled with symbolic sizes.
    options.setdefault("dynamic", False)
    for block in model.blocks:
        block.compile(**options)
    return model
