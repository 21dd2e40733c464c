"""`netcalc explain`: the worked computation, with the spec's numbers, in English
and Chinese; every step's working, evaluated here, gives the value it states, and
that value is torch's."""

from __future__ import annotations

import ast
import functools
import json
import re

import pytest

from helpers import PUBLISHED, SPECS, evaluate, run_cli
from netcalc.analyze import analyze
from netcalc.spec import load_spec, parse_spec
from netcalc.working import explain_layers


def workings(text: str, **options):
    spec = parse_spec(text, "t.yaml")
    return explain_layers(spec, analyze(spec, **options))


def steps_of(text: str, **options) -> dict[str, list]:
    return {w.name: w.steps for w in workings(text, **options)}


def test_alexnets_first_convolution_as_the_tutorial_works_it(capsys):
    code, out, _ = run_cli(capsys, "explain", str(SPECS / "alexnet.yaml"), "--layer",
                           "conv1.conv", "--lang", "en")
    assert code == 0
    assert out == """\
conv1.conv · conv2d · conv 11×11/4, 64
  [1, 3, 224, 224] → [1, 64, 55, 55]
  H_out = ⌊(H_in + 2P − D·(K − 1) − 1) / S⌋ + 1
        = ⌊(224 + 2·2 − 1·(11 − 1) − 1) / 4⌋ + 1 = ⌊217 / 4⌋ + 1 = 55
          217 / 4 = 54.25 is not whole: rounded down to 54, so the last row of the \
padded input is never covered by a window
  W_out = ⌊(W_in + 2P − D·(K − 1) − 1) / S⌋ + 1
        = ⌊(224 + 2·2 − 1·(11 − 1) − 1) / 4⌋ + 1 = ⌊217 / 4⌋ + 1 = 55
          217 / 4 = 54.25 is not whole: rounded down to 54, so the last column of the \
padded input is never covered by a window
  params = (K_h·K_w·C_in + 1)·C_out
         = (11·11·3 + 1)·64 = 23,296
  MACs = H_out·W_out·C_out · (K_h·K_w·C_in)
       = 55·55·64 · (11·11·3) = 70,276,800
         adding the bias is not counted (FlopCounterMode counts the multiply-accumulates \
of the product only)
"""


def test_the_same_in_chinese_from_the_environment(capsys, monkeypatch):
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    code, out, _ = run_cli(capsys, "explain", str(SPECS / "alexnet.yaml"), "--layer",
                           "conv1.conv")
    assert code == 0
    assert "217 / 4 = 54.25 不是整数：向下取整为 54，所以填充后输入的最后 1 列不会被任何窗口覆盖" in out
    assert "  参数量 = (K_h·K_w·C_in + 1)·C_out\n         = (11·11·3 + 1)·64 = 23,296\n" in out


def test_exact_and_inexact_divisions_say_which():
    # the original AlexNet's 227 divides; 224 leaves the last column out
    exact, inexact = (steps_of(f"input: [3, {side}, {side}]\nlayers:\n"
                               "  - {type: conv2d, name: c, out_channels: 96, kernel_size: 11, "
                               "stride: 4}\n")["c"][1] for side in (227, 224))
    assert exact.working == "⌊(227 + 2·0 − 1·(11 − 1) − 1) / 4⌋ + 1 = ⌊216 / 4⌋ + 1 = 55"
    assert [r.key for r in exact.remarks] == ["divides_exactly"]
    assert inexact.value == 54
    assert inexact.remarks[0].key == "floor_drops"
    assert inexact.remarks[0].args == {"numerator": 213, "stride": 4, "quotient": "53.25",
                                       "rounded": 53, "uncovered": 1, "dim": "W"}


@pytest.mark.torch
def test_ceil_mode_and_torchs_last_window_rule():
    import torch

    (h,) = steps_of("input: [1, 5]\nlayers:\n  - {type: maxpool1d, name: p, kernel_size: 3, "
                    "stride: 3, padding: 1, ceil_mode: true}\n")["p"]
    # ⌈4 / 3⌉ + 1 = 3, but the third window would start at 6 = 5 + 1: torch drops it
    check_working(h)
    pool = torch.nn.MaxPool1d(3, stride=3, padding=1, ceil_mode=True)
    assert h.value == pool(torch.zeros(1, 1, 5)).shape[-1] == 2
    assert [r.key for r in h.remarks] == ["ceil_rounds_up", "ceil_last_window"]
    assert h.remarks[1].args == {"start": 6, "input": 5, "padding": 1, "out": 2}


def test_adaptive_pooling_bins():
    steps = steps_of("input: [512, 224, 10]\nlayers:\n"
                     "  - {type: adaptiveavgpool2d, name: p, output_size: [7, 3]}\n")["p"]
    assert [(s.value, s.remarks[0].key, s.remarks[0].args) for s in steps] == [
        (7, "adaptive_exact", {"input": 224, "output": 7, "size": 32}),
        (3, "adaptive_uneven", {"input": 10, "output": 3, "sizes": [4]})]


def test_transposed_same_padding_batch_norm_concat_and_flatten():
    steps = steps_of("""
input: [16, 8, 8]
layers:
  - {type: convtranspose2d, name: up, out_channels: 8, kernel_size: 4, stride: 2, padding: 1}
  - {type: conv2d, name: same, out_channels: 8, kernel_size: 4, padding: same, bias: false}
  - {type: batchnorm2d, name: bn}
  - {type: concat, name: cat, inputs: [up, same, bn], dim: 1}
  - {type: flatten, name: flat}
""", batch=2)
    h_up = steps["up"][0]
    assert h_up.working == "(8 − 1)·2 − 2·1 + 1·(4 − 1) + 0 + 1 = 16"
    assert steps["up"][-1].working == "2·16·8·8 · (8·4·4) = 262,144"
    assert steps["same"][0].remarks[0].args == {"total": 3, "left": 1, "right": 2,
                                                "dilation": 1, "kernel": 4}
    assert steps["same"][2].working == "4·4·8·8 = 1,024"          # params, no bias
    assert [(s.quantity, s.working) for s in steps["bn"]] == [("params", "2·8 = 16"),
                                                              ("buffers", "2·8 + 1 = 17")]
    assert steps["cat"][0].working == "8 + 8 + 8 = 24"
    assert steps["flat"][0].working == "24·16·16 = 6,144"


# -- the working's arithmetic, evaluated independently of netcalc (helpers.evaluate) --

def check_working(step) -> None:
    """Each `=` of the working holds, and the last number is the step's value."""
    if step.quantity == "output":     # shapes: "[96, 1, 1] * [1, 96, 56, 56] → [1, 96, 56, 56]"
        import torch

        operands, result = step.working.split(" → ")
        shapes = [tuple(ast.literal_eval(s)) for s in re.split(r" [+*] ", operands)]
        assert tuple(torch.broadcast_shapes(*shapes)) == tuple(ast.literal_eval(result)) \
            == step.value, step.working
        return
    values = [evaluate(part) for part in step.working.split(" = ")]
    if any(r.key == "ceil_last_window" for r in step.remarks):
        # "… = 3 − 1 = 2": torch drops a last window that would start past the input
        assert values == [step.value + 1] * (len(values) - 2) + [step.value] * 2, step.working
    else:
        assert values == [step.value] * len(values), step.working


@functools.lru_cache(maxsize=None)
def torch_figures(layer, input_shapes) -> tuple:
    """(output shape, parameters, buffers, MACs) of the torch module for `layer`."""
    from netcalc.torch_bridge.build import build_layer
    from torch_measure import figures_on_meta

    figures = figures_on_meta(lambda: build_layer(layer, input_shapes), input_shapes)
    return figures.output_shape, figures.total_params, figures.buffers, figures.macs


def torchs_value(step, steps, figures):
    """The number torch gives for what `step` computes."""
    shape, params, buffers, macs = figures
    if step.quantity.endswith("_out"):              # H_out, W_out: the spatial dims, in order
        spatial = [s.quantity for s in steps if s.quantity.endswith("_out")]
        return shape[-len(spatial):][spatial.index(step.quantity)]
    if step.quantity.startswith("dim "):            # concat: the joined dim
        return shape[int(step.quantity.split()[1])]
    if step.quantity == "features":                 # flatten: "d1·d2·d3" becomes dim 1, the first
        return shape[int(step.formula.split("·")[0].removeprefix("d"))]
    return {"params": params, "buffers": buffers, "MACs": macs, "output": shape}[step.quantity]


@pytest.mark.torch
@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_every_steps_working_holds_and_its_value_is_torchs(name):
    # Each layer runs in torch on the input shapes netcalc gives it; the spec's input
    # is given, so layer by layer the chain of shapes is torch's too.
    spec = load_spec(SPECS / f"{name}.yaml")
    summary = analyze(spec)
    checked = 0
    for spec_layer, working in zip(spec.layers, explain_layers(spec, summary), strict=True):
        assert spec_layer.name == working.name
        if not working.steps:
            continue
        figures = torch_figures(spec_layer.layer.for_batch(summary.batch),
                                working.input_shapes)
        for step in working.steps:
            check_working(step)
            assert step.value == torchs_value(step, working.steps, figures), \
                (working.name, step.quantity, step.working)
            checked += 1
    assert checked


def test_json_and_markdown(capsys):
    code, out, _ = run_cli(capsys, "explain", str(SPECS / "lenet5.yaml"), "--format", "json",
                           "--lang", "zh")
    data = json.loads(out)
    assert code == 0 and data["language"] == "zh"
    first = data["layers"][0]
    assert first["steps"][0]["quantity"] == "H_out"
    assert first["steps"][0]["value"] == 28
    code, out, _ = run_cli(capsys, "explain", str(SPECS / "lenet5.yaml"), "--format",
                           "markdown", "--layer", "c1")
    assert out.startswith("### c1")
    assert "- `params = (K_h·K_w·C_in + 1)·C_out = (5·5·1 + 1)·6 = 156`" in out


def test_an_unknown_layer_is_a_usage_error(capsys):
    code, _, err = run_cli(capsys, "explain", str(SPECS / "alexnet.yaml"), "--layer", "conv9")
    assert code == 2
    assert "no layer or block of that name in alexnet; did you mean" in err


@pytest.mark.torch
def test_recurrent_workings_hold_and_give_torchs_numbers():
    # every piece of one LSTM call (a projection, three layers, both directions), an RNN's
    # h_n without biases, a 2-layer GRU: run in torch (oneDNN's fused LSTM off, whose
    # MACs FlopCounterMode cannot see), each step's value is torch's
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from netcalc.torch_bridge.model import build_model

    spec = parse_spec("""
input: [7, 5]
layers:
  - {type: lstm, name: [out, h_n, c_n], hidden_size: 6, num_layers: 3, bidirectional: true,
     proj_size: 2, batch_first: true}
  - {type: rnn, name: r, piece: 1, hidden_size: 4, bias: false, inputs: [out],
     batch_first: true}
  - {type: gru, name: g, piece: 0, hidden_size: 3, num_layers: 2, inputs: [out]}
""", "t.yaml")
    summary = analyze(spec, batch=2)
    model = build_model(spec, summary).eval()
    modules = model.layer_modules()
    shapes = {}
    for name, module in modules.items():
        module.register_forward_hook(lambda m, a, y, name=name: shapes.update({name: y.shape}))
    with torch.no_grad(), torch.backends.mkldnn.flags(enabled=False), \
            FlopCounterMode(display=False) as counter:
        model(torch.zeros(2, 7, 5))
    flops = counter.get_flop_counts()
    checked = 0
    for working in explain_layers(spec, summary):
        params = sum(p.numel() for p in modules[working.name].parameters())
        macs = sum(flops.get(f"{type(model).__name__}.{working.name}", {}).values()) // 2
        for step in working.steps:
            check_working(step)
            torch_value = {"params": params, "MACs": macs}.get(step.quantity)
            if torch_value is None:                      # "dim 2": the output's size there
                torch_value = shapes[working.name][int(step.quantity.split()[1])]
            assert step.value == torch_value, (working.name, step.quantity, step.working)
            checked += 1
    assert checked == 3 * 2 + 4 + 4


def test_a_layer_without_steps_never_claims_its_shape_is_kept(tmp_path, capsys):
    """A pad changes the shape and a group norm has parameters: explain has no steps for
    either, and says it writes none, not that there is nothing to work out (as for relu)."""
    spec = tmp_path / "mixed.yaml"
    spec.write_text("input: [3, 8, 8]\nlayers:\n  - {type: zeropad2d, padding: 1}\n"
                    "  - relu\n  - {type: groupnorm, num_groups: 1}\n")
    code, out, _ = run_cli(capsys, "explain", str(spec))
    assert code == 0
    pad, relu, norm = out.strip().split("\n\n")
    assert "[1, 3, 8, 8] → [1, 3, 10, 10]" in pad and "writes no working for this type" in pad
    assert "the shape is its input's" in relu
    assert "writes no working for this type" in norm and "the shape is its" not in norm
    _, out, _ = run_cli(capsys, "explain", str(spec), "--lang", "zh")
    assert "暂未给出此类型的计算过程" in out.split("\n\n")[0]
