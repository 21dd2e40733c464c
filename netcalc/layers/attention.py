"""Attention: torch's nn.MultiheadAttention and the transformer encoder layer built on it.

MACs are the projections (linear layers) plus the attention itself, as
FlopCounterMode counts scaled-dot-product attention: Q·Kᵀ and A·V, each
N·heads·L·S·head_dim. (torch's fused inference kernels hide all of it from
FlopCounterMode; `verify` runs attention on the math path, which it counts.)
"""

from __future__ import annotations

from math import prod
from typing import ClassVar

from ..errors import ShapeError
from ..formulas import contiguous_strides, iterator_strides
from .base import Layer, LayerNumbers, Saved, Shape, Strides, layer_type, made
from .field import Field, merged
from .registry import register


def attention_macs(batch: int, heads: int, query_len: int, key_len: int, head_dim: int,
                   value_head_dim: int) -> int:
    """Q·Kᵀ (a query_len × key_len score per head) and scores·V."""
    return batch * heads * query_len * key_len * (head_dim + value_head_dim)


def check_probability(p: float) -> None:
    """torch's dropout refuses p outside [0, 1] at every call, in eval too."""
    if not 0 <= p <= 1:
        raise ShapeError(f"dropout={p}: a dropout probability is between 0 and 1",
                         arg="dropout")


def attended(field: Field, x: Shape, batch_first: bool) -> Field:
    """What attention over x sees: everything but the batch dim is mixed."""
    batch = 0 if batch_first else 1
    return field.mixed([d for d in range(len(x)) if d != batch], "attention")


def sequence_first_warning(batch_first: bool, x: Shape) -> list[str]:
    """torch's default reads [L, N, E]; a spec's dim 0 is mostly its batch."""
    if batch_first:
        return []
    return [f"batch_first is false (torch's default): the input {list(x)} is read as "
            f"[L, N, E], {x[0]} position{'s' if x[0] != 1 else ''} of a batch of {x[1]}; "
            "if dim 0 is the batch, "
            "write batch_first: true"]


@register("multiheadattention")
@layer_type
class MultiheadAttention(Layer):
    """softmax(Q·Kᵀ/√d)·V over `num_heads` heads of embed_dim/num_heads each, between
    linear projections in and out. One input is self-attention (query = key =
    value, as `attn(x, x, x)`); three are query, key and value. The output is
    the attention output only (torch's first return value).
    """

    num_heads: int
    dropout: float = 0.0
    bias: bool = True
    add_bias_kv: bool = False
    add_zero_attn: bool = False
    kdim: int | None = None
    vdim: int | None = None
    batch_first: bool = False      # torch's default: [L, N, E]; specs mostly want true
    embed_dim: int | None = None   # the query's last dim

    family: ClassVar[str] = "attention"
    arity: ClassVar = (1, 3)
    positive: ClassVar[tuple[str, ...]] = ("num_heads", "kdim", "vdim", "embed_dim")

    def notation(self) -> str:
        return f"attention ×{self.num_heads} heads"

    def check_arguments(self) -> None:
        super().check_arguments()
        check_probability(self.dropout)

    def _dims(self, inputs: tuple[Shape, ...]) -> tuple[Shape, Shape, Shape]:
        query, key, value = inputs if len(inputs) == 3 else inputs * 3
        for role, shape in (("query", query), ("key", key), ("value", value)):
            if len(shape) != 3:
                order = "[N, L, E]" if self.batch_first else "[L, N, E] (batch_first: false)"
                raise ShapeError(f"expects 3-D {role} {order}, got {list(shape)}")
        e = self.check_inferred("embed_dim", query[-1], "feature", " in the query's last dim")
        if e % self.num_heads:
            raise ShapeError(f"embed_dim={e} does not split into num_heads={self.num_heads} "
                             f"heads ({e} / {self.num_heads} = {e / self.num_heads:g})",
                             arg="num_heads")
        if (self.kdim or e) != key[-1] or (self.vdim or e) != value[-1]:
            raise ShapeError(f"key and value need kdim={self.kdim or e} and "
                             f"vdim={self.vdim or e} features, got {key[-1]} and {value[-1]}",
                             arg="kdim" if (self.kdim or e) != key[-1] else "vdim")
        b = 0 if self.batch_first else 1
        if key[:2] != value[:2] or query[b] != key[b]:
            raise ShapeError(f"query {list(query)}, key {list(key)} and value {list(value)} "
                             "need one batch, and key and value one length")
        return query, key, value

    def params(self, x: Shape, key_dim: int | None = None, value_dim: int | None = None
               ) -> dict[str, int]:
        e = x[-1]
        k, v = key_dim or e, value_dim or e
        if k == e and v == e:            # torch packs the three projections in one
            tensors = {"in_proj_weight": 3 * e * e}
        else:
            tensors = {"q_proj_weight": e * e, "k_proj_weight": e * k, "v_proj_weight": e * v}
        if self.bias:
            tensors["in_proj_bias"] = 3 * e
        if self.add_bias_kv:
            tensors.update({"bias_k": e, "bias_v": e})
        tensors["out_proj.weight"] = e * e
        if self.bias:
            tensors["out_proj.bias"] = e
        return tensors

    def output_batch_dim(self, xs: tuple[Shape, ...]) -> int | None:
        return 0 if self.batch_first else 1

    def score_elements(self, xs: tuple[Shape, ...], y: Shape) -> int:
        query, key, _ = self._dims(xs)
        n, length = (query[0], query[1]) if self.batch_first else (query[1], query[0])
        source = (key[1] if self.batch_first else key[0]) + self.add_bias_kv \
            + self.add_zero_attn
        return 2 * n * self.num_heads * length * source

    def usual_mistakes(self, xs: tuple[Shape, ...], y: Shape) -> list[tuple[str, str, int, dict]]:
        """Heads counted twice (each head given full E×E projections); out_proj forgotten."""
        query, key, value = self._dims(xs)
        tensors = self.params(query, key[-1], value[-1])
        weights = sum(n for name, n in tensors.items() if "weight" in name)
        right = sum(tensors.values())
        out = tensors["out_proj.weight"] + tensors.get("out_proj.bias", 0)
        return [("params", "heads_counted_twice", right + (self.num_heads - 1) * weights,
                 {"heads": self.num_heads}),
                ("params", "forgot_out_proj", right - out, {"out": out})]

    def evaluate(self, inputs: tuple[Shape, ...],
                 strides: tuple[Strides, ...] | None = None) -> LayerNumbers:
        query, key, value = self._dims(inputs)
        e, heads = query[-1], self.num_heads
        n, length = (query[0], query[1]) if self.batch_first else (query[1], query[0])
        source = key[1] if self.batch_first else key[0]
        projections = length * n * e * e + source * n * e * (key[-1] + value[-1]) \
            + length * n * e * e
        # bias_k/v and a zero row each add one key
        keys = source + self.add_bias_kv + self.add_zero_attn
        macs = projections + attention_macs(n, heads, length, keys, e // heads, e // heads)
        return LayerNumbers(query, self.params(query, key[-1], value[-1]), {}, macs,
                            prod(query), self._output_strides(query),
                            tuple(sequence_first_warning(self.batch_first, query)))

    def evaluate_field(self, inputs: tuple[Shape, ...], y: Shape,
                       fields: tuple[Field, ...]) -> Field:
        """Each output sees every position its query, key and value hold."""
        return merged(tuple(attended(f, x, self.batch_first) for f, x in zip(fields, inputs)),
                      inputs, y)

    def _output_strides(self, y: Shape) -> Strides:
        """torch computes in [L, N, E] and, for batch_first, returns a transposed view."""
        if not self.batch_first:
            return contiguous_strides(y)
        n, length, e = y
        return (e, n * e, 1)

    def inferred(self, x: Shape) -> dict[str, int]:
        return {"embed_dim": x[-1]}

    def saved_for_backward(self, xs: tuple[Shape, ...], y: Shape) -> list[Saved]:
        """On the math path: the inputs as the projections read them ([L·N, E] copies),
        the scaled q and kᵀ, v (in self-attention a view that keeps the whole packed
        q-k-v projection, 3·N·L·E), the attention weights (N·heads·L·S), and the
        output before out_proj."""
        query, key, value = self._dims(xs)
        e = query[-1]
        n, length = (query[0], query[1]) if self.batch_first else (query[1], query[0])
        source = (key[1] if self.batch_first else key[0]) + self.add_bias_kv \
            + self.add_zero_attn
        weights = n * self.num_heads * length * source
        if len(xs) == 1:
            return [Saved("new", elements=7 * n * length * e + weights)]
        inputs = prod(query) + prod(key) + prod(value)
        return [Saved("new", elements=inputs + n * length * e + 2 * n * source * e + weights
                      + n * length * e)]

    def torch_module(self, nn, x: Shape):
        return _output_only(nn)(**self.arguments(x))

    @classmethod
    def arguments_of(cls, module) -> dict:
        return {"num_heads": module.num_heads, "dropout": module.dropout,
                "bias": module.in_proj_bias is not None,
                "add_bias_kv": module.bias_k is not None, "add_zero_attn": module.add_zero_attn,
                # torch stores kdim = vdim = embed_dim when none were given
                **{name: None if getattr(module, name) == module.embed_dim
                   else getattr(module, name) for name in ("kdim", "vdim")},
                "batch_first": module.batch_first,
                "embed_dim": module.embed_dim}

    @classmethod
    def torch_call(cls, module: str, xs: list[str]) -> str:
        query, key, value = xs if len(xs) == 3 else xs * 3
        return f"{module}({query}, {key}, {value}, need_weights=False)[0]"


_OUTPUT_ONLY: dict = {}


def _output_only(nn):
    """nn.MultiheadAttention called as a spec's layer is: one input or three, the
    output only. (A subclass, so its parameters keep torch's names.)"""
    if "class" not in _OUTPUT_ONLY:
        class MultiheadAttention(nn.MultiheadAttention):
            def forward(self, query, key=None, value=None):
                key = query if key is None else key
                value = key if value is None else value
                return super().forward(query, key, value, need_weights=False)[0]

        _OUTPUT_ONLY["class"] = MultiheadAttention
    return _OUTPUT_ONLY["class"]


@register("transformerencoderlayer")
@layer_type
class TransformerEncoderLayer(Layer):
    """nn.TransformerEncoderLayer: self-attention, then a two-layer MLP of
    dim_feedforward, each added back to its input, with a LayerNorm after each
    (before each when norm_first, as ViT does)."""

    nhead: int
    dim_feedforward: int = 2048
    dropout: float = 0.1
    activation: str = "relu"
    layer_norm_eps: float = 1e-5
    batch_first: bool = False
    norm_first: bool = False
    bias: bool = True
    d_model: int | None = None      # the input's last dim

    family: ClassVar[str] = "attention"
    positive: ClassVar[tuple[str, ...]] = ("nhead", "dim_feedforward", "d_model")
    choices: ClassVar = {"activation": ("relu", "gelu")}

    def notation(self) -> str:
        return f"encoder ×{self.nhead} heads, mlp {self.dim_feedforward}"

    def check_arguments(self) -> None:
        super().check_arguments()
        check_probability(self.dropout)

    def _attention(self) -> MultiheadAttention:
        # another type's class: made before it is built (a spec naming only this one)
        return made(MultiheadAttention)(num_heads=self.nhead, bias=self.bias,
                                        batch_first=self.batch_first, embed_dim=self.d_model)

    def output_shape(self, x: Shape) -> Shape:
        # checked here in the encoder's own terms; the rest is its attention's rule
        if len(x) == 3:
            d = self.check_inferred("d_model", x[-1], "feature", " in its last dim")
            if d % self.nhead:
                raise ShapeError(f"d_model={d} does not split into nhead={self.nhead} heads "
                                 f"({d} / {self.nhead} = {d / self.nhead:g})", arg="nhead")
        return self._attention().evaluate((x,)).output_shape

    def params(self, x: Shape) -> dict[str, int]:
        d, ff = x[-1], self.dim_feedforward
        tensors = {f"self_attn.{name}": n for name, n in self._attention().params(x).items()}
        for name, n_in, n_out in (("linear1", d, ff), ("linear2", ff, d)):
            tensors[f"{name}.weight"] = n_in * n_out
            if self.bias:
                tensors[f"{name}.bias"] = n_out
        for norm in ("norm1", "norm2"):
            tensors[f"{norm}.weight"] = d
            if self.bias:
                tensors[f"{norm}.bias"] = d
        return tensors

    def warnings(self, x: Shape, y: Shape) -> list[str]:
        return sequence_first_warning(self.batch_first, x)

    def macs(self, x: Shape, y: Shape) -> int:
        mlp = 2 * prod(x) * self.dim_feedforward
        return self._attention().evaluate((x,)).macs + mlp

    def output_strides(self, x: Shape, x_strides: Strides, y: Shape) -> Strides:
        if not self.norm_first:             # the output is norm2's, new
            return contiguous_strides(y)
        # x + attention(norm1(x)), then that + mlp(norm2(...)): laid out as additions are
        attention = self._attention().evaluate((x,)).output_strides
        first = iterator_strides(y, [(x, x_strides), (y, attention)])
        return iterator_strides(y, [(y, first), (y, contiguous_strides(y))])

    def score_elements(self, xs: tuple[Shape, ...], y: Shape) -> int:
        return self._attention().score_elements(xs, y)

    def output_batch_dim(self, xs: tuple[Shape, ...]) -> int | None:
        return 0 if self.batch_first else 1

    def receptive_field(self, x: Shape, y: Shape, field: Field) -> Field:
        """Each output sees every position of the sequence (its self-attention's)."""
        return attended(field, x, self.batch_first)

    def inferred(self, x: Shape) -> dict[str, int]:
        return {"d_model": x[-1]}

    def saved_for_backward(self, xs: tuple[Shape, ...], y: Shape) -> list[Saved]:
        """Its attention's; the sum after it, the two norms' inputs and statistics (as
        their outputs are the next layers'), the MLP's hidden activation; dropout masks
        when dropout is on."""
        (x,) = xs
        tokens = prod(x[:-1])
        attention = self._attention().saved_for_backward(xs, y)
        masks = (2 * prod(x) + tokens * self.dim_feedforward) if self.dropout else 0
        return [*attention, Saved("new", elements=3 * prod(x) + tokens * self.dim_feedforward
                                  + masks),
                Saved("new", elements=4 * tokens, dtype="float32")]

    @classmethod
    def arguments_of(cls, module) -> dict:
        # torch keeps only the sublayers; activation_relu_or_gelu is 1 for relu, 2 for gelu
        attention = module.self_attn
        return {"nhead": attention.num_heads, "dim_feedforward": module.linear1.out_features,
                "dropout": module.dropout.p,
                # anything else (a callable): its name, which the type's choices refuse
                "activation": {1: "relu", 2: "gelu"}.get(
                    module.activation_relu_or_gelu,
                    getattr(module.activation, "__name__", type(module.activation).__name__)),
                "layer_norm_eps": module.norm1.eps, "batch_first": attention.batch_first,
                "norm_first": module.norm_first, "bias": module.linear1.bias is not None,
                "d_model": attention.embed_dim}
