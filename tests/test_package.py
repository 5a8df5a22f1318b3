"""The package as a whole: every module, the backends' included, imports only modules below it,
so the stages form layers (ops, ir, frontend, analysis, spec, tools, codegen, backends, training,
deploy, cli) and none reaches back, lazy and type-only imports counted too."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
from support import ROOT


def module_of(path: Path) -> str:
    """The module a file is, as the installed package names it (backends/ is archspec.backends)."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[0] == "backends":
        parts.insert(0, "archspec")
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports() -> nx.DiGraph:
    """Module -> each archspec module it imports, wherever in the file (in a function, under
    TYPE_CHECKING): `from archspec.ops import conv` imports archspec.ops.conv, `import
    archspec.x.y` archspec.x.y."""
    modules = {module_of(path): path for folder in ("archspec", "backends") for path in (ROOT / folder).rglob("*.py")}

    def known(name: str) -> str:
        while name not in modules:
            name = name.rpartition(".")[0]
        return name

    graph = nx.DiGraph()
    for module, path in modules.items():
        graph.add_node(module)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("archspec"):
                targets = [known(f"{node.module}.{alias.name}") for alias in node.names]
            elif isinstance(node, ast.Import):
                targets = [known(alias.name) for alias in node.names if alias.name.startswith("archspec")]
            else:
                continue
            graph.add_edges_from((module, target) for target in targets if target not in (module, "archspec"))
    graph.remove_node("archspec.__main__")
    return graph


def test_no_module_imports_one_that_imports_it() -> None:
    graph = imports()
    assert graph.number_of_nodes() > 90 and graph.number_of_edges() > 200
    assert "archspec.backends.torch.codegen" in graph  # the backends are in the graph
    assert list(nx.simple_cycles(graph)) == []


def test_the_front_end_imports_no_backend_tool_or_command() -> None:
    """`archspec check` answers without a framework: nothing the pipeline imports reaches the
    backends, training, deployment, the tools or the command line."""
    graph = imports()
    front = ("archspec.frontend", "archspec.ir", "archspec.ops", "archspec.analysis", "archspec.spec")
    above = ("archspec.backends", "archspec.training", "archspec.deploy", "archspec.tools", "archspec.cli")
    reached = {t for m in graph for t in nx.descendants(graph, m) if m.startswith(front)}
    assert not [t for t in reached if t.startswith(above)]
