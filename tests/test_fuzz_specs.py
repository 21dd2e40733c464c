"""Fuzzing: however a spec is damaged, netcalc answers with one located line (issue 8,
"Hardening").

Seeds are the spec library (specs/, specs/seeds/) and small generated specs. A
case damages one: as data (wrong types, missing keys, huge and negative numbers up
to 2**63 and past it, unicode names, repeated keys, huge repeat counts, `${}`
expressions gone wrong, raw YAML such as deep nesting and aliases spliced in) or
as text and bytes (truncated, cut, junk inserted, lines repeated, binary). Each
case runs `summary`, `explain`, `diagram --format dot` or `export --to yaml` with
`-o` into an empty directory, and the run must:

- exit 0, 1 or 2;
- on 1 or 2, say `FILE:LINE:COL: error: ...` on its first line of standard error
  (after any located warnings), at a line of the file, or `error: ...` for a
  usage error (exit 2); never "Traceback", never "internal error";
- write only lines of `error:`, `warning:` and `note:` to standard error (no
  message broken by a line break it quotes, no Python warning), nothing to
  standard output;
- finish in bounded time;
- write the `-o` file on success only, and leave nothing else behind.

Most cases run in this process (`netcalc.cli.main`, under an alarm); a sample
runs as a real process under a timeout, some reading the spec from standard
input. The number of cases follows the hypothesis profile in conftest.py: the
default one replays the same cases each run, `HYPOTHESIS_PROFILE=thorough` draws
25 times as many, new each time, to hunt.
"""

from __future__ import annotations

import copy
import io
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import warnings
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from helpers import ROOT, SPECS
from netcalc.cli import main

SEED_FILES = sorted(SPECS.glob("*.yaml")) + sorted((SPECS / "seeds").glob("*.yaml"))
SEED_TEXTS = {path.name: path.read_text(encoding="utf-8") for path in SEED_FILES}
SEED_DATA = {name: yaml.safe_load(text) for name, text in SEED_TEXTS.items()}

# A hang guard, not a benchmark: every case here is refused or computed in well
# under a second; the limit leaves room for a slow, busy CI machine.
CASE_SECONDS = 20
PROCESS_SECONDS = 60

# Commands under test: SPEC and OUT are filled in per case.
COMMANDS = (
    ("summary", "SPEC", "-o", "OUT"),
    ("summary", "SPEC", "--format", "json", "--batch", "3", "-o", "OUT"),
    ("summary", "SPEC", "--format", "markdown", "--depth", "1", "--show", "rf", "-o", "OUT"),
    ("summary", "SPEC", "--format", "csv", "--dtype", "int8", "-o", "OUT"),
    ("summary", "SPEC", "--input", "3xHxW", "--format", "json", "-o", "OUT"),
    ("explain", "SPEC", "-o", "OUT"),
    ("explain", "SPEC", "--format", "json", "--lang", "zh", "-o", "OUT"),
    ("diagram", "SPEC", "--format", "dot", "--show", "shapes,args,params,macs", "-o", "OUT"),
    ("diagram", "SPEC", "--format", "dot", "--depth", "1", "--repeats", "once", "-o", "OUT"),
    ("export", "SPEC", "--to", "yaml", "-o", "OUT"),
)


def _layer_catalogue() -> list[dict]:
    """`netcalc layers --format json`: every type with its arguments and their kinds."""
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["layers", "--format", "json"]) == 0
    return json.loads(out.getvalue())


CATALOGUE = _layer_catalogue()
LAYER_TYPES = [entry["type"] for entry in CATALOGUE]
ARGUMENTS = {entry["type"]: entry["arguments"] for entry in CATALOGUE}
# Every key a spec knows, for keys added, renamed and repeated.
SPEC_KEYS = sorted({"type", "name", "inputs", "repeat", "if", "trainable", "params", "input",
                    "layers", "blocks", "description", "dtype", "shape", "x-anchors"}
                   | {arg["name"] for args in ARGUMENTS.values() for arg in args})

# -- values that break things ---------------------------------------------------------

HUGE_INTS = [2**31 - 1, 2**31, 2**32, 2**53 + 1, 2**63 - 1, 2**63, 2**64, 2**64 + 1,
             -2**63, -2**63 - 1, 10**18, 10**19, 10**30, 10**36, 10**37, 10**100,
             int("9" * 400)]
small_ints = st.integers(min_value=-64, max_value=64)
ints = st.one_of(small_ints, st.sampled_from(HUGE_INTS), st.sampled_from([-1, 0, 1]))
floats = st.one_of(st.sampled_from([0.5, -0.0, 1.5, 3.0, 1e-300, 1e19, 1e308, -1e308,
                                    float("inf"), float("-inf"), float("nan")]),
                   st.floats(allow_nan=True, allow_infinity=True))
unicode_text = st.text(max_size=12)
# names that `\w` accepts in other scripts, and ones it does not
unicode_names = st.one_of(
    st.sampled_from(["层", "conv١", "ｃｏｎｖ", "Ωmega", "ß", "x\u0301", "😀", "a-b", "a.b", "a b",
                     "", "_", "0", "input", "i", "relu", "conv2d", "名前_1", "\u202eevil",
                     "a" * 300, "\x00", "\ufeffname", "—"]),
    unicode_text)

# `${}` expressions gone wrong: syntax, names, types, magnitudes, recursion
BAD_EXPRESSIONS = [
    "${", "${}", "${ }", "$", "${{}}", "${${i}}", "${i", "i}", "${1/0}", "${1 // 0}",
    "${1 % 0}", "${2**63}", "${9**9**9}", "${10 ** 400}", "${1e308 * 10}", "${int(1e400)}",
    "${round(1e308)}", "${int(1.0e+300) * int(1.0e+300)}", "${-9223372036854775809}",
    "${9223372036854775808}", "${" + "9" * 60 + "}", "${" + "(" * 300 + "1" + ")" * 300 + "}",
    "${" + "-" * 400 + "1}", "${" + "+".join(["i"] * 200) + "}", "${" + "1+" * 300 + "1}",
    "${not}", "${x}", "${i}", "${i * 2 if i else}", "${'a' * 1000}", "${'a' + 1}",
    "${[1] * 10**9}", "${min()}", "${max(1)}", "${min([1, 2])}", "${round(1.5, 2)}",
    "${int('9' * 5000)}", "${__import__('os').system('true')}", "${open('/etc/passwd')}",
    "${().__class__}", "${lambda: 1}", "${(x := 1)}", "${f'{1}'}", "${1 < 'a'}",
    "${true + 1}", "${None}", "${none}", "${1 if true else false}", "${out.__class__}",
    "${b'x'}", "${1j}", "${...}", "${1;2}", "${\n}", "${\t1}", "${ü}", "${层 + 1}",
    "${1if 1 else 2}", "${0x1for}", "${1_000}", "${0_7}", "${07}",
    "conv${i + 1}", "conv${}", "a${1}b${", "${1}${2}", "${i}" * 50,
]
_EXPRESSION_TOKENS = ["i", "out", "stride", "1", "0", "-1", "2", "9" * 40, "1.5", "1e308",
                      "true", "none", "'a'", "+", "-", "*", "/", "//", "%", "**", "(", ")",
                      "min(", "max(", "int(", "round(", ",", " if ", " else ", " and ",
                      " or ", "not ", "==", "<", ">=", "${", "}", "[", "]", ".", "层"]
expressions = st.one_of(
    st.sampled_from(BAD_EXPRESSIONS),
    st.lists(st.sampled_from(_EXPRESSION_TOKENS), max_size=12).map(
        lambda tokens: "${" + "".join(tokens) + "}"))

scalars = st.one_of(ints, floats, st.booleans(), st.none(), unicode_names, expressions,
                    st.sampled_from(LAYER_TYPES), st.sampled_from(SPEC_KEYS))
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.one_of(st.sampled_from(SPEC_KEYS), unicode_text),
                                            inner, max_size=3)),
    max_leaves=8)

# Raw YAML spliced in where a value was: what yaml.safe_dump would never write.
RAW_FRAGMENTS = [
    "[" * 60 + "]" * 60, "[" * 5000 + "]" * 5000, "{a: " * 300 + "1" + "}" * 300,
    "{a: " * 5000 + "1" + "}" * 5000, "[" * 1000, "]]]", "}", "*undefined", "&a [*a]",
    "&a {b: *a}", "!!python/object/apply:os.system ['true']", "!!python/name:os.system",
    "!shape [3, 8, 8]", "!!binary aGVsbG8=", "!!timestamp 2001-12-14", "!!set {a, b}",
    "!!omap [a: 1]", "!!float 1e999", "!!timestamp", "!!timestamp 2020-13-45", "!!bool maybe",
    "!!int", "!!int abc", "!!float x", "!!map [1]", "!!seq x", "!!str [1]",
    "!!int 0x7fffffffffffffff", "0x8000000000000000",
    "0o777777777777777777777777", "0b" + "1" * 100, "1_000_000_000_000_000_000_000",
    "190:20:30", ".inf", "-.inf", ".nan", "1e5", "1.0e+400", "~", "null", "yes", "no", "on",
    "'${'", "\"\\x00\"", "\"\\ud800\"", "\"\\U0010ffff\"", "|\n  text", ">-\n  folded",
    "? [complex, key]\n  : value", "{[1, 2]: 3}", "{{a: 1}: 2}", "<<: *nope", "--- \n...",
    "\t1", "@reserved", "`backtick", "%YAML 1.2", "- a\n- b", "a: b: c",
    "1" * 5000,
]


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _raw(index: int) -> str:
    return f"zqFUZZ{index}qz"


# -- seeds: the library and small generated specs ---------------------------------------

def _argument_value(kind: str):
    """A plausible value for an argument of this kind (netcalc layers --format json)."""
    base = kind.replace(" | None", "")
    if base == "bool":
        return st.booleans()
    if base == "float":
        return st.sampled_from([0.0, 0.1, 0.5, 1.0, 1.0e-5, 2.0])
    if base == "str":
        return st.sampled_from(["nearest", "bilinear", "zeros", "reflect", "tanh", "none",
                                "mean", "row", "same", "valid"])
    if base == "int":
        return st.integers(-2, 6)
    one = st.integers(-1, 5)
    return st.one_of(one, st.lists(one, min_size=1, max_size=4),
                     st.sampled_from(["same", "valid", "batch"]))


@st.composite
def registry_layer(draw):
    """Any layer type, with its required arguments and some of its others."""
    type_name = draw(st.sampled_from(LAYER_TYPES))
    layer = {"type": type_name}
    for arg in ARGUMENTS[type_name]:
        if arg["required"] or draw(st.integers(0, 3)) == 0:
            layer[arg["name"]] = draw(_argument_value(arg["kind"]))
    return layer


@st.composite
def plain_layer(draw):
    """A layer that usually fits a small feature map."""
    kind = draw(st.sampled_from(["conv", "relu", "bare", "bn", "pool", "add", "cat", "block"]))
    if kind == "conv":
        k = draw(st.integers(1, 3))
        return {"type": "conv2d", "out_channels": draw(st.integers(1, 8)), "kernel_size": k,
                "padding": k // 2, "bias": draw(st.booleans())}
    if kind == "bare":
        return draw(st.sampled_from(["relu", "sigmoid", "identity", "tanh"]))
    if kind == "bn":
        return {"type": "batchnorm2d"}
    if kind == "pool":
        return {"type": "maxpool2d", "kernel_size": 1, "stride": 1}
    if kind == "add":
        return {"type": "add", "inputs": ["input", "input"]}
    if kind == "cat":
        return {"type": "concat", "inputs": ["input", "input"], "dim": 1}
    if kind == "block":
        return {"type": "blk", "out": "${4 + i}", "repeat": draw(st.integers(0, 3))}
    return {"type": "relu", "inplace": True}


@st.composite
def generated_spec(draw):
    """A small spec, often valid: a chain of layers, a block with `${}` parameters."""
    channels, size = draw(st.integers(1, 6)), draw(st.integers(1, 10))
    spec = {"name": draw(st.sampled_from(["gen", "生成", "g_1"])),
            "params": {"width": draw(st.integers(1, 8))}}
    if draw(st.booleans()):
        spec["input"] = [channels, size, size]
    else:                   # the named form, with an element type (some not netcalc's)
        spec["inputs"] = {"input": {"shape": [channels, size, size], "dtype": draw(
            st.sampled_from(["float32", "float16", "int64", "bool", "uint8", "complex64"]))}}
    layers = draw(st.lists(st.one_of(plain_layer(), plain_layer(), registry_layer()),
                           min_size=1, max_size=5))
    for index, layer in enumerate(layers):
        if isinstance(layer, dict) and draw(st.booleans()):
            layer["name"] = f"l{index}"
    if any(isinstance(layer, dict) and layer.get("type") == "blk" for layer in layers):
        spec["blocks"] = {"blk": {"params": {"out": 4, "s": 1}, "layers": [
            {"type": "conv2d", "name": "conv", "out_channels": "${out}", "kernel_size": 3,
             "padding": 1, "stride": "${s}"},
            {"type": "relu", "name": "act", "if": "${out > 2}"},
        ]}}
    layers.append({"type": "conv2d", "out_channels": "${width}", "kernel_size": 1})
    spec["layers"] = layers
    return spec


@st.composite
def nested_blocks(draw):
    """Blocks using blocks, up to and past the 64-deep limit."""
    depth = draw(st.sampled_from([2, 63, 64, 65, 200]))
    blocks = {f"b{k}": {"layers": [f"b{k + 1}"]} for k in range(depth)}
    blocks[f"b{depth}"] = {"layers": ["relu"]}
    return {"input": [3], "blocks": blocks, "layers": ["b0"]}


seed_data = st.one_of(
    st.sampled_from(sorted(SEED_DATA)).map(lambda name: copy.deepcopy(SEED_DATA[name])),
    generated_spec(), nested_blocks())

# -- damage as data -----------------------------------------------------------------------


def _places(node, path=()):
    """Every path to a value in the document (the root included)."""
    yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _places(value, path + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _places(value, path + (index,))


def _layer_entries(node):
    """Every mapping with a `type`: the layer entries, at any depth."""
    if isinstance(node, dict):
        if "type" in node:
            yield node
        for value in node.values():
            yield from _layer_entries(value)
    elif isinstance(node, list):
        for value in node:
            yield from _layer_entries(value)


def _at(doc, path):
    for step in path:
        doc = doc[step]
    return doc


# What one damage does, weighted: the first ones keep the rest of the spec valid, so the
# run gets past reading and expanding into analyze and the renderers.
DATA_DAMAGE = ["number"] * 3 + ["layer"] * 3 + ["name", "expression", "repeat", "replace",
                                                "delete", "add", "rename", "raw", "root"]
NAMES_AND_RESERVED = ["type", "name", "inputs", "repeat", "if", "trainable"]


@st.composite
def damaged_data(draw, doc):
    """`doc` with zero to three things broken; raw YAML fragments as placeholders."""
    raws: dict[str, str] = {}

    def raw() -> str:
        placeholder = _raw(len(raws))
        raws[placeholder] = draw(st.sampled_from(RAW_FRAGMENTS))
        return placeholder

    for _ in range(draw(st.sampled_from([0, 1, 1, 1, 2, 3]))):
        op = draw(st.sampled_from(DATA_DAMAGE))
        places = [path for path in _places(doc) if path]
        entries = list(_layer_entries(doc))
        if op == "root" or not places:
            doc = draw(st.one_of(values, st.builds(raw)))
            continue
        if op == "number":
            numbers = [path for path in places if isinstance(_at(doc, path), (int, float))]
            if numbers:
                path = draw(st.sampled_from(numbers))
                _at(doc, path[:-1])[path[-1]] = draw(st.one_of(ints, ints, floats))
                continue
        if op in ("layer", "name", "repeat") and entries:
            entry = draw(st.sampled_from(entries))
            if op == "name":
                entry["name"] = draw(st.one_of(unicode_names, st.lists(unicode_names,
                                                                       max_size=3)))
            elif op == "repeat":
                entry["repeat"] = draw(st.one_of(
                    st.sampled_from([10**6, 10**9, 2**31, 2**63, 2**64, 10**100, 250_001,
                                     -1, -2**63, 1.5, "1e9", "many", True, [2]]),
                    expressions))
            else:
                args = [arg["name"] for arg in ARGUMENTS.get(str(entry.get("type")), [])]
                key = draw(st.sampled_from(NAMES_AND_RESERVED + args + [*entry]))
                entry[key] = draw(st.one_of(values, st.builds(raw)))
            continue
        if op == "expression":
            strings = [path for path in places if isinstance(_at(doc, path), (str, int))]
            if strings:
                path = draw(st.sampled_from(strings))
                _at(doc, path[:-1])[path[-1]] = draw(expressions)
                continue
        path = draw(st.sampled_from(places))
        parent, last = _at(doc, path[:-1]), path[-1]
        if op == "delete":
            del parent[last]
        elif op == "add":
            target = _at(doc, path)
            if isinstance(target, dict):
                target[draw(st.one_of(st.sampled_from(SPEC_KEYS), unicode_names))] = \
                    draw(values)
            elif isinstance(target, list):
                target.insert(draw(st.integers(0, len(target))), draw(values))
            else:
                parent[last] = draw(values)
        elif op == "rename" and isinstance(parent, dict):
            parent[draw(st.one_of(st.sampled_from(SPEC_KEYS), unicode_names, ints))] = \
                parent.pop(last)
        elif op == "raw":
            parent[last] = raw()
        else:
            parent[last] = draw(values)
    return doc, raws


def _dump(doc, raws: dict[str, str], flow, unicode: bool) -> str:
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=unicode, default_flow_style=flow,
                          width=10**6)
    for placeholder, fragment in raws.items():
        text = text.replace(placeholder, fragment)
    return text


@st.composite
def data_cases(draw):
    doc, raws = draw(damaged_data(draw(seed_data)))
    return _dump(doc, raws, draw(st.sampled_from([False, None, True])), draw(st.booleans()))


# -- damage as text and bytes -------------------------------------------------------------

_NUMBER = re.compile(r"(?<![\w.$])\d+(?![\w.])")
_EXPRESSION = re.compile(r"\$\{[^}]*\}")


@st.composite
def damaged_text(draw, text: str) -> bytes:
    """`text` cut, spliced, with lines repeated, numbers swapped for huge ones, bytes."""
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["truncate", "cut", "insert", "repeat_line", "indent",
                                   "number", "number", "expression", "raw"]))
        lines = text.splitlines(keepends=True)
        if op == "truncate":
            text = text[:draw(st.integers(0, len(text)))]
        elif op == "cut" and text:
            start = draw(st.integers(0, len(text) - 1))
            text = text[:start] + text[start + draw(st.integers(1, 40)):]
        elif op == "insert":
            at = draw(st.integers(0, len(text)))
            junk = draw(st.one_of(st.text(max_size=20), st.sampled_from(
                [":", "- ", "\n", "\t", "{", "[", "&", "*", "!", "|", ">", "#", "'", '"',
                 "%", "@", "`", "---\n", "...\n", "\ufeff", "\x00", "\x85", "\u2028"])))
            text = text[:at] + junk + text[at:]
        elif op == "repeat_line" and lines:
            # a key given twice in the same mapping (the copy drops a list item's "- ")
            keyed = [k for k, line in enumerate(lines) if re.match(r"\s*(- )?[^\s#]+:", line)]
            if keyed:
                k = draw(st.sampled_from(keyed))
                copy_ = re.sub(r"^(\s*)- ", r"\1  ", lines[k])
                lines.insert(k + 1, copy_ if copy_.endswith("\n") else copy_ + "\n")
                text = "".join(lines)
        elif op == "indent" and lines:
            k = draw(st.integers(0, len(lines) - 1))
            lines[k] = draw(st.sampled_from([" ", "  ", "\t", ""])) + lines[k].lstrip(
                " " if draw(st.booleans()) else "")
            text = "".join(lines)
        elif op == "number":
            numbers = list(_NUMBER.finditer(text))
            if numbers:
                m = draw(st.sampled_from(numbers))
                text = text[:m.start()] + str(draw(ints)) + text[m.end():]
        elif op == "expression":
            found = list(_EXPRESSION.finditer(text))
            if found:
                m = draw(st.sampled_from(found))
                bad = draw(expressions).replace('"', "'")
                text = text[:m.start()] + bad + text[m.end():]
        elif op == "raw" and lines:
            k = draw(st.integers(0, len(lines) - 1))
            key = re.match(r"(\s*(?:- )?[^\s#:]+:\s*)", lines[k])
            if key:
                lines[k] = key.group(1) + draw(st.sampled_from(RAW_FRAGMENTS)) + "\n"
                text = "".join(lines)
    data = _encode(text)
    if draw(st.integers(0, 4)) == 0:         # bytes that are not UTF-8, or NULs
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
    return data


@st.composite
def text_cases(draw) -> bytes:
    """A library spec as written (comments, anchors, flow style) or a damaged one's dump,
    damaged as text."""
    seed = draw(st.one_of(st.sampled_from(sorted(SEED_TEXTS)).map(SEED_TEXTS.get),
                          data_cases()))
    return draw(damaged_text(seed))


YAML_ALPHABET = st.sampled_from(list("abcxyz019-_:,[]{}&*!|>'\"%@`#?~ \n\t.$") + ["\u00e9", "层"])
random_documents = st.one_of(
    st.text(YAML_ALPHABET, max_size=200),
    st.text(max_size=200),
    st.lists(st.tuples(st.sampled_from(SPEC_KEYS + ["x-a", "<<"]), values), max_size=5).map(
        lambda items: "".join(f"{key}: {json.dumps(value, default=str)}\n"
                              for key, value in items)))
binary_junk = st.one_of(st.binary(max_size=300),
                        st.sampled_from([b"\xff\xfe\x00\x00", b"\xef\xbb\xbf", b"\x00" * 64,
                                         b"\x89PNG\r\n\x1a\n", b"\xfe\xffi\x00n\x00",
                                         b"input: [3]\nlayers: [relu]\n\xc3\x28\n"]))
any_case = st.one_of(data_cases().map(_encode), data_cases().map(_encode), text_cases(),
                     random_documents.map(_encode), binary_junk)

# -- running a case and judging the result ------------------------------------------------


class CaseTimeout(BaseException):
    """Raised in the case by the alarm; not an Exception, so netcalc cannot swallow it."""


@contextmanager
def _time_limit(seconds: float):
    def alarm(signum, frame):
        raise CaseTimeout(f"no answer after {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


LOCATED = re.compile(r"(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): (?P<kind>error|warning|note): \S")
UNLOCATED = re.compile(r"(error|warning|note): \S")
# Python shows these warnings only when asked (-W): a user never sees them.
QUIET_WARNINGS = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)


def _argv(command, spec: str, out: str) -> list[str]:
    return [spec if part == "SPEC" else out if part == "OUT" else part for part in command]


def _judge(data: bytes, command, code: int, stdout: str, stderr: str, spec: str,
           out_dir: Path) -> None:
    shown = data[:2000].decode("utf-8", "replace")
    context = f"\n--- {' '.join(command)} on:\n{shown}\n--- exit {code}, stderr:\n{stderr}"
    assert "Traceback" not in stderr, context
    assert "internal error" not in stderr, context
    assert code in (0, 1, 2), context
    assert stdout == "", "-o was given, yet something went to stdout" + context
    written = sorted(path.name for path in out_dir.iterdir())
    lines = stderr.splitlines()
    for line in lines:
        assert LOCATED.match(line) or UNLOCATED.match(line), \
            f"a line that is not error:, warning: or note: {line!r}" + context
    if code == 0:
        assert written == ["out"], context
        return
    assert written == [], "a failed run left files behind" + context
    # located warnings may come first (analyze prints them before a later step fails)
    while lines and (m := LOCATED.match(lines[0])) and m["kind"] == "warning":
        lines.pop(0)
    assert lines, "no error message" + context
    first = lines[0]
    m = LOCATED.match(first)
    if m is None:
        assert code == 2 and first.startswith("error: "), \
            "the error is neither located nor a usage error" + context
        return
    assert m["kind"] == "error" and m["file"] == spec, context
    # at most one line past the last (the end of the file); PyYAML also breaks lines at
    # \r, \x85 and \u2028, which splitlines counts too
    line_count = len(data.decode("utf-8", "replace").splitlines())
    assert 1 <= int(m["line"]) <= line_count + 1 and int(m["col"]) >= 1, \
        f"the location is outside the file ({line_count} lines)" + context


def _in_process(data: bytes, command) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        spec, out_dir = Path(tmp) / "spec.yaml", Path(tmp) / "out_dir"
        spec.write_bytes(data)
        out_dir.mkdir()
        stdout, stderr = io.StringIO(), io.StringIO()
        with redirect_stdout(stdout), redirect_stderr(stderr), _time_limit(CASE_SECONDS), \
                warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            code = main(_argv(command, str(spec), str(out_dir / "out")))
        # a Python warning would be printed as an unlocated line, "<unknown>:1: SyntaxWarning"
        shown = [f"{w.category.__name__}: {w.message}" for w in caught
                 if not issubclass(w.category, QUIET_WARNINGS)]
        _judge(data, command, code, stdout.getvalue(), stderr.getvalue() + "".join(
            f"python warning: {text}\n" for text in shown), str(spec), out_dir)


def _convnext_block_named_by_a_list() -> bytes:
    """The input hypothesis found and shrank: convnext_tiny's block with a list for
    its first layer's name."""
    doc = copy.deepcopy(SEED_DATA["convnext_tiny.yaml"])
    doc["blocks"]["cn_block"]["layers"][0]["name"] = []
    return _encode(_dump(doc, {}, False, False))


# Bugs the fuzzer found and that were fixed: a block used with a list for its name (a
# list is for the pieces of chunk and split), and an input's `dtype` written as a
# mapping or a list, were internal errors (TypeError in netcalc/spec/expand.py).
# Each input, exactly, runs through every command in test_the_bugs_it_found_stay_fixed.
FIXED_BUGS = [
    b"input: [3, 8, 8]\nblocks:\n  b:\n    layers: [relu]\nlayers:\n  - {type: b, name: []}\n",
    _convnext_block_named_by_a_list(),
    b"inputs:\n  x: {shape: [3, 8, 8], dtype: {a: 1}}\nlayers: [relu]\n",
    b"inputs:\n  x: {shape: [3, 8, 8], dtype: [int64]}\nlayers: [relu]\n",
]


def _check(data: bytes, command) -> None:
    _in_process(data, command)


# -- the tests ------------------------------------------------------------------------------

commands = st.sampled_from(COMMANDS)
# The default profile tries the same cases on every run, so that a red run means a
# change broke something (not a luckier draw);
# HYPOTHESIS_PROFILE=thorough draws new ones each time, to hunt.
FUZZ = settings(derandomize=os.environ.get("HYPOTHESIS_PROFILE", "default") == "default",
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@FUZZ
@given(case=data_cases(), command=commands)
@example(case="input: [9223372036854775808]\nlayers: [relu]\n", command=COMMANDS[0])
@example(case="input: [3, 8, 8]\nlayers:\n  - {type: relu, repeat: 9223372036854775808}\n",
         command=COMMANDS[9])
@example(case="input: [3, -8, 8]\nlayers: [{type: conv2d, out_channels: -1, kernel_size: -3}]\n",
         command=COMMANDS[5])
@example(case="name: 层\ninput: [3, 4, 4]\nlayers:\n  - {type: relu, name: 激活}\n"
              "  - {type: conv2d, name: ｃｏｎｖ, out_channels: 2, kernel_size: 1}\n",
         command=COMMANDS[7])
@example(case="input: [3]\nlayers:\n  - {type: linear, out_features: \"${2**63}\"}\n",
         command=COMMANDS[9])
@example(case="input: [3]\nlayers:\n  - {type: linear, out_features: \"${1if 1 else 2}\"}\n",
         command=COMMANDS[0])               # Python's SyntaxWarning, not shown
def test_damaged_data(case, command):
    _check(_encode(case), command)


@FUZZ
@given(case=text_cases(), command=commands)
@example(case=SEED_TEXTS["resnet18.yaml"][:700].encode(), command=COMMANDS[9])
@example(case=SEED_TEXTS["alexnet.yaml"].replace("kernel_size: 11", "kernel_size: 11, "
                                                 "kernel_size: 11").encode(),
         command=COMMANDS[0])
@example(case=b"input: [3]\nlayers: [relu]\n\x00\xff", command=COMMANDS[7])
@example(case=b"\x00", command=COMMANDS[0])                 # a character YAML refuses
@example(case=b"name: !!timestamp", command=COMMANDS[0])    # a tag that does not fit
@example(case=b"--- !!map [1]", command=COMMANDS[5])
def test_damaged_text(case, command):
    _check(case, command)


@FUZZ
@given(case=st.one_of(random_documents.map(_encode), binary_junk),
       command=commands)
@example(case=b"", command=COMMANDS[0])
@example(case=("input: " + "[" * 5000 + "]" * 5000 + "\nlayers: [relu]\n").encode(),
         command=COMMANDS[1])
def test_random_documents(case, command):
    _check(case, command)


# A real process: no traceback can hide in a pytest capture, and a hang is killed.
PROCESS_EXAMPLES = max(settings().max_examples // 10, 3)


@settings(FUZZ, max_examples=PROCESS_EXAMPLES)
@given(case=any_case, command=commands, stdin=st.booleans())
def test_real_process(case, command, stdin):
    with tempfile.TemporaryDirectory() as tmp:
        spec, out_dir = Path(tmp) / "spec.yaml", Path(tmp) / "out_dir"
        spec.write_bytes(case)
        out_dir.mkdir()
        argv = _argv(command, "-" if stdin else str(spec), str(out_dir / "out"))
        run = subprocess.run([sys.executable, "-m", "netcalc", *argv], cwd=ROOT,
                             input=case if stdin else None, capture_output=True,
                             timeout=PROCESS_SECONDS)
        stderr = run.stderr.decode("utf-8", "replace")
        _judge(case, command, run.returncode, run.stdout.decode("utf-8", "replace"), stderr,
               "<stdin>" if stdin else str(spec), out_dir)


@pytest.mark.parametrize("case", FIXED_BUGS, ids=range(len(FIXED_BUGS)))
@pytest.mark.parametrize("command", COMMANDS, ids=range(len(COMMANDS)))
def test_the_bugs_it_found_stay_fixed(case, command):
    _in_process(case, command)
