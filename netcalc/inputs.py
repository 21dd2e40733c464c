"""`--input` values: shapes written 3x224x224, optionally for a named input."""

from __future__ import annotations

import re

from .errors import UsageError

_SHAPE = re.compile(r"^\s*\[?\s*(\d+(?:\s*[x×,\s]\s*\d+)*)\s*\]?\s*$")


def parse_shape(text: str) -> tuple[int, ...]:
    """'3x224x224', '3,224,224' or '[3, 224, 224]' -> (3, 224, 224)."""
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


def input_overrides(values: tuple[str, ...], names: list[str]) -> dict[str, tuple[int, ...]]:
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
        overrides[name] = parse_shape(shape)
    return overrides
