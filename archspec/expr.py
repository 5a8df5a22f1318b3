"""Parameter references and arithmetic in spec values, evaluated without `eval`.

`$k` is the value of parameter k. `${2 * k + 32}` is an expression over parameters: numbers,
names, + - * / // %, unary minus, parentheses and the functions int, round, min, max.
Anything else is rejected before evaluation.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

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
_FUNCTIONS: dict[str, Callable[..., Any]] = {"int": int, "round": round, "min": min, "max": max}
MAX_EXPR_LENGTH = 200


class ExprError(ValueError):
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
    if isinstance(result, float) and not math.isfinite(result):
        raise ExprError(f"'{text.strip()}' is not a finite number")
    return result


def _lookup(name: str, scope: Mapping[str, Any]) -> Any:
    if name not in scope:
        from archspec.errors import did_you_mean

        hint = did_you_mean(name, list(scope))
        known = ", ".join(sorted(scope)) or "none"
        raise ExprError(f"unknown parameter '{name}' (known: {known})" + (f"; {hint}" if hint else ""))
    return scope[name]


class _Evaluator:
    def __init__(self, scope: Mapping[str, Any]):
        self.scope = scope

    def visit(self, node: ast.expr) -> Any:
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
            try:
                return _FUNCTIONS[node.func.id](*args)
            except TypeError as exc:
                raise ExprError(f"{node.func.id}(): {exc}") from None
        raise ExprError(
            f"'{ast.unparse(node)}' is not allowed here: use numbers, parameters, "
            "+ - * / // %, parentheses and int, round, min, max"
        )

    @staticmethod
    def _number(value: Any) -> int | float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ExprError(f"arithmetic needs numbers, got {value!r}")
        return value
