"""`netcalc exercise`: every shipped template gives valid, distinct variants whose answer
keys agree with the textbook formulas (computed here from each variant's own numbers,
not by netcalc) and pass `netcalc check`; the same seed writes the same bytes; a draw
that makes no network is drawn again; a template is refused by `summary`."""

from __future__ import annotations

import math
import os

import pytest
import yaml

from helpers import SPECS, run_cli
import netcalc
from netcalc.errors import SpecError
from netcalc.grading import parse_answers

TEMPLATES = sorted((SPECS / "exercises").glob("*.yaml"))


# -- the textbook, from a filled spec's own numbers ---------------------------------

def _value(value, params: dict):
    """A filled spec's value: `${name}` and the like read the params (trusted text)."""
    if isinstance(value, list):
        return [_value(item, params) for item in value]
    if isinstance(value, str) and value.startswith("${") and value.endswith("}"):
        return eval(value[2:-1], {"__builtins__": {}, "true": True, "false": False}, params)
    return value


def _pair(value) -> int:
    """Square windows only in the templates: 3 or [3, 3]."""
    if isinstance(value, list):
        assert len(set(value)) == 1
        return value[0]
    return value


def textbook(spec_text: str) -> tuple[dict, dict]:
    """Each layer's (output shape, params, MACs) and the totals, by the formulas
    O = ⌊(I − K + 2P) / S⌋ + 1, (K·K·C_in + 1)·C_out, (in + 1)·out, 2·C for a batch norm."""
    spec = yaml.safe_load(spec_text)
    params: dict = {}
    for name, value in (spec.get("params") or {}).items():
        params[name] = _value(value, params)
    shapes = {"input": tuple(_value(spec["input"], params))}
    layers = {}
    previous = "input"
    for entry in spec["layers"]:
        args = {key: _value(value, params) for key, value in entry.items()}
        name, kind = args["name"], args["type"]
        inputs = [shapes[reference] for reference in args.get("inputs", [previous])]
        previous = name
        if not args.get("if", True):          # switched off: passes its input on
            shapes[name] = inputs[0]
            continue
        x = inputs[0]
        weights = macs = 0
        if kind == "conv2d":
            c_in, h, _ = x
            k, s, p = (_pair(args.get(a, d)) for a, d in
                       (("kernel_size", 0), ("stride", 1), ("padding", 0)))
            h_out = (h - k + 2 * p) // s + 1
            c_out = args["out_channels"]
            y = (c_out, h_out, h_out)
            weights = (k * k * c_in + (1 if args.get("bias", True) else 0)) * c_out
            macs = h_out * h_out * c_out * k * k * c_in
        elif kind in ("maxpool2d", "avgpool2d"):
            k = _pair(args["kernel_size"])
            s, p = _pair(args.get("stride", k)), _pair(args.get("padding", 0))
            h_out = (x[1] - k + 2 * p) // s + 1
            y = (x[0], h_out, h_out)
        elif kind == "adaptiveavgpool2d":
            size = _pair(args["output_size"])
            y = (x[0], size, size)
        elif kind in ("relu", "dropout"):
            y = x
        elif kind == "batchnorm2d":
            y, weights = x, 2 * x[0]
        elif kind == "flatten":
            y = (math.prod(x),)
        elif kind == "linear":
            y = (args["out_features"],)
            weights = (x[0] + (1 if args.get("bias", True) else 0)) * args["out_features"]
            macs = x[0] * args["out_features"]
        elif kind == "add":
            assert all(shape == x for shape in inputs)
            y = x
        else:
            raise AssertionError(f"the test's textbook has no rule for {kind}")
        shapes[name] = y
        layers[name] = {"output": list(y), "params": weights, "macs": macs, "flops": 2 * macs}
    totals = {f"total_{q}": sum(layer[q] for layer in layers.values())
              for q in ("params", "macs", "flops")}
    return layers, totals


# -- every shipped template ----------------------------------------------------------

def test_the_templates_are_shipped():
    assert {p.stem for p in TEMPLATES} >= {"alexnet_first_layers", "pooling", "vgg_block",
                                           "resnet_basic_block", "fully_connected"}


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.stem)
def test_each_variant_is_valid_distinct_and_its_key_is_the_textbook(template, tmp_path,
                                                                      capsys):
    variants = netcalc.exercise(template, seed=11, count=6)
    assert [v.number for v in variants] == [1, 2, 3, 4, 5, 6]
    assert len({v.spec_text for v in variants}) == 6
    for variant in variants:
        assert "choice(" not in variant.spec_text and "randint(" not in variant.spec_text
        assert "\nx-exercise:" not in variant.spec_text
        layers, totals = textbook(variant.spec_text)
        assert variant.answers
        for key, given in variant.answers.items():
            if key.startswith("total_"):
                assert given == totals[key], (variant.number, key)
            else:
                for quantity, value in given.items():
                    assert value == layers[key][quantity], (variant.number, key, quantity)
        # the key is an answers file, and `netcalc check` gives full marks
        assert len(parse_answers(variant.answers_yaml)) == sum(
            len(v) if isinstance(v, dict) else 1 for v in variant.answers.values())
        spec, key = tmp_path / f"v{variant.number}.yaml", tmp_path / f"v{variant.number}.key"
        spec.write_text(variant.spec_text, encoding="utf-8")
        key.write_text(variant.answers_yaml, encoding="utf-8")
        code, out, err = run_cli(capsys, "check", str(spec), str(key), "--lang", "en")
        assert code == 0, out + err
        questions = variant.sheet.questions
        assert len(questions) == sum(len(v) if isinstance(v, dict) else 1
                                     for v in variant.answers.values())
        for question in questions:
            assert f"\n{question.number}. " in variant.question_markdown
            assert f"\n{question.number}. " in variant.working_markdown


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.stem)
def test_summary_says_a_template_is_an_exercise_template(template, capsys):
    code, out, err = run_cli(capsys, "summary", str(template))
    assert code == 1 and out == ""
    assert "this is an exercise template; fill it with `netcalc exercise" in err
    assert err.startswith(f"{template}:") and ": error: in '${" in err
    assert "Traceback" not in err


def test_a_summary_error_points_at_the_draw(tmp_path, capsys):
    template = tmp_path / "t.yaml"
    template.write_text("input: [3, 32, 32]\nlayers:\n"
                        "  - {type: conv2d, out_channels: 8, kernel_size: \"${choice(3, 5)}\"}\n")
    code, _, err = run_cli(capsys, "summary", str(template))
    assert code == 1
    assert err.startswith(f"{template}:3:50: error: in '${{choice(3, 5)}}': choice(...) is "
                          "drawn when an exercise is made")


# -- the command: files, determinism, the directory ------------------------------------

def _files(directory) -> dict[str, bytes]:
    return {name: (directory / name).read_bytes() for name in sorted(os.listdir(directory))}


def test_the_same_seed_writes_the_same_bytes_and_another_seed_others(tmp_path, capsys):
    template = str(SPECS / "exercises" / "alexnet_first_layers.yaml")
    for name, seed in (("a", "5"), ("b", "5"), ("c", "6")):
        code, out, err = run_cli(capsys, "exercise", template, "--seed", seed, "--count", "3",
                                 "-o", str(tmp_path / name), "--lang", "zh")
        assert (code, err) == (0, ""), err
    a, b, c = (_files(tmp_path / name) for name in "abc")
    assert sorted(a) == [f"variant_0{i}{suffix}" for i in (1, 2, 3) for suffix in
                         (".key.yaml", ".question.md", ".working.md", ".yaml")]
    assert a == b
    assert a != c and a["variant_01.yaml"] != c["variant_01.yaml"]
    assert "wrote 3 variants of" in out and "variant_01 … variant_03" in out
    # in Chinese, and each key passes `netcalc check` on its variant
    assert "的输出形状" in a["variant_01.question.md"].decode()
    assert "The output shape" not in a["variant_01.question.md"].decode()
    code, out, _ = run_cli(capsys, "check", str(tmp_path / "a" / "variant_02.yaml"),
                           str(tmp_path / "a" / "variant_02.key.yaml"))
    assert code == 0 and "✗" not in out


def test_more_variants_keep_the_first_ones():
    template = SPECS / "exercises" / "pooling.yaml"
    few = netcalc.exercise(template, seed=2, count=2)
    more = netcalc.exercise(template, seed=2, count=5)
    assert [v.spec_text for v in few] == [v.spec_text for v in more[:2]]


def test_the_directory_is_new_empty_or_an_earlier_exercise(tmp_path, capsys):
    template = str(SPECS / "exercises" / "fully_connected.yaml")
    out_dir = tmp_path / "out"
    out_dir.mkdir()                                    # empty: fine
    assert run_cli(capsys, "exercise", template, "--seed", "1", "--count", "3",
                   "-o", str(out_dir))[0] == 0
    before = _files(out_dir)
    code, _, err = run_cli(capsys, "exercise", template, "--seed", "2", "--count", "2",
                           "-o", str(out_dir))
    assert code == 2 and "holds an earlier exercise: --force replaces it" in err
    assert _files(out_dir) == before
    code, _, _ = run_cli(capsys, "exercise", template, "--seed", "2", "--count", "2",
                         "-o", str(out_dir), "--force")
    assert code == 0
    assert sorted(_files(out_dir)) == sorted(n for n in before if not n.startswith("variant_03"))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]   # no leftovers
    (out_dir / "notes.txt").write_text("mine")
    code, _, err = run_cli(capsys, "exercise", template, "--seed", "2", "-o", str(out_dir),
                           "--force")
    assert code == 2 and "holds other files (notes.txt)" in err
    assert (out_dir / "notes.txt").read_text() == "mine"


def test_a_failure_writes_nothing(tmp_path, capsys):
    template = tmp_path / "never.yaml"
    template.write_text("input: [3, 8, 8]\nlayers:\n"
                        "  - {type: conv2d, out_channels: 4, kernel_size: \"${choice(9, 11)}\"}\n")
    code, out, err = run_cli(capsys, "exercise", str(template), "--seed", "1",
                             "-o", str(tmp_path / "out"))
    assert code == 1 and out == ""
    assert err.startswith(f"{template}:3:")
    assert "no draw of this template gives a valid network (2 draws tried); the last failed " \
           "here: layer 'conv2d_1' (conv2d): kernel 11 is larger than the padded input 8" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["never.yaml"]


# -- drawing -------------------------------------------------------------------------

def _template(tmp_path, layers: str, extra: str = "", input_: str = "[3, 16, 16]") -> str:
    path = tmp_path / "t.yaml"
    path.write_text(f"{extra}input: {input_}\nlayers:\n{layers}", encoding="utf-8")
    return str(path)


def test_a_draw_that_makes_no_network_is_drawn_again(tmp_path):
    # a 7×7 kernel does not fit a 5×5 input: every variant has 3 or 5
    template = _template(tmp_path, "  - {type: conv2d, name: c, out_channels: \"${randint(1, 40)}\","
                         " kernel_size: \"${choice(3, 5, 7)}\"}\n", input_="[1, 5, 5]")
    variants = netcalc.exercise(template, seed=4, count=20)
    assert len(variants) == 20
    kernels = {yaml.safe_load(v.spec_text)["layers"][0]["kernel_size"] for v in variants}
    assert kernels == {3, 5}


def test_a_params_draw_is_one_value_for_every_reader():
    for variant in netcalc.exercise(SPECS / "exercises" / "vgg_block.yaml", seed=3, count=5):
        conv1, conv2 = (row for row in variant.sheet.layers if row.type == "conv2d")
        assert conv1.arguments["out_channels"] == conv2.arguments["out_channels"]
        assert yaml.safe_load(variant.spec_text)["params"]["width"] == \
            conv1.arguments["out_channels"]


def test_each_draw_is_its_own_and_a_draw_may_stand_in_an_expression(tmp_path):
    template = _template(tmp_path, "  - {type: conv2d, name: a, out_channels: \"${choice(4, 8)}\","
                         " kernel_size: 1}\n  - {type: conv2d, name: b, out_channels: "
                         "\"${2 * choice(4, 8)}\", kernel_size: 1}\n")
    variants = netcalc.exercise(template, seed=0, count=4)
    pairs = {(v.answers["a"]["output"][0], v.answers["b"]["output"][0]) for v in variants}
    assert pairs == {(4, 8), (4, 16), (8, 8), (8, 16)}
    assert all(v.draws[0].written == "choice(4, 8)" and v.draws[0].loc.line == 3
               for v in variants)
    assert '"${2 * 8}"' in variants[0].spec_text or '"${2 * 4}"' in variants[0].spec_text


def test_fewer_networks_than_asked_give_fewer_variants(tmp_path, capsys):
    template = _template(tmp_path, "  - {type: conv2d, out_channels: \"${choice(4, 8)}\", "
                         "kernel_size: 3, bias: \"${choice(true, false)}\"}\n")
    code, out, err = run_cli(capsys, "exercise", template, "--seed", "9", "--count", "10",
                             "-o", str(tmp_path / "out"))
    assert code == 0
    assert "the template gave 4 distinct valid networks, not 10: wrote those" in err
    assert len(os.listdir(tmp_path / "out")) == 16


def test_the_default_questions(tmp_path):
    template = _template(tmp_path, "  - {type: conv2d, name: c, out_channels: \"${choice(4, 8)}\","
                         " kernel_size: 3}\n  - {type: relu, name: r}\n"
                         "  - {type: maxpool2d, name: p, kernel_size: 2}\n")
    variant = netcalc.exercise(template, seed=1, count=1)[0]
    asked = [(q.layer, q.quantity) for q in variant.sheet.questions]
    assert asked == [("c", "output"), ("c", "params"), ("p", "output"), ("p", "params"),
                     (None, "params")]


@pytest.mark.parametrize("layers, extra, message", [
    ("  - {type: conv2d, out_channels: \"${choice(2 * 4, 16)}\", kernel_size: 1}\n", "",
     "t.yaml:3:34: error: choice(2 * 4, 16): a draw's values are written out"),
    ("  - {type: conv2d, out_channels: \"${randint(9, 2)}\", kernel_size: 1}\n", "",
     "randint(9, 2): randint(low, high) needs low ≤ high"),
    ("  - {type: \"${choice('relu', 'gelu')}\"}\n", "", "a layer's type is not drawn"),
    ("  - {type: relu, name: relu1}\n", "x-exercise: {ask: {rleu1: output}}\n",
     "t.yaml:1:20: error: 'rleu1' is no layer or block of this network; did you mean "
     "'relu1'?"),
    ("  - relu\n", "x-exercise: {ask: {relu: shape}}\n",
     "'shape' is not something an exercise asks"),
    ("  - relu\n", "x-exercise: {ask: {total_params: yes please}}\n",
     "total_params is asked with true"),
    ("  - relu\n", "x-exercise: {asks: {relu: output}}\n",
     "unknown key 'asks' in `x-exercise`; did you mean 'ask'?"),
    ("  - relu\n", "x-exercise: {ask: {total_param: true}}\n",
     "t.yaml:1:20: error: 'total_param' is not a total an exercise asks; did you mean "
     "'total_params'?"),
    # mistakes no draw can mend: said at once, where written, not after 100 draws
    ("  - {type: linear, out_features: \"${choise(84, 120)}\"}\n", "",
     "t.yaml:3:34: error: in '${choise(84, 120)}': there is no function 'choise'; did you "
     "mean 'choice'? (a template may call choice, randint, min, max, int and round)"),
    ("  - {type: linear, out_features: \"${c2}\"}\n", "params: {c1: 8}\n",
     "t.yaml:4:34: error: in '${c2}': 'c2' is not a parameter (parameters: c1)"),
    ("  - {type: linear, out_features: \"${choice(84, 120)\"}\n", "",
     "t.yaml:3:34: error: unterminated '${' in '${choice(84, 120)': close it with '}'"),
])
def test_template_mistakes_are_located(tmp_path, capsys, layers, extra, message):
    template = _template(tmp_path, layers, extra)
    code, out, err = run_cli(capsys, "exercise", template, "--seed", "1",
                             "-o", str(tmp_path / "out"))
    assert code == 1 and out == ""
    assert message in err and err.startswith(f"{tmp_path / 't.yaml'}:")
    with pytest.raises(SpecError):
        netcalc.exercise(template, seed=1)


def test_the_cli_refuses_bad_options(tmp_path, capsys):
    template = str(SPECS / "exercises" / "pooling.yaml")
    code, _, err = run_cli(capsys, "exercise", template, "-o", str(tmp_path / "x"))
    assert code == 2 and "--seed" in err
    code, _, err = run_cli(capsys, "exercise", template, "--seed", "1", "--count", "0",
                           "-o", str(tmp_path / "x"))
    assert code == 2


def test_a_template_given_as_text_and_an_anchor_drawn_once_for_its_aliases():
    text = ('x-width: &w "${choice(4, 8, 16)}"\ninput: [3, 8, 8]\nlayers:\n'
            '  - {type: conv2d, name: a, out_channels: *w, kernel_size: 1}\n'
            '  - {type: conv2d, name: b, out_channels: *w, kernel_size: 1}\n')
    variants = netcalc.exercise(text, seed=1, count=5)
    assert len(variants) == 3                       # the three widths, once each
    for variant in variants:
        assert variant.answers["a"]["output"][0] == variant.answers["b"]["output"][0]
        assert "x-width: &w " in variant.spec_text


def test_a_template_error_on_every_draw_is_said_before_drawing(tmp_path):
    # a block's params and a repeat's `i` are names too: this template is fine
    template = tmp_path / "t.yaml"
    template.write_text("blocks:\n  pair:\n    params: {w: 4}\n    layers:\n"
                        "      - {type: linear, out_features: \"${w * (i + 1)}\", "
                        "repeat: 2}\ninput: [8]\nlayers:\n"
                        "  - {type: pair, w: \"${choice(2, 4)}\"}\n", encoding="utf-8")
    assert len(netcalc.exercise(str(template), seed=1, count=2)) == 2


def test_the_working_shows_shapes_without_the_batch_as_the_sheet_does():
    variant = netcalc.exercise(SPECS / "exercises" / "alexnet_first_layers.yaml", seed=7,
                               count=1)[0]
    # the sheet's input [3, 224, 224] and conv1's answer, as the key writes it: no batch
    conv1 = variant.answers["conv1"]["output"]
    assert f"`[3, 224, 224] → [{', '.join(map(str, conv1))}]`" in variant.working_markdown
    assert "[1, 3, 224, 224]" not in variant.working_markdown
