"""The safe evaluator for `$name` and `${expression}` values (archspec/frontend/expr.py)."""

from __future__ import annotations

from typing import Any

import pytest

from archspec import limits
from archspec.frontend import expr
from archspec.frontend.expr import ExprError, resolve

SCOPE = {"k": 3, "width": 64, "ratio": 0.5, "pair": [1, 7]}


class Tripwire:
    """A parameter value that fails the test if the evaluator touches any attribute of it."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"attribute {name!r} was evaluated")


def refused(text: str, scope: dict[str, Any] | None = None) -> str:
    with pytest.raises(ExprError) as info:
        resolve(text, SCOPE if scope is None else scope)
    return str(info.value)


# -- what is allowed ------------------------------------------------------------------------------


def test_plain_values_are_returned_unchanged() -> None:
    assert resolve(7, SCOPE) == 7
    assert resolve("same", SCOPE) == "same"
    assert resolve([1, 2], SCOPE) == [1, 2]
    assert not expr.is_reference("k")
    assert expr.is_reference("$k")


def test_name_reference() -> None:
    assert resolve("$k", SCOPE) == 3
    assert resolve("$width", SCOPE) == 64
    assert resolve("$pair", SCOPE) == [1, 7]  # a bare reference may stand for any value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("${2 * k + 1}", 7),
        ("${ 2*k+1 }", 7),
        ("${(k + 1) * 2}", 8),
        ("${-k}", -3),
        ("${+k}", 3),
        ("${width - k}", 61),
        ("${width / 4}", 16.0),
        ("${width // 5}", 12),
        ("${width % 5}", 4),
        ("${width * ratio}", 32.0),
        ("${1.5 * 2}", 3.0),
    ],
)
def test_arithmetic(text: str, value: float) -> None:
    result = resolve(text, SCOPE)
    assert result == value
    assert type(result) is type(value)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("${int(width * 0.75)}", 48),
        ("${int(7 / 2)}", 3),
        ("${round(width / 3)}", 21),
        ("${round(2.5)}", 2),  # Python rounds half to even
        ("${round(k * 1.25, 1)}", 3.8),
        ("${min(k, 2)}", 2),
        ("${max(k, width, 10)}", 64),
        ("${max(int(width * ratio), 8)}", 32),
        # MobileNetV3-Large's squeeze widths: 18 rounds up to 24 (16 would lose over 10 %), 30 to 32
        ("${make_divisible(72 // 4, 8)}", 24),
        ("${make_divisible(120 // 4, 8)}", 32),
        ("${make_divisible(960 // 4, 8)}", 240),
        ("${make_divisible(3, 8)}", 8),  # at least the divisor
        ("${make_divisible(width * 0.75, 8)}", 48),
    ],
)
def test_functions(text: str, value: float) -> None:
    assert resolve(text, SCOPE) == value


def test_expression_of_exactly_the_maximum_length_is_evaluated() -> None:
    text = "1+" * (expr.MAX_EXPR_LENGTH // 2 - 1) + "11"
    assert len(text) == expr.MAX_EXPR_LENGTH
    assert resolve("${" + text + "}", {}) == expr.MAX_EXPR_LENGTH // 2 - 1 + 11


@pytest.mark.parametrize(
    "text",
    [
        "${" + "9" * 20 + "}",  # a literal past the budget
        "${k * 1000000 * 1000000 * 1000000}",  # a product that grows past it
        "${-(k * 1000000 * 1000000 * 1000000)}",
        "${int(1e300)}",  # a float turned into a huge integer
        "${round(1e200)}",
        "${max(1, 10000000 * 10000000 * 10000000)}",
    ],
)
def test_numbers_past_the_budget_are_refused(text: str) -> None:
    assert "is too large (the limit is ±10^15)" in refused(text)


@pytest.mark.parametrize("text", ["${round(k, -100000000)}", "${round(1.5, 17)}", "${round(k, 0.5)}"])
def test_round_with_a_huge_digit_count_is_refused_before_it_runs(text: str) -> None:
    assert refused(text) == f"round(): the number of digits must be a whole number in ±{limits.MAX_ROUND_DIGITS}"


def test_a_chain_of_squares_stops_at_the_first_that_is_too_large() -> None:
    scope: dict[str, object] = {"a": 99_999}
    for name, previous in zip("bcdefg", "abcdef", strict=True):
        try:
            scope[name] = resolve(f"${{{previous} * {previous}}}", scope)
        except expr.ExprError as exc:
            assert "too large" in str(exc)
            break
    assert list(scope) == ["a", "b"]  # 99999^2 fits, its square does not


def test_rounding_to_the_most_digits_allowed_still_works() -> None:
    assert resolve(f"${{round(k, {limits.MAX_ROUND_DIGITS})}}", SCOPE) == SCOPE["k"]


# -- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["${k / 0}", "${k // 0}", "${k % 0}", "${ratio / (k - 3)}", "${1.0 // 0.0}"])
def test_division_by_zero(text: str) -> None:
    assert refused(text) == "division by zero"


def test_unknown_name_suggests_the_close_one() -> None:
    message = refused("$widht")
    assert message.startswith("unknown parameter 'widht' (known: k, pair, ratio, width)")
    assert message.endswith("did you mean 'width'?")


def test_unknown_name_inside_an_expression() -> None:
    message = refused("${2 * widht}")
    assert "unknown parameter 'widht'" in message
    assert "did you mean 'width'?" in message


def test_unknown_name_far_from_all_gives_no_guess() -> None:
    message = refused("${depth * 2}", {"k": 1})
    assert message == "unknown parameter 'depth' (known: k)"
    assert refused("$k", {}) == "unknown parameter 'k' (known: none)"


@pytest.mark.parametrize("text", ["$", "$1k", "$k+1", "$k x", "${k", "$(k)"])
def test_malformed_reference(text: str) -> None:
    assert "is neither '$name' nor '${expression}'" in refused(text)


@pytest.mark.parametrize("text", ["${}", "${ }", "${2 +}", "${k k}", "${(1}"])
def test_syntax_errors(text: str) -> None:
    assert "is not a valid expression" in refused(text)


def test_arithmetic_needs_numbers() -> None:
    assert refused("${s * 2}", {"s": "ab"}) == "arithmetic needs numbers, got 'ab'"
    assert refused("${b + 1}", {"b": True}) == "arithmetic needs numbers, got True"
    assert refused("${-pair}", SCOPE) == "arithmetic needs numbers, got [1, 7]"
    assert refused("${max(pair)}", SCOPE) == "arithmetic needs numbers, got [1, 7]"


def test_bad_arguments_to_an_allowed_function() -> None:
    assert refused("${min()}").startswith("min(): ")
    assert refused("${max(1)}").startswith("max(): ")
    assert refused("${int(1, 2, 3)}").startswith("int(): ")
    assert refused("${make_divisible(10)}").startswith("make_divisible(): ")
    assert refused("${make_divisible(10, 0)}") == (
        "make_divisible(): the divisor must be a positive whole number, got 0"
    )
    assert refused("${make_divisible(10, 2.5)}").startswith("make_divisible(): the divisor must be")


# -- what is refused, before anything is evaluated ------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "${obj.real}",
        "${obj.__class__}",
        "${obj.x.y}",
        "${(1).__class__}",
        "${max(obj.x, 1)}",
    ],
)
def test_attribute_access_is_refused(text: str) -> None:
    assert "is not allowed here" in refused(text, {"obj": Tripwire()})


@pytest.mark.parametrize(
    "text",
    [
        "${__import__('os')}",
        "${abs(-1)}",
        "${pow(2, 3)}",
        "${eval('1')}",
        "${open('/etc/passwd')}",
        "${sum([1, 2])}",
        "${int(x=1)}",
        "${obj()}",
        "${max(1, k)(2)}",
    ],
)
def test_calls_of_other_functions_are_refused(text: str) -> None:
    assert "is not allowed here" in refused(text, {"obj": Tripwire(), "k": 1})


@pytest.mark.parametrize(
    "text",
    [
        "${lambda: 1}",
        "${(lambda x: x)(1)}",
        "${[x for x in (1, 2)]}",
        "${max(x for x in (1, 2))}",
        "${{x: 1 for x in (1, 2)}}",
        "${{x for x in (1, 2)}}",
    ],
)
def test_lambdas_and_comprehensions_are_refused(text: str) -> None:
    assert "is not allowed here" in refused(text)


@pytest.mark.parametrize("text", ["${2 ** 10}", "${k ** k}", "${9 ** 9 ** 9}"])
def test_power_is_refused(text: str) -> None:
    message = refused(text)
    assert "**" in message
    assert "is not allowed here" in message


@pytest.mark.parametrize(
    "text",
    ["${'a'}", "${'a' * 1000}", "${k * 'a'}", '${"os"}', "${b'x'}", "${True}", "${None}", "${1j}", "${f'{k}'}"],
)
def test_strings_and_other_constants_are_refused(text: str) -> None:
    assert "is not allowed here" in refused(text)


@pytest.mark.parametrize(
    "text",
    ["${k < 4}", "${k if k else 1}", "${k and 1}", "${(k, 1)}", "${[k]}", "${{k: 1}}", "${pair[0]}", "${(k := 1)}"],
)
def test_other_syntax_is_refused(text: str) -> None:
    assert "is not allowed here" in refused(text)


def test_over_long_expression_is_refused_before_parsing() -> None:
    # Longer than the limit and not even valid Python: the length check must come first.
    message = f"expression is longer than {expr.MAX_EXPR_LENGTH} characters"
    assert refused("${" + "(" * (expr.MAX_EXPR_LENGTH + 1) + "}") == message
    assert refused("${" + "1" * (expr.MAX_EXPR_LENGTH + 1) + "}") == message


@pytest.mark.parametrize("text", ["${int(1e999)}", "${round(1e999)}", "${int(1e999 - 1e999)}", "${1e308 * 10}"])
def test_overflow_and_non_finite_results_are_errors(text: str) -> None:
    assert refused(text)


def test_huge_integer_division_is_an_error() -> None:
    assert "too large" in refused("${big * big / 1}", {"big": 10**190})
