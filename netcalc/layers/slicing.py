"""Parts of a tensor: narrow, select, slice, and the pieces of chunk and split. Each
is a view of its input; dimension arguments count the batch dim.
"""

from __future__ import annotations


from ..errors import ShapeError
from .base import Shape, SizeOrList, Strides, layer_type, normalize_dim
from .field import Field
from .registry import register
from .tensor import TensorOp, ViewOp, dims_after_dropping


@register("narrow")
@layer_type
class Narrow(TensorOp, ViewOp):
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


@register("select")
@layer_type
class Select(TensorOp, ViewOp):
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
        return field.moved(dims_after_dropping(len(x), {normalize_dim(self.dim, len(x))}), "select")

    def view_strides(self, x: Shape, x_strides: Strides, y: Shape) -> Strides:
        d = normalize_dim(self.dim, len(x))
        return (*x_strides[:d], *x_strides[d + 1:])

    def notation(self) -> str:
        return f"select dim {self.dim} [{self.index}]"


@register("slice")
@layer_type
class Slice(TensorOp, ViewOp):
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


class _Piece(TensorOp, ViewOp):
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
@layer_type
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
@layer_type
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


def _listed(value) -> str:
    return str(list(value)) if isinstance(value, tuple) else str(value)
