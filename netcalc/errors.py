"""Errors that reach the user: each knows where in the spec it happened.

`cli.main` is the only place that catches them; it prints `str(error)` and
exits with `error.exit_code`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    """A 1-based position in a spec file."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Note:
    """A secondary location that explains an error (gcc's `note:` lines)."""

    loc: Location | None
    message: str


class NetcalcError(Exception):
    """An error the user can fix; printed without a traceback."""

    exit_code = 1

    def __init__(self, message: str, loc: Location | None = None, notes: tuple[Note, ...] = ()):
        super().__init__(message)
        self.message = message
        self.loc = loc
        self.notes = notes

    def __str__(self) -> str:
        lines = [_line(self.loc, "error", self.message)]
        lines += [_line(note.loc, "note", note.message) for note in self.notes]
        return "\n".join(lines)

    # where, for code that catches it (netcalc.summary in a notebook); None if unknown
    @property
    def path(self) -> str | None:
        return self.loc.file if self.loc else None

    @property
    def line(self) -> int | None:
        return self.loc.line if self.loc else None

    @property
    def col(self) -> int | None:
        return self.loc.col if self.loc else None


# Line breaks and control characters that a message quotes from the spec (a key
# written "a\nb") would break its one line, or drive the terminal: shown escaped.
_UNPRINTABLE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")


def _line(loc: Location | None, kind: str, message: str) -> str:
    message = _UNPRINTABLE.sub(lambda m: repr(m.group())[1:-1], message)
    return f"{loc}: {kind}: {message}" if loc else f"{kind}: {message}"


class SpecError(NetcalcError):
    """The spec is malformed or describes an impossible network."""

    def __init__(self, message: str, loc: Location | None = None, notes: tuple[Note, ...] = (),
                 arg: str | None = None):
        super().__init__(message, loc, notes)
        # The argument the rule blames; `analyze` turns it into a location.
        self.arg = arg
        self.layer: str | None = None       # the layer it is about, where one is


class UnknownArgumentError(SpecError):
    """A key the layer type does not take (located at the key, not its value)."""


class ShapeError(SpecError):
    """A layer rule rejected its input shape or arguments (raised without a location)."""


class UsageError(NetcalcError):
    """The command line itself is wrong."""

    exit_code = 2


class MissingToolError(NetcalcError):
    """An optional dependency (torch, Graphviz) is not installed."""

    exit_code = 2


def in_layer(error: SpecError, name: str, type_name: str, loc: Location | None,
             notes: tuple[Note, ...] = ()) -> SpecError:
    """The same error, located and naming the layer: `layer 'conv2' (conv2d): ...`."""
    located = SpecError(f"layer '{name}' ({type_name}): {error.message}", loc,
                        notes or error.notes)
    located.layer = name
    return located


def closest(word: object, candidates) -> str | None:
    """The candidate most like `word`, if any is close (for error suggestions)."""
    import difflib  # only errors need it

    close = difflib.get_close_matches(str(word), list(candidates), n=1, cutoff=0.6)
    return close[0] if close else None


def did_you_mean(word: object, candidates) -> str:
    """'; did you mean 'x'?' for the closest candidate, or '' when none is close."""
    match = closest(word, candidates)
    return f"; did you mean '{match}'?" if match else ""


def shorten(value: object) -> str:
    """A value for a message: huge integers by their number of digits, long text cut."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**30:
        # from the bit length: str() of a huge integer takes quadratic time
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
