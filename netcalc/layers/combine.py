"""Tensor operations that combine: elementwise merges of several inputs (add, mul,
sub, div, with torch's broadcasting), concat, and the reductions mean and sum.
Dimension arguments count the batch dim; none counts MACs.
"""

from __future__ import annotations

import functools
from typing import ClassVar

from ..errors import ShapeError
from ..formulas import (channels_last_strides, contiguous_strides, is_channels_last,
                        iterator_strides)
from .base import Dims, Layer, Merge, Shape, Strides, layer_type, normalize_dim
from .field import Field, merged
from .registry import register
from ..working import Remark, Step, shape_text
from .tensor import TensorOp, dims_after_dropping


@layer_type
class _Reduction(TensorOp, Layer):
    """A reduction over dim (all dims when None), keeping it as size 1 with keepdim."""

    dim: Dims | None = None
    keepdim: bool = False

    family: ClassVar[str] = "reduce"
    torch_name: ClassVar[str] = ""

    def output_shape(self, x: Shape) -> Shape:
        if not self.dim:              # None, or [] which torch also reads as every dim
            reduced = set(range(len(x)))
        else:
            reduced = [normalize_dim(d, len(x)) for d in self.dim]
            if len(set(reduced)) != len(reduced):
                raise ShapeError(f"dim={list(self.dim)} repeats a dim", arg="dim")
        if self.keepdim:
            return tuple(1 if i in reduced else s for i, s in enumerate(x))
        return tuple(s for i, s in enumerate(x) if i not in reduced)

    def receptive_field(self, x: Shape, y: Shape, field: Field) -> Field:
        """Each output sees every entry of the reduced dims (all of them: the whole input
        for a mean over H and W); the other dims keep their positions."""
        reduced = {normalize_dim(d, len(x)) for d in self.dim} if self.dim else set(range(len(x)))
        field = field.mixed(reduced, f"{self.torch_name} over dims {sorted(reduced)}")
        return field if self.keepdim else field.moved(dims_after_dropping(len(x), reduced))

    def torch_forward(self, torch, x):
        fn = getattr(torch, self.torch_name)
        if not self.dim:
            y = fn(x)
            return y.reshape((1,) * x.dim()) if self.keepdim else y
        return fn(x, dim=self.dim, keepdim=self.keepdim)

    @classmethod
    def torch_code(cls, xs: list[str], args: dict[str, str]) -> str:
        return f"{xs[0]}.{cls.torch_name}(dim={args['dim']}, keepdim={args['keepdim']})"


@register("mean")
class Mean(_Reduction):
    torch_name = "mean"


@register("sum")
class Sum(_Reduction):
    torch_name = "sum"


def broadcast(shapes: tuple[Shape, ...], op: str) -> Shape:
    """torch's broadcasting: align right; each dim is equal, or 1."""
    first = shapes[0]
    if all(s == first for s in shapes[1:]):      # the usual case (a residual's add)
        return tuple(first)
    ndim = max(len(s) for s in shapes)
    padded = [(1,) * (ndim - len(s)) + tuple(s) for s in shapes]
    out, clashes = [], []
    for dim, sizes in enumerate(zip(*padded)):
        distinct = sorted({s for s in sizes if s != 1}, key=_in_order)
        if len(distinct) > 1:
            clashes.append(f"dim {dim} is {' vs '.join(str(s) for s in distinct)}")
        out.append(distinct[0] if distinct else 1)
    if clashes:
        listed = " and ".join(str(list(s)) for s in shapes)
        raise ShapeError(f"{op} of {listed}: shapes do not broadcast ({'; '.join(clashes)})")
    return tuple(out)


def _in_order(size) -> tuple:
    """Numbers by value, then sizes written as letters by their text: the same order in
    every run (comparing formulas would ask the letters a condition)."""
    return (0, size, "") if isinstance(size, int) else (1, 0, str(size))


class _Elementwise(TensorOp, Merge):
    def merge_shape(self, xs: tuple[Shape, ...]) -> Shape:
        return broadcast(xs, self.type_name)

    def merge_strides(self, xs: tuple[Shape, ...], strides: tuple[Strides, ...],
                      y: Shape) -> Strides:
        # torch folds a + b + c pairwise; each step is one TensorIterator
        shape, layout = xs[0], strides[0]
        for x, x_strides in zip(xs[1:], strides[1:]):
            out = broadcast((shape, x), self.type_name)
            layout = iterator_strides(out, [(shape, layout), (x, x_strides)])
            shape = out
        return layout

    operator: ClassVar[str] = ""

    def torch_forward(self, torch, *xs):
        return functools.reduce(getattr(torch, self.type_name), xs)

    def explain(self, xs: tuple[Shape, ...], y: Shape) -> list[Step]:
        same = len(set(xs)) == 1
        return [Step("output", f" {self.operator} ".join(f"x_{i + 1}" for i in range(len(xs))),
                     f" {self.operator} ".join(shape_text(x) for x in xs) + f" → {shape_text(y)}",
                     y, (Remark("elementwise_same" if same else "broadcast"),))]

    @classmethod
    def torch_code(cls, xs: list[str], args: dict[str, str]) -> str:
        return f" {cls.operator} ".join(xs)


@register("add")
class Add(_Elementwise):
    operator = "+"


@register("mul")
class Mul(_Elementwise):
    operator = "*"
    saves = "inputs"          # each factor's gradient is the other factor


@register("sub")
class Sub(_Elementwise):
    arity = 2
    operator = "-"


@register("div")
class Div(_Elementwise):
    arity = 2
    operator = "/"
    saves = "inputs"          # d(x/y) needs both


@register("concat", "cat")
@layer_type
class Concat(TensorOp, Merge):
    """torch.cat along `dim` (required: torch's default 0 is the batch dim)."""

    dim: int

    def merge_shape(self, xs: tuple[Shape, ...]) -> Shape:
        ndim = len(xs[0])
        if any(len(x) != ndim for x in xs):
            listed = ", ".join(str(list(x)) for x in xs)
            raise ShapeError(f"inputs of different ranks cannot be concatenated: {listed}")
        d = normalize_dim(self.dim, ndim)
        for other in xs[1:]:
            clashes = [f"dim {i} is {a} vs {b}" for i, (a, b) in enumerate(zip(xs[0], other))
                       if i != d and a != b]
            if clashes:
                raise ShapeError(f"concat on dim {d} of {list(xs[0])} and {list(other)}: "
                                 f"the other dims must match ({'; '.join(clashes)})")
        return (*xs[0][:d], sum(x[d] for x in xs), *xs[0][d + 1:])

    def merge_strides(self, xs: tuple[Shape, ...], strides: tuple[Strides, ...],
                      y: Shape) -> Strides:
        # torch.cat keeps channels-last when every input is channels-last
        if len(y) in (4, 5) and all(is_channels_last(x, s) for x, s in zip(xs, strides)):
            return channels_last_strides(y)
        return contiguous_strides(y)

    def evaluate_field(self, inputs: tuple[Shape, ...], y: Shape,
                       fields: tuple[Field, ...]) -> Field:
        """Each output sees what the unit it comes from sees; along a dim of positions
        the grid breaks."""
        return merged(fields, inputs, y, concat_dim=normalize_dim(self.dim, len(y)))

    def torch_forward(self, torch, *xs):
        return torch.cat(xs, dim=self.dim)

    def explain(self, xs: tuple[Shape, ...], y: Shape) -> list[Step]:
        d = normalize_dim(self.dim, len(xs[0]))
        sizes = [x[d] for x in xs]
        return [Step(f"dim {d}", " + ".join(f"C_{i + 1}" for i in range(len(xs))),
                     f"{' + '.join(str(s) for s in sizes)} = {sum(sizes)}", sum(sizes),
                     (Remark("concat_others_equal"),))]

    @classmethod
    def torch_code(cls, xs: list[str], args: dict[str, str]) -> str:
        return f"torch.cat([{', '.join(xs)}], dim={args['dim']})"
