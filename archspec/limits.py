"""The budgets that bound the front end, whatever a spec says, in one place.

A spec is untrusted input: a few lines must not run for minutes, fill memory or exhaust the
stack. Each stage checks its own budget and reports a located error past it. The numbers are
far above any real network (Inception-ResNet-v2 uses about a tenth of each) and are documented
in docs/reliability.md.
"""

from __future__ import annotations

import math

# Reading: one file, its YAML, and the files it includes or extends.
MAX_BYTES = 1_000_000  # one spec file
MAX_NODES = 50_000  # YAML nodes of one file, aliases expanded (bundled specs have under 400)
MAX_DEPTH = 64  # nesting of one file's mappings and lists
MAX_LINK_DEPTH = 32  # a chain of include/extends
MAX_LINKED_FILES = 256  # files opened to link one spec, each opening counted (a fan-out repeats files)
MAX_LINKED_BYTES = 8_000_000  # their bytes, each opening counted
MAX_PATH_CHARS = 4096  # a path named on the command line or by an include (Linux's PATH_MAX)

# Numbers: every integer in a spec or computed from it, and expressions.
MAX_INT = 10**15  # larger magnitudes are refused; no real width, size or count comes near
MAX_INT_TEXT = "10^15"
MAX_EXPR_LENGTH = 200
MAX_ROUND_DIGITS = 16  # round(x, n) with |n| beyond this is refused: it could only cost time

# The network: its expansion and the tensors it would build.
MAX_GRAPH_NODES = 10_000  # ops after every block and repeat is unrolled (Inception-ResNet-v2 has 336)
MAX_TENSOR_ELEMENTS = 2**31 - 1  # one activation of one image, or one weight: int32 indexing
MAX_PARAMS = 2**32  # 16 GiB of float32 weights
MAX_ACTIVATION_ELEMENTS = 2**34  # all activations of one image together: 64 GiB of float32

# Sweeping: points of one grid (each takes the front end about 0.1 s: 10,000 are some 15 minutes).
MAX_SWEEP_POINTS = 10_000
# Pixels of one image `predict` reads: 64 megapixels, 8192x8192, a few hundred MB decoded. A PNG of
# half a megabyte can claim 13000x13000 (under Pillow's own bomb limit) and take gigabytes.
MAX_IMAGE_PIXELS = 2**26

# Drawing: boxes in one image that Graphviz lays out (a chain of 1,500 takes 3 s; of 9,000, over 2 min).
MAX_DRAWN_NODES = 2_000


def within_budget(value: int | float) -> bool:
    """Whether a spec may compute with a number: a finite float, or an integer of at most
    MAX_INT in magnitude. The loader, the expression evaluator and the attribute checks share it."""
    if isinstance(value, float):
        return math.isfinite(value)
    return -MAX_INT <= value <= MAX_INT
