"""The worked examples of the tutorials in ../shared/seeds, with their answers.

Each test quotes the tutorial and checks netcalc gives the tutorial's number.
"""

from __future__ import annotations

import pytest

from helpers import SPECS, summarize, summarize_text
from netcalc.analyze import analyze
from netcalc.spec import parse_spec
from netcalc.working import explain_layers


def only(summary):
    (layer,) = summary.layers
    return layer


def test_seed002_conv_output_size_64x55x55():
    # "输入 3*224*224, 卷积核大小为11, padding = 2 Stride = 4, 卷积核数量64, 问输出多少。(64*55*55)"
    conv = only(summarize_text("""
input: [3, 224, 224]
layers: [{type: conv2d, out_channels: 64, kernel_size: 11, stride: 4, padding: 2}]
"""))
    assert conv.output_shape == (1, 64, 55, 55)
    # O = (I - K + 2P)/S + 1 = (224 - 11 + 4)/4 + 1 = 55 (floor of 54.25)
    assert conv.params == (11 * 11 * 3 + 1) * 64 == 23_296
    assert conv.macs == 55 * 55 * 64 * (11 * 11 * 3) == 70_276_800


def test_seed002_4x4_image_3x3_kernel():
    # "卷出来的特征图的大小=特征图大小-卷积核大小+1 (大小为4, 即为图片为4*4)": 4 - 3 + 1 = 2,
    # and zero padding of one ring keeps the size: 4 + 2·1 - 3 + 1 = 4.
    s = summarize_text("""
input: [1, 4, 4]
layers:
  - {type: conv2d, name: valid, out_channels: 1, kernel_size: 3, bias: false}
  - {type: conv2d, name: same, inputs: [input], out_channels: 1, kernel_size: 3, padding: 1, bias: false}
""")
    assert [layer.output_shape for layer in s.layers] == [(1, 1, 2, 2), (1, 1, 4, 4)]
    # "3*3*3 的卷积核 ... 每次"积"的时候就是27个乘积相加": 9 per position on one channel
    assert s.layers[0].macs == 2 * 2 * 9


def test_seed002_3x3x3_kernel_is_27_products_per_output():
    conv = only(summarize_text(
        "input: [3, 4, 4]\nlayers: [{type: conv2d, out_channels: 1, kernel_size: 3, bias: false}]\n"))
    assert conv.params == 27
    assert conv.macs == 2 * 2 * 27


@pytest.mark.torch
def test_seed002_adaptive_avg_pool_7_on_224():
    # "AdaptiveAvgPool(7) 表示将原图像池化成7*7大小的 ... 224/7=32"
    import torch

    text = "input: [512, 224, 224]\nlayers: [{type: adaptiveavgpool2d, name: pool, output_size: 7}]\n"
    spec = parse_spec(text, "t.yaml")
    summary = analyze(spec)
    pool = only(summary)
    assert pool.output_shape == (1, 512, 7, 7)
    assert pool.params == 0 and pool.macs == 0
    # netcalc's working says each output averages a 32-wide bin, as the tutorial does
    (working,) = explain_layers(spec, summary)
    assert {step.remarks[0].args["size"] for step in working.steps} == {32}
    # and torch agrees: adaptive pooling to 7 is a 32×32 average pool with stride 32
    x = torch.randn(1, 2, 224, 224)
    assert torch.allclose(torch.nn.AdaptiveAvgPool2d(7)(x), torch.nn.AvgPool2d(32)(x))


def test_seed002_pool_3_2_on_55():
    # "Pool(3,2) 表示每次池化大小为3*3的区域 ... 步长为2, 实际效果等于行, 列减半": 55 -> 27
    pool = only(summarize_text("input: [64, 55, 55]\nlayers: [{type: maxpool2d, kernel_size: 3, stride: 2}]\n"))
    assert pool.output_shape == (1, 64, 27, 27)


def test_seed002_alexnet_feature_maps_as_commented():
    s = summarize(SPECS / "seeds/seed002_alexnet.yaml")
    shapes = {layer.name: layer.output_shape[1:] for layer in s.layers}
    # the tutorial's comments: 卷积(64, 55, 55) 池化(64, 27, 27) ... 池化(256, 6, 6)
    assert shapes["conv1"] == (64, 55, 55)
    assert shapes["maxpool1"] == (64, 27, 27)
    assert shapes["conv2"] == (192, 27, 27)
    assert shapes["maxpool2"] == (192, 13, 13)
    assert shapes["conv3"] == (384, 13, 13)
    assert shapes["conv5"] == (256, 13, 13)
    assert shapes["maxpool3"] == (256, 6, 6)
    assert shapes["view"] == (256 * 6 * 6,)
    # "AlexNet有6亿个参数": the network as written has 61.1 million (the paper says 60 million)
    assert s.totals.params == 61_100_840


def test_seed002_vgg_as_written_has_14_weight_layers():
    s = summarize(SPECS / "seeds/seed002_vgg.yaml")
    convs = [layer for layer in s.layers if layer.type == "conv2d"]
    fcs = [layer for layer in s.layers if layer.type == "linear"]
    assert (len(convs), len(fcs)) == (11, 3)      # the paper's VGG-13 has 10 convolutions
    shapes = {layer.name: layer.output_shape[1:] for layer in s.layers}
    assert shapes["maxpool1"] == (64, 112, 112)
    assert shapes["maxpool3"] == (256, 28, 28)
    assert shapes["maxpool5"] == (512, 7, 7)
    assert s.totals.params == 133_637_928


def test_seed002_two_3x3_see_what_one_5x5_sees_with_fewer_parameters():
    # "用一个5*5的卷积核得到的卷积效果和两个3*3的卷积核的卷积效果是相同的"
    s = summarize_text("""
input: [64, 56, 56]
layers:
  - {type: conv2d, name: five, out_channels: 64, kernel_size: 5, bias: false}
  - {type: conv2d, name: three_a, inputs: [input], out_channels: 64, kernel_size: 3, bias: false}
  - {type: conv2d, name: three_b, out_channels: 64, kernel_size: 3, bias: false}
""")
    five, three_a, three_b = s.layers
    assert five.output_shape == three_b.output_shape == (1, 64, 52, 52)
    assert five.params == 64 * 64 * 25 and three_a.params + three_b.params == 2 * 64 * 64 * 9


def test_seed002_resnet_1x1_bottleneck_saves_parameters():
    # "对于一个256*112*112的特征图 ... 直接用3*3的卷积 ... 参数量是256*256*3*3, 可以改为使用
    #  64*256*1*1的卷积核先降维然后使用3*3卷积, 再通过1*1卷积改变维度, 这样做参数量少很多"
    s = summarize_text("""
input: [256, 112, 112]
layers:
  - {type: conv2d, name: direct, out_channels: 256, kernel_size: 3, padding: 1, bias: false}
  - {type: conv2d, name: reduce, inputs: [input], out_channels: 64, kernel_size: 1, bias: false}
  - {type: conv2d, name: conv3x3, out_channels: 64, kernel_size: 3, padding: 1, bias: false}
  - {type: conv2d, name: expand, out_channels: 256, kernel_size: 1, bias: false}
""")
    direct, *bottleneck = s.layers
    assert direct.params == 256 * 256 * 3 * 3 == 589_824
    assert [layer.params for layer in bottleneck] == [64 * 256, 64 * 64 * 9, 256 * 64]
    assert sum(layer.params for layer in bottleneck) == 69_632
    assert bottleneck[-1].output_shape == direct.output_shape == (1, 256, 112, 112)


def test_seed004_inception_1x1_bottleneck():
    # "使用了 16 个 ... 将这个 256 层通道变成 16 层通道 ... 有 32 个 ... 需要拟合的引数是 1.6 億
    #  ... 消耗的引数只有1300萬": the lesson's figures are multiply-accumulates at 28×28.
    s = summarize_text("""
input: [256, 28, 28]
layers:
  - {type: conv2d, name: direct, out_channels: 32, kernel_size: 5, padding: 2, bias: false}
  - {type: conv2d, name: reduce, inputs: [input], out_channels: 16, kernel_size: 1, bias: false}
  - {type: conv2d, name: conv5x5, out_channels: 32, kernel_size: 5, padding: 2, bias: false}
""")
    direct, reduce, conv5x5 = s.layers
    assert direct.macs == 28 * 28 * 32 * 5 * 5 * 256 == 160_563_200          # ≈ 1.6亿
    assert reduce.macs + conv5x5.macs == 3_211_264 + 10_035_200 == 13_246_464  # ≈ 1300万
    assert conv5x5.output_shape == direct.output_shape == (1, 32, 28, 28)


def test_seed004_netresdeep_shapes():
    s = summarize(SPECS / "seeds/seed004_netresdeep.yaml")
    shapes = {layer.name: layer.output_shape for layer in s.layers}
    assert shapes["maxpool2d_1"] == (1, 32, 16, 16)
    assert shapes["resblocks.9.add"] == (1, 32, 16, 16)
    assert shapes["view_1"] == (1, 8 * 8 * 32)
    assert s.outputs == {"fc2": (1, 10)}
    assert sum(1 for layer in s.layers if layer.name.endswith(".conv")) == 10


def test_seed000_fully_connected_layer_counts():
    # A fully connected layer joins every input to every output: W is D×N plus N biases.
    # ResNet-50's head maps 2048 features to 1000 ImageNet classes (281-287 are cats).
    s = summarize(SPECS / "resnet50.yaml")
    fc = next(layer for layer in s.layers if layer.name == "fc")
    assert fc.input_shapes == ((1, 2048),)
    assert fc.params == 2048 * 1000 + 1000
    assert fc.macs == 2048 * 1000


def test_seed004_inception_bottleneck_160_million_against_13_million():
    # "如果直接使用 ... 需要擬合的引數是 1.6 億 ... 瓶頸網路 ... 消耗的引數只有1300萬":
    # a 5×5 conv to 32 channels on 256×28×28, directly or after a 1×1 conv to 16
    s = summarize(SPECS / "seeds" / "seed004_inception_bottleneck.yaml")
    layers = {layer.name: layer for layer in s.layers}
    direct = layers["direct"].macs
    bottleneck = sum(layers[f"through_bottleneck.{n}"].macs for n in ("reduce", "conv5x5"))
    assert direct == 28 * 28 * 32 * (5 * 5 * 256) == 160_563_200            # ≈ 1.6 億
    assert bottleneck == 28 * 28 * 16 * 256 + 28 * 28 * 32 * (5 * 5 * 16) == 13_246_464  # ≈ 1300萬
    assert s.outputs == {"direct": (1, 32, 28, 28), "through_bottleneck.conv5x5": (1, 32, 28, 28)}
