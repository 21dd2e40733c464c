"""The quick calculators (conv, convtranspose, pool, linear) and `solve`: no spec file,
the same rules; each calculation checked against torch's numbers for the same layer."""

from __future__ import annotations

import functools
import json

import pytest

from helpers import run_cli


def calc(capsys, *args):
    code, out, err = run_cli(capsys, *args, "--format", "json")
    assert code == 0, err
    return json.loads(out)


@functools.lru_cache(maxsize=None)
def torchs(module, input_shape: tuple[int, ...]) -> tuple[list[int], int, int]:
    """(output shape, parameters, MACs) of the torch module `module(nn)` builds."""
    import torch

    from torch_measure import figures_on_meta
    figures = figures_on_meta(lambda: module(torch.nn), [input_shape])
    return list(figures.output_shape), figures.total_params, figures.macs


# seed 002's first question: "输入 3*224*224, 卷积核大小为11, padding = 2 Stride = 4, 卷积核数量64"
TUTORIAL_CONV = (["conv", "--input", "3x224x224", "--out", "64", "-k", "11", "-s", "4",
                  "-p", "2"], "conv2d", lambda nn: nn.Conv2d(3, 64, 11, stride=4, padding=2),
                 (1, 3, 224, 224))


@pytest.mark.torch
def test_conv_text_with_the_working(capsys):
    args, _, module, input_shape = TUTORIAL_CONV
    shape, params, macs = torchs(module, input_shape)
    code, out, _ = run_cli(capsys, *args, "--explain", "--lang", "en")
    assert code == 0
    assert out.startswith(f"conv 11×11/4, 64 (conv2d) on [3, 224, 224]\noutput: {shape[1:]}\n"
                          f"params: {params:,}\nMACs: {macs:,} (FLOPs {2 * macs:,})\n")
    assert "        = ⌊(224 + 2·2 − 1·(11 − 1) − 1) / 4⌋ + 1 = ⌊217 / 4⌋ + 1 = 55\n" in out


# (the command, the layer type it makes, the same layer in torch, torch's input)
CALCULATIONS = [
    TUTORIAL_CONV,
    # depthwise 3×3, stride 2, same-style padding, no bias: MobileNet's
    (["conv", "--input", "32x112x112", "--out", "32", "-k", "3", "-s", "2", "-p", "1", "-g",
      "32", "--no-bias"], "conv2d",
     lambda nn: nn.Conv2d(32, 32, 3, stride=2, padding=1, groups=32, bias=False),
     (1, 32, 112, 112)),
    (["conv", "--input", "16x100", "--out", "8", "-k", "5", "-d", "2"], "conv1d",
     lambda nn: nn.Conv1d(16, 8, 5, dilation=2), (1, 16, 100)),
    (["conv", "--input", "8x8x8", "--out", "4", "-k", "3x5", "-p", "same", "--batch", "2"],
     "conv2d", lambda nn: nn.Conv2d(8, 4, (3, 5), padding="same"), (2, 8, 8, 8)),
    (["convtranspose", "--input", "64x28x28", "--out", "32", "-k", "4", "-s", "2", "-p", "1"],
     "convtranspose2d", lambda nn: nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1),
     (1, 64, 28, 28)),
    (["pool", "--input", "64x55x55", "-k", "3", "-s", "2"], "maxpool2d",
     lambda nn: nn.MaxPool2d(3, stride=2), (1, 64, 55, 55)),
    (["pool", "--input", "64x56x56", "-k", "3", "-s", "2", "--ceil", "--avg"], "avgpool2d",
     lambda nn: nn.AvgPool2d(3, stride=2, ceil_mode=True), (1, 64, 56, 56)),
    (["linear", "--input", "9216", "--out", "4096"], "linear", lambda nn: nn.Linear(9216, 4096),
     (1, 9216)),
    (["linear", "--input", "197x768", "--out", "3072", "--no-bias"], "linear",
     lambda nn: nn.Linear(768, 3072, bias=False), (1, 197, 768)),
]


@pytest.mark.torch
@pytest.mark.parametrize("args,type_name,module,input_shape", CALCULATIONS,
                         ids=[" ".join(c[0][:3]) + f" {i}" for i, c in enumerate(CALCULATIONS)])
def test_calculators_give_torchs_numbers(args, type_name, module, input_shape, capsys):
    data = calc(capsys, *args)
    assert data["type"] == type_name
    assert (data["output_shape"], data["params"], data["macs"]) == torchs(module, input_shape)


def test_a_calculator_refuses_what_torch_refuses_and_warns_as_summary_does(capsys):
    code, out, err = run_cli(capsys, "conv", "--input", "3x8x8", "--out", "4", "-k", "11")
    assert (code, out) == (1, "")
    assert err == "error: kernel 11 is larger than the padded input 8 (8 + 2·0)\n"
    code, out, err = run_cli(capsys, "linear", "--input", "256x6x6", "--out", "10")
    assert code == 0 and "output: [256, 6, 10]" in out
    assert err.startswith("warning: applies to the last dim only (6 features)")
    code, _, err = run_cli(capsys, "conv", "--input", "3x8x8x8x8", "--out", "4", "-k", "3")
    assert code == 2 and "a conv takes [C, L], [C, H, W] or [C, D, H, W]" in err


@pytest.mark.parametrize("args,answer", [
    (["conv", "--input", "224", "--output", "112", "-k", "7", "-s", "2"],
     "padding = 3  (dilation 1 assumed)"),
    (["conv", "--input", "224", "--output", "55", "-k", "11", "-s", "4"],
     "padding = 2 or 3  (dilation 1 assumed)"),                  # both round to 55
    (["conv", "--input", "224", "--output", "112", "-k", "7", "-p", "3"],
     "stride = 2  (dilation 1 assumed)"),
    (["conv", "--input", "32", "--output", "28", "-s", "1"],
     "kernel_size = 5  (dilation 1, padding 0 assumed)"),
    (["conv", "--input", "32", "--output", "28", "-k", "3", "-s", "1", "-p", "0"],
     "dilation = 2"),
    (["pool", "--input", "55", "--output", "27", "-k", "3"],
     "stride = 2  (dilation 1, padding 0 assumed)"),
    # a window as large as the input: one output whatever the stride
    (["conv", "--input", "5", "--output", "1", "-k", "3", "-p", "0"],
     "stride = 3 or more  (dilation 1 assumed)"),
])
def test_solve_finds_every_value(args, answer, capsys):
    code, out, _ = run_cli(capsys, "solve", *args)
    assert (code, out) == (0, answer + "\n")


def test_solve_says_when_there_is_none_or_too_much_is_unknown(capsys):
    code, _, err = run_cli(capsys, "solve", "conv", "--input", "10", "--output", "50", "-k",
                           "3", "-s", "1")
    assert code == 1
    assert err == "error: no padding turns 10 into 50 with kernel_size=3, stride=1 " \
                  "(dilation 1 assumed: give -p or -d if they differ)\n"
    code, _, err = run_cli(capsys, "solve", "conv", "--input", "10", "--output", "5", "-s", "0")
    assert code == 2 and "Invalid value for '-s' / '--stride': 0 is not in the range x>=1" in err
    code, _, err = run_cli(capsys, "solve", "conv", "--input", "10", "--output", "5")
    assert code == 2 and "leave out one of -k, -s, -p" in err
