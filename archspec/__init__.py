"""archspec: a declarative architecture compiler for neural networks.

    spec = archspec.load("specs/inception_v4.yaml")
    spec.graph        # the IR, a networkx DiGraph
    spec.summary()    # params, MACs, FLOPs, shapes per block and per node

The front end never imports a deep-learning framework; the backends live in `archspec.backends`
(the repository's `backends/`).
"""

from archspec.bundled import list_specs, spec_path
from archspec.errors import Diagnostic, Pos, SpecError
from archspec.spec import Spec, load

__all__ = ["Diagnostic", "Pos", "Spec", "SpecError", "list_specs", "load", "spec_path"]
