"""`--input` values: shapes written 3x224x224, optionally for a named input."""

from __future__ import annotations

import re

from .errors import UsageError

_SHAPE = re.compile(r"^\s*\[?\s*(\d+(?:\s*[x×,\s]\s*\d+)*)\s*\]?\s*$")
def parse_shape(text: str, letters: bool = False) -> tuple:
    """'3x224x224', '3,224,224' or '[3, 224, 224]' -> (3, 224, 224); with `letters`,
    '3xHxW' -> (3, Size('H'), Size('W'))."""
    if letters and any(c.isalpha() and c != "x" for c in text):     # x separates sizes
        return _lettered(text)
    match = _SHAPE.match(text)
    if not match:
        raise UsageError(f"--input {text!r}: write a shape like 3x224x224")
    texts = re.split(r"[x×,\s]+", match.group(1))
    if any(len(t) > 19 for t in texts):
        raise UsageError(f"--input {text[:40]!r}: sizes are 64-bit integers")
    dims = tuple(int(t) for t in texts)
    if any(d < 1 for d in dims):
        raise UsageError(f"--input {text!r}: sizes must be at least 1")
    return dims


def input_overrides(values: tuple[str, ...], names: list[str],
                    letters: bool = False) -> dict[str, tuple]:
    overrides = {}
    for value in values:
        name, _, shape = value.rpartition("=")
        if not name:
            if len(names) != 1:
                raise UsageError(f"the spec has inputs {', '.join(names)}: name one, as "
                                 f"--input {names[0]}={value}")
            name = names[0]
        elif name not in names:
            raise UsageError(f"--input {value}: the spec has no input '{name}' "
                             f"(its inputs: {', '.join(names)})")
        if name in overrides:
            raise UsageError(f"--input gives input '{name}' twice")
        overrides[name] = parse_shape(shape, letters)
    return overrides


def _lettered(text: str) -> tuple:
    """'3xHxW' -> (3, Size('H'), Size('W')): x separates; any other letter is a size."""
    from .symbolic import Size

    parts = [p for p in re.split(r"[×,\s\[\]]+|(?<=[0-9A-Za-z])x(?=[0-9A-Za-z])", text) if p]
    dims = []
    for part in parts:
        if part.isdigit() and int(part) >= 1:
            dims.append(int(part))
        elif len(part) == 1 and part.isalpha():
            dims.append(Size(part))
        else:
            raise UsageError(f"--input {text!r}: write a shape like 3x224x224, or with a "
                             "single letter for a size left open, like 3xHxW")
    return tuple(dims)
