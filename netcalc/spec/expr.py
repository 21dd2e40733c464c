"""The `${...}` expressions of block parameters: a small, safe evaluator.

A whitelist over Python's own expression grammar (parsed with `ast`, never
`eval`): integers and other literals, names of the parameters in scope,
`+ - * / // % ( )`, `min`, `max`, comparisons, `and`/`or`/`not` and
`a if cond else b`, and `int(x)` (toward zero) and `round(x)` for width
multipliers. `/` gives an int when the division is exact.
"""

from __future__ import annotations

import ast
import functools
import math
import operator
import re
import warnings

from ..errors import Location, SpecError, did_you_mean, shorten

TYPE_CHECKING = False    # importing typing costs ~4 ms of start-up: annotations only
if TYPE_CHECKING:
    from typing import Any, Mapping

MAX_EXPRESSION_CHARS = 500
# Sizes are int64; products of a few are bigger. Past this, numbers are mistakes
# (and big enough integers take unbounded time and memory).
MAX_MAGNITUDE = 10**36
_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")

_BINARY = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
}
_COMPARE = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt,
    ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
}
_FUNCTIONS = {"min": min, "max": max, "int": int, "round": round}
# An exercise template's draws: `netcalc exercise` replaces them with values before a
# spec is read (netcalc/exercises.py); met here, the file is a template, not a spec.
DRAW_FUNCTIONS = ("choice", "randint")


def has_placeholder(value: Any) -> bool:
    return isinstance(value, str) and "${" in value


def substitute(value: Any, variables: Mapping[str, Any], loc: Location | None) -> Any:
    """Replace `${...}` in a string value.

    A value that is exactly one `${expr}` becomes the expression's value
    (an int stays an int); placeholders inside longer text are formatted
    into the string (`"conv${i + 1}"` -> `"conv3"`).
    """
    if not has_placeholder(value):
        return value
    whole = _PLACEHOLDER.fullmatch(value.strip())
    if whole:
        return evaluate(whole.group(1), variables, loc)
    result = _PLACEHOLDER.sub(lambda m: str(evaluate(m.group(1), variables, loc)), value)
    if "${" in result:
        raise SpecError(f"unterminated '${{' in {value!r}", loc)
    return result


def substitute_deep(value: Any, variables: Mapping[str, Any], loc: Location | None) -> Any:
    """`substitute` in a value and in a list's items (each at its own location, where
    the list is a located one)."""
    if isinstance(value, list):
        where = getattr(value, "where", None)
        return [substitute_deep(item, variables, where(i) if where else loc)
                for i, item in enumerate(value)]
    return substitute(value, variables, loc)


def varies(value: Any) -> bool:
    """Does a value (a list's items too) hold a `${...}`, so that its value may differ
    at other values of the names it reads?"""
    if isinstance(value, list):
        return any(varies(item) for item in value)
    return has_placeholder(value)


def bind_params(defaults: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """Parameter values: those given, else the defaults, which may use earlier
    parameters (`params: {width: 64, out: "${4 * width}"}`)."""
    where = getattr(defaults, "where", None)      # a located mapping's
    values: dict[str, Any] = {}
    for name, default in defaults.items():
        if name in given:
            values[name] = given[name]
        else:
            values[name] = substitute_deep(default, values, where(name) if where else None)
    return values


def evaluate(source: str, variables: Mapping[str, Any], loc: Location | None) -> Any:
    text = source.strip()
    if not text:
        raise SpecError("empty expression '${}'", loc)
    if len(text) > MAX_EXPRESSION_CHARS:
        raise SpecError(f"expression longer than {MAX_EXPRESSION_CHARS} characters", loc)
    # `${out}`, most of a spec's expressions: a name's int value, as visit_Name and
    # `bounded` give it (no keyword such as True names a param; Python reads a name of
    # other letters than ASCII's in its NFKC form, which the lookup would not)
    value = variables.get(text, _UNBOUND) if text.isascii() else _UNBOUND
    if type(value) is int and -MAX_MAGNITUDE <= value <= MAX_MAGNITUDE:
        return value
    tree = _parse(text)
    if isinstance(tree, str):
        raise SpecError(f"bad expression '${{{text}}}': {tree}", loc)
    # an expression's value depends on the values of the names it reads alone: a block
    # used many times (a ResNet's stages, a search's variants) evaluates each once. Not
    # kept: what reads a repeat's index `i`, new at every copy (keeping it costs more)
    names = _names(text)
    key, known = None, _UNBOUND
    if "i" not in names:
        try:
            # with each value's type (1, 1.0 and True are equal keys but not equal
            # values), and a float as written (-0.0 is 0.0, but is said otherwise)
            key = (text, *((type(value), repr(value) if type(value) is float else value)
                           for value in (variables.get(name, _UNBOUND) for name in names)))
            known = _VALUES.get(key, _UNBOUND)
        except TypeError:               # a value no key can hold (a list)
            key = None
    if known is not _UNBOUND:
        return known
    try:
        value = _Evaluator(text, variables, loc).visit(tree)
    except RecursionError:
        raise SpecError(f"expression '${{{text}}}' is nested too deeply", loc) from None
    if key is not None and isinstance(value, (int, float, str, bool)):
        if len(_VALUES) >= _MOST_VALUES:
            _VALUES.clear()
        _VALUES[key] = value
    return value


_UNBOUND = object()
_VALUES: dict[tuple, Any] = {}
_MOST_VALUES = 20_000


@functools.lru_cache(maxsize=4096)
def _names(text: str) -> tuple[str, ...]:
    """The names an expression reads, in a fixed order."""
    return tuple(sorted({node.id for node in ast.walk(_parse(text))
                         if isinstance(node, ast.Name)}))


def cost(value: Any) -> int:
    """Roughly the work of substituting `value`: the nodes of its expressions."""
    if isinstance(value, list):
        return sum(cost(item) for item in value)
    if not has_placeholder(value):
        return 0
    return sum(_size(m.group(1).strip()) for m in _PLACEHOLDER.finditer(value))


@functools.lru_cache(maxsize=4096)
def _size(text: str) -> int:
    tree = _parse(text)
    return 1 if isinstance(tree, str) else sum(1 for _ in ast.walk(tree))


@functools.lru_cache(maxsize=4096)
def _parse(text: str):
    """The expression's tree, or the syntax error's message (repeats parse once)."""
    try:
        with warnings.catch_warnings():
            # `1if x else 2` parses, with a SyntaxWarning Python would print unlocated
            warnings.simplefilter("ignore", SyntaxWarning)
            return ast.parse(text, mode="eval").body
    except SyntaxError as e:
        return e.msg


class _Evaluator:
    def __init__(self, text: str, variables: Mapping[str, Any], loc: Location | None):
        self.text, self.variables, self.loc = text, variables, loc

    def fail(self, message: str):
        raise SpecError(f"in '${{{self.text}}}': {message}", self.loc)

    def visit(self, node: ast.AST) -> Any:
        method = getattr(self, "visit_" + type(node).__name__, None)
        if method is None:
            self.fail(f"{_describe(node)} is not allowed (use numbers, parameter names, "
                      "+ - * / // %, min, max, int, round, comparisons and 'a if c else b')")
        try:
            value = method(node)
        except (OverflowError, ValueError):
            self.fail("a number is too large")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            self.bounded(value)
        return value

    def bounded(self, value):
        if isinstance(value, float) and not math.isfinite(value):
            self.fail(f"{value} is not a finite number")
        if abs(value) > MAX_MAGNITUDE:
            self.fail(f"a number is too large (more than 10^36): {shorten(value)}")
        return value

    def visit_Constant(self, node: ast.Constant):
        if not isinstance(node.value, (int, float, str, bool)) and node.value is not None:
            self.fail(f"literal {node.value!r} is not allowed")
        return node.value

    def visit_Name(self, node: ast.Name):
        if node.id in self.variables:
            return self.variables[node.id]
        if node.id in ("true", "false"):      # YAML's spelling of True and False
            return node.id == "true"
        known = sorted(self.variables)
        hint = did_you_mean(node.id, known)
        listing = ", ".join(known) if known else "none"
        self.fail(f"'{node.id}' is not a parameter here (parameters: {listing}){hint}")

    def visit_BinOp(self, node: ast.BinOp):
        left, right = self.number(node.left), self.number(node.right)
        if isinstance(node.op, ast.Div):
            if right == 0:
                self.fail("division by zero")
            exact = isinstance(left, int) and isinstance(right, int) and left % right == 0
            return left // right if exact else left / right
        op = _BINARY.get(type(node.op))
        if op is None:
            self.fail(f"operator {_describe(node.op)} is not allowed")
        if op in (operator.floordiv, operator.mod) and right == 0:
            self.fail("division by zero")
        return op(left, right)

    def visit_UnaryOp(self, node: ast.UnaryOp):
        if isinstance(node.op, ast.Not):
            return not self.visit(node.operand)
        value = self.number(node.operand)
        if isinstance(node.op, ast.USub):
            return -value
        if isinstance(node.op, ast.UAdd):
            return value
        self.fail(f"operator {_describe(node.op)} is not allowed")

    def visit_Compare(self, node: ast.Compare):
        left = self.visit(node.left)
        for op_node, right_node in zip(node.ops, node.comparators):
            op = _COMPARE.get(type(op_node))
            if op is None:
                self.fail(f"comparison {_describe(op_node)} is not allowed")
            right = self.visit(right_node)
            try:
                if not op(left, right):
                    return False
            except TypeError:
                self.fail(f"cannot compare {left!r} with {right!r}")
            left = right
        return True

    def visit_BoolOp(self, node: ast.BoolOp):
        is_and = isinstance(node.op, ast.And)
        value = None
        for operand in node.values:
            value = self.visit(operand)
            if bool(value) != is_and:
                return value
        return value

    def visit_IfExp(self, node: ast.IfExp):
        return self.visit(node.body) if self.visit(node.test) else self.visit(node.orelse)

    def visit_Call(self, node: ast.Call):
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name in DRAW_FUNCTIONS:
            self.fail(f"{name}(...) is drawn when an exercise is made: this is an exercise "
                      "template; fill it with `netcalc exercise TEMPLATE --seed N -o DIR`")
        if name not in _FUNCTIONS or node.keywords or not node.args:
            self.fail("only min, max, int and round may be called")
        args = [self.number(arg) for arg in node.args]
        if name in ("int", "round"):
            if len(args) != 1:
                self.fail(f"{name}(...) takes one number")
            return _FUNCTIONS[name](args[0])
        return _FUNCTIONS[name](args)

    def number(self, node: ast.AST):
        value = self.visit(node)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(f"{shorten(value)} is not a number")
        return self.bounded(value)


def _describe(node: ast.AST) -> str:
    names = {
        "Pow": "'**'", "Attribute": "attribute access", "Subscript": "indexing",
        "Lambda": "lambda", "ListComp": "a comprehension", "List": "a list", "Tuple": "a tuple",
        "Dict": "a mapping", "Starred": "'*'", "BitAnd": "'&'", "BitOr": "'|'",
        "BitXor": "'^'", "LShift": "'<<'", "RShift": "'>>'", "Invert": "'~'",
        "MatMult": "'@'", "In": "'in'", "NotIn": "'not in'", "Is": "'is'", "IsNot": "'is not'",
        "JoinedStr": "an f-string", "NamedExpr": "':='",
    }
    kind = type(node).__name__
    return names.get(kind, kind)
