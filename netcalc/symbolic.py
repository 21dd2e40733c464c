"""Sizes written as letters: `--input 3xHxW`.

A spatial size is ⌊(a·H + c) / d⌋ + e for a letter H and whole numbers a ≥ 1,
c, d ≥ 1, e: the form every convolution and pooling keeps, since
⌊(⌊(a·H + c)/d⌋ + e + k) / s⌋ = ⌊(a·H + c + d·(e + k)) / (d·s)⌋. The layer rules
run on these unchanged. Where a rule asks whether a size is large enough, the
answer assumed is the one that keeps the layer valid, and that assumption is
recorded as a condition on the letter (`H ≥ 32`). What the form cannot hold (a
product of sizes: a flattened map's features, MACs, memory) is a Formula,
shown but not computed with.
"""

from __future__ import annotations

import contextlib
import math
import re

from .errors import ShapeError
from .record import Record

class Conditions:
    """What the rules assumed of the letters: the least each must be (`H ≥ 32`)."""

    def __init__(self):
        self.least: dict[str, int] = {}

    def texts(self) -> list[str]:
        return [f"{var} ≥ {n}" for var, n in sorted(self.least.items()) if n > 1]


# The innermost collector; None where comparisons assume nothing (layout rules).
_ACTIVE: list[Conditions | None] = []


@contextlib.contextmanager
def conditions():
    """Collect the conditions the rules assume while the block runs."""
    found = Conditions()
    _ACTIVE.append(found)
    try:
        yield found
    finally:
        _ACTIVE.pop()


class _Unrecorded:
    """While it is entered, comparisons of sizes record nothing. A plain class, not a
    generator: layout rules enter it on every call."""

    def __enter__(self) -> None:
        _ACTIVE.append(None)

    def __exit__(self, *exc) -> None:
        _ACTIVE.pop()


unrecorded = _Unrecorded()


def not_a_condition(rule):
    """For a layout rule: its comparisons of sizes order strides, they do not ask whether
    a layer is valid, so they assume nothing of the letters."""
    import functools

    @functools.wraps(rule)
    def without_conditions(*args, **kwargs):
        with unrecorded:
            return rule(*args, **kwargs)
    return without_conditions


def _assume_at_least(var: str, n: int) -> None:
    if _ACTIVE and _ACTIVE[-1] is not None:
        _ACTIVE[-1].least[var] = max(n, _ACTIVE[-1].least.get(var, 1))


class Size(Record):
    """⌊(a·var + c) / d⌋ + e."""

    var: str
    a: int = 1
    c: int = 0
    d: int = 1
    e: int = 0

    # -- arithmetic that keeps the form --

    def __add__(self, other):
        if isinstance(other, int) and not isinstance(other, bool):
            return Size(self.var, self.a, self.c, self.d, self.e + other)
        return _as_formula(self) + other

    __radd__ = __add__

    def __sub__(self, other):
        if isinstance(other, int) and not isinstance(other, bool):
            return self + (-other)
        if other == self:
            return 0
        return _as_formula(self) - other

    def __rsub__(self, other):
        return other - _as_formula(self)

    def __floordiv__(self, other):
        if isinstance(other, int) and other > 0:
            return Size(self.var, self.a, self.c + self.d * self.e, self.d * other, 0)._norm()
        raise ShapeError(f"{self} divided by {_text(other)} has no formula netcalc writes")

    def __mul__(self, other):
        if isinstance(other, int) and not isinstance(other, bool) and other >= 0:
            if self.d == 1:          # (a·H + c + e)·m
                return Size(self.var, self.a * other, (self.c + self.e) * other)._norm()
            return Formula(f"{other}·({self})", self._letters(), product=True) \
                if other != 1 else self
        return Formula(f"{_factor(self)}·{_factor(other)}", self._letters() | _letters(other),
                       product=True)

    __rmul__ = __mul__

    def _letters(self) -> frozenset:
        return frozenset({self.var})

    def __neg__(self):
        return Formula(f"−({self})")

    def __mod__(self, other):
        raise ShapeError(f"whether {other} divides {self} depends on {self.var}: give "
                         f"{self.var} a number")

    def __rmod__(self, other):
        raise ShapeError(f"whether {self} divides {other} depends on {self.var}: give "
                         f"{self.var} a number")

    def __rfloordiv__(self, other):
        raise ShapeError(f"{other} divided by {self} has no formula netcalc writes: give "
                         f"{self.var} a number")

    def __truediv__(self, other):
        raise ShapeError(f"{self} divided by {other} needs {self.var} as a number")

    __rtruediv__ = __truediv__

    def __index__(self):
        raise ShapeError(f"this needs {self.var} as a number")

    def _norm(self) -> "Size":
        g = math.gcd(self.a, self.c, self.d)
        return Size(self.var, self.a // g, self.c // g, self.d // g, self.e) if g > 1 else self

    # -- comparisons: the valid answer, with its condition recorded --

    def least_letter(self, n: int) -> int:
        """The least value of the letter for which this size is at least n:
        ⌊(aV + c)/d⌋ + e ≥ n  ⟺  aV + c ≥ d·(n − e)."""
        return -(-(self.d * (n - self.e) - self.c) // self.a)

    def __ge__(self, other):
        return self._assumed(other, ">=")

    def __gt__(self, other):
        return self._assumed(other, ">")

    def __le__(self, other):
        return self._assumed(other, "<=")

    def __lt__(self, other):
        return self._assumed(other, "<")

    def at(self, value: int) -> int:
        """The size for this value of the letter."""
        return (self.a * value + self.c) // self.d + self.e

    def _assumed(self, other, op: str) -> bool:
        """Rules compare sizes to refuse what is too small: the answer is the one that
        keeps the layer valid, which is a size at least what it is compared with."""
        if isinstance(other, Size) and other.var == self.var:
            # two sizes in one letter (ceil_mode's last-window rule): decided when the
            # comparison comes out the same for every large letter
            compare = {">=": int.__ge__, ">": int.__gt__, "<=": int.__le__, "<": int.__lt__}[op]
            span = 2 * self.d * other.d
            answers = {compare(self.at(v), other.at(v)) for v in range(4096, 4096 + span)}
            if len(answers) == 1:
                return answers.pop()
        valid = op in (">=", ">")          # a size is taken to be large enough
        if isinstance(other, int) and not isinstance(other, bool):
            # self ≥ other for ">=" and "not <"; self ≥ other + 1 for ">" and "not <="
            _assume_at_least(self.var, self.least_letter(other + (op in (">", "<="))))
        return valid

    def __eq__(self, other):
        return isinstance(other, Size) and (self.var, self.a, self.c, self.d, self.e) == \
            (other.var, other.a, other.c, other.d, other.e)

    def __hash__(self):
        return hash((self.var, self.a, self.c, self.d, self.e))

    def __str__(self) -> str:
        inner = _linear(self.a, self.var, self.c)
        if self.d == 1:
            return _linear(self.a, self.var, self.c + self.e)
        text = f"⌊({inner})/{self.d}⌋" if self.c or self.a != 1 else f"⌊{inner}/{self.d}⌋"
        return f"{text} + {self.e}" if self.e > 0 else f"{text} − {-self.e}" if self.e else text

    __repr__ = __str__

    def __format__(self, spec: str) -> str:
        return str(self)


# Longer than this, a sum is shown as what it depends on (a network's total MACs)
_LONGEST = 90


class Formula:
    """A value that depends on the letters but has no closed form here: shown, summed,
    multiplied, never compared. A sum of terms (each a product, as text) and a whole
    number; too long, it is only what it depends on."""

    def __init__(self, text: str, letters: frozenset = frozenset(), product: bool = False,
                 terms: tuple = None, const: int = 0, collapsed: bool = False):
        self.letters = letters or frozenset(re.findall(r"\b[A-Za-z]\b", text))
        self.terms = terms if terms is not None else ((1, text, product),)
        self.const = const
        self.collapsed = collapsed or len(self._render()) > _LONGEST

    @property
    def product(self) -> bool:
        return len(self.terms) == 1 and self.terms[0][2] and not self.const \
            and self.terms[0][0] == 1

    def _render(self) -> str:
        parts = []
        for sign, text, _ in self.terms:
            parts.append(("− " if sign < 0 else "+ ") + text if parts else
                         ("−" if sign < 0 else "") + text)
        if self.const:
            parts.append(f"+ {self.const:,}" if self.const > 0 else f"− {-self.const:,}")
        return " ".join(parts) or "0"

    @property
    def text(self) -> str:
        if self.collapsed:
            return f"(depends on {', '.join(sorted(self.letters))})"
        return self._render()

    def _sum(self, other, sign: int):
        if isinstance(other, int) and not isinstance(other, bool):
            return Formula("", self.letters, terms=self.terms, const=self.const + sign * other,
                           collapsed=self.collapsed)
        other = _as_formula(other)
        letters = self.letters | other.letters
        if self.collapsed or other.collapsed:
            return _depends(letters)
        terms = list(self.terms)
        for term_sign, text, product in other.terms:
            opposite = (-sign * term_sign, text, product)
            if opposite in terms:           # x − x
                terms.remove(opposite)
            else:
                terms.append((sign * term_sign, text, product))
        const = self.const + sign * other.const
        if not terms:
            return const
        return Formula("", letters, terms=tuple(terms), const=const)

    def __add__(self, other):
        return self._sum(other, 1)

    def __radd__(self, other):
        return self._sum(other, 1)

    def __sub__(self, other):
        return self._sum(other, -1)

    def __rsub__(self, other):
        return (-1 * self)._sum(other, 1) if not self.collapsed else self

    def __mul__(self, other):
        if other == 1:
            return self
        if other == 0:
            return 0
        letters = self.letters | _letters(other)
        if self.collapsed or isinstance(other, Formula) and other.collapsed:
            return _depends(letters)
        if isinstance(other, int) and other == -1:
            return Formula("", letters, terms=tuple((-sg, t, p) for sg, t, p in self.terms),
                           const=-self.const)
        return Formula(f"{_factor(self)}·{_factor(other)}", letters, product=True)

    def __rmul__(self, other):
        if other in (0, 1, -1) or not isinstance(other, int):
            return self.__mul__(other)
        if self.collapsed:
            return self
        return Formula(f"{_factor(other)}·{_factor(self)}", self.letters, product=True)

    def __neg__(self):
        return self * -1

    def __floordiv__(self, other):
        return Formula(f"⌊({self.text})/{_text(other)}⌋", self.letters)

    def __mod__(self, other):
        raise ShapeError(f"whether {other} divides {self.text} depends on the input size")

    def __rmod__(self, other):
        raise ShapeError(f"whether {self.text} divides {other} depends on the input size")

    def __truediv__(self, other):
        raise ShapeError(f"{self.text} divided by {other} needs the input size as a number")

    __rtruediv__ = __rfloordiv__ = __truediv__

    def _compare(self, other) -> bool:
        return False

    __gt__ = __ge__ = _compare

    def __lt__(self, other):
        return True

    __le__ = __lt__

    def __eq__(self, other):
        return isinstance(other, Formula) and other.text == self.text

    def __hash__(self):
        return hash(self.text)

    def __index__(self):
        raise ShapeError(f"this needs a number where the size is {self.text}")

    def __str__(self):
        return self.text

    __repr__ = __str__

    def __format__(self, spec: str) -> str:
        return self.text


def _linear(a: int, var: str, c: int) -> str:
    head = var if a == 1 else f"{a}·{var}"
    return f"{head} + {c}" if c > 0 else f"{head} − {-c}" if c else head


def _text(value) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def _factor(value) -> str:
    """A factor in a product: bracketed when it is a sum (⌊(H − 1)/2⌋ + 1 is one)."""
    text = _text(value)
    if isinstance(value, Formula) and value.product or isinstance(value, int):
        return text
    top_level = re.sub(r"⌊[^⌋]*⌋|\([^)]*\)", "", text)
    return f"({text})" if " + " in top_level or " − " in top_level else text


def _depends(letters: frozenset) -> Formula:
    return Formula("", letters, terms=(), collapsed=True)


def _as_formula(value) -> Formula:
    if isinstance(value, Formula):
        return value
    if isinstance(value, Size):
        return Formula(str(value), frozenset({value.var}), product=value.d == 1 and not value.c
                       and not value.e and value.a == 1)
    return Formula("", terms=(), const=value)


def is_symbolic(value) -> bool:
    return isinstance(value, (Size, Formula))


def _letters(value) -> frozenset:
    if isinstance(value, Size):
        return frozenset({value.var})
    return value.letters if isinstance(value, Formula) else frozenset()
