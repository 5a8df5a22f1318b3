"""Parameter references and arithmetic in spec values, evaluated without `eval`.

`$k` is the value of parameter k. `${2 * k + 32}` is an expression over parameters: numbers,
names, + - * / // %, unary minus, parentheses and the functions int, round, min, max.
Anything else is rejected before evaluation. Every operand and result is bounded (numbers of at
most 10^15 in magnitude, finite floats, round() to at most 16 digits), so that no expression, and
no chain of parameters each defined by the last, can cost more than microseconds.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

from archspec.errors import ArchspecError, brief, did_you_mean
from archspec.limits import MAX_EXPR_LENGTH, MAX_INT_TEXT, MAX_ROUND_DIGITS, within_budget

_NAME = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_EXPR = re.compile(r"\$\{(.*)\}", re.DOTALL)

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}


def make_divisible(value: int | float, divisor: int | float) -> int:
    """`value` rounded to the nearest multiple of `divisor`, at least `divisor`, and one multiple
    more where rounding lost over 10 % of it: the channel rounding of MobileNet and EfficientNet."""
    if not isinstance(divisor, int) or divisor < 1:
        raise ExprError(f"make_divisible(): the divisor must be a positive whole number, got {divisor}")
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "int": int, "round": round, "min": min, "max": max, "make_divisible": make_divisible,
}  # fmt: skip


class ExprError(ArchspecError, ValueError):
    pass


def is_reference(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("$")


def resolve(value: Any, scope: Mapping[str, Any]) -> Any:
    """The value of a `$name` or `${expr}` string; any other value is returned unchanged."""
    if not is_reference(value):
        return value
    if whole := _NAME.fullmatch(value):
        return _lookup(whole.group(1), scope)
    if expr := _EXPR.fullmatch(value):
        return evaluate(expr.group(1), scope)
    raise ExprError(f"'{value}' is neither '$name' nor '${{expression}}'")


def evaluate(text: str, scope: Mapping[str, Any]) -> Any:
    if len(text) > MAX_EXPR_LENGTH:
        raise ExprError(f"expression is longer than {MAX_EXPR_LENGTH} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        raise ExprError(f"'{text.strip()}' is not a valid expression") from None
    try:
        result = _Evaluator(scope).visit(tree.body)
    except (ArithmeticError, ValueError) as exc:  # overflow, inf or nan into int(), ...
        if isinstance(exc, ExprError):
            raise
        raise ExprError(f"'{text.strip()}': {exc}") from None
    return result  # bounded and finite: `visit` checks every value it returns


def _lookup(name: str, scope: Mapping[str, Any]) -> Any:
    if name not in scope:
        hint = did_you_mean(name, list(scope))
        known = ", ".join(sorted(scope)) or "none"
        raise ExprError(f"unknown parameter '{name}' (known: {known})" + (f"; {hint}" if hint else ""))
    return scope[name]


class _Evaluator:
    def __init__(self, scope: Mapping[str, Any]):
        self.scope = scope

    def visit(self, node: ast.expr) -> Any:
        value = self._value(node)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            _bounded(value)
        return value

    def _value(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            return node.value
        if isinstance(node, ast.Name):
            return _lookup(node.id, self.scope)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            value = self._number(self.visit(node.operand))
            return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            left, right = self._number(self.visit(node.left)), self._number(self.visit(node.right))
            try:
                return _BINARY[type(node.op)](left, right)
            except ZeroDivisionError:
                raise ExprError("division by zero") from None
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in _FUNCTIONS
            and not node.keywords
        ):
            args = [self._number(self.visit(arg)) for arg in node.args]
            if (
                node.func.id == "round"
                and len(args) == 2
                and not (isinstance(args[1], int) and abs(args[1]) <= MAX_ROUND_DIGITS)
            ):
                raise ExprError(f"round(): the number of digits must be a whole number in ±{MAX_ROUND_DIGITS}")
            try:
                return _FUNCTIONS[node.func.id](*args)
            except TypeError as exc:
                raise ExprError(f"{node.func.id}(): {exc}") from None
        raise ExprError(
            f"'{ast.unparse(node)}' is not allowed here: use numbers, parameters, "
            "+ - * / // %, parentheses and int, round, min, max, make_divisible"
        )

    @staticmethod
    def _number(value: Any) -> int | float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ExprError(f"arithmetic needs numbers, got {value!r}")
        return _bounded(value)


def _bounded(value: int | float) -> int | float:
    """The value, if a spec may compute with it: an integer of at most MAX_INT in magnitude, or a
    finite float. A parameter's value is checked again when it is used, so a huge one given
    directly, or an infinity, cannot grow through a chain of parameters either."""
    if within_budget(value):
        return value
    if isinstance(value, float):
        raise ExprError("the result is not a finite number")
    raise ExprError(f"the result, {brief(value)}, is too large (the limit is ±{MAX_INT_TEXT})")
