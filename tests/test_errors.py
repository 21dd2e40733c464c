"""Bad specs get one located line (`file:line:col: error: ...`) and exit 1.

Each case is a spec, the position the error must point at and words the
message must contain: the layer, the numbers, the fix.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from helpers import run_cli
from netcalc.cli import main

CASES = {
    "yaml_syntax": (
        "input: [3, 8, 8]\nlayers:\n  - {type: conv2d, out_channels: 4, kernel_size: [3, 3}\n",
        "3:55", ["YAML syntax", "expected ',' or ']'"]),
    # the common YAML slips, each with its plain-words hint
    "yaml_key_indented_deeper": (
        "input: [3, 8, 8]\nlayers:\n  - type: conv2d\n    out_channels: 4\n"
        "     kernel_size: 3\n", "5:17",
        ["mapping values are not allowed here", "line 5 is indented 5 spaces and line 4 "
         "above it 4", "keys of one entry line up"]),
    "yaml_key_indented_less": (
        "input: [3, 8, 8]\nlayers:\n  - type: conv2d\n    out_channels: 4\n"
        "   kernel_size: 3\n", "5:4", ["line 5 is indented 3 spaces and line 4 above it 4"]),
    "yaml_dash_indented_into_the_entry_above": (
        "input: [3, 8, 8]\nlayers:\n  - type: conv2d\n    out_channels: 4\n"
        "    kernel_size: 3\n    - type: relu\n", "6:5",
        ["this '-' is indented 4 spaces, into the entry above",
         "the list's entries start at 2, as line 3's does"]),
    "yaml_dash_missing": (
        "input: [3, 8, 8]\nlayers:\n  - type: conv2d\n    out_channels: 4\n"
        "    kernel_size: 3\n    type: relu\n", "6:5",
        ["duplicate key 'type'", "a new layer starts with '- '"]),
    "yaml_tab": ("input: [3, 8, 8]\nlayers:\n  - type: conv2d\n\tout_channels: 4\n", "4:1",
                 ["line 4 is indented with a tab: YAML indents with spaces only"]),
    "yaml_two_pairs_on_a_line": (
        "input: [3, 8, 8]\nlayers:\n  - type: conv2d out_channels: 4\n", "3:30",
        ["line 3 holds two `key: value` pairs", "give each its own line"]),
    "yaml_layers_without_dashes": ("input: [3, 8, 8]\nlayers:\n  type: conv2d\n"
                                   "  out_channels: 4\n", "3:3",
                                   ["`layers` of the spec must be a non-empty list",
                                    "start each layer with '- '"]),
    "top_level_not_mapping": ("- relu\n- relu\n", "1:1", ["top level", "mapping"]),
    "empty_file": ("", "1:1", ["empty"]),
    "no_input": ("layers: [relu]\n", "1:1", ["input: [C, H, W]"]),
    "no_layers": ("input: [3, 8, 8]\n", "1:1", ["no `layers`"]),
    "unknown_top_key": ("input: [3, 8, 8]\nlayer: [relu]\n", "2:1",
                        ["unknown key 'layer'", "did you mean 'layers'"]),
    "unknown_type": ("input: [3, 8, 8]\nlayers:\n  - {type: batch_norm2d}\n", "3:12",
                     ["unknown layer type 'batch_norm2d'", "did you mean 'batchnorm2d'"]),
    "unknown_type_bare": ("input: [3, 8, 8]\nlayers:\n  - rellu\n", "3:5",
                          ["unknown layer type 'rellu'", "did you mean 'relu'"]),
    "misspelled_argument": (
        "input: [3, 8, 8]\nlayers:\n  - {type: conv2d, name: c1, out_channel: 4, kernel_size: 3}\n",
        "3:30", ["layer 'c1' (conv2d)", "no argument 'out_channel'",
                 "did you mean 'out_channels'"]),
    "missing_argument": ("input: [3, 8, 8]\nlayers:\n  - {type: conv2d, kernel_size: 3}\n", "3:12",
                         ["conv2d", "missing argument 'out_channels'"]),
    "wrong_type": (
        "input: [3, 8, 8]\nlayers:\n  - {type: conv2d, out_channels: eight, kernel_size: 3}\n",
        "3:34", ["out_channels must be an integer", "'eight'"]),
    "float_for_int": (
        "input: [3, 8, 8]\nlayers:\n  - {type: conv2d, out_channels: 4.0, kernel_size: 3}\n",
        "3:34", ["out_channels must be an integer", "write 4"]),
    "zero_size": ("input: [3, 8, 8]\nlayers:\n  - {type: linear, out_features: 0}\n", "3:34",
                  ["out_features=0 must be at least 1"]),
    "negative_stride": (
        "input: [3, 8, 8]\nlayers:\n  - {type: conv2d, out_channels: 4, kernel_size: 3, stride: -2}\n",
        "3:61", ["stride=[-2, -2] must be at least 1"]),
    "huge_input_size": ("input: [99999999999999999999]\nlayers: [relu]\n", "1:9",
                        ["is too large (torch sizes are 64-bit)"]),
    "huge_tensor": ("input: [3037000500, 3037000500]\nlayers: [relu]\n", "1:8",
                    ["more than a torch tensor can hold"]),
    "param_named_i": ("params: {i: 5}\ninput: [3]\nlayers: [relu]\n", "1:10",
                      ["'i' is the index of `repeat`"]),
    "zero_input_size": ("input: [3, 0, 8]\nlayers: [relu]\n", "1:12", ["size 0", "at least 1"]),
    "kernel_too_big": (
        "input: [3, 8, 8]\nlayers:\n"
        "  - {type: conv2d, name: conv1, out_channels: 16, kernel_size: 3, padding: 1}\n"
        "  - relu\n"
        "  - {type: conv2d, name: conv2, out_channels: 32, kernel_size: 11}\n",
        "5:64", ["layer 'conv2' (conv2d)", "kernel 11 is larger than the padded input 8 (8 + 2·0)"]),
    "pool_padding_too_big": (
        "input: [3, 8, 8]\nlayers:\n  - {type: maxpool2d, kernel_size: 3, padding: 2}\n", "3:48",
        ["padding 2 must be at most half the kernel size 3"]),
    "pool_window_too_big": (
        "input: [3, 4, 4]\nlayers:\n  - {type: avgpool2d, kernel_size: 6}\n", "3:36",
        ["window 6 is larger than the padded input 4"]),
    "in_channels_mismatch": (
        "input: [3, 8, 8]\nlayers:\n  - {type: conv2d, in_channels: 4, out_channels: 4, kernel_size: 3}\n",
        "3:33", ["in_channels=4 but the input has 3 channels"]),
    "in_features_mismatch": (
        "input: [256, 6, 6]\nlayers:\n  - flatten\n  - {type: linear, in_features: 4096, out_features: 10}\n",
        "4:33", ["in_features=4096 but the input has 9216 features"]),
    "in_features_unflattened": (
        "input: [256, 6, 6]\nlayers:\n  - {type: linear, in_features: 9216, out_features: 10}\n",
        "3:33", ["flatten it first", "256·6·6 = 9216"]),
    "num_features_mismatch": (
        "input: [3, 8, 8]\nlayers:\n  - {type: batchnorm2d, num_features: 64}\n", "3:39",
        ["num_features=64 but the input has 3 channels"]),
    "groups_not_dividing": (
        "input: [3, 8, 8]\nlayers:\n  - {type: conv2d, out_channels: 4, kernel_size: 3, groups: 2}\n",
        "3:61", ["groups=2 does not divide in_channels 3"]),
    "add_mismatch": (
        "input: [3, 8, 8]\nlayers:\n  - {type: conv2d, name: a, out_channels: 4, kernel_size: 3}\n"
        "  - {type: conv2d, name: b, inputs: [input], out_channels: 4, kernel_size: 1}\n"
        "  - {type: add, name: sum, inputs: [a, b]}\n",
        "5:5", ["layer 'sum' (add)", "[1, 4, 6, 6] and [1, 4, 8, 8]", "dim 2 is 6 vs 8",
                "dim 3 is 6 vs 8"]),
    "concat_mismatch": (
        "input: [3, 8, 8]\nlayers:\n  - {type: conv2d, name: a, out_channels: 4, kernel_size: 3}\n"
        "  - {type: concat, inputs: [a, input], dim: 1}\n",
        "4:5", ["concat on dim 1", "dim 2 is 6 vs 8"]),
    "concat_without_dim": (
        "input: [3, 8, 8]\nlayers:\n  - {type: concat, inputs: [input, input]}\n", "3:12",
        ["missing argument 'dim'"]),
    "unknown_reference": (
        "input: [3, 8, 8]\nlayers:\n  - {type: relu, name: a}\n  - {type: add, inputs: [a, ab]}\n",
        "4:29", ["unknown layer 'ab'", "did you mean 'a'"]),
    "forward_reference": (
        "input: [3, 8, 8]\nlayers:\n  - {type: add, inputs: [input, later]}\n  - {type: relu, name: later}\n",
        "3:33", ["'later' is defined later", "4:"]),
    "duplicate_name": (
        "input: [3, 8, 8]\nlayers:\n  - {type: relu, name: a}\n  - {type: relu, name: a}\n",
        "4:24", ["duplicate layer name 'a'", "3:5"]),
    "duplicate_key": (
        "input: [3, 8, 8]\nlayers:\n  - {type: conv2d, out_channels: 4, kernel_size: 3, kernel_size: 5}\n",
        "3:53", ["duplicate key 'kernel_size'"]),
    "bad_dim": ("input: [3, 8, 8]\nlayers:\n  - {type: softmax, dim: 4}\n", "3:26",
                ["dim=4 is out of range for a 4-D tensor", "-4 to 3"]),
    "bad_flatten_dims": (
        "input: [3, 8, 8]\nlayers:\n  - {type: flatten, start_dim: 3, end_dim: 1}\n", "3:32",
        ["start_dim=3 comes after end_dim=1"]),
    "bad_expression_syntax": (
        "input: [3, 8, 8]\nblocks:\n  b:\n    params: {out: 4}\n    layers:\n"
        "      - {type: conv2d, out_channels: \"${out * }\", kernel_size: 1}\nlayers: [b]\n",
        "6:38", ["bad expression '${out *}'"]),
    "expression_unknown_name": (
        "input: [3, 8, 8]\nblocks:\n  b:\n    params: {out: 4}\n    layers:\n"
        "      - {type: conv2d, out_channels: \"${outt * 2}\", kernel_size: 1}\nlayers: [b]\n",
        "6:38", ["'outt' is not a parameter here", "did you mean 'out'"]),
    "expression_not_allowed": (
        "input: [3, 8, 8]\nblocks:\n  b:\n    params: {out: 4}\n    layers:\n"
        "      - {type: conv2d, out_channels: \"${out.__class__}\", kernel_size: 1}\nlayers: [b]\n",
        "6:38", ["attribute access is not allowed"]),
    "expression_call": (
        "input: [3, 8, 8]\nlayers:\n  - {type: linear, out_features: \"${__import__('os')}\"}\n",
        "3:34", ["only min, max, int and round may be called"]),
    "block_unknown_parameter": (
        "input: [3, 8, 8]\nblocks:\n  b:\n    params: {out: 4}\n    layers: [relu]\n"
        "layers:\n  - {type: b, outt: 3}\n",
        "7:15", ["block 'b' has no parameter 'outt'", "did you mean 'out'"]),
    "recursive_blocks": (
        "input: [3, 8, 8]\nblocks:\n  a:\n    layers: [{type: b}]\n  b:\n    layers: [{type: a}]\n"
        "layers: [a]\n",
        "6:21", ["block 'a' uses itself (a → b → a)"]),
    "negative_repeat": ("input: [3, 8, 8]\nlayers:\n  - {type: relu, repeat: -1}\n", "3:26",
                        ["repeat must be a whole number", "-1"]),
    "several_inputs_unnamed": (
        "inputs: {a: [3, 8, 8], b: [3, 8, 8]}\nlayers: [relu]\n", "2:10",
        ["several inputs", "`inputs:"]),
    "python_tag": (
        "input: [3, 8, 8]\nlayers:\n  - !!python/object/apply:os.system [\"echo pwned\"]\n",
        "3:5", ["YAML tag '!!python/object/apply:os.system' is not allowed"]),
    "custom_tag": ("input: !shape [3, 8, 8]\nlayers: [relu]\n", "1:8", ["YAML tag '!shape'"]),
    "name_with_dot": ("input: [3, 8, 8]\nlayers:\n  - {type: relu, name: a.b}\n", "3:24",
                      ["'a.b'", "'.' separates block levels"]),
    "arity": ("input: [3, 8, 8]\nlayers:\n  - {type: add}\n", "3:5",
              ["add takes two or more inputs"]),
    "upsample_both": (
        "input: [3, 8, 8]\nlayers:\n  - {type: upsample, size: 16, scale_factor: 2}\n", "3:28",
        ["exactly one of size and scale_factor"]),
    "keras_argument_name": (
        "input: [3, 8, 8]\nlayers:\n  - {type: conv2d, filters: 8, kernel_size: 3}\n", "3:20",
        ["no argument 'filters'", "torch calls it 'out_channels'"]),
    "keras_type_name": ("input: [8]\nlayers:\n  - {type: dense, out_features: 3}\n", "3:12",
                        ["unknown layer type 'dense'", "torch calls it 'linear'"]),
    "type_without_rank": ("input: [3, 8, 8]\nlayers:\n  - {type: maxpool, kernel_size: 2}\n",
                          "3:12", ["did you mean 'maxpool1d', 'maxpool2d' or 'maxpool3d'?"]),
    "misspelled_spec_key": ("input: [3, 8, 8]\nlayers:\n  - {type: relu, repeats: 3}\n", "3:18",
                            ["no argument 'repeats'", "did you mean 'repeat'",
                             "every layer takes type, name, inputs, repeat, if, trainable"]),
    "capitalized_type_key": ("input: [3, 8, 8]\nlayers:\n  - {Type: relu}\n", "3:5",
                             ["no `type`", "'Type' should be 'type'"]),
    "batch_in_the_input": (
        "input: [1, 3, 32, 32]\nlayers:\n  - {type: conv2d, out_channels: 8, kernel_size: 3}\n",
        "3:5", ["expects a 4-D input [N, C, H, W], got [1, 1, 3, 32, 32]",
                "does the spec's input include the batch dim?"]),
    "own_output": ("input: [3, 8, 8]\nlayers:\n  - {type: add, name: a, inputs: [input, a]}\n",
                   "3:42", ["a layer cannot take its own output ('a')"]),
    "yaml_float_without_sign": (
        "input: [3, 8, 8]\nlayers:\n  - {type: leakyrelu, negative_slope: 1e-2}\n", "3:39",
        ["got the string '1e-2'", "write 1.0e-2"]),
    "one_channel": (
        "input: [1, 8, 8]\nlayers:\n  - {type: conv2d, in_channels: 3, out_channels: 4, kernel_size: 3}\n",
        "3:33", ["in_channels=3 but the input has 1 channel"]),
    "unclosed_flow_mapping": ("input: [3, 8, 8]\nlayers:\n  - {type: relu\n  - relu\n", "5:1",
                              ["YAML syntax", "note: parsing a flow mapping started here"]),
    "non_finite_float": (
        "input: [3, 8, 8]\nlayers:\n  - {type: upsample, scale_factor: .inf}\n", "3:36",
        ["scale_factor must be a finite number, got inf"]),
    "view_after_permute": (
        "input: [4, 6, 6]\nlayers:\n  - {type: permute, dims: [0, 2, 3, 1]}\n"
        "  - {type: view, shape: [1, 144]}\n", "4:25",
        ["view of [1, 6, 6, 4] as [1, 144]", "use reshape"]),
    "reshape_wrong_count": (
        "input: [3, 8, 8]\nlayers:\n  - {type: reshape, shape: [-1, 100]}\n", "3:28",
        ["cannot hold the 192 elements"]),
    "chunk_read_whole": (
        "input: [4, 4]\nlayers:\n  - {type: chunk, name: h, chunks: 2, dim: 1}\n"
        "  - {type: relu, inputs: [h]}\n", "4:27", ["'h' gives 2 outputs: take one (h.0, h.1)"]),
    "chunk_then_a_layer_without_inputs": (
        "input: [4, 4]\nlayers:\n  - {type: chunk, name: h, chunks: 2, dim: 1}\n  - relu\n",
        "4:5", ["the layer before gives 2 outputs"]),
    "chunk_piece_past_the_end": (
        "input: [4, 4]\nlayers:\n  - {type: chunk, name: h, chunks: 3, dim: 1}\n", "3:5",
        ["layer 'h.2' (chunk): piece 2 does not exist: chunk(3) of dim 1 (size 4) gives 2 "
         "pieces (2, 2)"]),
    "split_count_unknown": (
        "input: [4, 4]\nlayers:\n  - {type: split, name: h, split_size_or_sections: 3, dim: 1}\n",
        "3:25", ["layer 'h' (split): split by one size makes as many pieces as the dim holds, "
                 "which only the input shape tells: name them all"]),
    "split_names_short": (
        "input: [4, 32]\nlayers:\n  - {type: split, name: [a, b], split_size_or_sections: 8, "
        "dim: 2}\n", "3:25", ["layer 'a' (split): split(8) of dim 2 (size 32) gives 4 pieces "
                             "(8, 8, 8, 8), but the entry expects 2 (its names, or `pieces`)"]),
    "split_names_miscounted": (
        "input: [4, 4]\nlayers:\n  - {type: split, name: [a, b], split_size_or_sections: "
        "[1, 1, 2], dim: 1}\n", "3:25", ["split makes 3 pieces here but `name` lists 2"]),
    "split_sections_miscounted": (
        "input: [4, 4]\nlayers:\n  - {type: split, name: h, split_size_or_sections: [3, 3], "
        "dim: 1}\n", "3:52", ["split_size_or_sections=[3, 3] adds up to 6, but the dim has 4"]),
    "names_for_one_output": (
        "input: [4, 4]\nlayers:\n  - {type: relu, name: [a, b]}\n", "3:24",
        ["layer 'a, b' (relu): a list of names is for every piece of a chunk, split or "
         "recurrent layer; this layer has one output"]),
    "parameter_given_inputs": (
        "input: [4]\nlayers:\n  - {type: parameter, shape: [4], inputs: [input]}\n", "3:43",
        ["parameter takes no input"]),
    "attention_heads_do_not_divide": (
        "input: [5, 6]\nlayers:\n  - {type: multiheadattention, num_heads: 4}\n", "3:43",
        ["embed_dim=6 does not split into num_heads=4 heads"]),
    "expand_a_dim_that_is_not_1": (
        "input: [3, 4]\nlayers:\n  - {type: expand, size: [-1, 5, 4]}\n", "3:26",
        ["size=[-1, 5, 4]: entry 1 is 5, but the input's dim 1 of [1, 3, 4] is 3; only a dim "
         "of 1 expands"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_spec_gets_a_located_error(case, tmp_path, capsys):
    text, position, words = CASES[case]
    spec = tmp_path / "bad.yaml"
    spec.write_text(text)
    code = main(["summary", str(spec), "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 1
    assert out == ""
    first = err.splitlines()[0]
    assert first.startswith(f"{spec}:{position}: error: "), err
    for word in words:
        assert word in err, f"{word!r} not in {err!r}"
    assert "Traceback" not in err


def test_a_file_that_is_no_spec_is_asked_about(capsys):
    from helpers import ROOT
    code, _, err = run_cli(capsys, "summary", str(ROOT / "README.md"))
    assert code == 1
    assert "YAML syntax" in err and "is " in err and "README.md a spec? netcalc reads YAML " \
        "specs (.yaml) and Python specs (.py)" in err


def test_python_tag_runs_nothing(tmp_path, capsys):
    marker = tmp_path / "pwned"
    spec = tmp_path / "bad.yaml"
    spec.write_text(f"input: [3]\nlayers:\n  - !!python/object/apply:os.system "
                    f"[\"touch {marker}\"]\n")
    assert main(["summary", str(spec)]) == 1
    assert not marker.exists()


def test_block_error_notes_where_the_block_was_used(tmp_path, capsys):
    spec = tmp_path / "bad.yaml"
    spec.write_text(
        "input: [3, 8, 8]\n"
        "blocks:\n"
        "  down:\n"
        "    params: {k: 3}\n"
        "    layers:\n"
        "      - {type: conv2d, name: conv, out_channels: 8, kernel_size: \"${k}\"}\n"
        "layers:\n"
        "  - {type: down, name: d1, k: 3}\n"
        "  - {type: down, name: d2, k: 9}\n")
    assert main(["summary", str(spec)]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == (f"{spec}:6:66: error: layer 'd2.conv' (conv2d): kernel 9 is larger "
                        "than the padded input 6 (6 + 2·0)")
    assert lines[1] == f"{spec}:9:5: note: in block 'down', used here as 'd2'"


def _nested_spec(levels: int) -> str:
    """A spec whose `input` holds `levels` lists inside each other (with the top-level
    mapping, levels + 1 deep)."""
    return "input: " + "[" * levels + "]" * levels + "\nlayers: [relu]\n"


@pytest.mark.parametrize("parser", ["libyaml", "python"])
@pytest.mark.parametrize("levels", [100, 999, 1_001, 5_000])
def test_deep_nesting_is_netcalcs_own_located_error_whatever_the_yaml_library(
        tmp_path, capsys, monkeypatch, parser, levels):
    # libyaml 0.2.6 refuses 1,000 levels with its own words and PyYAML's parser
    # recurses until Python's limit: netcalc's limit (100) comes first either way,
    # at the bracket that passes it (column 8 + 99 opening brackets)
    from netcalc.spec import loader
    if parser == "python":
        monkeypatch.setattr(loader, "_LibyamlLoader", None)
    elif loader._LibyamlLoader is None:
        pytest.skip("PyYAML built without libyaml")
    spec = tmp_path / "deep.yaml"
    spec.write_text(_nested_spec(levels))
    assert main(["summary", str(spec)]) == 1
    err = capsys.readouterr().err
    assert err == (f"{spec}:1:107: error: the spec is nested more than 100 levels deep here "
                   "(lists and mappings inside each other)\n")


@pytest.mark.parametrize("text, where", [
    ("input: [3]\nlayers: &a [*a]\n", "2:9"),
    ("input: [3]\nx-note: &a {b: [1, *a]}\nlayers: [relu]\n", "2:9"),
])
def test_an_alias_inside_its_own_anchor_is_refused(tmp_path, capsys, text, where):
    # PyYAML builds such a node as a cycle; counting it must not recurse forever
    spec = tmp_path / "cycle.yaml"
    spec.write_text(text)
    assert main(["summary", str(spec)]) == 1
    assert capsys.readouterr().err == (
        f"{spec}:{where}: error: an alias here stands for a list or mapping that contains "
        "it: the spec would be infinite\n")


def test_aliases_cannot_nest_past_the_limit(tmp_path, capsys):
    # each anchor 30 levels deep holds the one before: 60 + 4·30 levels once written out,
    # though no list in the file is nested more than 61 deep
    text = "input: [3]\nlayers: [relu]\nx-a0: &a0 " + "[" * 60 + "]" * 60 + "\n"
    for k in range(1, 5):
        text += f"x-a{k}: &a{k} " + "[" * 30 + f"*a{k - 1}" + "]" * 30 + "\n"
    spec = tmp_path / "aliases.yaml"
    spec.write_text(text)
    assert main(["summary", str(spec)]) == 1
    assert "error: through its aliases the spec is nested more than 100 levels deep here" \
        in capsys.readouterr().err


def test_nesting_at_the_limit_is_read(tmp_path, capsys):
    # 99 lists in `input` + the top-level mapping = 100 levels: the reader takes it,
    # and the next check (input sizes are integers) is the one that speaks
    spec = tmp_path / "deep.yaml"
    spec.write_text(_nested_spec(99))
    assert main(["summary", str(spec)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{spec}:1:9: error: input: size [[[")
    assert "is not an integer" in err and "nested" not in err


def test_nesting_deep_enough_to_overflow_a_c_stack_is_refused_not_a_crash(tmp_path):
    # libyaml's own composer recursed in C: 300,000 levels killed the process with
    # a segfault. A real process, so that a crash shows as one.
    spec = tmp_path / "deeper.yaml"
    spec.write_text(_nested_spec(300_000))
    run = subprocess.run([sys.executable, "-m", "netcalc", "summary", str(spec)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stderr
    assert run.stderr.startswith(f"{spec}:1:107: error: the spec is nested more than 100 levels")


def test_a_spec_is_read_alike_whatever_else_its_file_holds(tmp_path, capsys):
    # libyaml accepts a tab after `:` in a flow mapping, PyYAML's parser does not:
    # one parser reads every file, so a long comment cannot change the verdict
    text = "input: [3, 32, 32]\nlayers:\n  - {type: conv2d, out_channels: 8, kernel_size:\t3}\n"
    outputs = []
    for suffix in ("", "# " + "-" * 10_000 + "\n"):
        spec = tmp_path / "tab.yaml"
        spec.write_text(text + suffix)
        code = main(["summary", str(spec), "--format", "csv"])
        outputs.append((code, capsys.readouterr()))
    assert outputs[0] == outputs[1]


def test_a_flat_list_past_the_node_limit_is_refused_as_such(tmp_path, capsys, monkeypatch):
    # the limit lowered: the same check, in milliseconds (the real one is slow, below)
    from netcalc.spec import loader
    monkeypatch.setattr(loader, "MAX_EXPANDED_NODES", 1_000)
    spec = tmp_path / "many.yaml"
    spec.write_text("input: [3]\nlayers: [relu]\nx: [" + ",".join(["1"] * 1_000) + "]\n")
    assert main(["summary", str(spec)]) == 1
    # the top mapping, its 3 keys, input's list and item, layers' list and item, x's
    # list: 9 nodes before x's items, so item 991 (from 0; column 5 + 2·991) is the 1,001st
    assert capsys.readouterr().err.startswith(
        f"{spec}:3:1987: error: the spec has more than 1,000 YAML nodes")


@pytest.mark.slow
def test_a_flat_list_past_the_real_node_limit_is_refused_as_such(tmp_path, capsys):
    spec = tmp_path / "many.yaml"
    spec.write_text("input: [3]\nlayers: [relu]\nx: [" + ",".join(["1"] * 1_000_001) + "]\n")
    assert main(["summary", str(spec)]) == 1
    assert capsys.readouterr().err.startswith(
        f"{spec}:3:1999987: error: the spec has more than 1,000,000 YAML nodes")


@pytest.mark.parametrize("text, message", [
    ("a: *nope\n", "1:4: error: YAML syntax: found undefined alias 'nope'"),
    ("input: [3]\nlayers: [@relu]\n", "2:10: error: YAML syntax: found character '@' that "
     "cannot start any token"),
    ("input: [3]\nlayers: [relu\n", "3:1: error: YAML syntax: expected ',' or ']', but got "
     "'<stream end>'"),
])
def test_yaml_errors_are_worded_as_pyyaml_words_them(text, message, tmp_path, capsys):
    spec = tmp_path / "bad.yaml"
    spec.write_text(text)
    assert main(["summary", str(spec)]) == 1
    assert capsys.readouterr().err.startswith(f"{spec}:{message}")


def test_not_utf8(tmp_path, capsys):
    spec = tmp_path / "latin1.yaml"
    spec.write_bytes(b"input: [3]\nname: caf\xe9\nlayers: [relu]\n")
    assert main(["summary", str(spec)]) == 1
    assert capsys.readouterr().err.startswith(f"{spec}:2:1: error: the spec is not UTF-8")


def test_missing_file_is_a_usage_error(tmp_path, capsys):
    assert main(["summary", str(tmp_path / "nope.yaml")]) == 2
    assert "no such spec file" in capsys.readouterr().err


@pytest.mark.parametrize("args, words", [
    (["summary"], "Missing argument 'SPEC'"),
    (["summary", "specs/alexnet.yaml", "--batch", "0"], "--batch"),
    (["summary", "specs/alexnet.yaml", "--format", "xml"], "--format"),
    (["summary", "specs/alexnet.yaml", "--input", "3xbig"], "write a shape like 3x224x224"),
    (["summary", "specs/alexnet.yaml", "--input", "image=3x224x224"], "no input 'image'"),
    (["frobnicate"], "no command 'frobnicate'"),
    (["summry", "specs/alexnet.yaml"], "no command 'summry'; did you mean 'summary'?"),
    (["summary", "specs"], "'specs' is a directory"),
])
def test_usage_errors_exit_2(args, words, capsys, monkeypatch):
    from helpers import ROOT
    monkeypatch.chdir(ROOT)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert words in err
    # one line, `error: ...`, as netcalc's own errors are: not click's usage block
    assert err.startswith("error: ") and err.count("\n") == 1 and "Usage:" not in err


def test_no_traceback_from_a_real_process(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text("input: [3, 8, 8]\nlayers:\n  - {type: conv2d, out_channels: 4, kernel_size: 11}\n")
    run = subprocess.run([sys.executable, "-m", "netcalc", "summary", str(spec)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert run.stdout == ""
    assert run.stderr.startswith(f"{spec}:3:50: error: ")
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize("text, words", [
    ("input: [3, 8, 8]\nlayers:\n  - {type: relu, repeat: 1000000000000}\n",
     "repeat: 1,000,000,000,000 would expand past the limit of 150,000 layers"),
    ("input: [3, 8, 8]\nblocks:\n  b:\n    params: {n: 1}\n    layers: [{type: relu, repeat: \"${n}\"}]\n"
     "layers:\n  - {type: b, repeat: 1000000, n: 1000000}\n", "past the limit of 150,000 layers"),
    # the first error in the file is said, however big what follows it
    ("input: [3, 8, 8]\nblocks:\n  b:\n    layers: [{type: relu, repeat: 200000}]\n"
     "layers:\n  - {type: b, repeat: \"${1 + i - i}\"}\n  - {type: b, repeat: 2}\n",
     "p.yaml:6:23: error: in '${1 + i - i}': 'i' is not a parameter here"),
    ("input: [3, 8, 8]\nblocks:\n  b:\n    layers: [{type: relu, repeat: 200000}]\n"
     "layers:\n  - {type: b, repeat: 2}\n  - {type: b, repeat: \"${1 + i - i}\"}\n",
     "p.yaml:4:35: error: repeat: 200,000 would expand past the limit of 150,000 layers"),
    ("a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
     "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
     "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
     "g: [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\ninput: [3]\nlayers: [relu]\n",
     "more than 1,000,000 YAML nodes"),
    # copies switched off still cost expansion time
    ("input: [3]\nblocks: {b: {params: {k: 0}, layers: [{type: relu, repeat: 100000, "
     "if: \"${i < 0}\"}]}}\nlayers: [relu, {type: b, repeat: 100000, k: \"${i}\"}]\n",
     "more than 4,000,000 steps"),
    # a repeat: 0 entry's copy is never made: its `if` failing stops no count
    ("params: {z: 0, w: 1}\ninput: [4]\nlayers:\n  - {type: relu, repeat: 0, if: \"${1 // z > 0}\"}\n"
     "  - {type: relu, repeat: 20001, if: \"${" + "+".join(["w"] * 70) + " > 0}\"}\n",
     "p.yaml:5:26: error: expanding this takes more than 4,000,000 steps"),
    # a block instance repeated from one kept counts the copies it took: the count starts
    # as it would with each expanded
    ("params: {a: 1, b: 1}\ninput: [4]\nblocks:\n  unit:\n    params: {c: 1}\n    layers:\n"
     "      - {type: relu, repeat: 10001, if: \"${" + "+".join(["c"] * 70) + " > 0}\"}\n"
     "layers:\n  - {type: unit, c: \"${a}\"}\n  - {type: unit, c: \"${b}\"}\n",
     "more than 4,000,000 steps"),
    # parameter defaults that square each other
    ("params: {a: 99999999999, b: \"${a*a*a*a*a*a*a*a*a*a}\", c: \"${b*b*b*b*b*b*b*b*b*b}\"}\n"
     "input: [3]\nlayers: [relu]\n", "a number is too large"),
    # a long expression per copy, 200,000 copies
    ("input: [3]\nlayers:\n  - {type: relu, repeat: 100000, if: \"${" + "+".join(["i"] * 100)
     + " >= 0}\"}\n", "more than 4,000,000 steps"),
    ("input: [3]\nlayers: [{type: linear, out_features: \"${int(1.0e+300) * int(1.0e+300) / 2}\"}]\n",
     "a number is too large"),
    ("input: [3]\n" + "blocks:\n" + "".join(f"  b{k}: {{layers: [b{k + 1}]}}\n" for k in range(300))
     + "  b300: {layers: [relu]}\nlayers: [b0]\n", "nested more than 64 deep"),
    ("inputs: {a: [3], b: [3]}\nlayers:\n  - {type: relu, name: r, repeat: 0}\n"
     "  - {type: add, inputs: [r, a]}\n", "with repeat: 0 this entry passes its input on"),
    ("input: [3, 3]\nlayers:\n  - {type: upsample, scale_factor: 1.0e+308, mode: nearest}\n",
     "too large to count"),
    ("input: [3, 3]\nlayers:\n  - {type: upsample, scale_factor: 1.0e+19, mode: nearest}\n",
     "elements, more than a torch tensor can hold"),
])
def test_huge_and_pathological_specs_are_refused_fast(text, words, tmp_path, capsys):
    spec = tmp_path / "p.yaml"
    spec.write_text(text)
    started = time.perf_counter()
    assert main(["summary", str(spec), "--format", "json"]) == 1
    elapsed = time.perf_counter() - started
    err = capsys.readouterr().err
    assert words in err, err
    assert "Traceback" not in err and "internal error" not in err
    # Not a benchmark: a guard against working before refusing (that took minutes).
    assert elapsed < 10, f"refused after {elapsed:.1f} s"


def test_a_count_refusal_in_a_block_says_which_use_and_which_copy(tmp_path, capsys):
    # the third copy of `outer` asks `inner` for 200,000 layers
    spec = tmp_path / "p.yaml"
    spec.write_text("input: [4]\nblocks:\n  inner:\n    params: {k: 1}\n    layers:\n"
                    "      - {type: relu, repeat: \"${k * 1000}\"}\n  outer:\n    params: {k: 1}\n"
                    "    layers:\n      - {type: inner, name: x, k: \"${k}\"}\nlayers:\n"
                    "  - {type: outer, name: o, repeat: 3, k: \"${200 if i == 2 else 1}\"}\n")
    assert main(["summary", str(spec)]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"{spec}:6:30: error: repeat: 200,000 would expand past the limit of 150,000 layers",
        f"{spec}:10:9: note: in block 'inner', used here",
        f"{spec}:12:5: note: in block 'outer', used here (copy 2 of 3)"]


def test_a_huge_file_is_refused_before_it_is_read(tmp_path, capsys):
    spec = tmp_path / "big.yaml"
    spec.write_text("input: [3]\nlayers:\n" + "  - relu\n" * 400_000)
    started = time.perf_counter()
    assert main(["summary", str(spec)]) == 1
    assert time.perf_counter() - started < 2
    assert "the limit is 2,097,152" in capsys.readouterr().err


def test_netcalc_alone_prints_its_help(capsys):
    assert main([]) == 2
    out, err = capsys.readouterr()
    assert out.startswith("Usage: netcalc [OPTIONS] COMMAND") and "Commands:" in out
    assert err == ""
