"""Tensor operations that reshape: views (flatten, reshape, permute, ...), which
allocate no new memory where a view exists, and the TensorOp mixin of operations
torch has no module for.

Dimension arguments count the batch dim, as torch's do. None of these counts MACs.
slicing.py cuts tensors into parts; combine.py merges and reduces them.
"""

from __future__ import annotations

from dataclasses import replace
from math import prod
from typing import ClassVar

from ..errors import ShapeError
from ..formulas import contiguous_strides, is_contiguous, view_strides
from .base import (BATCH, Dims, IntList, Layer, LayerNumbers, Shape, SizesOrBatch, Strides,
                   layer_type, normalize_dim)
from .field import Field, merged
from .registry import register
from ..working import Step, count_step, product


class TensorOp:
    """Mixin for operations torch has no module for: the bridge wraps `torch_forward`,
    and `export` writes `torch_code`, the same call as Python source.

    Most are a tensor method taking the layer's arguments in order (`method`,
    `method_args`: x.narrow(dim, start, length)); the others override both.
    """

    method: ClassVar[str] = ""
    method_args: ClassVar[tuple[str, ...]] = ()

    def torch_forward(self, torch, *xs):
        return getattr(xs[0], self.method)(*(getattr(self, a) for a in self.method_args))

    @classmethod
    def torch_code(cls, xs: list[str], args: dict[str, str]) -> str:
        """The call on input variables `xs`; `args` are every argument's source text."""
        return f"{xs[0]}.{cls.method}({', '.join(args[a] for a in cls.method_args)})"

    @classmethod
    def reads_batch(cls, args: dict) -> bool:
        """Whether torch_code reads a variable `batch` (the run's batch size)."""
        return False


class ViewOp(Layer):
    """Returns a view of its input: no new memory, strides re-sliced.

    Where no view exists (a reshape of a permuted tensor, say), torch's reshape
    and flatten copy into a new contiguous tensor; `view` refuses.
    """

    family: ClassVar[str] = "reshape"

    def view_strides(self, x: Shape, x_strides: Strides, y: Shape) -> Strides | None:
        return view_strides(x, x_strides, y)

    def not_viewable(self, x: Shape, x_strides: Strides, y: Shape) -> None:
        """Called when no view exists; the default copies, as reshape does."""

    def evaluate(self, inputs: tuple[Shape, ...],
                 strides: tuple[Strides, ...] | None = None) -> LayerNumbers:
        (x,) = inputs
        x_strides = strides[0] if strides else contiguous_strides(x)
        y = self.output_shape(x)
        y_strides = self.view_strides(x, x_strides, y)
        warnings = tuple(self.warnings(x, y))
        if y_strides is None:
            self.not_viewable(x, x_strides, y)
            return LayerNumbers(y, {}, {}, 0, prod(y), contiguous_strides(y), warnings)
        return LayerNumbers(y, {}, {}, 0, 0, y_strides, warnings)


@register("identity")
class Identity(ViewOp):
    def output_shape(self, x: Shape) -> Shape:
        return x

    def receptive_field(self, x: Shape, y: Shape, field: Field) -> Field:
        return field

    def view_strides(self, x: Shape, x_strides: Strides, y: Shape) -> Strides:
        return x_strides


@register("contiguous")
class Contiguous(TensorOp, ViewOp):
    """x.contiguous(): the input itself when it is laid out row-major, else a copy
    that is (after a permute or transpose, so that a `view` can follow)."""

    def output_shape(self, x: Shape) -> Shape:
        return x

    method = "contiguous"

    def receptive_field(self, x: Shape, y: Shape, field: Field) -> Field:
        return field

    def view_strides(self, x: Shape, x_strides: Strides, y: Shape) -> Strides | None:
        return x_strides if is_contiguous(x, x_strides) else None


@register("squeeze")
@layer_type
class Squeeze(TensorOp, ViewOp):
    """x.squeeze(dim): drops the given dims (every dim when none is given) that have
    size 1; a dim of another size stays, as torch keeps it."""

    dim: Dims | None = None

    def output_shape(self, x: Shape) -> Shape:
        return tuple(s for i, s in enumerate(x) if i not in self._dropped(x))

    def _dropped(self, x: Shape) -> set[int]:
        dims = range(len(x)) if self.dim is None else \
            [normalize_dim(d, len(x)) for d in self.dim]
        if len(set(dims)) != len(dims):
            raise ShapeError(f"dim={list(self.dim)} repeats a dim", arg="dim")
        return {d for d in dims if x[d] == 1}

    def view_strides(self, x: Shape, x_strides: Strides, y: Shape) -> Strides:
        dropped = self._dropped(x)
        return tuple(s for i, s in enumerate(x_strides) if i not in dropped)

    def receptive_field(self, x: Shape, y: Shape, field: Field) -> Field:
        return field.moved(dims_after_dropping(len(x), self._dropped(x)), "squeeze")

    def torch_forward(self, torch, x):
        return x.squeeze() if self.dim is None else x.squeeze(self.dim)

    @classmethod
    def torch_code(cls, xs: list[str], args: dict[str, str]) -> str:
        return f"{xs[0]}.squeeze({'' if args['dim'] == 'None' else args['dim']})"


@register("unsqueeze")
@layer_type
class Unsqueeze(TensorOp, ViewOp):
    """x.unsqueeze(dim): a new dim of size 1 at `dim` (-1 appends one)."""

    dim: int

    method = "unsqueeze"
    method_args = ("dim",)

    def output_shape(self, x: Shape) -> Shape:
        d = normalize_dim(self.dim, len(x) + 1)
        return (*x[:d], 1, *x[d:])

    def receptive_field(self, x: Shape, y: Shape, field: Field) -> Field:
        d = normalize_dim(self.dim, len(x) + 1)
        return field.moved({i: i if i < d else i + 1 for i in range(len(x))})

    def view_strides(self, x: Shape, x_strides: Strides, y: Shape) -> Strides:
        d = normalize_dim(self.dim, len(x) + 1)
        # torch's rule for the new dim's stride (any would do for a size of 1)
        stride = x[d] * x_strides[d] if d < len(x) else 1
        return (*x_strides[:d], stride, *x_strides[d:])


@register("expand")
@layer_type
class Expand(TensorOp, ViewOp):
    """x.expand(*size): dims of size 1 repeated without copying (stride 0), new
    dims in front; -1 keeps a dim. `batch` stands for the batch size, as torch
    code writes `expand(x.shape[0], -1, -1)` for ViT's class token."""

    size: SizesOrBatch

    def for_batch(self, batch: int) -> "Expand":
        bound = replace(self)
        object.__setattr__(bound, "_batch", batch)    # the run's, not an argument
        return bound

    def _sizes(self) -> tuple[int, ...]:
        """The sizes, `batch` filled in from the run."""
        batch = getattr(self, "_batch", None)
        if BATCH in self.size and batch is None:
            raise ShapeError("size=[batch, ...] needs the batch, which only a run has",
                             arg="size")
        return tuple(batch if s == BATCH else s for s in self.size)

    def output_shape(self, x: Shape) -> Shape:
        size, written = self._sizes(), _written(self.size)
        new = len(size) - len(x)
        if new < 0:
            raise ShapeError(f"size={written} has {len(size)} entries but the input "
                             f"{list(x)} has {len(x)} dims: expand can only add dims",
                             arg="size")
        out = []
        for i, s in enumerate(size):
            if s < -1:
                raise ShapeError(f"size={written}: a size is -1 (keep the input's) or at "
                                 f"least 0, not {s}", arg="size")
            if i < new:
                if s == -1:
                    raise ShapeError(f"size={written}: entry {i} is a new dim, which has no "
                                     "size to keep (-1)", arg="size")
                out.append(s)
                continue
            have = x[i - new]
            if s != -1 and have != 1 and s != have:
                raise ShapeError(f"size={written}: entry {i} is {s}, but the input's dim "
                                 f"{i - new} of {list(x)} is {have}; only a dim of 1 expands",
                                 arg="size")
            out.append(have if s == -1 else s)
        return tuple(out)

    def warnings(self, x: Shape, y: Shape) -> list[str]:
        first = self.size[0] if self.size else -1
        if BATCH in self.size or first in (-1, 1) or len(x) != len(self.size) or x[0] != 1:
            return []
        return [f"size={_written(self.size)} fixes dim 0 at {first}: if that is the batch, "
                "write `batch`, which follows --batch"]

    def receptive_field(self, x: Shape, y: Shape, field: Field) -> Field:
        """Broadcasting, as in a merge: new dims in front; one position repeated across a
        map is no grid."""
        return merged((field,), (x,), y)

    def view_strides(self, x: Shape, x_strides: Strides, y: Shape) -> Strides:
        """torch's inferExpandGeometry: a dim expanded from 1 (or new) steps 0; a new dim
        of size 1 steps over what follows it."""
        new = len(y) - len(x)
        strides = [0] * len(y)
        for i in range(len(y) - 1, -1, -1):
            if i >= new:
                size, stride = x[i - new], x_strides[i - new]
            else:
                size, stride = 1, y[i + 1] * strides[i + 1] if i + 1 < len(y) else 1
            strides[i] = 0 if size != y[i] else stride
        return tuple(strides)

    def torch_forward(self, torch, x):
        return x.expand(*self._sizes())

    @classmethod
    def torch_code(cls, xs: list[str], args: dict[str, str]) -> str:
        sizes = args["size"].strip("[]()").replace(repr(BATCH), "batch")
        return f"{xs[0]}.expand({sizes})"

    @classmethod
    def reads_batch(cls, args: dict) -> bool:
        return BATCH in args.get("size", ())


def dims_after_dropping(ndim: int, dropped: set[int]) -> dict[int, int | None]:
    """Where each of ndim dims goes when `dropped` go (None for those)."""
    kept = [d for d in range(ndim) if d not in dropped]
    return {d: kept.index(d) if d in kept else None for d in range(ndim)}


def _written(sizes: tuple) -> str:
    """Sizes as the spec writes them: [batch, -1, -1]."""
    return "[" + ", ".join(str(s) for s in sizes) + "]"


@register("flatten")
@layer_type
class Flatten(ViewOp):
    """nn.Flatten: dims start_dim..end_dim become one (the batch dim stays by default)."""

    start_dim: int = 1
    end_dim: int = -1

    def output_shape(self, x: Shape) -> Shape:
        start = normalize_dim(self.start_dim, len(x), "start_dim")
        end = normalize_dim(self.end_dim, len(x), "end_dim")
        if start > end:
            raise ShapeError(f"start_dim={self.start_dim} comes after end_dim={self.end_dim} "
                             f"for a {len(x)}-D input", arg="start_dim")
        return (*x[:start], prod(x[start:end + 1]), *x[end + 1:])

    def receptive_field(self, x: Shape, y: Shape, field: Field) -> Field:
        return field.reshaped(x, y, "flatten")

    def view_strides(self, x: Shape, x_strides: Strides, y: Shape) -> Strides | None:
        if self.start_dim % len(x) == self.end_dim % len(x):
            return x_strides          # torch.flatten returns its input itself
        return super().view_strides(x, x_strides, y)

    def explain(self, xs: tuple[Shape, ...], y: Shape) -> list[Step]:
        (x,) = xs
        start = normalize_dim(self.start_dim, len(x), "start_dim")
        end = normalize_dim(self.end_dim, len(x), "end_dim")
        merged = x[start:end + 1]
        return [count_step("features", "·".join(f"d{i}" for i in range(start, end + 1)),
                           product(merged), prod(merged))]


def _fill_unknown(sizes: tuple[int, ...], total: int, name: str, what: str) -> tuple[int, ...]:
    """Resolve one -1 so the sizes multiply to `total`, as torch's view does."""
    unknown = [i for i, s in enumerate(sizes) if s == -1]
    if len(unknown) > 1:
        raise ShapeError(f"{name}={list(sizes)}: only one dimension can be -1", arg=name)
    if any(s < -1 for s in sizes):
        raise ShapeError(f"{name}={list(sizes)}: sizes must be -1 or at least 0", arg=name)
    known = prod(s for s in sizes if s != -1)
    if unknown:
        if known == 0 or total % known:
            raise ShapeError(f"{name}={list(sizes)} cannot hold the {total:,} elements of "
                             f"{what}", arg=name)
        return tuple(total // known if s == -1 else s for s in sizes)
    if known != total:
        raise ShapeError(f"{name}={list(sizes)} holds {known:,} elements but {what} has "
                         f"{total:,}", arg=name)
    return sizes


@register("unflatten")
@layer_type
class Unflatten(ViewOp):
    """nn.Unflatten: dim split into unflattened_size."""

    dim: int
    unflattened_size: IntList

    def output_shape(self, x: Shape) -> Shape:
        d = normalize_dim(self.dim, len(x))
        sizes = _fill_unknown(self.unflattened_size, x[d], "unflattened_size", f"dim {d}")
        return (*x[:d], *sizes, *x[d + 1:])

    def receptive_field(self, x: Shape, y: Shape, field: Field) -> Field:
        return field.reshaped(x, y, "unflatten")


@register("reshape")
@layer_type
class Reshape(TensorOp, ViewOp):
    """x.reshape(shape): the shape includes the batch dim; one entry may be -1."""

    shape: IntList

    method = "reshape"
    method_args = ("shape",)

    def output_shape(self, x: Shape) -> Shape:
        return _fill_unknown(self.shape, prod(x), "shape", f"the input {list(x)}")

    def receptive_field(self, x: Shape, y: Shape, field: Field) -> Field:
        return field.reshaped(x, y, self.type_name)

    def warnings(self, x: Shape, y: Shape) -> list[str]:
        if len(x) < 2:
            return []
        if self.shape[0] != -1:
            return [f"shape={list(self.shape)} fixes the batch dim at {self.shape[0]}: with "
                    "another --batch it breaks; write -1 first to keep the batch whatever its "
                    "size"]
        if y[0] != x[0]:     # the -1 absorbed what the other sizes did not: a wrong size
            return [f"shape={list(self.shape)} turns a batch of {x[0]} into {y[0]}: each item "
                    f"of {list(x)} has {prod(x[1:]):,} elements, not "
                    f"{prod(self.shape[1:]):,}"]
        return []


@register("view")
class View(Reshape):
    method = "view"

    def not_viewable(self, x: Shape, x_strides: Strides, y: Shape) -> None:
        raise ShapeError(f"view of {list(x)} as {list(y)} needs memory laid out in one piece, "
                         f"but the input is a permuted view (strides {list(x_strides)}); use "
                         "reshape, which copies when it must", arg="shape")


@register("permute")
@layer_type
class Permute(TensorOp, ViewOp):
    """x.permute(dims): a view with the dims reordered."""

    dims: IntList

    method = "permute"
    method_args = ("dims",)

    def output_shape(self, x: Shape) -> Shape:
        if len(self.dims) != len(x):
            raise ShapeError(f"dims={list(self.dims)} has {len(self.dims)} entries but the "
                             f"input {list(x)} has {len(x)} dims", arg="dims")
        order = [normalize_dim(d, len(x), "dims") for d in self.dims]
        if len(set(order)) != len(order):
            raise ShapeError(f"dims={list(self.dims)} repeats a dim", arg="dims")
        return tuple(x[d] for d in order)

    def receptive_field(self, x: Shape, y: Shape, field: Field) -> Field:
        order = [d % len(x) for d in self.dims]
        return field.moved({d: order.index(d) for d in range(len(x))})

    def view_strides(self, x: Shape, x_strides: Strides, y: Shape) -> Strides:
        return tuple(x_strides[d % len(x)] for d in self.dims)


@register("transpose")
@layer_type
class Transpose(TensorOp, ViewOp):
    """x.transpose(dim0, dim1): a view with two dims swapped."""

    dim0: int
    dim1: int

    method = "transpose"
    method_args = ("dim0", "dim1")

    def output_shape(self, x: Shape) -> Shape:
        a = normalize_dim(self.dim0, len(x), "dim0")
        b = normalize_dim(self.dim1, len(x), "dim1")
        y = list(x)
        y[a], y[b] = y[b], y[a]
        return tuple(y)

    def receptive_field(self, x: Shape, y: Shape, field: Field) -> Field:
        a, b = self.dim0 % len(x), self.dim1 % len(x)
        return field.moved({d: b if d == a else a if d == b else d for d in range(len(x))})

    def view_strides(self, x: Shape, x_strides: Strides, y: Shape) -> Strides:
        strides = list(x_strides)
        a, b = self.dim0 % len(x), self.dim1 % len(x)
        strides[a], strides[b] = strides[b], strides[a]
        return tuple(strides)
