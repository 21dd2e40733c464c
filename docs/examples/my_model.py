"""A model of one's own, as `netcalc summary docs/examples/my_model.py:build --input
3x32x32` reads it (the README's "Your own model")."""

import torch
from torch import nn


class TinyHybrid(nn.Module):
    """A convolutional stem, self-attention over its 32×32 positions, a linear head."""

    def __init__(self, classes: int = 10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU())
        self.attn = nn.MultiheadAttention(16, num_heads=2, batch_first=True)
        self.head = nn.Linear(16, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        tokens = x.flatten(2).transpose(1, 2)            # [N, H·W, C]
        if tokens.shape[1] > 1:                          # a branch on a shape: fine
            tokens = tokens + 0.5 * self.attn(tokens, tokens, tokens)[0]
        return self.head(tokens.mean(1))


def build(classes: int = 10) -> nn.Module:
    return TinyHybrid(classes)
