"""`summary --input 3xHxW`: output shapes as formulas in the letters, parameters as
numbers where they do not depend on them, and the conditions the formulas assume;
every formula agrees with the numeric summary at every size it claims."""

from __future__ import annotations

import json

import pytest

from helpers import PUBLISHED, SPECS, evaluate, run_cli, summarize
from netcalc.errors import SpecError
from netcalc.inputs import parse_shape
from netcalc.symbolic import Size


def symbolic(name: str, shape: str = "3xHxW"):
    return summarize(SPECS / f"{name}.yaml", input_shapes={"input": parse_shape(shape, True)})


def at(shape, **values) -> tuple[int, ...]:
    return tuple(d.at(values[d.var]) if isinstance(d, Size) else d for d in shape)


def test_resnet18_downsamples_by_32_for_any_size():
    s = symbolic("resnet18")
    layer4 = next(b for b in s.blocks if b.name == "layer4")
    assert str(layer4.output_shape) == "(1, 512, ⌊(H − 1)/32⌋ + 1, ⌊(W − 1)/32⌋ + 1)"
    numeric = summarize(SPECS / "resnet18.yaml")
    assert s.totals.params == numeric.totals.params == 11_689_512      # no size in them
    assert s.outputs == {"fc": (1, 1000)}
    assert s.conditions == ()           # valid down to 1×1: every window has its padding


@pytest.mark.parametrize("name,condition", [("alexnet", ("H ≥ 63", "W ≥ 63")),
                                            ("vgg16", ("H ≥ 32", "W ≥ 32")),
                                            ("googlenet", ("H ≥ 15", "W ≥ 15")),
                                            ("mobilenet_v2", ())])
def test_the_condition_is_where_the_numeric_summary_starts_to_work(name, condition):
    s = symbolic(name)
    assert s.conditions == condition
    least = int(condition[0].split("≥ ")[1]) if condition else 1
    for side in (least, least + 1, 224):
        numeric = summarize(SPECS / f"{name}.yaml", input_shapes={"input": (3, side, side)})
        for ours, theirs in zip(s.layers, numeric.layers):
            assert at(ours.output_shape, H=side, W=side) == theirs.output_shape, ours.name
    if least > 1:
        with pytest.raises(SpecError):
            summarize(SPECS / f"{name}.yaml", input_shapes={"input": (3, least - 1, least - 1)})


def test_alexnets_features_and_a_parameter_count_that_depends_on_the_size():
    s = symbolic("alexnet")
    pool5 = next(r for r in s.layers if r.name == "pool5")
    assert str(pool5.output_shape[2]) == "⌊(H − 63)/32⌋ + 1"
    # LeNet-5 has no adaptive pooling: its first linear layer grows with the image
    lenet = symbolic("lenet5", "1xHxW")
    c5 = next(r for r in lenet.layers if r.name == "c5")
    assert str(c5.params) == "16·(⌊(H − 16)/4⌋ + 1)·(⌊(W − 16)/4⌋ + 1)·120 + 120"
    total = str(lenet.totals.params)
    assert total == "16·(⌊(H − 16)/4⌋ + 1)·(⌊(W − 16)/4⌋ + 1)·120 + 13,706"
    # at 32×32 the formula gives LeNet-5's published count
    assert evaluate(total, H=32, W=32) == PUBLISHED["lenet5"][0]


@pytest.mark.torch
@pytest.mark.parametrize("h,w", [(32, 32), (36, 44), (64, 50)])
def test_lenets_parameter_formula_is_torchs_count_at_any_size(h, w):
    import torch
    from torch import nn

    # LeNet-5 as the paper draws it; LazyLinear takes its input size from the run, so
    # torch alone works out how many features reach C5
    lenet = nn.Sequential(nn.Conv2d(1, 6, 5), nn.Tanh(), nn.AvgPool2d(2),
                          nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2), nn.Flatten(),
                          nn.LazyLinear(120), nn.Tanh(), nn.Linear(120, 84), nn.Tanh(),
                          nn.Linear(84, 10))
    lenet(torch.zeros(1, 1, h, w))
    torch_count = sum(p.numel() for p in lenet.parameters())
    assert evaluate(str(symbolic("lenet5", "1xHxW").totals.params), H=h, W=w) == torch_count


def test_json_and_the_table(capsys):
    code, out, _ = run_cli(capsys, "summary", str(SPECS / "vgg16.yaml"), "--input", "3xHx224",
                           "--format", "json")
    data = json.loads(out)
    assert code == 0
    assert data["conditions"] == ["H ≥ 32"]
    assert data["layers"][0]["output_shape"] == [1, 64, "H", 224]
    assert data["totals"]["params"] == 138_357_544
    assert data["totals"]["macs"] == "(depends on H)"
    code, out, _ = run_cli(capsys, "summary", str(SPECS / "vgg16.yaml"), "--input", "3xHxW")
    assert "Valid    for H ≥ 32, W ≥ 32" in out


def test_a_reshape_fixed_for_one_size_says_so(capsys):
    code, _, err = run_cli(capsys, "summary", str(SPECS / "seeds" / "seed002_alexnet.yaml"),
                           "--input", "3xHxW")
    assert code == 1
    assert "whether 9216 divides 256·(⌊(H − 63)/32⌋ + 1)·(⌊(W − 63)/32⌋ + 1) depends on " \
           "the input size" in err


def test_letters_are_for_summary_alone(capsys):
    code, _, err = run_cli(capsys, "explain", str(SPECS / "alexnet.yaml"), "--input",
                           "3xHxW")
    assert code == 2 and "write a shape like 3x224x224" in err
