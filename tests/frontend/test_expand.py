"""Expansion: blocks with their parameters, repeats and their names, and `defaults:`."""

from __future__ import annotations

import pytest

import archspec


def test_defaults_may_give_an_attribute_a_step_must_have() -> None:
    """`defaults: {conv: {kernel: 3x3}}` gives every conv its kernel; a conv with neither is a
    located error that says where a kernel may be given."""
    given = (
        "archspec: 1\ninput: {shape: [8, 8, 3]}\ndefaults: {conv: {kernel: 3x3}}\n"
        "network:\n  - {op: conv, filters: 4}\n"
    )
    spec = archspec.load(given)
    assert spec.node("conv_0").attrs["kernel"] == (3, 3) and spec.params == 3 * 3 * 3 * 4 + 2 * 4
    with pytest.raises(archspec.SpecError) as caught:
        archspec.load(given.replace("defaults: {conv: {kernel: 3x3}}\n", ""))
    assert str(caught.value) == (
        "<string>:4:5: error: this conv step needs 'kernel', here or under defaults: {conv: {kernel: ...}}"
    )


@pytest.mark.parametrize(
    ("written", "count", "names"),
    [
        (["mixed_5b", "mixed_5c"], 4, ["mixed_5b", "mixed_5c", "mixed_5d", "mixed_5e"]),
        (["block5", "block12"], 3, ["block5", "block12", "block13"]),
        (["layer1_09"], 2, ["layer1_09", "layer1_10"]),
        (["stem"], 3, ["stem", "stem_2", "stem_3"]),
        (["cell_2z"], 3, ["cell_2z", "cell_2aa", "cell_2ab"]),
        (["a", "b", "c"], 2, ["a", "b"]),
    ],
)
def test_names_shorter_than_the_repeat_continue_their_numbering(
    written: list[str], count: int, names: list[str]
) -> None:
    from archspec.frontend.expand import continued_names

    assert continued_names(written, count) == names


def test_a_repeat_past_its_names_is_swept_on_the_flagship_variant() -> None:
    spec = archspec.load("examples/inception_v4_small", overrides=["params.inception_a_blocks=5"])
    assert [s.name for s in spec.steps if s.type == "inception_a"] == [f"mixed_5{c}" for c in "bcdef"]
    with pytest.raises(archspec.SpecError, match="name 'b_2' is used twice"):
        archspec.load(
            "archspec: 1\ninput: {shape: [8, 8, 3]}\nblocks: {u: {body: [{op: conv, kernel: 1, filters: 3}]}}\n"
            "network:\n  - {op: conv, name: b_2, kernel: 1, filters: 3}\n  - {block: u, repeat: 2, names: [b]}\n"
        )
