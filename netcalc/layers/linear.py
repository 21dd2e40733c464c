"""Fully connected layers and lookup tables."""

from __future__ import annotations

from math import prod
from typing import ClassVar

from ..errors import ShapeError
from .base import Layer, Saved, Shape, layer_type, normalize_dim
from .field import Field
from .registry import register
from ..working import Remark, Step, count_step, product


@register("linear")
@layer_type
class Linear(Layer):
    """y = x·Wᵀ + b over the last dim; any leading dims are kept (like torch)."""

    out_features: int
    bias: bool = True
    in_features: int | None = None

    family: ClassVar[str] = "linear"
    saves: ClassVar[str] = "input"
    positive: ClassVar[tuple[str, ...]] = ("out_features",)

    def notation(self) -> str:
        return f"linear, {self.out_features}"

    def output_shape(self, x: Shape) -> Shape:
        self.expect_min_rank(x, 2, "[N, ..., in_features]")
        if self.in_features is not None and self.in_features != x[-1] and len(x) > 2 \
                and prod(x[1:]) == self.in_features:
            dims = "·".join(str(d) for d in x[1:])
            raise ShapeError(f"in_features={self.in_features} but the input's last dim is "
                             f"{x[-1]} (input {list(x)}); flatten it first: {dims} = "
                             f"{self.in_features}", arg="in_features")
        self.check_inferred("in_features", x[-1], "feature", " in its last dim")
        return (*x[:-1], self.out_features)

    def receptive_field(self, x: Shape, y: Shape, field: Field) -> Field:
        """Each output sees every entry of the last dim: all positions after a flatten
        (the whole input), none on [N, H, W, C] (a 1×1 convolution)."""
        return field.mixed((len(x) - 1,), f"a linear layer over dim {len(x) - 1}")

    def warnings(self, x: Shape, y: Shape) -> list[str]:
        # [N, features] and [N, tokens, features] are what linear is for; a spec that
        # states in_features (ConvNeXt's MLP on [N, H, W, C]) means the last dim
        if len(x) < 4 or self.in_features is not None:
            return []
        dims = "·".join(str(d) for d in x[1:])
        return [f"applies to the last dim only ({x[-1]} features) of {list(x)}; flatten first "
                f"if you meant {dims} = {prod(x[1:])} features"]

    def params(self, x: Shape) -> dict[str, int]:
        weight = x[-1] * self.out_features
        return {"weight": weight, "bias": self.out_features} if self.bias else {"weight": weight}

    def param_shape(self, x: Shape, tensor: str) -> tuple[int, ...] | None:
        return (self.out_features, x[-1]) if tensor == "weight" else None

    def macs(self, x: Shape, y: Shape) -> int:
        # every output element is a dot product of length in_features
        return prod(y) * x[-1]

    def inferred(self, x: Shape) -> dict[str, int]:
        return {"in_features": x[-1]}

    def usual_mistakes(self, xs: tuple[Shape, ...], y: Shape) -> list[tuple[str, str, int, dict]]:
        """A bias counted where bias=False."""
        if self.bias:
            return []
        return [("params", "bias_false_counted", sum(self.params(xs[0]).values())
                 + self.out_features, {"bias": self.out_features})]

    def explain(self, xs: tuple[Shape, ...], y: Shape) -> list[Step]:
        (x,) = xs
        c_in, c_out = x[-1], self.out_features
        params = sum(self.params(x).values())
        if self.bias:
            weights = count_step("params", "(in_features + 1)·out_features",
                                 f"({c_in} + 1)·{c_out}", params)
        else:
            weights = count_step("params", "in_features·out_features", f"{c_in}·{c_out}",
                                 params, (Remark("no_bias"),))
        rows = prod(x[:-1])
        lead = f"{product(x[:-1])}·" if rows != 1 else ""
        macs = count_step("MACs", f"{'rows·' if rows != 1 else ''}in_features·out_features",
                          f"{lead}{c_in}·{c_out}", self.macs(x, y))
        return [weights, macs]


@register("embedding")
@layer_type
class Embedding(Layer):
    """A lookup table: integer indices of any shape -> one row of embedding_dim each."""

    num_embeddings: int
    embedding_dim: int
    padding_idx: int | None = None
    max_norm: float | None = None
    norm_type: float = 2.0
    scale_grad_by_freq: bool = False
    sparse: bool = False

    family: ClassVar[str] = "embedding"
    saves: ClassVar[str] = "input"              # the indices
    reads_indices: ClassVar[bool] = True        # torch refuses float indices
    positive: ClassVar[tuple[str, ...]] = ("num_embeddings", "embedding_dim")

    def notation(self) -> str:
        return f"embedding {self.num_embeddings}×{self.embedding_dim}"

    def check_arguments(self) -> None:
        super().check_arguments()
        n = self.num_embeddings
        if self.padding_idx is not None and not -n <= self.padding_idx < n:
            raise ShapeError(f"padding_idx={self.padding_idx} must be within num_embeddings "
                             f"({-n} to {n - 1})", arg="padding_idx")

    def output_shape(self, x: Shape) -> Shape:
        return (*x, self.embedding_dim)

    def receptive_field(self, x: Shape, y: Shape, field: Field) -> Field:
        """Each token's vector sees what its token sees."""
        return field

    def params(self, x: Shape) -> dict[str, int]:
        return {"weight": self.num_embeddings * self.embedding_dim}

    def param_shape(self, x: Shape, tensor: str) -> tuple[int, ...] | None:
        return (self.num_embeddings, self.embedding_dim) if tensor == "weight" else None


@register("positionembedding", "positionalembedding")
@layer_type
class PositionEmbedding(Layer):
    """Learned absolute positions (GPT-2's wpe, BERT's position_embeddings): rows 0 .. L-1
    of a table of num_embeddings, for an input of L positions along `dim` (token ids
    [N, L]: the last). The output [1, L, embedding_dim] broadcasts over the batch when
    added to the tokens' embeddings; the input's values are never read, only its length,
    so the spec follows `--input L`."""

    num_embeddings: int
    embedding_dim: int
    dim: int = -1

    family: ClassVar[str] = "embedding"
    positive: ClassVar[tuple[str, ...]] = ("num_embeddings", "embedding_dim")
    torch_class: ClassVar[str] = "PositionEmbedding"    # netcalc's own: torch_bridge/build.py

    def notation(self) -> str:
        return f"positions {self.num_embeddings}×{self.embedding_dim}"

    def output_shape(self, x: Shape) -> Shape:
        length = x[normalize_dim(self.dim, len(x))]
        if isinstance(length, int) and length > self.num_embeddings:
            raise ShapeError(f"the input has {length} positions along dim {self.dim}, but the "
                             f"table holds {self.num_embeddings} (num_embeddings)",
                             arg="num_embeddings")
        return (1, length, self.embedding_dim)

    def params(self, x: Shape) -> dict[str, int]:
        return {"weight": self.num_embeddings * self.embedding_dim}

    def param_shape(self, x: Shape, tensor: str) -> tuple[int, ...] | None:
        return (self.num_embeddings, self.embedding_dim) if tensor == "weight" else None

    def positions_held(self) -> int | None:
        return self.num_embeddings

    def receptive_field(self, x: Shape, y: Shape, field: Field) -> Field:
        return field.lost("a position's vector depends on no input value")

    def saved_for_backward(self, xs: tuple[Shape, ...], y: Shape) -> list[Saved]:
        """The positions it looked up: a new int64 tensor of L."""
        return [Saved("new", elements=y[1], dtype="int64")]

    def explain(self, xs: tuple[Shape, ...], y: Shape) -> list[Step]:
        return [count_step("params", "num_embeddings·embedding_dim",
                           f"{self.num_embeddings}·{self.embedding_dim}",
                           self.num_embeddings * self.embedding_dim)]
