"""Reference torch models for torchvision's mobile CNNs, ConvNeXt and ViT,
written here as torchvision's source builds them (there is no torchvision on
the test machines). Module and parameter names are torchvision's, so a
torchvision state_dict loads strictly; each model is at width 1.0.
"""

from __future__ import annotations

from collections import OrderedDict
from functools import partial

import torch
import torch.nn as nn
import torch.nn.functional as F

# -- torchvision.ops.misc ---------------------------------------------------------


def conv_norm_act(in_ch, out_ch, kernel_size=3, stride=1, groups=1, norm=nn.BatchNorm2d,
                  act=nn.ReLU, dilation=1, padding=None, bias=None):
    """Conv2dNormActivation: conv, norm, activation as features.N.0/1/2."""
    if padding is None:
        padding = (kernel_size - 1) // 2 * dilation
    layers = [nn.Conv2d(in_ch, out_ch, kernel_size, stride, padding, dilation=dilation,
                        groups=groups, bias=norm is None if bias is None else bias)]
    if norm is not None:
        layers.append(norm(out_ch))
    if act is not None:
        layers.append(act(inplace=True))
    return nn.Sequential(*layers)


class SqueezeExcitation(nn.Module):
    def __init__(self, channels, squeeze, activation=nn.ReLU, scale_activation=nn.Sigmoid):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, channels, 1)
        self.activation = activation()
        self.scale_activation = scale_activation()

    def forward(self, x):
        scale = self.fc2(self.activation(self.fc1(self.avgpool(x))))
        return self.scale_activation(scale) * x


class StochasticDepth(nn.Module):
    """Drops whole residual branches per sample ("row") while training; identity in eval."""

    def __init__(self, p, mode):
        super().__init__()
        self.p, self.mode = p, mode

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        shape = [x.shape[0]] + [1] * (x.ndim - 1) if self.mode == "row" else [1] * x.ndim
        keep = x.new_empty(shape).bernoulli_(1.0 - self.p)
        return x * keep.div_(1.0 - self.p) if self.p < 1.0 else x * keep


class Permute(nn.Module):
    def __init__(self, dims):
        super().__init__()
        self.dims = dims

    def forward(self, x):
        return torch.permute(x, self.dims)


def make_divisible(v, divisor=8):
    """Round to a multiple of `divisor`, never going more than 10% below `v`."""
    rounded = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * v else rounded


# -- MobileNetV2 --------------------------------------------------------------------

class InvertedResidualV2(nn.Module):
    def __init__(self, inp, oup, stride, expand_ratio):
        super().__init__()
        hidden = round(inp * expand_ratio)
        self.use_res_connect = stride == 1 and inp == oup
        layers = [conv_norm_act(inp, hidden, 1, act=nn.ReLU6)] if expand_ratio != 1 else []
        self.conv = nn.Sequential(
            *layers, conv_norm_act(hidden, hidden, 3, stride, groups=hidden, act=nn.ReLU6),
            nn.Conv2d(hidden, oup, 1, bias=False), nn.BatchNorm2d(oup))

    def forward(self, x):
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class MobileNetV2(nn.Module):
    # expand ratio t, channels c, repeats n, first stride s
    SETTING = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
               (6, 160, 3, 2), (6, 320, 1, 1)]

    def __init__(self, num_classes=1000):
        super().__init__()
        features, channels = [conv_norm_act(3, 32, 3, 2, act=nn.ReLU6)], 32
        for t, c, n, s in self.SETTING:
            for i in range(n):
                features.append(InvertedResidualV2(channels, c, s if i == 0 else 1, t))
                channels = c
        features.append(conv_norm_act(channels, 1280, 1, act=nn.ReLU6))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, num_classes))

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), (1, 1))
        return self.classifier(torch.flatten(x, 1))


# -- MobileNetV3 --------------------------------------------------------------------

class InvertedResidualV3(nn.Module):
    def __init__(self, inp, kernel, expanded, out, use_se, activation, stride, norm):
        super().__init__()
        act = nn.Hardswish if activation == "HS" else nn.ReLU
        self.use_res_connect = stride == 1 and inp == out
        layers = [conv_norm_act(inp, expanded, 1, norm=norm, act=act)] if expanded != inp else []
        layers.append(conv_norm_act(expanded, expanded, kernel, stride, groups=expanded,
                                    norm=norm, act=act))
        if use_se:
            layers.append(SqueezeExcitation(expanded, make_divisible(expanded // 4),
                                            scale_activation=nn.Hardsigmoid))
        layers.append(conv_norm_act(expanded, out, 1, norm=norm, act=None))
        self.block = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.block(x) if self.use_res_connect else self.block(x)


# input, kernel, expanded, output, squeeze-excitation, activation, stride
MOBILENET_V3_LARGE = [
    (16, 3, 16, 16, False, "RE", 1), (16, 3, 64, 24, False, "RE", 2),
    (24, 3, 72, 24, False, "RE", 1), (24, 5, 72, 40, True, "RE", 2),
    (40, 5, 120, 40, True, "RE", 1), (40, 5, 120, 40, True, "RE", 1),
    (40, 3, 240, 80, False, "HS", 2), (80, 3, 200, 80, False, "HS", 1),
    (80, 3, 184, 80, False, "HS", 1), (80, 3, 184, 80, False, "HS", 1),
    (80, 3, 480, 112, True, "HS", 1), (112, 3, 672, 112, True, "HS", 1),
    (112, 5, 672, 160, True, "HS", 2), (160, 5, 960, 160, True, "HS", 1),
    (160, 5, 960, 160, True, "HS", 1),
]
MOBILENET_V3_SMALL = [
    (16, 3, 16, 16, True, "RE", 2), (16, 3, 72, 24, False, "RE", 2),
    (24, 3, 88, 24, False, "RE", 1), (24, 5, 96, 40, True, "HS", 2),
    (40, 5, 240, 40, True, "HS", 1), (40, 5, 240, 40, True, "HS", 1),
    (40, 5, 120, 48, True, "HS", 1), (48, 5, 144, 48, True, "HS", 1),
    (48, 5, 288, 96, True, "HS", 2), (96, 5, 576, 96, True, "HS", 1),
    (96, 5, 576, 96, True, "HS", 1),
]


class MobileNetV3(nn.Module):
    def __init__(self, setting, last_channel, num_classes=1000):
        super().__init__()
        norm = partial(nn.BatchNorm2d, eps=0.001, momentum=0.01)
        features = [conv_norm_act(3, setting[0][0], 3, 2, norm=norm, act=nn.Hardswish)]
        features += [InvertedResidualV3(*row, norm=norm) for row in setting]
        lastconv = 6 * setting[-1][3]
        features.append(conv_norm_act(setting[-1][3], lastconv, 1, norm=norm, act=nn.Hardswish))
        self.features = nn.Sequential(*features)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Linear(lastconv, last_channel), nn.Hardswish(inplace=True),
            nn.Dropout(p=0.2, inplace=True), nn.Linear(last_channel, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def mobilenet_v3_large():
    return MobileNetV3(MOBILENET_V3_LARGE, 1280)


def mobilenet_v3_small():
    return MobileNetV3(MOBILENET_V3_SMALL, 1024)


# -- MNASNet ------------------------------------------------------------------------

BN_MOMENTUM = 1 - 0.9997


class MNASInvertedResidual(nn.Module):
    def __init__(self, in_ch, out_ch, kernel_size, stride, expansion):
        super().__init__()
        mid = in_ch * expansion
        self.apply_residual = in_ch == out_ch and stride == 1
        self.layers = nn.Sequential(
            nn.Conv2d(in_ch, mid, 1, bias=False), nn.BatchNorm2d(mid, momentum=BN_MOMENTUM),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid, mid, kernel_size, stride, kernel_size // 2, groups=mid, bias=False),
            nn.BatchNorm2d(mid, momentum=BN_MOMENTUM), nn.ReLU(inplace=True),
            nn.Conv2d(mid, out_ch, 1, bias=False), nn.BatchNorm2d(out_ch, momentum=BN_MOMENTUM))

    def forward(self, x):
        return self.layers(x) + x if self.apply_residual else self.layers(x)


def mnas_stack(in_ch, out_ch, kernel_size, stride, expansion, repeats):
    return nn.Sequential(
        MNASInvertedResidual(in_ch, out_ch, kernel_size, stride, expansion),
        *[MNASInvertedResidual(out_ch, out_ch, kernel_size, 1, expansion)
          for _ in range(repeats - 1)])


class MNASNet(nn.Module):
    """MNASNet 1.0: its depths [32, 16, 24, 40, 80, 96, 192, 320] need no rounding."""

    def __init__(self, num_classes=1000, dropout=0.2):
        super().__init__()
        d = [32, 16, 24, 40, 80, 96, 192, 320]
        self.layers = nn.Sequential(
            nn.Conv2d(3, d[0], 3, padding=1, stride=2, bias=False),
            nn.BatchNorm2d(d[0], momentum=BN_MOMENTUM), nn.ReLU(inplace=True),
            nn.Conv2d(d[0], d[0], 3, padding=1, stride=1, groups=d[0], bias=False),
            nn.BatchNorm2d(d[0], momentum=BN_MOMENTUM), nn.ReLU(inplace=True),
            nn.Conv2d(d[0], d[1], 1, padding=0, stride=1, bias=False),
            nn.BatchNorm2d(d[1], momentum=BN_MOMENTUM),
            mnas_stack(d[1], d[2], 3, 2, 3, 3), mnas_stack(d[2], d[3], 5, 2, 3, 3),
            mnas_stack(d[3], d[4], 5, 2, 6, 3), mnas_stack(d[4], d[5], 3, 1, 6, 2),
            mnas_stack(d[5], d[6], 5, 2, 6, 4), mnas_stack(d[6], d[7], 3, 1, 6, 1),
            nn.Conv2d(d[7], 1280, 1, padding=0, stride=1, bias=False),
            nn.BatchNorm2d(1280, momentum=BN_MOMENTUM), nn.ReLU(inplace=True))
        self.classifier = nn.Sequential(nn.Dropout(p=dropout, inplace=True),
                                        nn.Linear(1280, num_classes))

    def forward(self, x):
        return self.classifier(self.layers(x).mean([2, 3]))


# -- EfficientNet-B0 ----------------------------------------------------------------

class MBConv(nn.Module):
    def __init__(self, expand_ratio, kernel, stride, inp, out, stochastic_depth_prob):
        super().__init__()
        self.use_res_connect = stride == 1 and inp == out
        expanded = make_divisible(inp * expand_ratio)
        layers = [conv_norm_act(inp, expanded, 1, act=nn.SiLU)] if expanded != inp else []
        layers += [
            conv_norm_act(expanded, expanded, kernel, stride, groups=expanded, act=nn.SiLU),
            SqueezeExcitation(expanded, max(1, inp // 4), activation=partial(nn.SiLU, inplace=True)),
            conv_norm_act(expanded, out, 1, act=None)]
        self.block = nn.Sequential(*layers)
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob, "row")

    def forward(self, x):
        result = self.block(x)
        if self.use_res_connect:
            result = self.stochastic_depth(result) + x
        return result


class EfficientNetB0(nn.Module):
    # expand ratio, kernel, stride, input, output, layers
    SETTING = [(1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2),
               (6, 3, 2, 40, 80, 3), (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4),
               (6, 3, 1, 192, 320, 1)]

    def __init__(self, num_classes=1000, dropout=0.2, stochastic_depth_prob=0.2):
        super().__init__()
        layers = [conv_norm_act(3, 32, 3, 2, act=nn.SiLU)]
        total_blocks, block_id = sum(row[-1] for row in self.SETTING), 0
        for expand, kernel, stride, inp, out, n in self.SETTING:
            stage = []
            for i in range(n):
                sd_prob = stochastic_depth_prob * block_id / total_blocks
                stage.append(MBConv(expand, kernel, stride if i == 0 else 1,
                                    inp if i == 0 else out, out, sd_prob))
                block_id += 1
            layers.append(nn.Sequential(*stage))
        layers.append(conv_norm_act(320, 4 * 320, 1, act=nn.SiLU))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout, inplace=True),
                                        nn.Linear(4 * 320, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


# -- ConvNeXt-Tiny ------------------------------------------------------------------

class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an NCHW tensor."""

    def forward(self, x):
        x = F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias,
                         self.eps)
        return x.permute(0, 3, 1, 2)


class CNBlock(nn.Module):
    def __init__(self, dim, layer_scale, stochastic_depth_prob):
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim), Permute([0, 2, 3, 1]),
            nn.LayerNorm(dim, eps=1e-6), nn.Linear(dim, 4 * dim), nn.GELU(),
            nn.Linear(4 * dim, dim), Permute([0, 3, 1, 2]))
        self.layer_scale = nn.Parameter(torch.ones(dim, 1, 1) * layer_scale)
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob, "row")

    def forward(self, x):
        return self.stochastic_depth(self.layer_scale * self.block(x)) + x


class ConvNeXtTiny(nn.Module):
    # stage (input channels, downsampled-to channels or None, blocks)
    SETTING = [(96, 192, 3), (192, 384, 3), (384, 768, 9), (768, None, 3)]

    def __init__(self, num_classes=1000, stochastic_depth_prob=0.1, layer_scale=1e-6):
        super().__init__()
        norm = partial(LayerNorm2d, eps=1e-6)
        layers = [conv_norm_act(3, 96, 4, 4, padding=0, norm=norm, act=None, bias=True)]
        total_blocks, block_id = sum(row[-1] for row in self.SETTING), 0
        for inp, out, n in self.SETTING:
            stage = []
            for _ in range(n):
                sd_prob = stochastic_depth_prob * block_id / (total_blocks - 1.0)
                stage.append(CNBlock(inp, layer_scale, sd_prob))
                block_id += 1
            layers.append(nn.Sequential(*stage))
            if out is not None:
                layers.append(nn.Sequential(norm(inp), nn.Conv2d(inp, out, 2, stride=2)))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(norm(768), nn.Flatten(1), nn.Linear(768, num_classes))

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)))


# -- ViT-B/16 -----------------------------------------------------------------------

class EncoderBlock(nn.Module):
    def __init__(self, num_heads, hidden_dim, mlp_dim, dropout, attention_dropout):
        super().__init__()
        self.num_heads = num_heads
        self.ln_1 = nn.LayerNorm(hidden_dim, eps=1e-6)
        self.self_attention = nn.MultiheadAttention(hidden_dim, num_heads,
                                                    dropout=attention_dropout, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.ln_2 = nn.LayerNorm(hidden_dim, eps=1e-6)
        # torchvision's MLPBlock: Linear, GELU, Dropout, Linear, Dropout (mlp.0, mlp.3)
        self.mlp = nn.Sequential(nn.Linear(hidden_dim, mlp_dim), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(mlp_dim, hidden_dim), nn.Dropout(dropout))

    def forward(self, x):
        y = self.ln_1(x)
        x = x + self.dropout(self.self_attention(y, y, y, need_weights=False)[0])
        return x + self.mlp(self.ln_2(x))


class Encoder(nn.Module):
    def __init__(self, seq_length, num_layers, num_heads, hidden_dim, mlp_dim, dropout,
                 attention_dropout):
        super().__init__()
        self.pos_embedding = nn.Parameter(torch.empty(1, seq_length, hidden_dim).normal_(std=0.02))
        self.dropout = nn.Dropout(dropout)
        self.layers = nn.Sequential(OrderedDict(
            (f"encoder_layer_{i}",
             EncoderBlock(num_heads, hidden_dim, mlp_dim, dropout, attention_dropout))
            for i in range(num_layers)))
        self.ln = nn.LayerNorm(hidden_dim, eps=1e-6)

    def forward(self, x):
        return self.ln(self.layers(self.dropout(x + self.pos_embedding)))


class VisionTransformer(nn.Module):
    def __init__(self, image_size=224, patch_size=16, num_layers=12, num_heads=12,
                 hidden_dim=768, mlp_dim=3072, dropout=0.0, attention_dropout=0.0,
                 num_classes=1000):
        super().__init__()
        self.patch_size, self.hidden_dim = patch_size, hidden_dim
        self.conv_proj = nn.Conv2d(3, hidden_dim, kernel_size=patch_size, stride=patch_size)
        self.class_token = nn.Parameter(torch.zeros(1, 1, hidden_dim))
        self.seq_length = (image_size // patch_size) ** 2 + 1
        self.encoder = Encoder(self.seq_length, num_layers, num_heads, hidden_dim, mlp_dim,
                               dropout, attention_dropout)
        self.heads = nn.Sequential(OrderedDict(head=nn.Linear(hidden_dim, num_classes)))

    def forward(self, x):
        n = x.shape[0]
        x = self.conv_proj(x).reshape(n, self.hidden_dim, -1).permute(0, 2, 1)
        x = torch.cat([self.class_token.expand(n, -1, -1), x], dim=1)
        return self.heads(self.encoder(x)[:, 0])


def vit_b_16():
    return VisionTransformer()


# convnext_tiny and vit_b_16 have specs (specs/) but no case here: they hold learned
# tensors (`parameter` layers), so tests/test_specs_vs_torch.py compares them with the
# models above by running the same weights through both (WITH_LEARNED_TENSORS).
CASES = {
    "mobilenet_v2.yaml": (MobileNetV2, (1, 3, 224, 224), False),
    "mobilenet_v3_small.yaml": (mobilenet_v3_small, (1, 3, 224, 224), False),
    "mobilenet_v3_large.yaml": (mobilenet_v3_large, (1, 3, 224, 224), False),
    "mnasnet1_0.yaml": (MNASNet, (1, 3, 224, 224), False),
    "efficientnet_b0.yaml": (EfficientNetB0, (1, 3, 224, 224), False),
}
