"""torch modules for `netcalc import` tests: functional calls, branches, refusals."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Branchy(nn.Module):
    """Two-branch stem, concat, functional pooling and activations, a view by size(0)."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.left = nn.Conv2d(3, 8, 3, padding=1)
        self.right = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4), nn.ReLU())
        self.mix = nn.Conv2d(12, 16, 3, stride=2, padding=1, bias=False)
        self.act = nn.ReLU()
        self.head = nn.Linear(16 * 4 * 4, num_classes)

    def forward(self, x):
        y = torch.cat([F.relu(self.left(x)), self.right(x)], dim=1)
        y = self.act(self.mix(y))
        y = self.act(y + F.max_pool2d(y, 3, stride=1, padding=1))     # a module called twice
        y = F.adaptive_avg_pool2d(y, 4)
        y = y.view(y.size(0), -1)
        return self.head(F.dropout(y, 0.2, self.training))


class Tokens(nn.Module):
    """An embedding (so an int64 input), permute/transpose and a mean over a dim."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(100, 32)
        self.proj = nn.Conv1d(32, 16, 3, padding=1)
        self.out = nn.Linear(16, 4)

    def forward(self, tokens):
        h = self.embed(tokens).permute(0, 2, 1)
        h = torch.tanh(self.proj(h)).transpose(1, 2)
        return self.out(h.mean(1))


class DataDependent(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        if x.sum() > 0:
            return self.fc(x)
        return x


class Scaled(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        return self.fc(x) * 0.5


class SharedWeights(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        return self.fc(self.fc(x))


class Recurrent(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRUCell(4, 4)

    def forward(self, x):
        return self.rnn(x)


def broken_factory():
    raise ValueError("no such depth")


class Fuse(nn.Module):
    """Two inputs, and a child named like the input a spec block would invent."""

    def __init__(self):
        super().__init__()
        self.x1 = nn.Conv2d(4, 4, 1)
        self.input = nn.ReLU()

    def forward(self, a, b):
        return self.input(self.x1(a) + b)


class Probe(nn.Module):
    """A block whose output is not its last layer (a result that is dropped)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 1)
        self.aux = nn.Conv2d(4, 8, 1)

    def forward(self, x):
        y = self.conv(x)
        self.aux(y)
        return y


class Awkward(nn.Module):
    """Keyword operands, a frozen layer, an unused block output, a reused ReLU whose
    second name is taken, names YAML would read as booleans."""

    def __init__(self):
        super().__init__()
        self.on = nn.Conv2d(4, 4, 3, padding=1)
        self.on.requires_grad_(False)
        self.fuse = Fuse()
        self.probe = Probe()
        self.relu = nn.ReLU()
        self.relu_1 = nn.Sigmoid()
        self.y = nn.Conv2d(4, 2, 1)

    def forward(self, x):
        s = self.relu(self.on(x))
        s = torch.add(self.fuse(s, x), other=torch.cat(tensors=[x], dim=1))
        return self.y(self.relu_1(self.relu(self.probe(s))))


class ScaleBySize(nn.Module):
    def forward(self, x):
        return x * x.size(1)


class Unused(nn.Module):
    """A layer built but never called: torch counts its weights, the graph has none."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)
        self.extra = nn.Linear(100, 100)

    def forward(self, x):
        return self.fc(x)


class Transposed(nn.Module):
    """.contiguous() after a transpose, so that .view can follow."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.fc = nn.Linear(64, 2)

    def forward(self, y):
        y = self.conv(y).transpose(1, 3).contiguous()
        return self.fc(y.view(y.size(0), -1))


class On(nn.Module):
    """A class named like a YAML boolean, with children named like a keyword and like
    nn.Module's own attributes."""

    def __init__(self):
        super().__init__()
        self.add_module("lambda", nn.Conv2d(4, 4, 1))
        self._modules["eval"] = nn.Conv2d(4, 4, 1)
        self._modules["parameters"] = nn.ReLU()

    def forward(self, x):
        return self._modules["parameters"](self._modules["eval"](getattr(self, "lambda")(x)))


class OddNames(nn.Module):
    def __init__(self):
        super().__init__()
        self.yes = On()
        self.null = On()
        self.input = nn.Conv2d(4, 4, 1)

    def forward(self, x):
        y = self.null(self.yes(x))
        return torch.add(input=self.input(y), other=y)


class ShuffleUnit(nn.Module):
    """ShuffleNetV2's stride-1 unit: x.chunk(2, dim=1), a branch, concat, channel shuffle."""

    def __init__(self, channels: int = 8):
        super().__init__()
        half = channels // 2
        self.branch2 = nn.Sequential(nn.Conv2d(half, half, 1, bias=False), nn.BatchNorm2d(half),
                                     nn.ReLU(inplace=True),
                                     nn.Conv2d(half, half, 3, padding=1, groups=half, bias=False),
                                     nn.BatchNorm2d(half))

    def forward(self, x):
        x1, x2 = x.chunk(2, dim=1)
        out = torch.cat((x1, self.branch2(x2)), dim=1)
        b, c, h, w = out.size()
        out = out.view(b, 2, c // 2, h, w).transpose(1, 2).contiguous()
        return out.view(b, -1, h, w)


class SharedNormWeight(nn.Module):
    """One weight for two functional layer norms: shared, which netcalc refuses."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.ones(4))

    def forward(self, x):
        return F.layer_norm(x, [4], self.w) + F.layer_norm(x, [4], self.w)


class Concat(nn.Module):
    """YOLOv5's own Concat: a user class named like a netcalc type, traced into."""

    def __init__(self, dimension: int = 1):
        super().__init__()
        self.d = dimension

    def forward(self, x):
        return torch.cat(x, self.d)


class WithConcat(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b, self.cat = nn.Linear(4, 3), nn.Linear(4, 5), Concat()

    def forward(self, x):
        return self.cat([self.a(x), self.b(x)])
