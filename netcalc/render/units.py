"""Number, size and shape formatting shared by the renderers."""

from __future__ import annotations

_SI = ((10**24, "Y"), (10**21, "Z"), (10**18, "E"), (10**15, "P"), (10**12, "T"), (10**9, "G"),
       (10**6, "M"), (10**3, "K"))
_IEC = ((2**80, "YiB"), (2**70, "ZiB"), (2**60, "EiB"), (2**50, "PiB"), (2**40, "TiB"),
        (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB"))


def count(n: int) -> str:
    """61100840 -> '61,100,840'"""
    return f"{n:,}"


def si(n: int) -> str:
    """714188480 -> '714.19 M' (decimal prefixes, as papers quote MACs and params)."""
    if not isinstance(n, int):
        return str(n)                    # a formula in sizes written as letters
    for scale, prefix in _SI:
        if abs(n) >= scale:
            return f"{n / scale:.2f} {prefix}"
    return str(n)


def count_and_si(n: int) -> str:
    """61100840 -> '61,100,840 (61.10 M)'; 10 -> '10' (a prefix adds nothing there)."""
    if not isinstance(n, int):
        return str(n)
    return count(n) if abs(n) < 1000 else f"{count(n)} ({si(n)})"


def size(n_bytes: int) -> str:
    """244403360 -> '233.08 MiB' (binary prefixes, as memory is sized)."""
    if not isinstance(n_bytes, int):
        return f"{n_bytes} bytes"
    for scale, unit in _IEC:
        if n_bytes >= scale:
            return f"{n_bytes / scale:.2f} {unit}"
    return f"{n_bytes} B"


def shape(dims) -> str:
    """(1, 64, 55, 55) -> '[1, 64, 55, 55]'"""
    return "[" + ", ".join(str(d) for d in dims) + "]"


def pixels(value) -> str:
    """A whole or half pixel, exactly: 3 -> '3', Fraction(31, 2) -> '15.5',
    Fraction(-3, 2) -> '-1.5' (not :g's six digits: -123455.5 is not '-123456')."""
    if isinstance(value, int) or value.denominator == 1:
        return str(int(value))
    if value.denominator == 2:
        return f"{'-' if value < 0 else ''}{abs(value.numerator) // 2}.5"
    return repr(float(value))


def per_dim(values) -> str:
    """One value per spatial dim, one number when all agree: (11, 11) -> '11',
    (11, 7) -> '11×7'."""
    texts = [pixels(v) for v in values]
    return texts[0] if len(set(texts)) == 1 else "×".join(texts)


def number(value) -> int | float:
    """A whole or half pixel for JSON: an int, or a float that ends in .5 (exact)."""
    return value if isinstance(value, int) else float(value)


RF_HEADERS = ("RF", "Jump", "Start")
RF_LEGEND = ("receptive field per spatial dim, in input pixels; Jump: input pixels between "
             "neighbouring units; Start: centre of the first unit's field (pixel 0's centre "
             "is 0)")
_RF_KINDS = {"whole": "whole input", "undefined": "n/a", "none": "none"}


def rf_cells(rf) -> tuple[str, str, str]:
    """A receptive field's RF, Jump and Start cells: '11', '4', '3'; 'whole input', '-', '-'."""
    if rf is None:
        return "", "", ""
    if rf.kind == "local":
        return per_dim(rf.size), per_dim(rf.jump), per_dim(rf.start)
    if rf.kind == "flattened":
        return f"{per_dim(rf.size)} (flattened)", "-", "-"
    return _RF_KINDS.get(rf.kind, rf.kind), "-", "-"


def rf_notes(fields) -> list[str]:
    """Why the fields shown are not local, once per reason, at the first layer it began."""
    origins: dict[tuple[str, str], list[str]] = {}
    for rf in fields:
        if rf is not None and rf.kind != "local":
            seen = origins.setdefault((rf.kind, rf.note), [])
            if rf.origin not in seen:
                seen.append(rf.origin)
    notes = []
    for (kind, note), where in origins.items():
        more = f" (and {len(where) - 1} more)" if len(where) > 1 else ""
        notes.append(f"{_RF_KINDS.get(kind, kind)} from {where[0]}{more}: {note}")
    return notes


def width(text: str) -> int:
    """Terminal columns `text` takes: East Asian wide characters take two."""
    import unicodedata

    if text.isascii():
        return len(text)
    return sum(0 if unicodedata.combining(c) else
               2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def pad(text: str, columns: int, right: bool = False) -> str:
    """`text` padded with spaces to `columns` terminal columns."""
    fill = " " * max(0, columns - width(text))
    return fill + text if right else text + fill
