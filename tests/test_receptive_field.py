"""Receptive fields (`summary --show rf`) against published figures and by hand.

Convention (README, "Receptive field"): per spatial dim, r input pixels, jump j,
and start = the centre of the first unit's field as a pixel index (pixel 0's
centre is 0). Per window (kernel K, stride S, left padding P, dilation D):
r_out = r_in + (K − 1)·D·j_in, j_out = j_in·S, start_out = start_in + ((K − 1)·D/2 − P)·j_in.
No torch here: the numbers are the recurrences' and the published tables'.
"""

from __future__ import annotations

import csv
import io
import json
from fractions import Fraction

import hypothesis.strategies as st
import pytest
from hypothesis import assume, given, settings

from helpers import SPECS, run_cli, summarize, summarize_text
from netcalc.errors import SpecError
from netcalc.layers.base import Layer
from netcalc.layers import REGISTRY


def fields(summary) -> dict:
    """Layer and block name -> its receptive field."""
    return {**{row.name: row.receptive_field for row in summary.blocks},
            **{layer.name: layer.receptive_field for layer in summary.layers}}


def local(rf) -> tuple:
    """(r, jump, start) of a square local field."""
    assert rf.kind == "local", (rf.kind, rf.note)
    assert len(set(rf.size)) == len(set(rf.jump)) == len(set(rf.start)) == 1
    return rf.size[0], rf.jump[0], rf.start[0]


def test_alexnet_layer_by_layer():
    # The commonly tabulated AlexNet fields, 11, 19, 51, 67, 99, 131, 163, 195: Dang Ha
    # The Hien, "A guide to receptive field arithmetic for Convolutional Neural Networks"
    # (mlreview, 2017), whose receptive_field.py prints them for AlexNet; the final 195
    # (effective stride 32) is also google-research/receptive_field's README table
    # (alexnet_v2). Those assume Caffe's/TF-slim's paddings (conv1 unpadded, 227 input)
    # and put pixel 0's centre at 0.5; r and j never depend on the padding, so the
    # figures hold for torchvision's paddings too. The starts do depend on it; by hand
    # from specs/alexnet.yaml (conv1 11/4 p2, pools 3/2 p0, conv2 5 p2, conv3-5 3 p1):
    # conv1 0 + (5 − 2)·1 = 3, pool1 3 + (1 − 0)·4 = 7, conv2 7 + (2 − 2)·8 = 7,
    # pool2 7 + 1·8 = 15, conv3-5 15 + 0 = 15, pool5 15 + 1·16 = 31.
    rf = fields(summarize(SPECS / "alexnet.yaml"))
    expected = {
        "conv1.conv": (11, 4, 3), "pool1": (19, 8, 7), "conv2.conv": (51, 8, 7),
        "pool2": (67, 16, 15), "conv3.conv": (99, 16, 15), "conv4.conv": (131, 16, 15),
        "conv5.conv": (163, 16, 15), "pool5": (195, 32, 31),
    }
    assert {name: local(rf[name]) for name in expected} == expected
    assert local(rf["conv1.relu"]) == (11, 4, 3)          # activations pass it on
    assert local(rf["avgpool"]) == (195, 32, 31)          # adaptive 6 -> 6: the identity
    assert rf["flatten"].kind == "flattened" and rf["flatten"].size == (195, 195)
    assert (rf["fc6.fc"].kind, rf["fc6.fc"].origin) == ("whole", "fc6.fc")
    assert rf["fc8"].kind == "whole"


def test_vgg16_conv5_3_and_pool5():
    # 196 and 212, jump 16 and 32: the textbook VGG16 figures (google-research/
    # receptive_field's table: vgg_16 212, effective stride 32, effective padding 90,
    # i.e. start = (212 − 1)/2 − 90 = 15.5 in our convention).
    rf = fields(summarize(SPECS / "vgg16.yaml"))
    # each 2×2/2 pool moves the centre by (2 − 1)/2·j: 0.5, 1.5, 3.5, 7.5, 15.5
    assert local(rf["stage5.conv3.conv"]) == (196, 16, Fraction(15, 2))
    assert local(rf["stage5.pool"]) == (212, 32, Fraction(31, 2))
    assert local(rf["stage5"]) == (212, 32, Fraction(31, 2))     # the block's output
    assert [local(rf[f"stage{i}.pool"])[0] for i in range(1, 6)] == [6, 16, 44, 100, 212]


@pytest.mark.parametrize("name, stages", [
    # samson-wang's "ResNet Receptive Field Size" table (GitHub gist a6073c18...), the
    # commonly cited figures for torchvision's ResNets (stride on the 3×3 conv)
    ("resnet18", (7, 11, 43, 99, 211, 435)),
    ("resnet34", (7, 11, 59, 179, 547, 899)),
    ("resnet50", (7, 11, 35, 91, 267, 427)),
])
def test_resnet_stages(name, stages):
    rf = fields(summarize(SPECS / f"{name}.yaml"))
    names = ("conv1", "maxpool", "layer1", "layer2", "layer3", "layer4")
    assert tuple(local(rf[n])[0] for n in names) == stages
    assert local(rf["layer4"])[1:] == (32, 0)
    # global pooling ends it: every unit of avgpool and fc sees the whole input
    assert (rf["avgpool"].kind, rf["fc"].kind, rf["fc"].origin) == ("whole", "whole", "avgpool")


def test_residual_add_takes_the_larger_path():
    # layer2.0: conv1 (3×3/2) and conv2 (3×3) grow 43 to 51 and 67; the 1×1/2 projection
    # keeps 43. Centres agree (0), so the add's field is the larger, 67.
    rf = fields(summarize(SPECS / "resnet18.yaml"))
    assert local(rf["layer2.0.conv1"]) == (51, 8, 0)
    assert local(rf["layer2.0.bn2"]) == (67, 8, 0)
    assert local(rf["layer2.0.downsample.0"]) == (43, 8, 0)
    assert local(rf["layer2.0.add"]) == (67, 8, 0)


def test_inception_v3_branches():
    # google-research/receptive_field's table: inception_v3 1311, effective stride 32,
    # effective padding 618, so start = (1311 − 1)/2 − 618 = 37. The last block
    # concatenates four branches; the field is their largest.
    rf = fields(summarize(SPECS / "inception_v3.yaml"))
    assert local(rf["Mixed_7c"]) == (1311, 32, 37)
    assert rf["avgpool"].kind == "whole"


def test_concat_of_inception_branches_by_hand():
    summary = summarize_text("""
input: [8, 16, 16]
layers:
  - {type: conv2d, name: b1, out_channels: 4, kernel_size: 1, inputs: [input]}
  - {type: conv2d, name: b3, out_channels: 4, kernel_size: 3, padding: 1, inputs: [input]}
  - {type: conv2d, name: b5, out_channels: 4, kernel_size: 5, padding: 2, inputs: [input]}
  - {type: maxpool2d, name: pool, kernel_size: 3, stride: 1, padding: 1, inputs: [input]}
  - {type: conv2d, name: bp, out_channels: 4, kernel_size: 1}
  - {type: concat, name: cat, dim: 1, inputs: [b1, b3, b5, bp]}
""")
    rf = fields(summary)
    assert [local(rf[n]) for n in ("b1", "b3", "b5", "bp", "cat")] == \
        [(1, 1, 0), (3, 1, 0), (5, 1, 0), (3, 1, 0), (5, 1, 0)]


def test_paths_whose_centres_differ_give_the_union():
    # a: 3×3 unpadded, first unit centred on pixel 1, sees pixels 0..2;
    # b: from pixel 2 on, then 3×3 padded 1, first unit centred on 2, sees 1..3.
    # The sum's first unit sees 0..3: r = 4, centre 1.5 (more than either path's 3).
    summary = summarize_text("""
input: [1, 10, 10]
layers:
  - {type: conv2d, name: a, out_channels: 1, kernel_size: 3, inputs: [input]}
  - {type: slice, name: b_in, dim: 2, start: 2, inputs: [input]}
  - {type: slice, name: b_in2, dim: 3, start: 2}
  - {type: conv2d, name: b, out_channels: 1, kernel_size: 3, padding: 1}
  - {type: add, name: sum, inputs: [a, b]}
""")
    rf = fields(summary)
    assert local(rf["a"]) == (3, 1, 1)
    assert local(rf["b_in2"]) == (1, 1, 2)
    assert local(rf["b"]) == (3, 1, 2)
    assert local(rf["sum"]) == (4, 1, Fraction(3, 2))


def test_paths_whose_jumps_differ_are_not_defined():
    summary = summarize_text("""
input: [1, 8, 8]
layers:
  - {type: conv2d, name: strided, out_channels: 1, kernel_size: 1, stride: 2, inputs: [input]}
  - {type: slice, name: corner, dim: 2, end: 4, inputs: [input]}
  - {type: slice, name: corner2, dim: 3, end: 4}
  - {type: add, name: sum, inputs: [strided, corner2]}
""")
    rf = fields(summary)["sum"]
    assert rf.kind == "undefined" and "jump (1 vs 2)" in rf.note and rf.origin == "sum"


def test_pools_with_padding_dilation_and_ceil_mode():
    summary = summarize_text("""
input: [1, 15, 15]
layers:
  - {type: maxpool2d, name: dilated, kernel_size: 3, stride: 2, padding: 1, dilation: 2}
  - {type: maxpool2d, name: ceil, kernel_size: 2, stride: 2, ceil_mode: true}
  - {type: maxpool2d, name: floor, kernel_size: 2, stride: 2, inputs: [dilated]}
  - {type: avgpool2d, name: padded, kernel_size: 3, stride: 1, padding: 1}
""")
    rf = fields(summary)
    # r = 1 + (3 − 1)·2·1 = 5; start = 0 + ((3 − 1)·2/2 − 1)·1 = 1
    assert local(rf["dilated"]) == (5, 2, 1)
    # ceil_mode gives one more window (4 outputs, not 3) but the same field
    assert summary.layers[1].output_shape[2:] == (4, 4)
    assert summary.layers[2].output_shape[2:] == (3, 3)
    # r = 5 + 1·2 = 7; start = 1 + (1/2 − 0)·2 = 2
    assert local(rf["ceil"]) == local(rf["floor"]) == (7, 4, 2)
    # after floor: r = 7 + (3 − 1)·4 = 15; start = 2 + (1 − 1)·4 = 2 (a 3×3 window
    # padded 1 stays centred)
    assert local(rf["padded"]) == (15, 4, 2)


def test_convolutions_padding_forms_and_dilation():
    summary = summarize_text("""
input: [1, 32, 32]
layers:
  - {type: conv2d, name: same, out_channels: 1, kernel_size: 4, padding: same}
  - {type: conv2d, name: dilated, out_channels: 1, kernel_size: 3, dilation: 3, padding: 3}
  - {type: conv2d, name: rect, out_channels: 1, kernel_size: [1, 5], stride: [1, 2]}
  - {type: zeropad2d, name: pad, padding: [2, 0, 1, 0]}
""")
    rf = fields(summary)
    # 'same' with K = 4 pads 1 on the left, 2 on the right: start = (3/2 − 1) = 0.5
    assert local(rf["same"]) == (4, 1, Fraction(1, 2))
    # r = 4 + (3 − 1)·3 = 10; start = 0.5 + (3 − 3) = 0.5
    assert local(rf["dilated"]) == (10, 1, Fraction(1, 2))
    # one dim at a time: H untouched, W r = 10 + 4 = 14, j = 2, start = 0.5 + 2 = 2.5
    assert rf["rect"].size == (10, 14) and rf["rect"].jump == (1, 2)
    assert rf["rect"].start == (Fraction(1, 2), Fraction(5, 2))
    # a pad of P before the first unit: start − P·j (left 2 on W, top 1 on H)
    assert rf["pad"].start == (Fraction(-1, 2), Fraction(5, 2) - 2 * 2)


def test_transposed_convolutions():
    summary = summarize_text("""
input: [1, 8, 8]
layers:
  - {type: conv2d, name: down, out_channels: 1, kernel_size: 3, stride: 2, padding: 1}
  - {type: convtranspose2d, name: same_grid, out_channels: 1, kernel_size: 3, padding: 1}
  - {type: convtranspose2d, name: up, out_channels: 1, kernel_size: 2, stride: 2}
  - {type: conv2d, name: after, out_channels: 1, kernel_size: 3, padding: 1}
""")
    rf = fields(summary)
    assert local(rf["down"]) == (3, 2, 0)
    # stride 1: the convolution padded (3 − 1) − 1 = 1: r = 3 + 2·2 = 7, start 0
    assert local(rf["same_grid"]) == (7, 2, 0)
    assert rf["up"].kind == "undefined" and "stride 2" in rf["up"].note
    assert (rf["after"].kind, rf["after"].origin) == ("undefined", "up")


def test_adaptive_pooling():
    summary = summarize_text("""
input: [1, 12, 13]
layers:
  - {type: adaptiveavgpool2d, name: halves, output_size: [6, null], inputs: [input]}
  - {type: adaptiveavgpool2d, name: uneven, output_size: 6, inputs: [input]}
  - {type: adaptivemaxpool2d, name: global, output_size: 1, inputs: [input]}
  - {type: mean, name: mean, dim: [2, 3], inputs: [input]}
""")
    rf = fields(summary)
    # 12 -> 6 is a 2/2 window: r 2, j 2, start 0.5; 13 -> 13 passes the field on
    assert rf["halves"].size == (2, 1) and rf["halves"].jump == (2, 1)
    assert rf["halves"].start == (Fraction(1, 2), 0)
    assert rf["uneven"].kind == "undefined" and "13" in rf["uneven"].note
    assert rf["global"].kind == rf["mean"].kind == "whole"


def test_channels_last_mlp_and_channel_shuffle_keep_the_grid():
    # ConvNeXt's block runs its MLP on [N, H, W, C]; ShuffleNet shuffles channels by
    # view, transpose, reshape: neither moves a position.
    summary = summarize_text("""
input: [8, 16, 16]
layers:
  - {type: conv2d, name: dw, out_channels: 8, kernel_size: 7, padding: 3, groups: 8}
  - {type: permute, name: nhwc, dims: [0, 2, 3, 1]}
  - {type: layernorm, name: ln, normalized_shape: [8]}
  - {type: linear, name: mlp, out_features: 8}
  - {type: permute, name: nchw, dims: [0, 3, 1, 2]}
  - {type: view, name: groups, shape: [-1, 2, 4, 16, 16]}
  - {type: transpose, name: shuffle, dim0: 1, dim1: 2}
  - {type: reshape, name: shuffled, shape: [-1, 8, 16, 16]}
  - {type: conv2d, name: next, out_channels: 8, kernel_size: 3, padding: 1}
""")
    rf = fields(summary)
    assert rf["mlp"].dims == (1, 2) and local(rf["mlp"]) == (7, 1, 0)
    assert rf["groups"].dims == (3, 4)
    assert rf["shuffled"].dims == (2, 3)
    assert local(rf["next"]) == (9, 1, 0)


def test_transpose_of_height_and_width_swaps_their_fields():
    summary = summarize_text("""
input: [1, 16, 16]
layers:
  - {type: conv2d, name: tall, out_channels: 1, kernel_size: [5, 1]}
  - {type: transpose, name: swapped, dim0: 2, dim1: 3}
""")
    rf = fields(summary)
    assert rf["tall"].size == (5, 1) and rf["swapped"].size == (1, 5)


def test_a_learned_tensor_sees_nothing_and_merges_ignore_it():
    rf = fields(summarize(SPECS / "vit_b_16.yaml"))
    assert local(rf["conv_proj"]) == (16, 16, Fraction(15, 2))
    assert rf["class_token"].kind == "none"
    assert rf["with_class_token"].kind == "flattened"
    assert rf["with_class_token"].size == (16, 16)
    assert rf["heads.head"].kind == "whole"


def test_a_squeeze_excitation_gate_sees_the_whole_input():
    rf = fields(summarize(SPECS / "efficientnet_b0.yaml"))
    assert local(rf["stem"]) == (3, 2, 0)
    first_se = next(layer for layer in summarize(SPECS / "efficientnet_b0.yaml").layers
                    if layer.type == "mul")
    assert first_se.receptive_field.kind == "whole"


def test_every_layer_type_has_a_receptive_field_rule():
    """The cross-layer view: no type falls back to the base's `n/a`."""
    missing = sorted(name for name, cls in REGISTRY.items()
                     if cls.receptive_field is Layer.receptive_field
                     and cls.evaluate_field is Layer.evaluate_field)
    assert missing == []


def test_show_rf_in_the_table_and_markdown(capsys):
    spec = str(SPECS / "alexnet.yaml")
    code, out, _ = run_cli(capsys, "summary", spec, "--show", "rf", "--depth", "1")
    assert code == 0
    lines = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:-1]]
             for line in out.splitlines() if line.startswith("│")}
    assert lines["pool5"][-3:] == ["195", "32", "31"]
    assert lines["conv2 …"][-3:] == ["51", "8", "7"]
    assert lines["flatten"][-3:] == ["195 (flattened)", "-", "-"]
    assert lines["fc8"][-3:] == ["whole input", "-", "-"]
    assert "whole input from fc6.fc: a linear layer over dim 1" in out
    code, plain, _ = run_cli(capsys, "summary", spec, "--depth", "1")
    assert "Jump" not in plain and "Jump" in out
    code, md, _ = run_cli(capsys, "summary", spec, "--format", "markdown", "--show", "rf")
    assert "| Layer | Type | Output shape | Params | MACs | RF | Jump | Start |" in md
    assert "| pool5 | maxpool2d | [1, 256, 6, 6] | - | - | 195 | 32 | 31 |" in md


def test_json_and_csv_always_carry_the_field(capsys):
    spec = str(SPECS / "vgg16.yaml")
    _, out, _ = run_cli(capsys, "summary", spec, "--format", "json")
    data = json.loads(out)
    layers = {layer["name"]: layer["receptive_field"] for layer in data["layers"]}
    assert layers["stage5.pool"] == {"kind": "local", "dims": [2, 3], "size": [212, 212],
                                     "jump": [32, 32], "start": [15.5, 15.5], "note": "",
                                     "origin": ""}
    assert layers["fc8"]["kind"] == "whole" and layers["fc8"]["origin"] == "fc6.fc"
    blocks = {block["name"]: block["receptive_field"] for block in data["blocks"]}
    assert blocks["stage5"]["size"] == [212, 212]
    _, out, _ = run_cli(capsys, "summary", spec, "--format", "csv")
    rows = {row["name"]: row for row in csv.DictReader(io.StringIO(out))}
    assert (rows["stage5.conv3.conv"]["rf_size"], rows["stage5.conv3.conv"]["rf_jump"],
            rows["stage5.conv3.conv"]["rf_start"]) == ("196x196", "16x16", "7.5x7.5")
    assert rows["fc8"]["rf_kind"] == "whole" and rows["fc8"]["rf_size"] == ""


def test_show_refuses_what_it_cannot_show(capsys):
    code, _, err = run_cli(capsys, "summary", str(SPECS / "alexnet.yaml"), "--show", "rf,macs")
    assert code == 2 and "--show macs: choose from rf" in err


@settings(max_examples=60, deadline=None)
@given(chain=st.lists(st.tuples(st.sampled_from(["conv1d", "maxpool1d"]),
                                st.integers(1, 5), st.integers(1, 3), st.integers(0, 2),
                                st.integers(1, 3), st.booleans()),
                      min_size=1, max_size=5))
def test_the_recurrences_agree_with_counting_input_pixels(chain):
    """Brute force: the pixels output unit u depends on, taps traced back layer by layer
    (padding taken as positions outside the input, as the recurrences take it)."""
    layers, windows = [], []
    for kind, k, s, p, d, ceil in chain:
        p = min(p, k // 2)                       # torch's pools: padding at most k/2
        extra = f", ceil_mode: {str(ceil).lower()}" if kind == "maxpool1d" else \
            ", out_channels: 1"
        layers.append(f"  - {{type: {kind}, kernel_size: {k}, stride: {s}, padding: {p}, "
                      f"dilation: {d}{extra}}}")
        windows.append((k, s, p, d))
    try:
        summary = summarize_text("input: [1, 3000]\nlayers:\n" + "\n".join(layers))
    except SpecError:
        assume(False)                            # strided down past the kernel
    rf = summary.layers[-1].receptive_field

    def seen(unit: int, depth: int) -> set[int]:
        if depth == 0:
            return {unit}
        k, s, p, d = windows[depth - 1]
        return set().union(*(seen(unit * s - p + t * d, depth - 1) for t in range(k)))

    first, second = seen(0, len(windows)), seen(1, len(windows))
    assert rf.size == (max(first) - min(first) + 1,)
    assert rf.start == (Fraction(max(first) + min(first), 2),)
    assert rf.jump == (min(second) - min(first),)


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_every_rule_gives_a_well_formed_field(data):
    """Each layer type's rule, on random valid configurations, never fails and gives a
    field whose lists match its dims (the registry's cross-layer view)."""
    from layer_cases import case_for, primary_types

    from netcalc.layers.field import Field

    for type_name in primary_types():
        case = data.draw(case_for(type_name), label=type_name)
        try:
            layer = REGISTRY[type_name].from_args(case.args)
            y = layer.evaluate(tuple(case.shapes)).output_shape
        except SpecError:
            continue
        rf = layer.evaluate_field(tuple(case.shapes), y,
                                  tuple(Field.of_input(x) for x in case.shapes))
        assert isinstance(rf, Field)
        if rf.kind == "local":
            assert len(rf.dims) == len(rf.size) == len(rf.jump) == len(rf.start), type_name
            assert all(0 <= d < len(y) for d in rf.dims) and min(rf.jump) >= 0, type_name
            assert all(Fraction(s).denominator in (1, 2) for s in rf.start), type_name
        else:
            assert rf.kind in ("flattened", "whole", "undefined", "none"), type_name
