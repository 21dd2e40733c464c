"""Each spec in specs/ equals its torch model: totals, output shape, and every
parametric layer's output shape, parameters and MACs.

The torchvision models are written in tests/reference_models.py,
tests/reference_cnns.py and tests/reference_mobile.py as torchvision's source
builds them; the seed models as the tutorials' code reads.
"""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import reference_cnns
import reference_mobile
import reference_models as ref
from helpers import SPECS, VIT_B_16_FUSED_ATTENTION_MACS, summarize
from netcalc.spec import load_spec
from netcalc.torch_bridge.model import build_model
from torch_measure import measure_model, on_meta

pytestmark = pytest.mark.torch

CASES = {
    "alexnet.yaml": (ref.TorchvisionAlexNet, (1, 3, 224, 224), False),
    "vgg11.yaml": (ref.vgg11, (1, 3, 224, 224), False),
    "vgg13.yaml": (ref.vgg13, (1, 3, 224, 224), False),
    "vgg16.yaml": (ref.TorchvisionVGG, (1, 3, 224, 224), False),
    "vgg19.yaml": (ref.vgg19, (1, 3, 224, 224), False),
    "vgg11_bn.yaml": (ref.vgg11_bn, (1, 3, 224, 224), False),
    "vgg16_bn.yaml": (ref.vgg16_bn, (1, 3, 224, 224), False),
    "resnet18.yaml": (ref.resnet18, (1, 3, 224, 224), True),
    "resnet34.yaml": (ref.resnet34, (1, 3, 224, 224), True),
    "resnet50.yaml": (ref.resnet50, (1, 3, 224, 224), True),
    "resnet101.yaml": (ref.resnet101, (1, 3, 224, 224), True),
    "resnet152.yaml": (ref.resnet152, (1, 3, 224, 224), True),
    "resnext50_32x4d.yaml": (ref.resnext50_32x4d, (1, 3, 224, 224), True),
    "wide_resnet50_2.yaml": (ref.wide_resnet50_2, (1, 3, 224, 224), True),
    "seeds/seed002_alexnet.yaml": (lambda: ref.Seed002AlexNet(1000), (1, 3, 224, 224), True),
    "seeds/seed002_vgg.yaml": (lambda: ref.Seed002VGG13(1000), (1, 3, 224, 224), True),
    "seeds/seed002_myresnet18.yaml": (ref.MyResNet18, (1, 3, 224, 224), True),
    "seeds/seed004_netresdeep.yaml": (ref.NetResDeep, (1, 3, 32, 32), True),
}
CASES.update(reference_cnns.CASES)
CASES.update(reference_mobile.CASES)


@pytest.mark.parametrize("spec", sorted(CASES))
def test_spec_equals_its_torch_model(spec):
    factory, input_shape, same_names = CASES[spec]
    torch_figures = measure_model(on_meta(factory), input_shape)
    ours = summarize(SPECS / spec)

    assert ours.totals.params == torch_figures.params
    assert ours.totals.buffers == torch_figures.buffers
    assert ours.totals.macs == torch_figures.macs
    assert list(ours.outputs.values()) == [torch_figures.output_shape]

    our_layers = [(layer.name, (layer.output_shape, layer.params, layer.macs))
                  for layer in ours.layers if layer.params]
    if same_names:     # the spec's qualified names are the torch model's module names
        assert dict(our_layers) == torch_figures.layers
    else:              # torchvision's features.N names: compare in execution order
        assert [figures for _, figures in our_layers] == list(torch_figures.layers.values())


# Batch 4 runs a few models, not all: the first ones, and the two whose specs
# have batch-sensitive ops (ShuffleNet's views with -1, RegNet's squeeze-and-
# excitation scale broadcast over the feature map). Every model runs at batch 1.
AT_BATCH_4 = ["alexnet.yaml", "vgg16.yaml", "resnet18.yaml", "resnet50.yaml",
              "seeds/seed002_alexnet.yaml", "seeds/seed002_vgg.yaml",
              "seeds/seed002_myresnet18.yaml", "seeds/seed004_netresdeep.yaml",
              "shufflenet_v2_x1_0.yaml", "regnet_y_400mf.yaml"]


@pytest.mark.parametrize("spec", AT_BATCH_4)
def test_spec_equals_its_torch_model_at_batch_4(spec):
    factory, input_shape, _ = CASES[spec]
    torch_figures = measure_model(on_meta(factory), (4, *input_shape[1:]))
    ours = summarize(SPECS / spec, batch=4)
    assert ours.totals.macs == torch_figures.macs
    assert list(ours.outputs.values()) == [torch_figures.output_shape]


# Learned tensors are bare nn.Parameters in torchvision and `parameter` layers in a
# spec, and ConvNeXt's LayerNorm2d a permute/layernorm/permute block: these two
# compare by running the same weights through both.
WITH_LEARNED_TENSORS = {"convnext_tiny.yaml": reference_mobile.ConvNeXtTiny,
                        "vit_b_16.yaml": reference_mobile.vit_b_16}


def _our_name(name: str, ours: set[str]) -> str:
    """torch's `class_token` is our `class_token.weight`; a LayerNorm2d's `0.1.weight`
    our `0.1.norm.weight`."""
    container, _, tensor = name.rpartition(".")
    candidates = [name, f"{name}.weight", f"{container}.norm.{tensor}"]
    return next(c for c in candidates if c in ours)


@pytest.mark.parametrize("spec", sorted(WITH_LEARNED_TENSORS))
def test_spec_computes_what_its_torch_model_computes(spec):
    torch.manual_seed(0)
    reference = WITH_LEARNED_TENSORS[spec]().eval()
    with torch.no_grad():           # off torchvision's init (ViT's head starts at zero)
        for tensor in reference.parameters():
            tensor.add_(torch.randn_like(tensor) * 0.02)
    summary = summarize(SPECS / spec, batch=2)
    ours = build_model(load_spec(SPECS / spec), summary).eval()
    names = set(ours.state_dict())
    ours.load_state_dict({_our_name(k, names): v for k, v in reference.state_dict().items()},
                         strict=True)
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        expected, got = reference(x), ours(x)
    assert expected.abs().max() > 0.1
    assert torch.allclose(expected, got, atol=1e-5), (expected - got).abs().max()

    figures = measure_model(reference, (2, 3, 224, 224))
    assert (summary.totals.params, summary.totals.macs) == (figures.params, figures.macs)
    assert list(summary.outputs.values()) == [figures.output_shape]
    # every torch layer that holds weights has our numbers: a layer's, or (LayerNorm2d)
    # a block's of the same name
    ours_by_name = {row.name: row for row in (*summary.layers, *summary.blocks)}
    for name, (shape, params, macs) in figures.layers.items():
        row = ours_by_name[name]
        assert (row.output_shape, row.params, row.macs) == (shape, params, macs), name


def test_flop_counter_mode_sees_no_attention_in_vits_fused_kernel():
    """The issue's 11,271,124,992 for vit_b_16: torch's own count under no_grad, where
    nn.MultiheadAttention runs one fused op FlopCounterMode has no formula for."""
    model = reference_mobile.vit_b_16().eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 3, 224, 224))
    assert counter.get_total_flops() // 2 == VIT_B_16_FUSED_ATTENTION_MACS
