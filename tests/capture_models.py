"""Small torch models for tests/test_capture.py: what torch.export reads and the old
torch.fx importer refused (control flow on shapes, functional attention, subclasses of
torch's modules, dict outputs, shared weights...).

Every model builds on any device (the meta one included) and runs on CPU tensors.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class ShapeFlow(nn.Module):
    """Control flow on shapes, size arithmetic, unbind, `@` and bmm."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Conv2d(3, 6, 1)
        self.out = nn.Linear(64, 5)

    def forward(self, x):
        if x.ndim == 4:
            x = self.proj(x)
        if x.shape[-1] > 8:
            x = F.avg_pool2d(x, 2)
        b, c, h, w = x.shape
        x = x.reshape(b, -1, h * w)                    # (b, 6, 64)
        q, k = x.reshape(b, 2, 3, h * w).unbind(1)     # two (b, 3, 64)
        scores = q @ k.transpose(1, 2)                 # (b, 3, 3)
        mixed = torch.bmm(scores, k)                   # (b, 3, 64)
        return self.out(mixed)


class Attention(nn.Module):
    """F.scaled_dot_product_attention, causal with all heads, and grouped-query (8 query
    heads sharing 2 key/value heads)."""

    def __init__(self, dim: int = 32, heads: int = 8, kv_heads: int = 2):
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, dim // heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * kv_heads * self.head_dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.o = nn.Linear(dim, dim)

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        causal = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + causal.transpose(1, 2).reshape(b, t, d)
        q = self.q(x).view(b, t, self.heads, self.head_dim).transpose(1, 2)
        k, v = self.kv(x).view(b, t, 2, self.kv_heads, self.head_dim).permute(2, 0, 3, 1, 4) \
            .unbind(0)
        grouped = F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
        return self.o(grouped.transpose(1, 2).reshape(b, t, d))


class Functional(nn.Module):
    """group_norm, addcmul, a Python float, slicing with steps, tensors made in forward,
    a buffer read directly, reshape_as."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 8, 3, padding=1)
        self.gn_weight = nn.Parameter(torch.ones(8))
        self.gn_bias = nn.Parameter(torch.zeros(8))
        self.register_buffer("scale", torch.full((1, 8, 1, 1), 0.5))
        self.gate = nn.Parameter(torch.ones(8, 1, 1))

    def forward(self, x):
        y = F.group_norm(self.conv(x), 4, self.gn_weight, self.gn_bias)
        y = torch.addcmul(y, y, self.gate, value=0.5)
        y = y * 1.5
        y = y * self.scale
        y = y[:, 1:, ::2]                                       # (b, 7, 5, 10)
        positions = torch.arange(y.shape[-1], device=y.device, dtype=y.dtype)
        y = y + positions + torch.zeros(y.shape[-2], 1, device=y.device)
        flat = y.flatten(1)
        return flat.reshape_as(y).sum(dim=(2, 3))


class BatchNormAct(nn.BatchNorm2d):
    """A BatchNorm2d whose forward adds an activation (timm's BatchNormAct2d)."""

    def forward(self, x):
        return F.relu(super().forward(x))


class Conv3dSame(nn.Conv3d):
    """A subclass of Conv3d, its forward torch's own."""


class Subclasses(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = Conv3dSame(2, 4, 3, padding=1)
        self.norm = BatchNormAct(4)

    def forward(self, x):
        y = self.conv(x)                        # (b, 4, d, h, w)
        return self.norm(y.flatten(2, 3))       # (b, 4, d*h, w)


class KeywordDefaults(nn.Module):
    """forward(x, mask=None, causal=False): the defaults are what runs."""

    def __init__(self, dim: int = 16):
        super().__init__()
        self.qkv = nn.Linear(dim, 3 * dim)

    def forward(self, x, mask=None, causal=False):
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
        if mask is not None:
            scores = scores + mask
        if causal:
            scores = scores.tril()
        return scores.softmax(-1) @ v


class DictOut(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(8, 6)
        self.cls = nn.Linear(6, 3)
        self.box = nn.Linear(6, 4)

    def forward(self, x):
        h = torch.relu(self.body(x))
        return {"logits": self.cls(h), "boxes": self.box(h)}


class TupleOut(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv1d(3, 5, 3)
        self.b = nn.Linear(30, 2)

    def forward(self, x):
        return self.a(x), self.b(x.flatten(1))


class Interleaved(nn.Module):
    """Two children called alternately, with other ops between their calls."""

    def __init__(self):
        super().__init__()
        self.f = nn.Linear(8, 8)
        self.g = nn.Linear(8, 8)

    def forward(self, x):
        for _ in range(2):
            x = self.f(x) * 0.5
            x = torch.tanh(self.g(x)) + x
        return x


class InterleavedChildren(nn.Module):
    """A ModuleList whose members forward runs one at a time, its own ops between (as
    res2net runs its `convs`)."""

    def __init__(self):
        super().__init__()
        self.pair = nn.ModuleList([nn.Linear(8, 8), nn.Linear(8, 8)])

    def forward(self, x):
        x = self.pair[0](x)
        x = torch.tanh(x) * 2.0
        return self.pair[1](x)


class Tied(nn.Module):
    """A language-model head that shares the embedding's weight."""

    def __init__(self, vocab: int = 50, dim: int = 12):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.mix = nn.Linear(dim, dim)
        self.head = nn.Linear(dim, vocab, bias=False)
        self.head.weight = self.embed.weight

    def forward(self, input_ids):
        return self.head(torch.relu(self.mix(self.embed(input_ids))))


class Gain(nn.Module):
    """Reads `gain`, never `spare_gain`."""

    def __init__(self, dim: int):
        super().__init__()
        self.gain = nn.Parameter(torch.ones(dim))
        self.spare_gain = nn.Parameter(torch.ones(3))

    def forward(self, x):
        return x * self.gain


class Unused(nn.Module):
    """Parameters forward never reads: a layer never called, one of a module that runs,
    and one of the model itself."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 4)
        self.scale = Gain(4)
        self.old_head = nn.Linear(4, 9)
        self.spare = nn.Parameter(torch.zeros(7))

    def forward(self, x):
        return self.scale(self.fc(x))


class UnusedAtTop(nn.Module):
    """Only the model's own parameter `spare` is never read."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 4)
        self.spare = nn.Parameter(torch.zeros(7))

    def forward(self, x):
        return self.fc(x)


class Tokens(nn.Module):
    """An nn.Embedding reading its input: token ids, whatever the argument's name."""

    def __init__(self, vocab: int = 40, dim: int = 10):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.out = nn.Linear(dim, 3)

    def forward(self, tokens):
        return self.out(self.embed(tokens).mean(1))


class TorchAttention(nn.Module):
    """nn.MultiheadAttention and nn.TransformerEncoderLayer."""

    def __init__(self, dim: int = 16):
        super().__init__()
        self.mha = nn.MultiheadAttention(dim, 4, batch_first=True)
        self.layer = nn.TransformerEncoderLayer(dim, 2, dim_feedforward=32, batch_first=True)

    def forward(self, x):
        attended, _ = self.mha(x, x, x)
        return self.layer(attended)


class Features(nn.Module):
    """A Sequential of torch's layers (named by path), and a module running several ops
    (a block)."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8),
                                      nn.ReLU(), nn.Conv2d(8, 4, 1))
        self.head = Head()

    def forward(self, x):
        return self.head(self.features(x))


class Head(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(x.mean(dim=(2, 3)))


class DataDependent(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        if x.sum() > 0:            # DATA-DEPENDENT
            return self.fc(x)
        return x


# -- a tiny Llama, written by hand -------------------------------------------------------

class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotate_half(x):
    a, b = x.chunk(2, dim=-1)
    return torch.cat((-b, a), dim=-1)


class LlamaAttention(nn.Module):
    def __init__(self, dim: int, heads: int, kv_heads: int):
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, dim // heads
        self.q_proj = nn.Linear(dim, dim, bias=False)
        self.k_proj = nn.Linear(dim, kv_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(dim, kv_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(dim, dim, bias=False)

    def forward(self, x, cos, sin):
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(self.heads // self.kv_heads, dim=1)
        v = v.repeat_interleave(self.heads // self.kv_heads, dim=1)
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.o_proj(out.transpose(1, 2).reshape(b, t, -1))


class SwiGLU(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.gate_proj = nn.Linear(dim, hidden, bias=False)
        self.up_proj = nn.Linear(dim, hidden, bias=False)
        self.down_proj = nn.Linear(hidden, dim, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class LlamaBlock(nn.Module):
    def __init__(self, dim: int, heads: int, kv_heads: int, hidden: int):
        super().__init__()
        self.input_layernorm = RMSNorm(dim)
        self.self_attn = LlamaAttention(dim, heads, kv_heads)
        self.post_attention_layernorm = RMSNorm(dim)
        self.mlp = SwiGLU(dim, hidden)

    def forward(self, x, cos, sin):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin)
        return x + self.mlp(self.post_attention_layernorm(x))


class TinyLlama(nn.Module):
    def __init__(self, vocab: int = 64, dim: int = 32, layers: int = 2, heads: int = 4,
                 kv_heads: int = 2, hidden: int = 48, max_len: int = 32):
        super().__init__()
        self.embed_tokens = nn.Embedding(vocab, dim)
        self.layers = nn.ModuleList(LlamaBlock(dim, heads, kv_heads, hidden)
                                    for _ in range(layers))
        self.norm = RMSNorm(dim)
        self.lm_head = nn.Linear(dim, vocab, bias=False)
        head_dim = dim // heads
        inv_freq = 1.0 / (10000 ** (torch.arange(0, head_dim, 2).float() / head_dim))
        angles = torch.outer(torch.arange(max_len).float(), inv_freq)
        angles = torch.cat((angles, angles), dim=-1)
        self.register_buffer("cos_cached", angles.cos(), persistent=False)
        self.register_buffer("sin_cached", angles.sin(), persistent=False)

    def forward(self, input_ids):
        t = input_ids.shape[1]
        cos, sin = self.cos_cached[:t], self.sin_cached[:t]
        x = self.embed_tokens(input_ids)
        for layer in self.layers:
            x = layer(x, cos, sin)
        return self.lm_head(self.norm(x))


def tiny_llama(layers: int = 2):
    """A factory, as `file.py:tiny_llama --kwargs '{"layers": 1}'` names it."""
    return TinyLlama(layers=layers)


class TokensAndPieces(nn.Module):
    """A ViT-like front (class token, position embedding: parameters read as tensors) and
    the pieces of chunk, split and split_with_sizes, reshape_as and F.pad."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(6, 8)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, 8))
        self.pos_embed = nn.Parameter(torch.zeros(1, 5, 8))

    def forward(self, x):                       # x: [B, 4, 6]
        x = self.proj(x)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        a, b = x.chunk(2, dim=-1)                                   # 4 + 4
        c, d = x.split([3, 5], dim=-1)
        e, f = x.split(4, dim=-1)
        y = (a * b + e - f).reshape_as(a) @ e.transpose(1, 2)        # [B, 5, 5]
        return F.pad(y.unsqueeze(1), (1, 1, 2, 0)), c, d


class ReusedAndFrozen(nn.Module):
    """A module called twice, one never called, weights frozen but a bias (BitFit), and
    an integer buffer of positions."""

    def __init__(self):
        super().__init__()
        self.shared = nn.Linear(8, 8)
        self.act = nn.ReLU()
        self.head = nn.Linear(8, 3)
        self.spare = nn.Linear(8, 8)
        self.register_buffer("positions", torch.arange(8))
        for p in (self.shared.weight, self.head.weight):
            p.requires_grad_(False)

    def forward(self, x):
        x = self.shared(self.act(self.shared(x)))
        return self.head(x[:, self.positions])


class TokensAndFeatures(nn.Module):
    """Token ids (read by an embedding) beside floating-point features."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(100, 8)
        self.proj = nn.Linear(4, 8)

    def forward(self, tokens, features):
        return self.embed(tokens).mean(1) + self.proj(features)


class NonZero(nn.Module):
    def forward(self, x):
        return torch.nonzero(x)              # its shape depends on x's values


class Conv1D(nn.Module):
    """GPT-2's Conv1D: a linear layer whose weight is stored [in, out], run by addmm."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(6, 9))
        self.bias = nn.Parameter(torch.zeros(9))

    def forward(self, x):                     # x: [B, T, 6]
        flat = torch.addmm(self.bias, x.view(-1, x.size(-1)), self.weight)
        return flat.view(*x.shape[:-1], 9)


class GroupedExperts(nn.Module):
    """A mixture's experts run as one grouped matmul (transformers 5 runs Mixtral's so):
    each quarter of the rows meets its own expert's [hidden, mlp]."""

    def __init__(self, experts=4, hidden=16, mlp=32):
        super().__init__()
        self.up = nn.Parameter(torch.randn(experts, hidden, mlp, dtype=torch.bfloat16))

    def forward(self, x):                       # x: [N, tokens, hidden], sorted by expert
        rows = x.flatten(0, 1)
        offs = torch.arange(1, 5, dtype=torch.int32, device=x.device) * (rows.shape[0] // 4)
        return torch._grouped_mm(rows, self.up, offs=offs)

    def as_loop(self, x):
        """The same products, one matmul per expert: what FlopCounterMode can count."""
        rows = x.flatten(0, 1)
        return torch.cat([part @ expert for part, expert in zip(rows.chunk(4), self.up)])
