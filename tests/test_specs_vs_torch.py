"""Each spec in specs/ equals its torch model: totals, output shape, and every
parametric layer's output shape, parameters and MACs.

The torchvision models are written in tests/reference_models.py and
tests/reference_cnns.py as torchvision's source builds them; the seed models
as the tutorials' code reads.
"""

from __future__ import annotations

import pytest

import reference_cnns
import reference_mobile
import reference_models as ref
from helpers import SPECS, summarize
from torch_measure import measure_model

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
    torch_figures = measure_model(factory(), input_shape)
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
    torch_figures = measure_model(factory(), (4, *input_shape[1:]))
    ours = summarize(SPECS / spec, batch=4)
    assert ours.totals.macs == torch_figures.macs
    assert list(ours.outputs.values()) == [torch_figures.output_shape]
