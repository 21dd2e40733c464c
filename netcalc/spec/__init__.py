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
    file, data = _read_file(path)
    if file.endswith(".py"):
        if params:
            raise UsageError(f"{file}: a Python spec takes its values in Python, not as "
                             "params")
        from .pyspec import load_python_spec  # only Python specs need it
        return load_python_spec(data, file)
    return expand(_document(data, file), file, params)


def read_spec_document(path) -> tuple:
    """A YAML spec file's document, read once to be expanded at many params (`fit`),
    and its name."""
    file, data = _read_file(path)
    if file.endswith(".py"):
        raise UsageError(f"{file}: a Python spec has no top-level params to vary; give "
                         "its network's values in Python")
    return _document(data, file), file


# file -> (its bytes, their parsed document): a spec read again unchanged (a notebook's
# loop, a search) is not parsed again; expanding reads the document, never changes it
_PARSED: dict[str, tuple[bytes, object]] = {}


def _document(data: bytes, file: str):
    known = _PARSED.get(file)
    if known is not None and known[0] == data:
        return known[1]
    document = load_yaml(_text(data, file), file)
    if len(_PARSED) >= 64:
        _PARSED.clear()
    _PARSED[file] = (data, document)
    return document


def _read_file(path) -> tuple[str, bytes]:
    file = str(path)
    if file == "-":
        import sys
        return "<stdin>", sys.stdin.buffer.read()
    return file, read_bytes(file, "spec")


def read_bytes(file: str, what: str) -> bytes:
    """A file's bytes; a missing file, a directory or an unreadable one is a usage error
    naming what it was to be (`what`: spec, template)."""
    try:
        with open(file, "rb") as opened:    # not pathlib: ~3 ms of start-up
            return opened.read()
    except FileNotFoundError:
        raise UsageError(f"no such {what} file: {file}") from None
    except IsADirectoryError:
        raise UsageError(f"{file} is a directory, not a {what} file") from None
    except OSError as e:
        raise UsageError(f"cannot read {file}: {e.strerror}") from None


def _text(data: bytes, file: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise SpecError("the spec is not UTF-8 text", Location(file, line, 1)) from None


def parse_spec(text: str, file: str = "<spec>", params: dict | None = None) -> ExpandedSpec:
    return expand(load_yaml(text, file), file, params)
