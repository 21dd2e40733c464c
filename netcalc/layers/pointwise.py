"""Arithmetic of one tensor: with a Python number (`x * 0.5`, `x ** 2`, `1 - x`) or a
function of each element (`-x`, `torch.rsqrt(x)`), as real models' forwards write them
(attention's scaling, RMSNorm, rotary embeddings).

Each keeps its input's shape, has no parameters and no MACs: FlopCounterMode counts
elementwise arithmetic as 0, as it counts activations.
"""

from __future__ import annotations

from typing import ClassVar

from .activation import Elementwise
from .base import Saved, Shape, layer_type
from .registry import register
from .tensor import TensorOp


# op -> how Python writes x op c (rsub is c - x, rdiv c / x)
_SCALAR_OPS = {"add": "{x} + {c}", "sub": "{x} - {c}", "mul": "{x} * {c}",
               "div": "{x} / {c}", "pow": "{x} ** {c}", "rsub": "{c} - {x}",
               "rdiv": "{c} / {x}"}


@register("scalar")
@layer_type
class Scalar(TensorOp, Elementwise):
    """x op c for a number c: add, sub, mul, div, pow, rsub (c − x), rdiv (c / x)."""

    op: str
    other: float

    family: ClassVar[str] = "arithmetic"
    choices: ClassVar = {"op": tuple(_SCALAR_OPS)}

    def saved_for_backward(self, xs: tuple[Shape, ...], y: Shape) -> list[Saved]:
        # d(x^c) needs x; d(c/x) needs the output; sums and scalings need nothing
        if self.op == "pow":
            return [Saved("input")]
        if self.op == "rdiv":
            return [Saved("output")]
        return []

    def notation(self) -> str:
        return _SCALAR_OPS[self.op].format(x="x", c=_number(self.other))

    def torch_forward(self, torch, *xs):
        x, c = xs[0], self.other
        return {"add": lambda: x + c, "sub": lambda: x - c, "mul": lambda: x * c,
                "div": lambda: x / c, "pow": lambda: x ** c, "rsub": lambda: c - x,
                "rdiv": lambda: c / x}[self.op]()

    @classmethod
    def torch_code(cls, xs: list[str], args: dict[str, str]) -> str:
        op = args["op"].strip("'\"")
        return "(" + _SCALAR_OPS[op].format(x=xs[0], c=args["other"]) + ")"


# function -> what its derivative keeps: the input, the output, or nothing
_FUNCTIONS = {"neg": "", "abs": "input", "sqrt": "output", "rsqrt": "output",
              "exp": "output", "log": "input", "log1p": "input", "expm1": "output",
              "sin": "input", "cos": "input", "reciprocal": "output", "square": "input",
              "erf": "input", "sign": "", "floor": "", "ceil": "", "round": "", "trunc": ""}


@register("pointwise")
@layer_type
class Pointwise(TensorOp, Elementwise):
    """function(x) of each element: neg, abs, sqrt, rsqrt, exp, log, sin, cos, ..."""

    function: str

    family: ClassVar[str] = "arithmetic"
    choices: ClassVar = {"function": tuple(_FUNCTIONS)}

    def saved_for_backward(self, xs: tuple[Shape, ...], y: Shape) -> list[Saved]:
        kept = _FUNCTIONS[self.function]
        return [Saved(kept)] if kept else []

    def notation(self) -> str:
        return self.function

    def torch_forward(self, torch, *xs):
        return getattr(torch, self.function)(xs[0])

    @classmethod
    def torch_code(cls, xs: list[str], args: dict[str, str]) -> str:
        return f"torch.{args['function'].strip(chr(39) + chr(34))}({xs[0]})"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
