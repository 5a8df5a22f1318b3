"""Fuzzing the front end over the spec grammar: whatever a spec says, `archspec.load` returns a
checked Spec or raises SpecError with located diagnostics, in bounded time; never another
exception, never a hang.

Each example starts from a valid spec that uses every part of the grammar (parameters, defaults,
a block of branches with concat and a scaled residual add, repeats, an include) and changes up to
four of its places: a value replaced by one drawn from the grammar's values, right or hostile
(huge, negative or non-finite numbers, expressions of every operator and function, references to
nothing, wrong types, nested lists and mappings), a key removed or added. A third of the
examples are then cut and spliced as text, which reaches the YAML parser's own error paths.

ARCHSPEC_FUZZ_EXAMPLES sets the number of examples (200 by default); docs/reliability.md gives
the command of the longer run of 10,000.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import deadline

import archspec
from archspec.analysis.stages import stages
from archspec.errors import SpecError
from archspec.tools import render

EXAMPLES = int(os.environ.get("ARCHSPEC_FUZZ_EXAMPLES", "200"))
TIME_LIMIT_S = 5.0
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)

OPS = ["conv", "maxpool", "avgpool", "concat", "add", "activation", "dropout", "global_avgpool", "flatten", "dense"]
ATTRS = [
    "filters", "kernel", "stride", "padding", "bn", "bias", "activation", "units", "rate", "fn", "scale",
    "include_padding", "inputs", "input", "shortcut", "residual", "name", "eps", "momentum",
]  # fmt: skip
NAMES = ["a", "b", "input", "x", "u", "u/conv_0", "branch_0", "b1", "__init__", "class", "Ω", "a b", "", "$k"]
PARAMS = ["k", "w", "n", "scale"]

numbers = st.one_of(
    st.integers(-3, 300),
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, 2, 3, 0.5, 1e-3, 10**15, 10**15 + 1, -1]),
)
expressions = st.recursive(
    st.one_of(st.sampled_from(PARAMS), st.integers(-(10**20), 10**20).map(str), st.sampled_from(["1.5", "1e308"])),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "//", "%", "**", "<<", "and"]), inner).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        st.tuples(
            st.sampled_from(["int", "round", "min", "max", "abs", "pow", "eval"]), st.lists(inner, max_size=3)
        ).map(lambda t: f"{t[0]}({', '.join(t[1])})"),
    ),
    max_leaves=12,
)
scalars = st.one_of(
    numbers,
    st.booleans(),
    st.none(),
    st.sampled_from(["same", "valid", "relu", "3x3", "1x7", "7x1", "0x0", "99999999x2", "none", "softmax"]),
    st.sampled_from(PARAMS).map(lambda p: f"${p}"),
    expressions.map(lambda e: f"${{{e}}}"),
    st.sampled_from(NAMES),
    st.sampled_from([*OPS, "b1", "b2", "up", "branch_0", "other.yaml", "net.yaml", "archspec:inception_v4.yaml"]),
    st.text(max_size=8),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(ATTRS), inner, max_size=4)),
    max_leaves=8,
)


# A valid spec that uses every part of the grammar: parameters, defaults, a block with branches,
# concat and a scaled residual add, a repeat, an include. Examples start from it and change it.
BASE: dict[str, Any] = {
    "archspec": 1,
    "name": "net",
    "include": ["other.yaml"],
    "input": {"shape": [24, 24, 3]},
    "params": {"w": 8, "k": 3},
    "defaults": {"conv": {"bn": {"eps": 0.001}}},
    "blocks": {
        "b1": {
            "params": {"f": None, "scale": 0.2},
            "body": [
                {
                    "branches": {
                        "branch_0": [{"op": "conv", "filters": "$f", "kernel": 1}],
                        "branch_1": [
                            {"op": "conv", "filters": "${f // 2}", "kernel": "1x3"},
                            {"op": "conv", "filters": "$f", "kernel": "3x1"},
                        ],
                    }
                },
                {"op": "conv", "name": "up", "filters": "$w", "kernel": 1, "bn": False, "activation": "none"},
                {"op": "add", "shortcut": "input", "scale": "$scale", "activation": "relu"},
            ],
        }
    },
    "network": [
        {"op": "conv", "filters": "$w", "kernel": "$k", "stride": 2, "padding": "valid"},
        {"block": "b1", "repeat": 2, "with": {"f": 4}},
        {"block": "b2"},
        {"op": "maxpool", "kernel": 3, "stride": 2},
        {"op": "avgpool", "kernel": 3, "include_padding": True},
        {"op": "dropout", "rate": 0.2},
        {"op": "global_avgpool"},
        {"op": "dense", "units": 10},
    ],
}


OTHER = "archspec: 1\nblocks:\n  b2:\n    body: [{op: activation, fn: relu}]\n"  # other.yaml, beside


def _paths(tree: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a document: keys of mappings and indices of lists, depth first."""
    found = [prefix]
    if isinstance(tree, dict):
        for key, value in tree.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(tree, list):
        for index, value in enumerate(tree):
            found += _paths(value, (*prefix, index))
    return found


def _replace(tree: Any, path: tuple[Any, ...], value: Any, delete: bool) -> Any:
    if not path:
        return value
    head, *rest = path
    copy: Any = dict(tree) if isinstance(tree, dict) else list(tree)
    if delete and not rest:
        del copy[head]
    else:
        copy[head] = _replace(copy[head], tuple(rest), value, delete) if rest else value
    return copy


@st.composite
def documents(draw: st.DrawFn) -> Any:
    """BASE with up to four of its places replaced by a drawn value, a new key added, or removed."""
    doc: Any = BASE
    for _ in range(draw(st.integers(0, 4))):
        places = _paths(doc)
        path = draw(st.sampled_from(places))
        action = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        if action == "add" and isinstance(_get(doc, path), dict):
            doc = _replace(
                doc,
                (*path, draw(st.sampled_from([*ATTRS, "blocks", "outputs", "features", "extends"]))),
                draw(values),
                False,
            )
        else:
            doc = _replace(doc, path, draw(values), action == "delete" and bool(path))
    return doc


def _get(tree: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        tree = tree[key]
    return tree


@st.composite
def texts(draw: st.DrawFn) -> str:
    """A drawn document as YAML, a third of them then cut, repeated into or spliced as text."""
    text = yaml.safe_dump(draw(documents()), sort_keys=False, allow_unicode=True)
    for _ in range(draw(st.integers(1, 3)) if draw(st.integers(0, 2)) == 0 else 0):
        at = draw(st.integers(0, len(text)))
        cut = draw(st.integers(0, 6))
        insert = draw(st.sampled_from(["", "[", "{", "}", ": ", "&a ", "*a", "\n  ", "- ", "!!", "'", '"', "\t", "#"]))
        text = text[:at] + insert + text[at + cut :]
    return text


def check_one(text: str, folder: Path) -> None:
    """Load `text` as folder/spec.yaml (beside a second spec it may include or extend); a Spec must
    also render, summarise and list its feature stages."""
    (folder / "spec.yaml").write_text(text, encoding="utf-8")
    started = time.perf_counter()
    with deadline(TIME_LIMIT_S):
        try:
            spec = archspec.load(folder / "spec.yaml")
        except SpecError as exc:
            assert exc.diagnostics, "a SpecError names at least one problem"
            for diagnostic in exc.diagnostics:
                assert diagnostic.pos.line >= 1 and diagnostic.pos.col >= 1
                assert "\n" not in diagnostic.message
            return
        spec.summary()
        stages(spec)
        render.to_dot(spec, level="layers")
    assert time.perf_counter() - started < TIME_LIMIT_S


@SETTINGS
@given(text=texts())
def test_any_spec_loads_or_is_refused_with_located_errors(text: str, tmp_path: Path) -> None:
    (tmp_path / "other.yaml").write_text(OTHER)
    check_one(text, tmp_path)


def test_the_generator_reaches_both_outcomes(tmp_path: Path) -> None:
    """The fuzzer is only worth its examples if some specs load and others fail in many ways."""
    loaded: list[str] = []
    refused: set[str] = set()
    (tmp_path / "other.yaml").write_text(OTHER)

    @settings(SETTINGS, max_examples=300)
    @given(text=texts())
    def record(text: str) -> None:
        (tmp_path / "spec.yaml").write_text(text, encoding="utf-8")
        try:
            archspec.load(tmp_path / "spec.yaml")
            loaded.append(text)
        except SpecError as exc:
            refused.add(exc.diagnostics[0].message.split("'")[0][:30])

    record()
    assert len(loaded) >= 3 and len(refused) >= 15, (len(loaded), sorted(refused))
