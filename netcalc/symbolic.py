"""Sizes written as letters: `--input 3xHxW`.

A spatial size is ⌊(a·H + c) / d⌋ + e for a letter H and whole numbers a ≥ 1,
c, d ≥ 1, e: the form every convolution and pooling keeps, since
⌊(⌊(a·H + c)/d⌋ + e + k) / s⌋ = ⌊(a·H + c + d·(e + k)) / (d·s)⌋. The layer rules
run on these unchanged. Where a rule asks whether a size is large enough, the
answer assumed is the one that keeps the layer valid, and that assumption is
recorded as a condition on the letter (`H ≥ 32`). What the form cannot hold (a
product of sizes: a flattened map's features, MACs, memory) is a Formula, an
exact polynomial with integer coefficients in the letters and the floors:
128·L² + 80,384·L, 36,864·(⌊(H − 1)/4⌋ + 1)·(⌊(W − 1)/4⌋ + 1). Summed and
multiplied exactly, evaluated with `at`, never compared.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

from .errors import ShapeError

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
        if not _ACTIVE:               # no one records (sizes are numbers): nothing to stop
            return rule(*args, **kwargs)
        with unrecorded:
            return rule(*args, **kwargs)
    return without_conditions


def _assume_at_least(var: str, n: int) -> None:
    if _ACTIVE and _ACTIVE[-1] is not None:
        _ACTIVE[-1].least[var] = max(n, _ACTIVE[-1].least.get(var, 1))


@dataclass(frozen=True)
class Size:
    """⌊(a·var + c) / d⌋ + e."""

    var: str
    a: int = 1
    c: int = 0
    d: int = 1
    e: int = 0

    # -- arithmetic that keeps the form; the rest is a Formula --

    def __add__(self, other):
        if isinstance(other, int):
            return Size(self.var, self.a, self.c, self.d, self.e + other)
        if isinstance(other, (Size, Formula)):
            return _result(_sum(_terms(self), _terms(other)))
        return NotImplemented

    __radd__ = __add__

    def __sub__(self, other):
        if isinstance(other, int):
            return self + (-other)
        if isinstance(other, (Size, Formula)):
            return _result(_sum(_terms(self), _terms(other), -1))
        return NotImplemented

    def __rsub__(self, other):
        if isinstance(other, int):
            return _result(_sum(_terms(other), _terms(self), -1))
        return NotImplemented

    def __mul__(self, other):
        if isinstance(other, int):
            if other == 1:
                return self
            if self.d == 1 and other > 0:          # (a·H + c + e)·m
                return Size(self.var, self.a * other, (self.c + self.e) * other)
            return _result(_scaled(_terms(self), other))
        if isinstance(other, (Size, Formula)):
            return _result(_product(_terms(self), _terms(other)))
        return NotImplemented

    __rmul__ = __mul__

    def __pow__(self, power: int):
        return _power(self, power)

    def __neg__(self):
        return _result(_scaled(_terms(self), -1))

    def __floordiv__(self, other):
        if isinstance(other, int) and other > 0:
            return Size(self.var, self.a, self.c + self.d * self.e, self.d * other, 0)._norm()
        quotient = _exact_quotient(_terms(self), other)
        if quotient is not None:                    # 64·L // L
            return _result(quotient)
        raise ShapeError(f"{self} divided by {_text(other)} has no formula netcalc writes")

    def __mod__(self, other):
        remainder = _remainder(_terms(self), other)
        if remainder is not None:                   # (4·H + 2) % 4 is 2 for every H
            return remainder
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

    @property
    def letters(self) -> frozenset:
        return frozenset({self.var})

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

    def at(self, value) -> int:
        """The size for this value of the letter (a number, or a mapping of letters)."""
        if not isinstance(value, int):
            value = value[self.var]
        return (self.a * value + self.c) // self.d + self.e

    def by_degree(self, letter: str) -> dict:
        """As Formula.by_degree: L + 3 is {1: L, 0: 3} in L, {0: L + 3} in H."""
        return Formula(_terms(self)).by_degree(letter)

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

    def key(self) -> tuple:
        """What the size is, however written: ⌊(H − 1)/4⌋ + 1 and ⌊(H + 3)/4⌋ are one
        (⌊(a·H + c)/d⌋ + e = ⌊(a·H + c + d·e)/d⌋), and so are (H + 5)·7 and 7·H + 35."""
        a, c, d = self.a, self.c + self.d * self.e, self.d
        if a % d == 0:
            return (self.var, a // d, c // d, 1)
        g = math.gcd(a, c, d)
        return (self.var, a // g, c // g, d // g)

    def __eq__(self, other):
        return isinstance(other, Size) and self.key() == other.key()

    def __hash__(self):
        return hash(self.key())

    def __str__(self) -> str:
        inner = _linear(self.a, self.var, self.c)
        if self.d == 1:
            return _linear(self.a, self.var, self.c + self.e)
        text = f"⌊({inner})/{self.d:,}⌋" if self.c or self.a != 1 else f"⌊{inner}/{self.d:,}⌋"
        return f"{text} + {self.e:,}" if self.e > 0 else f"{text} − {-self.e:,}" if self.e \
            else text

    __repr__ = __str__

    def __format__(self, spec: str) -> str:
        return str(self)


# -- Formula: a polynomial with integer coefficients over atoms ------------------------
#
# An atom is a letter ("H"), a Size with a floor (⌊(H − 1)/2⌋ + 1, kept whole: the
# shapes show it so), or a _Floor, what // leaves of a polynomial it does not divide.
# A monomial is a tuple of (atom, power) pairs in _atom_key order, () for the constant;
# a polynomial is a dict monomial -> non-zero int coefficient.

# More terms than this, a formula is shown as what it depends on: a whole ResNet's MACs
# (one term per stage, and the classifier's number) still show
_MOST_TERMS = 8


class _Floor:
    """⌊P/q⌋ for a polynomial P and a whole number or polynomial q that does not divide
    it: opaque, an atom of the formulas it appears in."""

    __slots__ = ("numerator", "denominator", "text", "letters", "_hash")

    def __init__(self, numerator: "Formula", denominator):
        self.numerator, self.denominator = numerator, denominator
        self.text = f"⌊({numerator.full_text})/{_denominator_text(denominator)}⌋"
        self.letters = numerator.letters | _letters(denominator)
        self._hash = hash((numerator, denominator))

    def at(self, values) -> int:
        return value_at(self.numerator, values) // value_at(self.denominator, values)

    def __eq__(self, other):
        return isinstance(other, _Floor) and (self.numerator, self.denominator) == \
            (other.numerator, other.denominator)

    def __hash__(self):
        return self._hash

    def __str__(self):
        return self.text

    __repr__ = __str__


def _atom_key(atom) -> tuple:
    """Letters first, then floors in the letter by divisor (a network's stages in order)."""
    if isinstance(atom, str):
        return (atom, 0, ())
    if isinstance(atom, Size):
        return (atom.var, 1, atom.key()[::-1])
    return (min(atom.letters), 2, (atom.text,))


def _atom_degree(atom, letter: str) -> int:
    """How an atom grows with the letter: a floor in it counts as degree 1, as it grows
    like the letter does."""
    if isinstance(atom, str):
        return atom == letter
    if isinstance(atom, Size):
        return atom.var == letter
    return max(0, Formula.degree(atom.numerator, letter)
               - (Formula.degree(_as_formula(atom.denominator), letter)
                  if not isinstance(atom.denominator, int) else 0))


def _terms(value) -> dict:
    """The polynomial of an int, a Size or a Formula."""
    if isinstance(value, Formula):
        return value._terms
    if isinstance(value, Size):
        if value.d == 1 or value.a % value.d == 0:      # linear: a·H + c expands
            a, rest = value.a // value.d, value.c // value.d + value.e
            return {((value.var, 1),): a, **({(): rest} if rest else {})}
        return {((value, 1),): 1}
    if isinstance(value, int):
        return {(): int(value)} if value else {}
    raise TypeError(f"not a size, formula or whole number: {value!r}")


def _add_term(total: dict, monomial: tuple, coefficient: int) -> None:
    """total += coefficient·monomial, a term that cancels to 0 dropped."""
    value = total.get(monomial, 0) + coefficient
    if value:
        total[monomial] = value
    else:
        total.pop(monomial, None)


def _sum(p: dict, q: dict, sign: int = 1) -> dict:
    total = dict(p)
    for monomial, coefficient in q.items():
        _add_term(total, monomial, sign * coefficient)
    return total


def _scaled(p: dict, factor: int) -> dict:
    return {m: c * factor for m, c in p.items()} if factor else {}


def _times(m: tuple, n: tuple) -> tuple:
    if not m or not n:
        return m or n
    powers = dict(m)
    for atom, power in n:
        powers[atom] = powers.get(atom, 0) + power
    return tuple(sorted(powers.items(), key=lambda item: _atom_key(item[0])))


def _product(p: dict, q: dict) -> dict:
    total: dict = {}
    for m, c in p.items():
        for n, k in q.items():
            _add_term(total, _times(m, n), c * k)
    return total


def _power(value, power: int):
    if not isinstance(power, int) or power < 0:
        return NotImplemented
    result = 1
    for _ in range(power):
        result = result * value
    return result


def _over(m: tuple, n: tuple) -> tuple | None:
    """The monomial m/n, or None where n does not divide m."""
    powers = dict(m)
    for atom, power in n:
        if powers.get(atom, 0) < power:
            return None
        powers[atom] -= power
    return tuple((atom, p) for atom, p in m if powers[atom])


def _exact_quotient(p: dict, divisor) -> dict | None:
    """p / divisor as a polynomial where it is one (every term divides: 64·L·W / (4·L)),
    else None. A divisor of several terms divides only its own multiples."""
    if not isinstance(divisor, (int, Size, Formula)):
        return None
    q = _terms(divisor)
    if len(q) == 1:
        ((n, k),) = q.items()
        quotient = {}
        for m, c in p.items():
            rest = _over(m, n)
            if rest is None or c % k:
                return None
            quotient[rest] = c // k
        return quotient
    if q and p.keys() == q.keys():                       # (2·L + 2) / (L + 1)
        m = next(iter(q))
        ratio, left = divmod(p[m], q[m])
        if not left and all(p[n] == ratio * q[n] for n in q):
            return {(): ratio}
    return None


def _remainder(p: dict, divisor) -> int | None:
    """p mod divisor where it is one number for every value of the letters, else None."""
    if isinstance(divisor, int):
        if divisor > 0 and all(c % divisor == 0 for m, c in p.items() if m):
            return p.get((), 0) % divisor
        return None
    return 0 if _exact_quotient(p, divisor) is not None else None


def _result(p: dict):
    """The simplest value a polynomial is: 0 or a number; a Size where it is one
    (2·L + 1, or a floor plus a number); else a Formula."""
    if not p:
        return 0
    if len(p) == 1 and () in p:
        return p[()]
    varying = [m for m in p if m]
    if len(varying) == 1 and len(varying[0]) == 1 and varying[0][0][1] == 1:
        (atom, _), = varying[0]
        k, rest = p[varying[0]], p.get((), 0)
        if isinstance(atom, str) and k >= 1:
            return Size(atom, k, rest)
        if isinstance(atom, Size) and k == 1:
            return Size(atom.var, atom.a, atom.c, atom.d, atom.e + rest)
    return Formula(p)


def _floor_of(p: dict, n: int):
    """⌊p/n⌋ for n ≥ 1: exact where n divides the varying terms; what it does not divide
    stays inside one floor (a Size where that is one)."""
    exact, rest = {}, {}
    for m, c in p.items():
        if m and c % n == 0:
            exact[m] = c // n
        elif m:
            rest[m] = c
    whole, left = divmod(p.get((), 0), n)
    if whole:
        exact[()] = whole
    if not rest:
        return _result(exact)
    if left:
        rest[()] = left
    g = math.gcd(n, *rest.values())
    inner = _result({m: c // g for m, c in rest.items()})
    if isinstance(inner, Size):
        floor = inner // (n // g)
    else:
        floor = Formula({((_Floor(inner, n // g), 1),): 1})
    return _result(_sum(exact, _terms(floor)))


def _is_int(value) -> bool:
    return isinstance(value, int)          # True is 1: add_bias_kv + add_zero_attn


class Formula:
    """What depends on the letters beyond the Size form: a polynomial with integer
    coefficients over atoms (letters, floors), exact. 128·L² + 80,384·L. Summed,
    multiplied, divided where that is exact; never compared: `<` answers True and `>`
    False whatever the letters, and nothing is recorded. Shown with its like terms
    collected, highest degree first; with more than _MOST_TERMS terms, only what it
    depends on (`full_text` has them all)."""

    __slots__ = ("_terms", "_hash")

    def __init__(self, terms: dict):
        self._terms = terms
        self._hash = None

    # -- what it is --

    @property
    def letters(self) -> frozenset:
        found: set = set()
        for m in self._terms:
            for atom, _ in m:
                found.update(atom if isinstance(atom, str) else atom.letters)
        return frozenset(found)

    def degree(self, letter: str) -> int:
        """The highest power of the letter (a floor in it counts as the letter)."""
        return max((sum(_atom_degree(atom, letter) * p for atom, p in m)
                    for m in self._terms), default=0)

    def by_degree(self, letter: str) -> dict:
        """The terms of each degree in the letter, highest first: for 128·L² + 80,384·L,
        {2: 128·L², 1: 80,384·L}. Each is an int, Size or Formula, as arithmetic gives
        them; degree 0 holds the constant and terms in other letters. A floor in the
        letter (⌊(L − 1)/2⌋ + 1) counts as degree 1: it grows as the letter does."""
        parts: dict[int, dict] = {}
        for m, c in self._terms.items():
            parts.setdefault(sum(_atom_degree(atom, letter) * p for atom, p in m), {})[m] = c
        return {k: _result(parts[k]) for k in sorted(parts, reverse=True)}

    def at(self, values) -> int:
        """Its value where the letters have these values: f.at({"L": 128})."""
        total = 0
        for m, c in self._terms.items():
            for atom, power in m:
                c *= (values[atom] if isinstance(atom, str) else atom.at(values)) ** power
            total += c
        return total

    # -- arithmetic --

    def __add__(self, other):
        if _is_int(other) or isinstance(other, (Size, Formula)):
            return _result(_sum(self._terms, _terms(other)))
        return NotImplemented

    __radd__ = __add__

    def __sub__(self, other):
        if _is_int(other) or isinstance(other, (Size, Formula)):
            return _result(_sum(self._terms, _terms(other), -1))
        return NotImplemented

    def __rsub__(self, other):
        if _is_int(other):
            return _result(_sum(_terms(other), self._terms, -1))
        return NotImplemented

    def __mul__(self, other):
        if _is_int(other):
            return _result(_scaled(self._terms, other))
        if isinstance(other, (Size, Formula)):
            return _result(_product(self._terms, _terms(other)))
        return NotImplemented

    __rmul__ = __mul__

    def __pow__(self, power: int):
        return _power(self, power)

    def __neg__(self):
        return _result(_scaled(self._terms, -1))

    def __floordiv__(self, other):
        if _is_int(other):
            if other == 0:
                raise ZeroDivisionError("integer division or modulo by zero")
            if other < 0:
                return _floor_of(_scaled(self._terms, -1), -other)
            return _floor_of(self._terms, other)
        quotient = _exact_quotient(self._terms, other)
        if quotient is not None:
            return _result(quotient)
        if isinstance(other, (Size, Formula)):      # kept whole, as a floor
            return Formula({((_Floor(self, other), 1),): 1})
        return NotImplemented

    def __truediv__(self, other):
        quotient = _exact_quotient(self._terms, other)
        if quotient is not None:
            return _result(quotient)
        raise ShapeError(f"{self.text} divided by {other} needs the input size as a "
                         "number")

    def __rtruediv__(self, other):
        raise ShapeError(f"{other} divided by {self.text} needs the input size as a "
                         "number")

    __rfloordiv__ = __rtruediv__

    def __mod__(self, other):
        remainder = _remainder(self._terms, other)
        if remainder is not None:
            return remainder
        raise ShapeError(f"whether {other} divides {self.text} depends on the input "
                         "size")

    def __rmod__(self, other):
        raise ShapeError(f"whether {self.text} divides {other} depends on the input "
                         "size")

    # -- comparisons: refused, with fixed answers --

    def _compare(self, other) -> bool:
        return False

    __gt__ = __ge__ = _compare

    def __lt__(self, other):
        return True

    __le__ = __lt__

    def __eq__(self, other):
        return isinstance(other, Formula) and other._terms == self._terms

    def __hash__(self):
        if self._hash is None:
            self._hash = hash(frozenset(self._terms.items()))
        return self._hash

    def __index__(self):
        raise ShapeError(f"this needs a number where the size is {self.text}")

    # -- text --

    @property
    def collapsed(self) -> bool:
        return len(self._terms) > _MOST_TERMS

    @property
    def full_text(self) -> str:
        """Every term, however many: 128·L² + 80,384·L."""
        def order(m):
            atoms = [_atom_key(atom) for atom, power in m for _ in range(power)]
            return (not m, -len(atoms), atoms)

        parts = []
        for m in sorted(self._terms, key=order):
            c = self._terms[m]
            body = "·".join(_power_text(atom, power) for atom, power in m)
            term = f"{abs(c):,}" if not body else body if abs(c) == 1 else f"{abs(c):,}·{body}"
            parts.append((" − " if c < 0 else " + ") + term if parts else
                         ("−" if c < 0 else "") + term)
        return "".join(parts)

    @property
    def text(self) -> str:
        if self.collapsed:
            return f"(depends on {', '.join(sorted(self.letters))})"
        return self.full_text

    def __str__(self):
        return self.text

    __repr__ = __str__

    def __format__(self, spec: str) -> str:
        return self.text


_SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def _power_text(atom, power: int) -> str:
    """An atom as a factor, bracketed when it is a sum: (⌊(H − 1)/2⌋ + 1)²."""
    text = f"({atom})" if isinstance(atom, Size) and atom.e else str(atom)
    return text + str(power).translate(_SUPERSCRIPTS) if power > 1 else text


def _denominator_text(value) -> str:
    """What ⌊P/q⌋ divides by: bracketed unless it is a number, a letter or a floor."""
    if _is_int(value):
        return f"{value:,}"
    if isinstance(value, Size) and not value.e and (value.d > 1 or value.a == 1 and
                                                     not value.c):
        return str(value)
    return f"({value.full_text if isinstance(value, Formula) else value})"


def _linear(a: int, var: str, c: int) -> str:
    head = var if a == 1 else f"{a:,}·{var}"
    return f"{head} + {c:,}" if c > 0 else f"{head} − {-c:,}" if c else head


def _text(value) -> str:
    return f"{value:,}" if _is_int(value) else str(value)


def _as_formula(value) -> Formula:
    return value if isinstance(value, Formula) else Formula(_terms(value))


def value_at(value, values) -> int:
    """A number, Size or Formula where the letters have these values: {"H": 224}."""
    return value if _is_int(value) else value.at(values)


def by_degree(value, letter: str) -> dict:
    """A number, Size or Formula's terms by their degree in the letter (see
    Formula.by_degree): {0: n} for a number."""
    return _as_formula(value).by_degree(letter) if value else {}


def is_symbolic(value) -> bool:
    return isinstance(value, (Size, Formula))


def _letters(value) -> frozenset:
    return value.letters if isinstance(value, (Size, Formula)) else frozenset()
