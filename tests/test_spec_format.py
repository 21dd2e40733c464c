"""The spec format's rules (README, "The spec format"), each with its numbers."""

from __future__ import annotations

import pytest

from helpers import ROOT, summarize_text
from netcalc.errors import SpecError
from netcalc.spec import loader
from netcalc.spec.expr import substitute


def names(summary):
    return [layer.name for layer in summary.layers]


def layer(summary, name):
    return next(r for r in summary.layers if r.name == name)


def test_bare_strings_and_case_insensitive_types():
    s = summarize_text("""
input: [3, 32, 32]
layers:
  - {type: Conv2d, out_channels: 8, kernel_size: 3}
  - ReLU
  - {type: MaxPool2d, kernel_size: 2}
""")
    assert [r.type for r in s.layers] == ["conv2d", "relu", "maxpool2d"]
    assert s.layers[0].output_shape == (1, 8, 30, 30)
    assert s.layers[2].output_shape == (1, 8, 15, 15)


def test_generated_names_are_per_type_and_skip_taken_names():
    s = summarize_text("""
input: [4]
layers:
  - relu
  - {type: relu, name: relu_2}
  - relu
  - sigmoid
""")
    assert names(s) == ["relu_1", "relu_2", "relu_3", "sigmoid_1"]


def test_repeat_names_like_sequential_and_chains_copies():
    s = summarize_text("""
input: [8]
layers:
  - {type: linear, name: mlp, out_features: 8, repeat: 3}
""")
    assert names(s) == ["mlp.0", "mlp.1", "mlp.2"]
    assert [r.inputs for r in s.layers] == [("input",), ("mlp.0",), ("mlp.1",)]
    assert s.totals.params == 3 * (8 * 8 + 8)
    assert [(row.name, row.kind) for row in s.rows][0] == ("mlp", "repeat")


def test_repeat_with_index_in_the_name_and_arguments():
    s = summarize_text("""
input: [3, 16, 16]
layers:
  - {type: conv2d, name: "conv${i + 1}", out_channels: "${8 * (i + 1)}", kernel_size: 3, padding: 1, repeat: 3}
""")
    assert names(s) == ["conv1", "conv2", "conv3"]
    assert [r.output_shape[1] for r in s.layers] == [8, 16, 24]


def test_repeat_zero_is_nothing():
    s = summarize_text("input: [4]\nlayers:\n  - relu\n  - {type: linear, out_features: 2, repeat: 0}\n")
    assert names(s) == ["relu_1"]
    assert s.outputs == {"relu_1": (1, 4)}


def test_block_layers_get_torch_style_qualified_names():
    s = summarize_text("""
input: [16, 8, 8]
blocks:
  unit:
    params: {c: 16}
    layers:
      - {type: conv2d, name: conv1, out_channels: "${c}", kernel_size: 3, padding: 1}
      - {type: batchnorm2d, name: bn1}
layers:
  - {type: unit, name: layer1, repeat: 2}
  - {type: unit, name: head, c: 4}
""")
    assert names(s) == ["layer1.0.conv1", "layer1.0.bn1", "layer1.1.conv1", "layer1.1.bn1",
                        "head.conv1", "head.bn1"]
    assert [(row.name, row.depth) for row in s.rows if row.kind != "layer"] == [
        ("layer1", 0), ("layer1.0", 1), ("layer1.1", 1), ("head", 0)]
    head = next(row for row in s.rows if row.name == "head")
    assert head.output_shape == (1, 4, 8, 8)
    assert head.params == (16 * 4 * 9 + 4) + 2 * 4


def test_branches_merges_and_the_input_reference():
    s = summarize_text("""
input: [3, 8, 8]
layers:
  - {type: conv2d, name: a, out_channels: 4, kernel_size: 1}
  - {type: conv2d, name: b, inputs: [input], out_channels: 6, kernel_size: 3, padding: 1}
  - {type: concat, name: cat, inputs: [a, b], dim: 1}
  - {type: conv2d, name: c, out_channels: 10, kernel_size: 1}
  - {type: add, name: sum, inputs: [c, cat]}
""")
    assert layer(s, "cat").output_shape == (1, 10, 8, 8)
    assert layer(s, "sum").inputs == ("c", "cat")
    assert s.outputs == {"sum": (1, 10, 8, 8)}


def test_elementwise_ops_broadcast_like_torch():
    # squeeze-and-excitation's scale: [N, C, 1, 1] times [N, C, H, W]
    s = summarize_text("""
input: [16, 8, 8]
layers:
  - {type: adaptiveavgpool2d, name: squeeze, output_size: 1}
  - {type: conv2d, name: excite, out_channels: 16, kernel_size: 1}
  - sigmoid
  - {type: mul, name: scale, inputs: [sigmoid_1, input]}
""")
    assert layer(s, "scale").output_shape == (1, 16, 8, 8)


def test_dims_count_the_batch_and_flatten_keeps_it():
    s = summarize_text("""
input: [2, 3, 4]
layers:
  - flatten
  - {type: flatten, name: all, inputs: [input], start_dim: 0}
  - {type: mean, name: m, inputs: [input], dim: [2, 3], keepdim: true}
  - {type: transpose, name: t, inputs: [input], dim0: 1, dim1: -1}
""", batch=5)
    assert layer(s, "flatten_1").output_shape == (5, 24)
    assert layer(s, "all").output_shape == (120,)
    assert layer(s, "m").output_shape == (5, 2, 1, 1)
    assert layer(s, "t").output_shape == (5, 4, 3, 2)


def test_if_false_passes_the_input_on():
    s = summarize_text("""
input: [8, 4, 4]
blocks:
  res:
    params: {project: false}
    layers:
      - {type: conv2d, name: conv, out_channels: 8, kernel_size: 3, padding: 1}
      - {type: conv2d, name: shortcut, inputs: [input], out_channels: 8, kernel_size: 1, if: "${project}"}
      - {type: add, name: add, inputs: [conv, shortcut]}
layers:
  - {type: res, name: plain}
  - {type: res, name: projected, project: true}
""")
    assert layer(s, "plain.add").inputs == ("plain.conv", "input")
    assert layer(s, "projected.add").inputs == ("projected.conv", "projected.shortcut")
    assert "plain.shortcut" not in names(s)


def test_blocks_with_several_inputs():
    s = summarize_text("""
inputs: {image: [3, 8, 8], skip: [5, 16, 16]}
blocks:
  up:
    inputs: [x, skip]
    layers:
      - {type: upsample, name: up, inputs: [x], scale_factor: 2}
      - {type: concat, name: cat, inputs: [up, skip], dim: 1}
layers:
  - {type: conv2d, name: conv, inputs: [image], out_channels: 4, kernel_size: 1}
  - {type: up, name: dec, inputs: [conv, skip]}
""")
    assert s.inputs == {"image": (1, 3, 8, 8), "skip": (1, 5, 16, 16)}
    assert layer(s, "dec.cat").output_shape == (1, 9, 16, 16)


def test_top_level_params():
    s = summarize_text("""
params: {classes: 10, width: 32}
input: [64]
layers:
  - {type: linear, out_features: "${width * 2}"}
  - {type: linear, out_features: "${classes}"}
""")
    assert [r.output_shape for r in s.layers] == [(1, 64), (1, 10)]


def test_parameter_defaults_may_use_earlier_parameters():
    s = summarize_text("""
params: {width: 16, out: "${4 * width}"}
x-conv: &conv {type: conv2d, kernel_size: 1}
input: [3, 8, 8]
blocks:
  b:
    params: {c: 8, c2: "${c * 2}"}
    layers: [{<<: *conv, out_channels: "${c2}"}]
layers:
  - {<<: *conv, out_channels: "${out}"}
  - {type: b, c: 3}
  - {type: linear, out_features: "${int(width * 0.5) if true else 1}"}
""")
    assert [r.output_shape[1] for r in s.layers] == [64, 6, 6]
    assert s.layers[-1].output_shape == (1, 6, 8, 8)


def test_mean_over_no_listed_dims_reduces_all_like_torch():
    s = summarize_text("input: [3, 8, 8]\nlayers:\n  - {type: mean, dim: []}\n")
    assert s.layers[0].output_shape == ()


def test_reshape_of_a_permuted_tensor_copies():
    s = summarize_text("""
input: [4, 6, 6]
layers:
  - {type: permute, dims: [0, 2, 3, 1]}
  - {type: reshape, shape: [-1, 144]}
  - {type: flatten, name: again}
""")
    permute, reshape, again = s.layers
    assert permute.activation_bytes == 0
    assert reshape.activation_bytes == 144 * 4        # no view exists: torch copies
    assert again.activation_bytes == 0                 # already flat: a view


def test_trainable_false_and_buffers_apart():
    s = summarize_text("""
input: [3, 8, 8]
layers:
  - {type: conv2d, name: frozen, out_channels: 4, kernel_size: 3, trainable: false}
  - {type: batchnorm2d, name: bn}
  - {type: linear, name: fc, out_features: 2}
""")
    assert s.totals.params == (3 * 4 * 9 + 4) + 2 * 4 + (6 * 2 + 2)
    assert s.totals.non_trainable_params == 3 * 4 * 9 + 4
    assert s.totals.buffers == 2 * 4 + 1            # running mean, var; num_batches_tracked
    assert layer(s, "bn").param_tensors == {"weight": 4, "bias": 4}
    assert s.totals.bias_params == 4 + 4 + 2


def test_inferred_arguments_are_filled_in():
    s = summarize_text("input: [3, 8, 8]\nlayers:\n  - {type: conv2d, out_channels: 4, kernel_size: 3}\n")
    assert s.layers[0].arguments["in_channels"] == 3
    assert s.layers[0].arguments["kernel_size"] == (3, 3)


def test_batch_input_override_and_memory():
    s = summarize_text("""
input: [3, 224, 224]
layers:
  - {type: conv2d, out_channels: 64, kernel_size: 11, stride: 4, padding: 2}
  - {type: relu, inplace: true}
  - flatten
""", batch=8, dtype="float16", input_shapes={"input": (3, 227, 227)})
    conv = s.layers[0]
    assert conv.output_shape == (8, 64, 56, 56)    # (227 + 4 - 11) // 4 + 1 = 56
    assert conv.macs == 8 * 64 * 56 * 56 * 3 * 11 * 11
    assert conv.activation_bytes == 8 * 64 * 56 * 56 * 2
    assert s.layers[1].activation_bytes == 0       # in place
    assert s.layers[2].activation_bytes == 0       # a view
    assert s.totals.input_bytes == 8 * 3 * 227 * 227 * 2
    assert s.totals.param_bytes == (64 * 3 * 121 + 64) * 2
    assert s.totals.total_bytes == s.totals.input_bytes + s.totals.param_bytes \
        + s.totals.activation_bytes
    assert s.totals.flops == 2 * s.totals.macs


def test_buffer_bytes_keep_num_batches_tracked_int64():
    s = summarize_text("input: [16, 4, 4]\nlayers: [batchnorm2d]\n", dtype="float16")
    assert s.totals.buffer_bytes == 2 * 16 * 2 + 8


def test_depth_collapses_deeper_rows_into_their_block():
    text = """
input: [4]
blocks:
  pair:
    layers: [{type: linear, name: a, out_features: 4}, {type: linear, name: b, out_features: 4}]
layers:
  - {type: pair, name: stack, repeat: 2}
  - {type: linear, name: head, out_features: 1}
"""
    full = summarize_text(text)
    one = summarize_text(text, depth=1)
    two = summarize_text(text, depth=2)
    assert [r.name for r in one.rows] == ["stack", "head"]
    assert one.rows[0].collapsed and one.rows[0].params == 4 * 20
    assert [r.name for r in two.rows] == ["stack", "stack.0", "stack.1", "head"]
    assert len(full.rows) == 1 + 2 + 4 + 1
    assert one.totals == full.totals


def test_several_graph_outputs():
    s = summarize_text("""
input: [8]
layers:
  - {type: linear, name: trunk, out_features: 8}
  - {type: linear, name: cls, out_features: 3}
  - {type: linear, name: box, inputs: [trunk], out_features: 4}
""")
    assert s.outputs == {"cls": (1, 3), "box": (1, 4)}


def test_yaml_anchors_and_merge_keys_work():
    s = summarize_text("""
input: [3, 8, 8]
layers:
  - &conv {type: conv2d, name: a, out_channels: 4, kernel_size: 3, padding: 1}
  - {<<: *conv, name: b, out_channels: 6}
""")
    assert [r.output_shape for r in s.layers] == [(1, 4, 8, 8), (1, 6, 8, 8)]


@pytest.mark.parametrize("text, variables, expected", [
    ("${out}", {"out": 64}, 64),
    ("${out * 4}", {"out": 64}, 256),
    ("${out / 2}", {"out": 64}, 32),
    ("${out / 3}", {"out": 64}, 64 / 3),
    ("${out // 3}", {"out": 64}, 21),
    ("${out % 3}", {"out": 64}, 1),
    ("${-(out - 1)}", {"out": 64}, -63),
    ("${min(out, 32) + max(1, 2)}", {"out": 64}, 34),
    ("${2 if i == 0 else 1}", {"i": 0}, 2),
    ("${2 if i == 0 else 1}", {"i": 3}, 1),
    ("${i == 0 and s != 1}", {"i": 0, "s": 2}, True),
    ("${not flag}", {"flag": False}, True),
    ("${k}", {"k": [1, 7]}, [1, 7]),
    ("conv${i + 1}_${j}", {"i": 1, "j": 2}, "conv2_2"),
    ("plain", {}, "plain"),
])
def test_expressions(text, variables, expected):
    assert substitute(text, variables, None) == expected


@pytest.mark.parametrize("text", ["${2 ** 10}", "${open('x')}", "${[1, 2]}", "${x.y}", "${1 / 0}",
                                  "${lambda: 1}", "${}", "${a}"])
def test_expressions_refused(text):
    with pytest.raises(SpecError):
        substitute(text, {"x": 1}, None)


def test_chunk_and_split_pieces_are_addressed_by_index_or_by_name():
    s = summarize_text("""
input: [8, 4, 4]
layers:
  - {type: chunk, name: halves, chunks: 2, dim: 1}
  - {type: conv2d, name: branch, inputs: [halves.1], out_channels: 4, kernel_size: 1}
  - {type: concat, name: joined, inputs: [halves.0, branch], dim: 1}
  - {type: split, name: [a, b, c], split_size_or_sections: 3, dim: 1}
  - {type: split, name: parts, split_size_or_sections: [1, 1], dim: 1, inputs: [c]}
  - {type: add, name: sum, inputs: [parts.0, parts.1]}
""")
    assert names(s) == ["halves.0", "halves.1", "branch", "joined", "a", "b", "c",
                        "parts.0", "parts.1", "sum"]
    # 8 channels in halves of 4; 8 in pieces of 3: 3, 3, 2; then 2 as [1, 1]
    assert [layer(s, n).output_shape[1] for n in ("halves.0", "halves.1", "a", "b", "c",
                                                  "parts.0")] == [4, 4, 3, 3, 2, 1]
    assert [layer(s, n).arguments["piece"] for n in ("a", "b", "c")] == [0, 1, 2]
    # pieces are views: no memory of their own
    assert all(layer(s, n).activation_bytes == 0 for n in ("halves.0", "a", "parts.1"))
    assert [(b.name, b.type) for b in s.blocks] == [("halves", "chunk"), ("parts", "split")]
    assert s.outputs == {"a": (1, 3, 4, 4), "b": (1, 3, 4, 4), "sum": (1, 1, 4, 4)}


def test_a_learned_tensor_reads_no_input_and_expand_meets_the_batch():
    s = summarize_text("""
input: [4, 16]
layers:
  - {type: parameter, name: class_token, shape: [1, 1, 16]}
  - {type: expand, name: tokens, size: [batch, -1, -1]}
  - {type: concat, name: joined, inputs: [tokens, input], dim: 1}
  - {type: parameter, name: position, shape: [1, 5, 16]}
  - {type: add, name: embedded, inputs: [joined, position]}
""", batch=3)
    assert layer(s, "class_token").inputs == ()
    assert layer(s, "class_token").params == 16
    assert layer(s, "class_token").activation_bytes == 0      # the parameter itself
    assert layer(s, "tokens").output_shape == (3, 1, 16)
    assert layer(s, "tokens").activation_bytes == 0           # a view, stride 0
    assert layer(s, "embedded").output_shape == (3, 5, 16)
    assert s.totals.params == 16 + 5 * 16


def test_attention_counts_projections_and_scores():
    s = summarize_text("""
inputs: {q: [10, 32], kv: [7, 16]}
layers:
  - {type: multiheadattention, name: self, num_heads: 4, batch_first: true, inputs: [q]}
  - {type: multiheadattention, name: cross, num_heads: 4, batch_first: true, kdim: 16, vdim: 16, inputs: [self, kv, kv]}
""", batch=2)
    self_attention, cross = s.layers
    # 4·32² + 4·32 weights and biases; per image 10·32·32 for each of q, k, v and out,
    # and 4 heads · 10·10 scores · 8 dims, twice (QKᵀ and A·V)
    assert self_attention.params == 4 * 32 * 32 + 4 * 32
    assert self_attention.macs == 2 * (4 * 10 * 32 * 32 + 4 * 10 * 10 * 8 * 2)
    # separate projections: q 32·32, k and v 32·16 each
    assert cross.param_tensors == {"q_proj_weight": 1024, "k_proj_weight": 512,
                                   "v_proj_weight": 512, "in_proj_bias": 96,
                                   "out_proj.weight": 1024, "out_proj.bias": 32}
    assert cross.macs == 2 * (10 * 32 * 32 + 2 * 7 * 32 * 16 + 10 * 32 * 32
                              + 4 * 10 * 7 * 8 * 2)
    assert cross.output_shape == (2, 10, 32)


def test_a_block_may_end_in_pieces_read_from_outside_by_their_full_names():
    ending_in_pieces = """
input: [4, 6]
blocks:
  halves:
    layers:
      - {type: chunk, name: c, chunks: 2, dim: 2}
layers:
  - {type: halves, name: h}
"""
    s = summarize_text(ending_in_pieces + "  - {type: add, name: s, inputs: [h.c.0, h.c.1]}\n")
    assert names(s) == ["h.c.0", "h.c.1", "s"]
    assert layer(s, "s").output_shape == (1, 4, 3)
    with pytest.raises(SpecError, match="'h' gives 2 outputs: take one"):
        summarize_text(ending_in_pieces + "  - {type: relu, inputs: [h]}\n")


def test_attention_and_expand_warn_where_the_batch_is_likely_misread():
    s = summarize_text("""
input: [4, 32]
layers:
  - {type: multiheadattention, num_heads: 4}
  - {type: expand, size: [2, -1, -1]}
""")
    assert [w.message for w in s.warnings] == [
        "batch_first is false (torch's default): the input [1, 4, 32] is read as [L, N, E], "
        "1 position of a batch of 4; if dim 0 is the batch, write batch_first: true",
        "size=[2, -1, -1] fixes dim 0 at 2: if that is the batch, write `batch`, which "
        "follows --batch"]


def _located(data):
    """The data with every recorded location, for comparing two readings."""
    if isinstance(data, dict):
        return (data.loc, {key: (data.key_loc[key], data.value_loc[key], _located(value))
                           for key, value in data.items()})
    if isinstance(data, list):
        return (data.loc, [(loc, _located(item)) for loc, item in zip(data.item_loc, data)])
    return data


@pytest.mark.skipif(loader._LibyamlLoader is None, reason="PyYAML built without libyaml")
@pytest.mark.parametrize("path", sorted((ROOT / "specs").glob("*.yaml")), ids=lambda p: p.stem)
def test_libyaml_and_pyyaml_read_a_spec_alike(path):
    text = path.read_text()
    assert _located(loader._read(loader._LibyamlLoader, text, "s.yaml")) == \
        _located(loader._read(loader._PythonLoader, text, "s.yaml"))
