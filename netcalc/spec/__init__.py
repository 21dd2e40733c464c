"""Reading specs: YAML with positions -> expanded, validated layer list."""

from __future__ import annotations

from ..errors import Location, SpecError, UsageError
from .expand import expand
from .loader import load_yaml
from .model import ExpandedSpec


def load_spec(path, params: dict | None = None) -> ExpandedSpec:
    """Read and expand a spec file: YAML ('-' reads standard input), or a Python
    spec (`.py`) that builds a `Network`. `params`: values for a YAML spec's top-level
    params instead of its defaults."""
    file = str(path)
    if file == "-":
        import sys
        return _parse_bytes(sys.stdin.buffer.read(), "<stdin>", params)
    try:
        with open(path, "rb") as spec_file:    # not pathlib: ~3 ms of start-up
            data = spec_file.read()
    except FileNotFoundError:
        raise UsageError(f"no such spec file: {file}") from None
    except IsADirectoryError:
        raise UsageError(f"{file} is a directory, not a spec file") from None
    except OSError as e:
        raise UsageError(f"cannot read {file}: {e.strerror}") from None
    if file.endswith(".py"):
        if params:
            raise UsageError(f"{file}: a Python spec takes its values in Python, not as "
                             "params")
        from .pyspec import load_python_spec  # only Python specs need it
        return load_python_spec(data, file)
    return _parse_bytes(data, file, params)


def _parse_bytes(data: bytes, file: str, params: dict | None = None) -> ExpandedSpec:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise SpecError("the spec is not UTF-8 text", Location(file, line, 1)) from None
    return parse_spec(text, file, params)


def parse_spec(text: str, file: str = "<spec>", params: dict | None = None) -> ExpandedSpec:
    return expand(load_yaml(text, file), file, params)
