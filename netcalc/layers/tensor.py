"""Tensor operations: views, reductions and merges of several inputs.

Dimension arguments count the batch dim, as torch's do. None of these
counts MACs. Views (flatten, reshape, permute, ...) allocate no new memory.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from math import prod
from typing import ClassVar

from ..errors import ShapeError
from ..formulas import (channels_last_strides, contiguous_strides, is_channels_last,
                        is_contiguous, iterator_strides, view_strides)
from .base import (BATCH, Dims, IntList, Layer, LayerNumbers, Merge, Shape, SizeOrList,
                   SizesOrBatch, Strides, normalize_dim)
from .field import Field, merged
from .registry import register
from ..working import Remark, Step, count_step, product, shape_text


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


class _View(Layer):
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
class Identity(_View):
    def output_shape(self, x: Shape) -> Shape:
        return x

    def receptive_field(self, x: Shape, y: Shape, field: Field) -> Field:
        return field

    def view_strides(self, x: Shape, x_strides: Strides, y: Shape) -> Strides:
        return x_strides


@register("contiguous")
class Contiguous(TensorOp, _View):
    """x.contiguous(): the input itself when it is laid out row-major, else a copy
    that is (after a permute or transpose, so that a `view` can follow)."""

    def output_shape(self, x: Shape) -> Shape:
        return x

    method = "contiguous"

    def receptive_field(self, x: Shape, y: Shape, field: Field) -> Field:
        return field

    def view_strides(self, x: Shape, x_strides: Strides, y: Shape) -> Strides | None:
        return x_strides if is_contiguous(x, x_strides) else None


@register("narrow")
@dataclass(frozen=True)
class Narrow(TensorOp, _View):
    """x.narrow(dim, start, length): `length` entries of one dim from `start` (negative
    counts from the end), a view. x.chunk(2, dim=1)'s halves are two of these."""

    dim: int
    start: int
    length: int

    method = "narrow"
    method_args = ("dim", "start", "length")

    def output_shape(self, x: Shape) -> Shape:
        d = normalize_dim(self.dim, len(x))
        size = x[d]
        if not -size <= self.start <= size:
            raise ShapeError(f"start={self.start} is outside dim {d} of size {size}", arg="start")
        start = self.start + size if self.start < 0 else self.start
        if self.length < 0:
            raise ShapeError(f"length={self.length} must not be negative", arg="length")
        if start + self.length > size:
            raise ShapeError(f"start {start} + length {self.length} runs past dim {d} of size "
                             f"{size}", arg="length")
        return (*x[:d], self.length, *x[d + 1:])

    def receptive_field(self, x: Shape, y: Shape, field: Field) -> Field:
        """Units from `start` on: start_out = start_in + start·j_in on that dim."""
        d = normalize_dim(self.dim, len(x))
        return field.sliced(d, self.start % x[d] if self.start < 0 else self.start)

    def view_strides(self, x: Shape, x_strides: Strides, y: Shape) -> Strides:
        return x_strides          # a slice: the same steps through memory

    def notation(self) -> str:
        return f"narrow dim {self.dim} [{self.start}:+{self.length}]"


@register("squeeze")
@dataclass(frozen=True)
class Squeeze(TensorOp, _View):
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
        return field.moved(_without(len(x), self._dropped(x)), "squeeze")

    def torch_forward(self, torch, x):
        return x.squeeze() if self.dim is None else x.squeeze(self.dim)

    @classmethod
    def torch_code(cls, xs: list[str], args: dict[str, str]) -> str:
        return f"{xs[0]}.squeeze({'' if args['dim'] == 'None' else args['dim']})"


@register("unsqueeze")
@dataclass(frozen=True)
class Unsqueeze(TensorOp, _View):
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


@register("select")
@dataclass(frozen=True)
class Select(TensorOp, _View):
    """x.select(dim, index), which is x[:, index] for dim 1: one entry of a dim,
    the dim dropped (ViT's class token, `x[:, 0]`)."""

    dim: int
    index: int

    method = "select"
    method_args = ("dim", "index")

    def output_shape(self, x: Shape) -> Shape:
        d = normalize_dim(self.dim, len(x))
        if not -x[d] <= self.index < x[d]:
            raise ShapeError(f"index={self.index} is outside dim {d} of size {x[d]}",
                             arg="index")
        return (*x[:d], *x[d + 1:])

    def receptive_field(self, x: Shape, y: Shape, field: Field) -> Field:
        return field.moved(_without(len(x), {normalize_dim(self.dim, len(x))}), "select")

    def view_strides(self, x: Shape, x_strides: Strides, y: Shape) -> Strides:
        d = normalize_dim(self.dim, len(x))
        return (*x_strides[:d], *x_strides[d + 1:])

    def notation(self) -> str:
        return f"select dim {self.dim} [{self.index}]"


@register("slice")
@dataclass(frozen=True)
class Slice(TensorOp, _View):
    """x[..., start:end:step] on one dim, as Python slices it: bounds past the
    ends are clipped, negative ones count from the end; a view."""

    dim: int
    start: int | None = None
    end: int | None = None
    step: int = 1

    positive = ("step",)     # torch refuses negative steps

    def output_shape(self, x: Shape) -> Shape:
        d = normalize_dim(self.dim, len(x))
        return (*x[:d], len(range(*slice(self.start, self.end, self.step).indices(x[d]))),
                *x[d + 1:])

    def view_strides(self, x: Shape, x_strides: Strides, y: Shape) -> Strides:
        d = normalize_dim(self.dim, len(x))
        return (*x_strides[:d], x_strides[d] * self.step, *x_strides[d + 1:])

    def receptive_field(self, x: Shape, y: Shape, field: Field) -> Field:
        """Units first, first + step, ...: start_out = start_in + first·j_in, j_out = j_in·step."""
        d = normalize_dim(self.dim, len(x))
        first, _, _ = slice(self.start, self.end, self.step).indices(x[d])
        return field.sliced(d, first, self.step)

    def torch_forward(self, torch, x):
        return x[self._index(x.dim())]

    def _index(self, ndim: int) -> tuple:
        d = normalize_dim(self.dim, ndim)
        return (slice(None),) * d + (slice(self.start, self.end, self.step),)

    @classmethod
    def torch_code(cls, xs: list[str], args: dict[str, str]) -> str:
        bounds = ":".join("" if args[k] == "None" else args[k] for k in ("start", "end"))
        if args["step"] != "1":
            bounds += f":{args['step']}"
        dim = int(args["dim"])
        # x[:, :, 2:5] for dim 2; x[..., 2:5, :] for dim -2
        index = [":"] * dim + [bounds] if dim >= 0 else ["..."] + [bounds] + [":"] * (-dim - 1)
        return f"{xs[0]}[{', '.join(index)}]"

    def notation(self) -> str:
        start, end = ("" if v is None else v for v in (self.start, self.end))
        return f"slice dim {self.dim} [{start}:{end}{'' if self.step == 1 else f':{self.step}'}]"


@register("expand")
@dataclass(frozen=True)
class Expand(TensorOp, _View):
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


class _Piece(TensorOp, _View):
    """One piece of x.chunk(...) or x.split(...): a slice of one dim, a view.

    A spec entry without `piece` stands for every piece: it expands into one
    layer per piece, `name.0`, `name.1`, ... (or the names it lists, which set
    `pieces`, the count the input must give).
    """

    makes_pieces = True

    def piece_count(self) -> int | None:
        """How many pieces the entry makes, where the arguments alone say (else None)."""
        raise NotImplementedError

    def bounds(self, size: int) -> list[tuple[int, int]]:
        """(start, length) of every piece of a dim of `size`, as torch cuts it."""
        raise NotImplementedError

    def output_shape(self, x: Shape) -> Shape:
        d = normalize_dim(self.dim, len(x))
        pieces = self.bounds(x[d])
        if self.piece is None:
            raise ShapeError("which piece? (`piece: 0` ...; a spec entry without it "
                             "makes every piece)", arg="piece")
        made = (f"{self.describe()} of dim {d} (size {x[d]}) gives {len(pieces)} piece"
                f"{'s' if len(pieces) != 1 else ''} ({', '.join(str(n) for _, n in pieces)})")
        if self.pieces is not None and self.pieces != len(pieces):
            raise ShapeError(f"{made}, but the entry expects {self.pieces} (its names, or "
                             "`pieces`)", arg="name")
        if not -len(pieces) <= self.piece < len(pieces):
            fewer = " (torch makes fewer pieces than chunks when the size runs out)" \
                if isinstance(self, Chunk) else ""
            raise ShapeError(f"piece {self.piece} does not exist: {made}{fewer}", arg="piece")
        return (*x[:d], pieces[self.piece][1], *x[d + 1:])

    def receptive_field(self, x: Shape, y: Shape, field: Field) -> Field:
        """The piece's units from its first on: start_out = start_in + first·j_in."""
        d = normalize_dim(self.dim, len(x))
        return field.sliced(d, self.bounds(x[d])[self.piece][0])

    def view_strides(self, x: Shape, x_strides: Strides, y: Shape) -> Strides:
        return x_strides

    def describe(self) -> str:
        raise NotImplementedError


@register("chunk")
@dataclass(frozen=True)
class Chunk(_Piece):
    """x.chunk(chunks, dim)[piece]: pieces of ⌈size / chunks⌉, the last one shorter;
    torch gives fewer than `chunks` when the size runs out first."""

    chunks: int
    dim: int                       # required: torch's default, 0, is the batch
    piece: int | None = None
    pieces: int | None = None      # the count a name list promises

    positive = ("chunks",)

    def piece_count(self) -> int:
        return self.chunks

    def bounds(self, size: int) -> list[tuple[int, int]]:
        step = -(-size // self.chunks)
        return [(start, min(step, size - start)) for start in range(0, size, step)] \
            if step else [(0, 0)] * self.chunks      # torch: `chunks` empty pieces

    def describe(self) -> str:
        return f"chunk({self.chunks})"

    def torch_forward(self, torch, x):
        return x.chunk(self.chunks, self.dim)[self.piece]

    @classmethod
    def torch_code(cls, xs: list[str], args: dict[str, str]) -> str:
        return f"{xs[0]}.chunk({args['chunks']}, dim={args['dim']})[{args['piece']}]"

    def notation(self) -> str:
        return f"chunk {self.chunks} on dim {self.dim} [{self.piece}]"


@register("split")
@dataclass(frozen=True)
class Split(_Piece):
    """x.split(split_size_or_sections, dim)[piece]: pieces of a size (the last one
    shorter), or of the listed sizes, which must add up to the dim's."""

    split_size_or_sections: SizeOrList
    dim: int                       # required: torch's default, 0, is the batch
    piece: int | None = None
    pieces: int | None = None      # the count a name list promises

    def piece_count(self) -> int | None:
        sections = self.split_size_or_sections
        return len(sections) if isinstance(sections, tuple) else None

    def check_arguments(self) -> None:
        sections = self.split_size_or_sections
        sizes = sections if isinstance(sections, tuple) else (sections,)
        if any(s < 0 for s in sizes) or sizes in ((0,), ()):
            raise ShapeError(f"split_size_or_sections={_listed(sections)}: give one size of at "
                             "least 1, or a list of sizes, none negative",
                             arg="split_size_or_sections")

    def bounds(self, size: int) -> list[tuple[int, int]]:
        sections = self.split_size_or_sections
        if isinstance(sections, tuple):
            if sum(sections) != size:
                raise ShapeError(f"split_size_or_sections={_listed(sections)} adds up to "
                                 f"{sum(sections)}, but the dim has {size}",
                                 arg="split_size_or_sections")
            starts = [sum(sections[:k]) for k in range(len(sections))]
            return list(zip(starts, sections))
        return [(start, min(sections, size - start)) for start in range(0, size, sections)] \
            or [(0, 0)]

    def describe(self) -> str:
        return f"split({_listed(self.split_size_or_sections)})"

    def torch_forward(self, torch, x):
        sections = self.split_size_or_sections
        sections = list(sections) if isinstance(sections, tuple) else sections
        return x.split(sections, self.dim)[self.piece]

    @classmethod
    def torch_code(cls, xs: list[str], args: dict[str, str]) -> str:
        sections = args["split_size_or_sections"].replace("(", "[").replace(")", "]")
        return f"{xs[0]}.split({sections}, dim={args['dim']})[{args['piece']}]"

    def notation(self) -> str:
        return f"split {_listed(self.split_size_or_sections)} on dim {self.dim} [{self.piece}]"


def _without(ndim: int, dropped: set[int]) -> dict[int, int | None]:
    """Where each of ndim dims goes when `dropped` go (None for those)."""
    kept = [d for d in range(ndim) if d not in dropped]
    return {d: kept.index(d) if d in kept else None for d in range(ndim)}


def _written(sizes: tuple) -> str:
    """Sizes as the spec writes them: [batch, -1, -1]."""
    return "[" + ", ".join(str(s) for s in sizes) + "]"


def _listed(value) -> str:
    return str(list(value)) if isinstance(value, tuple) else str(value)


@register("flatten")
@dataclass(frozen=True)
class Flatten(_View):
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
@dataclass(frozen=True)
class Unflatten(_View):
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
@dataclass(frozen=True)
class Reshape(TensorOp, _View):
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
@dataclass(frozen=True)
class Permute(TensorOp, _View):
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
@dataclass(frozen=True)
class Transpose(TensorOp, _View):
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


@dataclass(frozen=True)
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
        return field if self.keepdim else field.moved(_without(len(x), reduced))

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
    ndim = max(len(s) for s in shapes)
    padded = [(1,) * (ndim - len(s)) + tuple(s) for s in shapes]
    out, clashes = [], []
    for dim, sizes in enumerate(zip(*padded)):
        distinct = sorted({s for s in sizes if s != 1})
        if len(distinct) > 1:
            clashes.append(f"dim {dim} is {' vs '.join(str(s) for s in distinct)}")
        out.append(distinct[0] if distinct else 1)
    if clashes:
        listed = " and ".join(str(list(s)) for s in shapes)
        raise ShapeError(f"{op} of {listed}: shapes do not broadcast ({'; '.join(clashes)})")
    return tuple(out)


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
@dataclass(frozen=True)
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
