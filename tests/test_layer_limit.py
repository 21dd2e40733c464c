"""A spec right at the layer limit is accepted; one layer more is refused, located.

Expanding and analysing 150,000 layers takes ~15-20 s, so the real limit is checked
where it is enforced, by the counter that runs before expansion (milliseconds), and
the whole command runs with the limit lowered to a few layers.
"""

from __future__ import annotations

import csv
import importlib
import io

import pytest

from helpers import run_cli
from netcalc.errors import SpecError
from netcalc.spec import build as build_module
from netcalc.spec.build import MAX_LAYERS
from netcalc.spec.loader import load_yaml

# the module, not the function netcalc.spec re-exports under the same name
expand_module = importlib.import_module("netcalc.spec.expand")


def counted(text: str) -> int:
    """The layers the spec expands to, as the limit counts them (nothing is built)."""
    doc = load_yaml(text, "limit.yaml")
    counter = expand_module._LayerCounter(expand_module._blocks(doc))
    return counter.entries(doc["layers"], {}, ())[0]


def test_the_limit_is_the_documented_one():
    # bench/benchmark.py's figures and the README name this number
    assert MAX_LAYERS == expand_module.MAX_LAYERS == 150_000


# each spec expands to exactly `n` layers, by a different path through the counter
def one_repeat(n: int) -> str:
    return f"input: [4]\nlayers:\n  - {{type: relu, repeat: {n}}}\n"


def repeated_block(n: int) -> str:
    # n = 1000·q + r: a block of 1,000 layers q times, then r more
    q, r = divmod(n, 1000)
    return ("input: [4]\nblocks:\n  b:\n    layers: [{type: relu, repeat: 1000}]\n"
            f"layers:\n  - {{type: b, repeat: {q}}}\n  - {{type: relu, repeat: {r}}}\n")


def copies_that_differ(n: int) -> str:
    # copy i of the block has i + 1 layers (counted copy by copy): 1 + ... + 500 = 125,250
    return ("input: [4]\nblocks:\n  b:\n    params: {k: 0}\n"
            "    layers: [{type: relu, repeat: \"${k + 1}\"}]\n"
            f"layers:\n  - {{type: b, repeat: 500, k: \"${{i}}\"}}\n"
            f"  - {{type: relu, repeat: {n - 125_250}}}\n")


SHAPES = [one_repeat, repeated_block, copies_that_differ]


@pytest.mark.parametrize("spec", SHAPES, ids=lambda f: f.__name__)
def test_exactly_the_limit_is_accepted(spec):
    assert counted(spec(MAX_LAYERS)) == MAX_LAYERS


@pytest.mark.parametrize("spec", SHAPES, ids=lambda f: f.__name__)
def test_one_layer_past_the_limit_is_refused(spec):
    with pytest.raises(SpecError) as refused:
        counted(spec(MAX_LAYERS + 1))
    assert str(refused.value).startswith("limit.yaml:")
    assert "past the limit of 150,000 layers" in str(refused.value)


def test_the_refusal_points_at_the_repeat():
    with pytest.raises(SpecError) as refused:
        counted(one_repeat(MAX_LAYERS + 1))
    assert str(refused.value) == ("limit.yaml:3:26: error: repeat: 150,001 would expand "
                                  "past the limit of 150,000 layers")


# -- the whole command, with the limit lowered ----------------------------------------

LIMIT = 12


@pytest.fixture
def low_limit(monkeypatch):
    # both checks: YAML's counter before expanding, and the builder's as layers are added
    # (the only one a Python spec meets)
    monkeypatch.setattr(expand_module, "MAX_LAYERS", LIMIT)
    monkeypatch.setattr(build_module, "MAX_LAYERS", LIMIT)


def summary_csv(capsys, tmp_path, text: str) -> tuple[int, list[dict], str]:
    spec = tmp_path / "limit.yaml"
    spec.write_text(text)
    code, out, err = run_cli(capsys, "summary", str(spec), "--format", "csv")
    return code, list(csv.DictReader(io.StringIO(out))), err.replace(str(spec), "limit.yaml")


def small(kind: str, n: int) -> str:
    if kind == "one_repeat":
        return one_repeat(n)
    if kind == "repeated_block":     # blocks of 3
        q, r = divmod(n, 3)
        return ("input: [4]\nblocks:\n  b:\n    layers: [{type: relu, repeat: 3}]\n"
                f"layers:\n  - {{type: b, repeat: {q}}}\n  - {{type: relu, repeat: {r}}}\n")
    # copies of 1, 2, 3 layers (6 in all), then the rest
    return ("input: [4]\nblocks:\n  b:\n    params: {k: 0}\n"
            "    layers: [{type: relu, repeat: \"${k + 1}\"}]\n"
            f"layers:\n  - {{type: b, repeat: 3, k: \"${{i}}\"}}\n"
            f"  - {{type: relu, repeat: {n - 6}}}\n")


KINDS = ["one_repeat", "repeated_block", "copies_that_differ"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_spec_at_the_limit_is_summarized_in_full(kind, tmp_path, capsys, low_limit):
    code, rows, err = summary_csv(capsys, tmp_path, small(kind, LIMIT))
    assert (code, err) == (0, "")
    assert len(rows) == LIMIT                 # the counter's count is the expansion's


@pytest.mark.parametrize("kind, message", [
    # at the repeat's value; else at the entry that takes the total past the limit
    ("one_repeat", "limit.yaml:3:26: error: repeat: 13 would expand past the limit of 12 "
                   "layers"),
    ("repeated_block", "limit.yaml:7:5: error: the spec expands past the limit of 12 layers"),
    ("copies_that_differ", "limit.yaml:8:5: error: the spec expands past the limit of 12 "
                           "layers"),
])
def test_a_spec_one_past_the_limit_is_refused_with_its_location(kind, message, tmp_path, capsys,
                                                                 low_limit):
    code, rows, err = summary_csv(capsys, tmp_path, small(kind, LIMIT + 1))
    assert (code, rows) == (1, [])
    assert err == message + "\n"


@pytest.mark.parametrize("n, code", [(LIMIT, 0), (LIMIT + 1, 1)])
def test_a_python_spec_meets_the_same_limit(n, code, tmp_path, capsys, low_limit):
    spec = tmp_path / "limit.py"
    spec.write_text("from netcalc import Network\n\nnet = Network('limit', input=[4])\n"
                    f"for i in range({n}):\n    net.relu(f'r{{i}}')\n")
    result = run_cli(capsys, "summary", str(spec), "--format", "csv")
    assert result[0] == code
    if code == 0:
        assert len(result[1].splitlines()) == 1 + LIMIT
    else:
        assert result[2] == f"{spec}:5:5: error: the spec expands past the limit of 12 layers\n"


@pytest.mark.slow
def test_a_spec_at_the_real_limit_is_summarized_in_full(tmp_path, capsys):
    # ~10 s and ~1 GiB here: `pytest --thorough` only
    code, rows, err = summary_csv(capsys, tmp_path, one_repeat(MAX_LAYERS))
    assert (code, err) == (0, "")
    assert len(rows) == MAX_LAYERS
