"""`netcalc fit` and `netcalc.fit`: the search's answer against a brute-force loop over
every value (each computed by `netcalc.summary` with the params set), and its errors."""

from __future__ import annotations

import json

import pytest

import netcalc
from helpers import SPECS, run_cli

# ResNet-18 with its stage widths one param (torchvision's at width=64)
WIDE_RESNET = """\
name: wide_resnet
params: {width: 64, num_classes: 1000}
input: [3, 224, 224]
blocks:
  basic_block:
    params: {out: 64, stride: 1, downsample: false}
    layers:
      - {type: conv2d, name: conv1, out_channels: "${out}", kernel_size: 3, stride: "${stride}", padding: 1, bias: false}
      - {type: batchnorm2d, name: bn1}
      - {type: relu, name: relu, inplace: true}
      - {type: conv2d, name: conv2, out_channels: "${out}", kernel_size: 3, padding: 1, bias: false}
      - {type: batchnorm2d, name: bn2}
      - {type: projection, name: downsample, inputs: [input], out: "${out}", stride: "${stride}", if: "${downsample}"}
      - {type: add, name: add, inputs: [bn2, downsample]}
      - {type: relu, name: relu_out, inplace: true}
  projection:
    params: {out: 64, stride: 1}
    layers:
      - {type: conv2d, name: 0, out_channels: "${out}", kernel_size: 1, stride: "${stride}", bias: false}
      - {type: batchnorm2d, name: 1}
layers:
  - {type: conv2d, name: conv1, out_channels: "${width}", kernel_size: 7, stride: 2, padding: 3, bias: false}
  - {type: batchnorm2d, name: bn1}
  - {type: relu, name: relu, inplace: true}
  - {type: maxpool2d, name: maxpool, kernel_size: 3, stride: 2, padding: 1}
  - {type: basic_block, name: layer1, out: "${width}", repeat: 2}
  - {type: basic_block, name: layer2, out: "${2 * width}", repeat: 2, stride: "${2 if i == 0 else 1}", downsample: "${i == 0}"}
  - {type: basic_block, name: layer3, out: "${4 * width}", repeat: 2, stride: "${2 if i == 0 else 1}", downsample: "${i == 0}"}
  - {type: basic_block, name: layer4, out: "${8 * width}", repeat: 2, stride: "${2 if i == 0 else 1}", downsample: "${i == 0}"}
  - {type: adaptiveavgpool2d, name: avgpool, output_size: 1}
  - {type: flatten, name: flatten}
  - {type: linear, name: fc, out_features: "${num_classes}"}
"""

# heads must divide hidden: most values of `heads` are no network at all
TINY_TRANSFORMER = """\
params: {hidden: 48, heads: 4}
inputs: {tokens: {shape: [16], dtype: int64}}
layers:
  - {type: embedding, name: embed, inputs: [tokens], num_embeddings: 100, embedding_dim: "${hidden}"}
  - {type: attention, name: attn, num_heads: "${heads}"}
  - {type: linear, name: head, out_features: 100}
"""


@pytest.fixture
def wide_resnet(tmp_path):
    path = tmp_path / "wide_resnet.yaml"
    path.write_text(WIDE_RESNET)
    return path


def test_the_widest_resnet18_under_5m_params_is_the_brute_forces(wide_resnet):
    found = netcalc.fit(wide_resnet, {"width": range(16, 257)}, max_params="5M")
    every = {w: netcalc.summary(wide_resnet, params={"width": w}).totals.params
             for w in range(16, 257)}
    assert found.best.values == {"width": max(w for w, p in every.items() if p <= 5_000_000)}
    assert found.best.params == every[found.best.values["width"]]
    assert found.method == "bisection" and len(found.candidates) < 20   # not all 241
    # the model at width=64 is torchvision's ResNet-18: the search's figures are the spec's
    assert every[64] == 11_689_512


@pytest.mark.parametrize("batches", [range(256, 321),
                                     pytest.param(range(1, 1025), marks=pytest.mark.slow)])
def test_the_largest_batch_whose_resnet50_training_fits_24_gib(batches):
    found = netcalc.fit(SPECS / "resnet50.yaml", {"batch": batches}, max_memory="24GiB",
                        training=True)
    fitting = [b for b in batches
               if netcalc.summary(SPECS / "resnet50.yaml", batch=b).memory.training_bytes
               <= 24 * 2**30]
    assert found.best.values == {"batch": max(fitting)}
    assert found.best.memory == netcalc.summary(SPECS / "resnet50.yaml",
                                                batch=max(fitting)).memory.training_bytes


def test_several_params_are_searched_exhaustively_for_the_most_params(wide_resnet):
    vary = {"width": range(16, 65, 8), "num_classes": [10, 100, 1000]}
    found = netcalc.fit(wide_resnet, vary, max_params=3_000_000, max_macs=400_000_000)
    brute = []
    for width in vary["width"]:
        for classes in vary["num_classes"]:
            t = netcalc.summary(wide_resnet, params={"width": width,
                                                     "num_classes": classes}).totals
            if t.params <= 3_000_000 and t.macs <= 400_000_000:
                brute.append((t.params, width, classes))
    assert found.method == "exhaustive" and len(found.candidates) == 21
    params, width, classes = max(brute)
    assert found.best.values == {"width": width, "num_classes": classes}
    assert found.best.params == params
    assert [c.params for c in found.ranked()] == sorted((b[0] for b in brute), reverse=True)


def test_a_param_whose_most_values_are_invalid_is_searched_value_by_value(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY_TRANSFORMER)
    found = netcalc.fit(path, {"heads": range(1, 49)}, max_params=100_000)
    valid = [h for h in range(1, 49) if 48 % h == 0]
    assert found.method == "exhaustive"
    assert found.best.values == {"heads": max(valid)}    # heads add no parameters
    assert sum(1 for c in found.candidates if c.error) == 48 - len(valid)
    # the text says so, with why, rather than leave them out unseen
    assert f"{48 - len(valid)} of them are no valid network (at heads=5: " in str(found)
    assert "does not split into num_heads=5 heads" in str(found)
    assert repr(found) == "<Fit tiny: best heads=48 of 48 configurations (48 computed, " \
        "exhaustive)>"


def test_the_command_prints_the_best_and_its_neighbours(wide_resnet, capsys):
    code, out, err = run_cli(capsys, "fit", str(wide_resnet), "--vary", "width=16..256",
                             "--max-params", "5M")
    assert code == 0, err
    assert "best: width=41: 4,920,221 params (4.92 M)" in out
    assert "searched by bisection" in out
    lines = out.splitlines()
    assert any(line.split()[:2] == ["41", "4,920,221"] and line.endswith("✓ best")
               for line in lines)
    assert any(line.split()[:2] == ["42", "5,154,610"] and "params over by 154,610" in line
               for line in lines)
    code, out, _ = run_cli(capsys, "fit", str(wide_resnet), "--vary", "width=16..256",
                           "--max-params", "5M", "--format", "json")
    data = json.loads(out)
    assert data["best"]["values"] == {"width": 41} and data["method"] == "bisection"
    assert data["budget"] == {"max_params": 5_000_000, "memory_counts": "inference"}


@pytest.mark.parametrize("args, words, where", [
    (["--vary", "widht=16..64", "--max-params", "5M"],
     ["--vary widht: the spec has no param 'widht'", "did you mean 'width'"], ":2:9: error"),
    (["--vary", "width=64..16", "--max-params", "5M"], ["the range is empty (64 > 16)",
                                                        "write 16..64"], None),
    (["--vary", "width=160..256", "--max-params", "3M"],
     ["no configuration with width in 160..256 keeps params ≤ 3,000,000",
      "the closest, width=160, has 71,062,920 params"], None),
    (["--vary", "width=16..64"], ["give a budget"], None),
    (["--vary", "width=16..64", "--max-params", "five"], ["--max-params five: write a count"],
     None),
    (["--vary", "width=16..64", "--max-memory", "2GiB", "--max-params", "1M", "--training",
      "--vary", "num_classes=1..1000", "--limit", "100"],
     ["49,000 configurations, more than --limit 100"], None),
    (["--vary", "width=16..64", "--training", "--max-params", "1M"], ["give --max-memory"],
     None),
    (["--vary", "batch=0..8", "--max-memory", "1GiB"], ["a batch is at least 1, not 0"], None),
    (["--vary", "batch=1..8", "--batch", "7", "--max-memory", "1GiB"],
     ["--vary batch=... sets the batch: leave --batch out"], None),
])
def test_fit_errors_are_usage_errors_that_say_what_to_do(wide_resnet, capsys, args, words,
                                                           where):
    code, out, err = run_cli(capsys, "fit", str(wide_resnet), *args)
    assert code == 2 and out == ""
    for word in words:
        assert word in err
    if where:
        assert err.startswith(str(wide_resnet) + where)


def test_a_python_spec_has_no_params_to_vary(capsys):
    python_spec = next(SPECS.rglob("*.py"))
    code, _, err = run_cli(capsys, "fit", str(python_spec), "--vary", "width=1..2",
                           "--max-params", "1M")
    assert code == 2 and "a Python spec has no top-level params to vary" in err


def test_values_that_are_no_network_inside_the_range_do_not_mislead_the_bisection(tmp_path):
    """groups=2: odd widths are no network. The spread-out samples are all even, so the
    figures look ordered; an odd width met while bisecting must not count as too big."""
    path = tmp_path / "grouped.yaml"
    path.write_text("params: {width: 64}\ninput: [4, 8, 8]\nlayers:\n"
                    "  - {type: conv2d, out_channels: '${width}', kernel_size: 3, groups: 2}\n"
                    "  - {type: conv2d, out_channels: '${width}', kernel_size: 3, groups: 2}\n")
    found = netcalc.fit(path, {"width": range(16, 257)}, max_params=200_000)
    brute = max(w for w in range(16, 257, 2)
                if netcalc.summary(path, params={"width": w}).totals.params <= 200_000)
    assert found.best.values == {"width": brute} == {"width": 208}
    assert found.method == "exhaustive"
    even = netcalc.fit(path, {"width": range(16, 257, 2)}, max_params=200_000)
    assert even.best.values == {"width": 208} and even.method == "bisection"


def test_a_spec_param_named_batch_is_not_silently_shadowed(tmp_path, capsys):
    path = tmp_path / "b.yaml"
    path.write_text("params: {batch: 4}\ninput: [4]\nlayers:\n"
                    "  - {type: linear, out_features: '${batch}'}\n")
    code, _, err = run_cli(capsys, "fit", str(path), "--vary", "batch=1..8",
                           "--max-params", "1M")
    assert code == 2 and err.startswith(f"{path}:1:9: error: --vary batch varies the batch, "
                                        "and the spec has a param 'batch' too")
