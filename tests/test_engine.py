"""The engine's shortcuts (issue 18) change no number: what is computed once and kept,
and what is made only when a renderer asks, against figures worked out here."""

from __future__ import annotations

import dataclasses
import json

import pytest

from helpers import SPECS, summarize, summarize_text
from netcalc.errors import SpecError
from netcalc.inputs import parse_shape
from netcalc.spec import parse_spec
from netcalc.spec.expr import evaluate


def test_a_param_read_by_name_is_checked_as_any_expression_is():
    # `${out}` is looked up at once; what the evaluator refuses, it still refuses
    assert evaluate(" out ", {"out": 64}, None) == 64
    assert evaluate("out", {"out": True}, None) is True
    assert evaluate("true", {}, None) is True                  # YAML's spelling
    for huge in (10**37, -(10**37)):
        with pytest.raises(SpecError, match="too large"):
            evaluate("out", {"out": huge}, None)
    with pytest.raises(SpecError, match="not a parameter"):
        evaluate("out", {"width": 1}, None)
    # Python reads `ﬁ` as `fi` (NFKC), and the length limit holds for a name too
    with pytest.raises(SpecError, match="'fi' is not a parameter"):
        evaluate("ﬁ", {"ﬁ": 3}, None)
    with pytest.raises(SpecError, match="longer than 500"):
        evaluate("x" * 501, {"x" * 501: 3}, None)
    # a param named as a Python keyword could never be read: `${True}` is the constant
    with pytest.raises(SpecError, match="keyword") as refused:
        parse_spec('params: {"True": 3}\ninput: [4]\nlayers: [relu]\n', "k.yaml")
    assert str(refused.value).startswith("k.yaml:1:10: error: parameter 'True'")
    # nor could one that Python reads otherwise (NFKC): `ﬁ` is `fi` in ${...}
    with pytest.raises(SpecError, match="read in .* as 'fi'"):
        parse_spec('params: {ﬁ: 3}\ninput: [4]\nlayers: [relu]\n', "k.yaml")


def test_a_kept_expression_value_keeps_its_type():
    # 1, 1.0 and True are equal as keys: a value kept for one is not the others'
    assert type(evaluate("x", {"x": 1}, None)) is int
    assert type(evaluate("x", {"x": 1.0}, None)) is float
    assert evaluate("x", {"x": True}, None) is True
    assert evaluate("x * 2", {"x": 3}, None) == 6 and evaluate("x * 2", {"x": 4}, None) == 8


def test_equal_layers_at_another_batch_and_dtype_are_counted_afresh():
    text = ("input: [3, 32, 32]\nlayers:\n"
            "  - {type: conv2d, out_channels: 8, kernel_size: 3}\n"
            "  - {type: batchnorm2d}\n")
    conv_params = 8 * 3 * 3 * 3 + 8                    # 224
    conv_macs = 8 * 30 * 30 * 3 * 3 * 3                # 194,400 at batch 1
    bn_buffers = 8 + 8 + 1                             # running mean, var, num_batches_tracked
    one = summarize_text(text)
    assert one.layers[0].macs == conv_macs and one.layers[0].param_bytes == conv_params * 4
    four = summarize_text(text, batch=4, dtype="float16")
    assert four.layers[0].macs == 4 * conv_macs
    assert four.layers[0].param_bytes == conv_params * 2
    assert four.layers[0].activation_bytes == 4 * 8 * 30 * 30 * 2
    # num_batches_tracked stays int64 whatever the dtype
    assert four.layers[1].buffer_bytes == 16 * 2 + 8
    assert four.totals.buffers == bn_buffers


def test_repeated_blocks_get_their_own_names_inputs_and_receptive_fields():
    result = summarize(SPECS / "resnet18.yaml")
    first, second = (next(r for r in result.layers if r.name == f"layer1.{k}.conv1")
                     for k in (0, 1))
    assert first.input_shapes == second.input_shapes == ((1, 64, 56, 56),)
    assert first.inputs == ("maxpool",) and second.inputs == ("layer1.0.relu_out",)
    # stem 7×7/2 → 7, maxpool 3×3/2 → 11; layer1.0: two 3×3 at jump 4 → 19, 27;
    # layer1.1's conv1 sees 27 + 2·4 = 35
    assert first.receptive_field.size == (19, 19)
    assert second.receptive_field.size == (35, 35)


def test_layers_made_on_demand_equal_those_a_renderer_reads_twice():
    result = summarize(SPECS / "resnet18.yaml")
    listed = list(result.layers)
    assert [r.name for r in listed] == [result.layers[k].name for k in range(len(listed))]
    assert result.layers[-1].params == 512 * 1000 + 1000
    assert result.layers[2:4] == tuple(listed[2:4])
    document = json.loads(result.to_json())
    assert [layer["name"] for layer in document["layers"]] == [r.name for r in listed]
    assert sum(layer["params"] for layer in document["layers"]) == 11_689_512


def test_a_summary_reads_as_tuples_pickles_and_adds():
    import pickle

    result = summarize(SPECS / "lenet5.yaml")
    names = [r.name for r in result.layers]
    again = pickle.loads(pickle.dumps(result))
    assert [r.name for r in again.layers] == names and again.totals.params == 61_706
    assert len(result.rows + result.blocks) == len(result.rows) + len(result.blocks)
    assert result.layers[0] is result.layers[0] is next(iter(result.layers))


def test_json_to_a_latin1_terminal_is_one_utf8_document(tmp_path):
    import os
    import subprocess
    import sys

    # `×` fits Latin-1, a shape's `⌊` does not: the whole document is UTF-8, as -o writes
    done = subprocess.run([sys.executable, "-m", "netcalc", "summary",
                           str(SPECS / "resnet18.yaml"), "--input", "3xHxW", "--format", "json"],
                          capture_output=True, env={**os.environ, "PYTHONIOENCODING": "latin-1"})
    assert done.returncode == 0
    document = json.loads(done.stdout.decode("utf-8"))
    assert document["macs_convention"].endswith("flops = 2 × macs")
    assert any("⌊" in str(layer["output_shape"]) for layer in document["layers"])


REUSED_BLOCKS = """\
input: [4, 8, 8]
blocks:
  inner:
    layers:
      - {type: conv2d, name: conv, out_channels: 4, kernel_size: 3, padding: 1}
      - {type: relu, name: act, if: false}
  pair:
    layers:
      - {type: inner, name: first}
      - {type: chunk, name: [left, right], chunks: 2, dim: 1}
      - {type: cat, name: joined, inputs: [right, left], dim: 1}
      - {type: add, name: sum, inputs: [joined, input]}
layers:
  - {type: pair, name: a}
  - {type: pair, name: b}
  - {type: pair, name: c, repeat: 2}
"""


def test_a_block_used_again_at_the_same_values_gets_its_own_names_and_trace():
    spec = parse_spec(REUSED_BLOCKS, "reused.yaml")

    def copy(prefix: str, before: str, depth: int) -> list:
        inner = f"in block 'inner', used here as '{prefix}.first'"
        outer = f"in block 'pair', used here as '{prefix}'"
        return [(f"{prefix}.first.conv", (before,), depth + 1, [inner, outer]),
                (f"{prefix}.left", (f"{prefix}.first.conv",), depth, [outer]),
                (f"{prefix}.right", (f"{prefix}.first.conv",), depth, [outer]),
                (f"{prefix}.joined", (f"{prefix}.right", f"{prefix}.left"), depth, [outer]),
                (f"{prefix}.sum", (f"{prefix}.joined", before), depth, [outer])]

    # `act` is switched off: `pair`'s chunk reads the conv; `sum` adds the block's input
    expected = [*copy("a", "input", 1), *copy("b", "a.sum", 1), *copy("c.0", "b.sum", 2),
                *copy("c.1", "c.0.sum", 2)]
    assert [(s.name, s.inputs, s.depth, [n.message for n in s.trace])
            for s in spec.layers] == expected
    assert [(g.name, g.depth, g.first, g.end, g.output) for g in spec.groups] == [
        ("a", 0, 0, 5, "a.sum"), ("a.first", 1, 0, 1, "a.first.conv"),
        ("b", 0, 5, 10, "b.sum"), ("b.first", 1, 5, 6, "b.first.conv"),
        ("c", 0, 10, 20, "c.1.sum"), ("c.0", 1, 10, 15, "c.0.sum"),
        ("c.0.first", 2, 10, 11, "c.0.first.conv"), ("c.1", 1, 15, 20, "c.1.sum"),
        ("c.1.first", 2, 15, 16, "c.1.first.conv")]


def test_an_error_in_a_block_used_again_names_that_use():
    text = ("input: [16]\nblocks:\n  head:\n    layers:\n"
            "      - {type: linear, name: fc, in_features: 16, out_features: 8}\n"
            "layers:\n  - {type: head, name: a}\n  - {type: head, name: b}\n")
    try:
        summarize_text(text, file="heads.yaml")
    except SpecError as error:
        message = str(error)
    # b's input is a's 8 features, not 16
    assert message.startswith("heads.yaml:5:47: error: layer 'b.fc' (linear): in_features=16 "
                              "but the input has 8 features in its last dim"), message
    assert "heads.yaml:8:5: note: in block 'head', used here as 'b'" in message, message


def test_a_block_given_one_tensor_twice_reads_each_input_where_it_says():
    text = ("input: [3]\nblocks:\n  both:\n    inputs: [x, y]\n    layers:\n"
            "      - {type: mul, name: m, inputs: [x, y]}\n      - {type: add, inputs: [m, y]}\n"
            "layers:\n  - {type: relu, name: r}\n  - {type: both, name: p, inputs: [r, r]}\n"
            "  - {type: both, name: q, inputs: [r, p]}\n")
    spec = parse_spec(text, "twice.yaml")
    assert [(s.name, s.inputs) for s in spec.layers] == [
        ("r", ("input",)), ("p.m", ("r", "r")), ("p.add_1", ("p.m", "r")),
        ("q.m", ("r", "p.add_1")), ("q.add_1", ("q.m", "p.add_1"))]


def test_a_block_instance_reading_what_an_earlier_one_read_gets_its_numbers_and_own_names():
    text = ("input: [8, 16, 16]\nblocks:\n  unit:\n    layers:\n"
            "      - {type: conv2d, name: conv, out_channels: 8, kernel_size: 3, padding: 1}\n"
            "      - {type: linear, name: fc, out_features: 16}\n"
            "layers:\n  - {type: unit, name: a}\n  - {type: unit, name: b}\n"
            "  - {type: maxpool2d, name: pool, kernel_size: 2}\n  - {type: unit, name: c}\n")
    result = summarize_text(text, file="units.yaml")
    # a and b read [8, 16, 16]; c reads the pooled [8, 8, 8], its linear 8 features in
    assert [(r.name, r.output_shape, r.params, r.macs) for r in result.layers] == [
        ("a.conv", (1, 8, 16, 16), 8 * 8 * 9 + 8, 8 * 16 * 16 * 8 * 9),
        ("a.fc", (1, 8, 16, 16), (16 + 1) * 16, 8 * 16 * 16 * 16),
        ("b.conv", (1, 8, 16, 16), 8 * 8 * 9 + 8, 8 * 16 * 16 * 8 * 9),
        ("b.fc", (1, 8, 16, 16), (16 + 1) * 16, 8 * 16 * 16 * 16),
        ("pool", (1, 8, 8, 8), 0, 0),
        ("c.conv", (1, 8, 8, 8), 8 * 8 * 9 + 8, 8 * 8 * 8 * 8 * 9),
        ("c.fc", (1, 8, 8, 16), (8 + 1) * 16, 8 * 8 * 8 * 16)]
    assert [r.inputs for r in result.layers][2:4] == [("a.fc",), ("b.conv",)]
    # the linear on a 4-D input warns, once per layer, each at its own name
    assert [w.layer for w in result.warnings] == ["a.fc", "b.fc", "c.fc"]
    # each instance's receptive field is traced from its own input: a's conv sees 3×3,
    # b's reads a's linear, which mixes W and not H: no grid is left
    a_conv, b_conv = result.layers[0].receptive_field, result.layers[2].receptive_field
    assert (a_conv.kind, a_conv.size) == ("local", (3, 3))
    assert (b_conv.kind, b_conv.origin) == ("undefined", "a.fc")


def _each_record_as_json(summary) -> list[dict]:
    """The layers as the standard library writes a dataclass: what JSON's records,
    encoded once for layers alike and spliced, must equal."""
    records = []
    for layer in summary.layers:
        record = {f.name: getattr(layer, f.name) for f in dataclasses.fields(layer)}
        if layer.receptive_field is not None:    # a half-pixel start is written 0.5
            field = record["receptive_field"] = dataclasses.asdict(layer.receptive_field)
            field["start"] = [float(s) if s % 1 else int(s) for s in field["start"]]
        records.append(json.loads(json.dumps(record, default=str)))
    return records


@pytest.mark.parametrize("spec, options", [
    ("resnet50.yaml", {}), ("gpt2.yaml", {"batch": 2}), ("googlenet.yaml", {}),
    ("lstm_text.yaml", {"dtype": "float16"}),
])
def test_json_records_equal_the_layers_written_out_whole(spec, options):
    summary = summarize(SPECS / spec, **options)
    assert json.loads(summary.to_json())["layers"] == _each_record_as_json(summary)


def test_json_records_of_letters_equal_the_layers_written_out_whole():
    summary = summarize_text("input: [3, 32, 32]\nlayers:\n"
                             "  - {type: conv2d, out_channels: 4, kernel_size: 3}\n"
                             "  - {type: relu}\n"
                             "  - {type: conv2d, out_channels: 4, kernel_size: 3}\n"
                             "  - {type: relu}\n",
                             input_shapes={"input": parse_shape("3xHxW", True)})
    document = json.loads(summary.to_json())
    assert document["layers"][2]["output_shape"] == [1, 4, "H − 4", "W − 4"]
    assert document["layers"] == _each_record_as_json(summary)


def test_layers_alike_but_for_a_number_type_are_written_each_as_it_is():
    # 0 and 0.0 are equal as keys: a record encoded for one is not the other's
    document = json.loads(summarize_text(
        "input: [8]\nlayers:\n"
        "  - {type: leakyrelu, negative_slope: 0}\n"
        "  - {type: leakyrelu, negative_slope: 0.0}\n"
        "  - {type: leakyrelu, negative_slope: 0}\n").to_json())
    assert [type(layer["arguments"]["negative_slope"]) for layer in document["layers"]] == \
        [int, float, int]


def test_layers_of_one_kind_differ_only_in_their_own_fields():
    summary = summarize(SPECS / "resnet50.yaml")
    every = list(summarize(SPECS / "resnet50.yaml").layers)      # another, made whole
    own = ("name", "depth", "inputs", "receptive_field", "tied_params")

    def rest(layer) -> dict:
        return {f.name: getattr(layer, f.name) for f in dataclasses.fields(layer)
                if f.name not in own}

    first: dict = {}
    streamed = list(summary.each_layer_alike())
    for (kind, item), whole in zip(streamed, every, strict=True):
        assert kind is not None
        if kind not in first:            # the first of its kind comes whole
            assert dataclasses.is_dataclass(item) and item == whole
            first[kind] = item
        else:                            # the others, as what is their own
            assert tuple(item) == tuple(getattr(whole, name) for name in own)
            assert rest(first[kind]) == rest(whole)
    # ResNet-50's 16 bottlenecks repeat in 4 stages: far fewer kinds than layers
    assert len(first) < len(every) / 2
    # a layer read (and kept) before is of no kind, and whole: it might have changed
    summary.layers[3].params = -1
    kinds = [kind for kind, _ in summary.each_layer_alike()]
    assert kinds[3] is None and None not in kinds[:3] + kinds[4:]
    assert json.loads(summary.to_json())["layers"][3]["params"] == -1


def test_json_block_rows_equal_the_rows_written_out_whole():
    summary = summarize(SPECS / "resnet50.yaml")
    rows = []
    for row in summary.blocks:
        record = {f.name: getattr(row, f.name) for f in dataclasses.fields(row)}
        record["receptive_field"] = dataclasses.asdict(row.receptive_field)
        rows.append(json.loads(json.dumps(record)))
    assert json.loads(summary.to_json())["blocks"] == rows


def test_a_whole_pixel_start_is_written_as_a_whole_number():
    # kernel 2, `same` padding: torch pads 0 before and 1 after, so each conv's centre
    # moves half a pixel: c1 at 0.5, c2 at 0.5 + 0.5 = 1 (r 2, then 3); the add's
    # union with the input's [0, 0] spans [0, 2]: r 3 centred on 1. The second copy
    # continues from the first's add: 1.5, then 2; its union spans [0, 4]: r 5, at 2
    document = json.loads(summarize_text(
        "input: [8, 32]\n"
        "blocks:\n"
        "  res:\n"
        "    layers:\n"
        "      - {type: conv1d, name: c1, out_channels: 8, kernel_size: 2, padding: same}\n"
        "      - {type: conv1d, name: c2, out_channels: 8, kernel_size: 2, padding: same}\n"
        "      - {type: add, name: add, inputs: [c2, input]}\n"
        "layers:\n"
        "  - {type: res, name: r, repeat: 2}\n").to_json())
    starts = {layer["name"]: (layer["receptive_field"]["size"], layer["receptive_field"]["start"])
              for layer in document["layers"]}
    assert starts == {"r.0.c1": ([2], [0.5]), "r.0.c2": ([3], [1]), "r.0.add": ([3], [1]),
                      "r.1.c1": ([4], [1.5]), "r.1.c2": ([5], [2]), "r.1.add": ([5], [2])}
    assert all(type(start) is int for name, (_, [start]) in starts.items() if "c1" not in name)
    assert {row["name"]: row["receptive_field"]["start"] for row in document["blocks"]} == \
        {"r": [2], "r.0": [1], "r.1": [2]}


def test_a_layer_changed_after_it_was_read_is_written_as_it_now_is():
    summary = summarize(SPECS / "lenet5.yaml")
    summary.layers[1].depth = None
    summary.layers[2].tied_params = None
    layer = summary.layers[3]
    depth = layer.depth
    del layer.depth             # its attributes in another order
    layer.depth = depth
    written = json.loads(summary.to_json())["layers"]
    assert written[1]["depth"] is None and written[2]["tied_params"] is None
    assert written[3]["depth"] == depth and written[3]["inputs"] == list(layer.inputs)


def test_json_writes_each_layers_own_fields_in_its_records_order():
    from netcalc.render.json import _LAYER_FIELDS, _LAYER_OWN
    assert list(_LAYER_OWN) == [name for name in _LAYER_FIELDS if name in _LAYER_OWN]


def test_a_record_template_filled_in_is_the_record_as_json_writes_it():
    from netcalc.render.json import _GAP, _dumps, _template
    for note in ("plain", _GAP, f"holds the gap mark {_GAP}", "{braces} and \"quotes\""):
        record = {"name": "a.b", "note": note, "size": [3, 3], "depth": 2, "tail": None}
        pieces = _template(record, ("name", "depth"))
        filled = pieces[0] + _dumps("a.b") + pieces[1] + _dumps(2) + pieces[2]
        assert json.loads(filled) == record
        assert filled == json.dumps(record, ensure_ascii=False)


def test_block_rows_whose_fields_were_changed_are_written_as_they_now_are():
    summary = summarize(SPECS / "resnet18.yaml")
    first, second, third = summary.blocks[0], summary.blocks[1], summary.blocks[2]
    # 4 and 4.0 are equal keys: one row's field written from the other's would lose it
    first.receptive_field = dataclasses.replace(first.receptive_field, jump=(4.0, 4.0))
    second.receptive_field = dataclasses.replace(second.receptive_field, jump=(4, 4))
    third.receptive_field = "set by hand"
    rows = json.loads(summary.to_json())["blocks"]
    assert [type(j) for j in rows[0]["receptive_field"]["jump"]] == [float, float]
    assert [type(j) for j in rows[1]["receptive_field"]["jump"]] == [int, int]
    assert rows[2]["receptive_field"] == "set by hand"


def test_a_broadcast_clash_of_letters_is_said_in_one_order():
    from netcalc.errors import ShapeError
    from netcalc.layers.combine import broadcast
    from netcalc.symbolic import Size
    h, h_less_4 = Size("H", 1, 0, 1, 0), Size("H", 1, -4, 1, 0)      # H and H − 4
    said = set()
    for shapes in (((1, 8, h), (1, 8, h_less_4)), ((1, 8, h_less_4), (1, 8, h)),
                   ((1, 8, h), (1, 4, h_less_4))):
        with pytest.raises(ShapeError) as clash:
            broadcast(shapes, "add")
        said.add(str(clash.value).split("(")[-1])
    assert said == {"dim 2 is H vs H − 4)", "dim 1 is 4 vs 8; dim 2 is H vs H − 4)"}


def test_a_block_instance_repeated_from_a_copy_of_a_series_is_its_own_use():
    # `extra` is the block at the values of `s1`, and so repeats its expansion: but it is
    # used at its own line, and is no copy of s0, s1 (a diagram drawing a series once
    # would hide it)
    spec = parse_spec("input: [4, 8, 8]\n"
                      "blocks:\n"
                      "  unit:\n"
                      "    params: {out: 4}\n"
                      "    layers: [{type: conv2d, out_channels: \"${out}\", kernel_size: 1}]\n"
                      "layers:\n"
                      "  - {type: unit, name: \"s${i}\", repeat: 2, out: \"${4 * (i + 1)}\"}\n"
                      "  - {type: unit, name: extra, out: 8}\n", "series.yaml")
    groups = {g.name: g for g in spec.groups}
    assert (groups["s1"].series, groups["s1"].loc.line) == ((1, 2), 7)
    assert (groups["extra"].series, groups["extra"].loc.line) == ((), 8)
    assert groups["extra"].pattern == groups["s1"].pattern     # the same layers
