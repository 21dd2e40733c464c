"""The engine's shortcuts (issue 18) change no number: what is computed once and kept,
and what is made only when a renderer asks, against figures worked out here."""

from __future__ import annotations

import json

from helpers import SPECS, summarize, summarize_text
from netcalc.spec.expr import evaluate


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
