"""Products of two activations: `a @ b` (torch.matmul, bmm) and scaled-dot-product
attention (F.scaled_dot_product_attention), as captured models use them.

MACs are FlopCounterMode's: a matmul of [..., n, k] by [..., k, m] is one
multiply-add per (batch, n, k, m); attention on torch's math path is Q·Kᵀ and
A·V, L·S·(E + Eᵥ) per batch and query head.
"""

from __future__ import annotations

from math import prod
from typing import ClassVar

from ..errors import ShapeError
from .attention import attention_macs
from .base import Layer, LayerNumbers, Saved, Shape, Strides, layer_type
from .field import Field
from .registry import register
from .combine import broadcast
from .tensor import TensorOp


def _contiguous(y: Shape) -> Strides:
    from ..formulas import contiguous_strides
    return contiguous_strides(y)


@register("matmul", "bmm")
class Matmul(TensorOp, Layer):
    """torch.matmul(a, b) of two activations, both at least 2-d: [..., n, k] @ [..., k, m]
    -> [..., n, m], the leading dims broadcast."""

    family: ClassVar[str] = "linear"
    arity: ClassVar[int] = 2
    saves: ClassVar[str] = "inputs"

    def product_shape(self, a: Shape, b: Shape) -> tuple[Shape, int, int, int]:
        if len(a) < 2 or len(b) < 2:
            raise ShapeError(f"matmul of {list(a)} and {list(b)}: netcalc's matmul takes "
                             "inputs of at least 2 dims")
        (n, k), (k2, m) = a[-2:], b[-2:]
        if k != k2:
            raise ShapeError(f"matmul of {list(a)} and {list(b)}: the inner sizes differ "
                             f"({k} vs {k2})")
        batch = broadcast((a[:-2], b[:-2]), "matmul")
        return batch, n, k, m

    def evaluate(self, inputs: tuple[Shape, ...],
                 strides: tuple[Strides, ...] | None = None) -> LayerNumbers:
        a, b = inputs
        batch, n, k, m = self.product_shape(a, b)
        y = (*batch, n, m)
        return LayerNumbers(y, {}, {}, prod(batch) * n * k * m, prod(y), _contiguous(y))

    def evaluate_field(self, inputs: tuple[Shape, ...], y: Shape,
                       fields: tuple[Field, ...]) -> Field:
        return fields[0].mixed([len(y) - 1, len(y) - 2], "matmul")

    def saved_for_backward(self, xs: tuple[Shape, ...], y: Shape) -> list[Saved]:
        return [Saved("input", 0), Saved("input", 1)]

    def notation(self) -> str:
        return "matmul"

    def torch_forward(self, torch, *xs):
        return torch.matmul(*xs)

    @classmethod
    def torch_code(cls, xs: list[str], args: dict[str, str]) -> str:
        return f"{xs[0]} @ {xs[1]}"


@register("scaleddotproductattention", "sdpa")
@layer_type
class ScaledDotProductAttention(TensorOp, Layer):
    """F.scaled_dot_product_attention(q, k, v[, mask]): softmax(Q·Kᵀ·scale + mask)·V, for
    q [..., Hq, L, E], k [..., Hkv, S, E], v [..., Hkv, S, Eᵥ]; with enable_gqa, each of
    the Hkv key/value heads serves Hq/Hkv query heads. No parameters."""

    dropout_p: float = 0.0
    is_causal: bool = False
    scale: float | None = None
    enable_gqa: bool = False

    family: ClassVar[str] = "attention"
    arity: ClassVar = (3, 4)
    saves: ClassVar[str] = "inputs"

    def evaluate(self, inputs: tuple[Shape, ...],
                 strides: tuple[Strides, ...] | None = None) -> LayerNumbers:
        q, k, v = inputs[:3]
        if len(q) < 2 or len(k) != len(q) or len(v) != len(q):
            raise ShapeError(f"q {list(q)}, k {list(k)}, v {list(v)}: attention takes "
                             "q, k and v of the same rank, at least 2")
        if q[-1] != k[-1] or k[-2] != v[-2]:
            raise ShapeError(f"q {list(q)}, k {list(k)}, v {list(v)}: q and k must share "
                             "their last size, k and v their sequence length")
        if len(q) >= 3 and q[-3] != k[-3]:
            if not self.enable_gqa or q[-3] % k[-3]:
                raise ShapeError(f"{q[-3]} query heads and {k[-3]} key heads: with "
                                 "enable_gqa, the key heads must divide the query heads")
        y = (*q[:-1], v[-1])
        macs = attention_macs(prod(q[:-2]), 1, q[-2], k[-2], q[-1], v[-1])
        return LayerNumbers(y, {}, {}, macs, prod(y), _contiguous(y))

    def evaluate_field(self, inputs: tuple[Shape, ...], y: Shape,
                       fields: tuple[Field, ...]) -> Field:
        return fields[0].mixed([len(y) - 2], "attention")

    def score_elements(self, xs: tuple[Shape, ...], y: Shape) -> int:
        q, k = xs[0], xs[1]
        return 2 * prod(q[:-1]) * k[-2]

    def causal_attention_macs(self, xs: tuple[Shape, ...], y: Shape) -> int:
        """All of its MACs are Q·Kᵀ and A·V: with is_causal, half of them are masked."""
        q, k, v = xs[:3]
        return attention_macs(prod(q[:-2]), 1, q[-2], k[-2], q[-1], v[-1]) \
            if self.is_causal else 0

    def kv_cache_elements(self, xs: tuple[Shape, ...], context: int) -> int:
        """A causal decoder's cache: per token, the keys' and values' heads of one
        sequence (the dims between the batch and the sequence length)."""
        if not self.is_causal:
            return 0
        k, v = xs[1], xs[2]
        return (prod(k[1:-2]) * k[-1] + prod(v[1:-2]) * v[-1]) * context

    def saved_for_backward(self, xs: tuple[Shape, ...], y: Shape) -> list[Saved]:
        # the math path keeps the attention weights, one score per query and key
        q, k = xs[0], xs[1]
        return [Saved("input", i) for i in range(len(xs))] + [
            Saved("new", elements=prod(q[:-1]) * k[-2]), Saved("output")]

    def notation(self) -> str:
        return "attention" + (" (causal)" if self.is_causal else "")

    def torch_forward(self, torch, *xs):
        mask = xs[3] if len(xs) > 3 else None
        return torch.nn.functional.scaled_dot_product_attention(
            *xs[:3], attn_mask=mask, dropout_p=self.dropout_p, is_causal=self.is_causal,
            scale=self.scale, enable_gqa=self.enable_gqa)

    @classmethod
    def torch_code(cls, xs: list[str], args: dict[str, str]) -> str:
        mask = f", attn_mask={xs[3]}" if len(xs) > 3 else ""
        return (f"torch.nn.functional.scaled_dot_product_attention({', '.join(xs[:3])}{mask}, "
                f"dropout_p={args['dropout_p']}, is_causal={args['is_causal']}, "
                f"scale={args['scale']}, enable_gqa={args['enable_gqa']})")
