"""Receptive fields: which pixels of the network's input one unit of a tensor sees.

A `Field` flows along the graph beside shapes and layouts: `analyze` gives each
input one, and each layer type's `receptive_field` rule maps what one unit of
its input sees to what one unit of its output sees. The operations here are
what those rules share: a sliding window (the textbook recurrences, in
formulas.receptive_field_out), a slice, dims moved, dims mixed, a reshape, and
the union of several paths.

Kinds:
  local      r (size), j (jump) and start per spatial dim; `dims` are the tensor's
             dims that hold the positions, in order
  flattened  positions folded into other dims (flatten, reshape): each element keeps
             its field's size, but neighbours no longer form a grid; `dims` are the
             dims that hold them now
  whole      every unit sees the whole input (global pooling, a linear layer over
             flattened positions, attention)
  undefined  no single answer (a transposed convolution with stride, upsampling, ...)
  none       sees no input at all (a learned tensor)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from math import prod

from ..formulas import half, receptive_field_out

TYPE_CHECKING = False    # annotations only: importing fractions costs ~3 ms of start-up
if TYPE_CHECKING:
    from fractions import Fraction

LOCAL, FLATTENED, WHOLE, UNDEFINED, NONE = "local", "flattened", "whole", "undefined", "none"

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Field:
    """What one unit of a tensor sees of the input: the receptive field's kind and sizes."""

    kind: str
    dims: tuple[int, ...] = ()           # the tensor dims holding positions
    size: tuple[int, ...] = ()           # r per spatial dim (local, flattened)
    jump: tuple[int, ...] = ()           # j per spatial dim (local)
    start: tuple[int | Fraction, ...] = ()   # centre of the first unit's field per dim
    note: str = ""                       # why it is not local
    origin: str = ""                     # the layer or input where it stopped being local

    @classmethod
    def of_input(cls, shape: Shape) -> "Field":
        """An input [N, C, *spatial]: each unit sees its own pixel, pixel 0's centre is 0."""
        if len(shape) < 3:
            return undefined(f"the input {list(shape)} has no spatial dims (netcalc reads "
                             "[N, C, *spatial])")
        rank = len(shape) - 2
        return cls(LOCAL, tuple(range(2, len(shape))), (1,) * rank, (1,) * rank, (0,) * rank)

    @property
    def placed(self) -> bool:
        """Positions held in some dims (local or flattened): what dims moved, mixed and
        reshaped act on; the other kinds pass through everything unchanged."""
        return self.kind in (LOCAL, FLATTENED)

    def lost(self, note: str) -> "Field":
        """After a layer that breaks the grid (upsampling, ...): undefined, unless the
        field was never a grid (whole, none, already undefined)."""
        return undefined(note) if self.placed else self

    def window(self, x: Shape, kernel: tuple[int, ...], stride: tuple[int, ...],
               padding: tuple[int, ...], dilation: tuple[int, ...]) -> "Field":
        """After a window sliding over x's last len(kernel) dims (padding: the left side's)."""
        if self.kind == FLATTENED:
            return undefined("a window slides over flattened positions, which are no grid")
        if self.kind != LOCAL:
            return self
        slid = tuple(range(len(x) - len(kernel), len(x)))
        if self.dims != slid:
            return undefined(f"the window slides over dims {list(slid)}, but the positions "
                             f"are in dims {list(self.dims)}")
        size, jump, start = zip(*map(receptive_field_out, self.size, self.jump, self.start,
                                     kernel, stride, padding, dilation))
        return Field(LOCAL, self.dims, size, jump, start)

    def sliced(self, dim: int, first: int, step: int = 1) -> "Field":
        """Units first, first + step, ... of `dim` (a slice; a pad of P is first = −P)."""
        if self.kind != LOCAL or dim not in self.dims:
            return self
        i = self.dims.index(dim)
        return replace(self, jump=_put(self.jump, i, self.jump[i] * step),
                       start=_put(self.start, i, self.start[i] + first * self.jump[i]))

    def moved(self, to: dict[int, int | None], why: str = "") -> "Field":
        """Dims renumbered: input dim d is output dim to[d] (None: dropped, size 1)."""
        if not self.placed:
            return self
        new = [to[d] for d in self.dims]
        if new == list(self.dims) == sorted(new):   # every dim where it was (equal ranks)
            return self
        if None in new:
            kept = tuple(sorted(d for d in new if d is not None))
            if self.kind == LOCAL:
                return Field(FLATTENED, kept, self.size, note=f"{why}: a spatial dim is dropped, "
                             "so positions no longer form a grid")
            return replace(self, dims=kept)
        if self.kind == FLATTENED:
            return replace(self, dims=tuple(sorted(new)))
        # a transpose of H and W swaps which spatial dim each tensor dim holds
        order = sorted(range(len(new)), key=new.__getitem__)
        return replace(self, dims=tuple(new[i] for i in order),
                       size=tuple(self.size[i] for i in order),
                       jump=tuple(self.jump[i] for i in order),
                       start=tuple(self.start[i] for i in order))

    def mixed(self, dims, why: str) -> "Field":
        """Each output unit sees every entry of `dims` (a linear layer over its last dim,
        a mean, a softmax, attention)."""
        if not self.placed or not set(dims) & set(self.dims):
            return self
        if set(self.dims) <= set(dims):
            return whole(f"{why}: each unit sees every position")
        apart = sorted(set(self.dims) - set(dims))
        return undefined(f"{why} mixes some of the positions' dims but not dim "
                         f"{', '.join(str(d) for d in apart)}")

    def reshaped(self, x: Shape, y: Shape, why: str) -> "Field":
        """A reshape (row-major): positions survive when the dims from the first one that
        holds them on keep their sizes; else they fold into other dims (flattened)."""
        if not self.placed or not self.dims:
            return self
        first = min(self.dims)
        tail = x[first:]
        if len(y) >= len(tail) and tuple(y[len(y) - len(tail):]) == tuple(tail):
            return self.moved({d: d + len(y) - len(x) for d in self.dims})
        held = prod(tail)            # the elements of one position block, channels-last too
        if held == 0:
            return self
        q = len(y)
        while q > 0 and prod(y[q:]) < held:
            q -= 1
        contained = prod(y[q:]) >= held and prod(y[q:]) % held == 0
        dims = tuple(range(q, len(y))) if contained else tuple(range(1, len(y)))
        if self.kind == FLATTENED:
            return replace(self, dims=dims)
        return Field(FLATTENED, dims, self.size,
                     note=f"{why} folds the spatial dims of {list(x)} into {list(y)}: "
                          "each element keeps its field, but positions no longer form a grid")


def whole(note: str) -> Field:
    return Field(WHOLE, note=note)


def undefined(note: str) -> Field:
    return Field(UNDEFINED, note=note)


def merged(fields: tuple[Field, ...], xs: tuple[Shape, ...], y: Shape,
           concat_dim: int | None = None) -> Field:
    """A merge of several paths (add, mul, concat): each output unit sees the union of
    what its inputs see. Local fields must agree on the dims and the jump; the size is
    the span of the union (the largest r when the paths' centres agree, as they do in
    every network of the spec library), the start its centre."""
    seen = [(f, x) for f, x in zip(fields, xs) if f.kind != NONE]
    if not seen:
        return fields[0]
    for kind in (WHOLE, UNDEFINED):       # whole wins: one path sees everything
        for f, _ in seen:
            if f.kind == kind:
                return f
    # broadcasting aligns the inputs' last dims
    aligned = [(f if len(x) == len(y) else f.moved({d: d + len(y) - len(x) for d in f.dims}),
                x) for f, x in seen]
    kinds = {f.kind for f, _ in aligned}
    if kinds == {FLATTENED}:
        first = aligned[0][0]
        if len({len(f.size) for f, _ in aligned}) > 1:
            return undefined("merges flattened positions of different ranks")
        return replace(first, dims=tuple(sorted({d for f, _ in aligned for d in f.dims})),
                       size=tuple(map(max, zip(*(f.size for f, _ in aligned)))))
    if kinds != {LOCAL}:
        return undefined("merges a grid of positions with flattened positions")
    dims = aligned[0][0].dims
    for f, x in aligned:
        if f.dims != dims:
            return undefined(f"the paths hold positions in different dims ({list(dims)} vs "
                             f"{list(f.dims)})")
        if concat_dim is not None and concat_dim in dims:
            return undefined(f"concatenated along dim {concat_dim}, which holds positions")
        offset = len(y) - len(x)
        if any(x[d - offset] == 1 < y[d] for d in dims):
            return undefined("broadcasts a single position across the map")
    if len(aligned) == 1:
        return aligned[0][0]
    jumps = {f.jump for f, _ in aligned}
    if len(jumps) > 1:
        listed = " vs ".join(str(j[0]) if len(set(j)) == 1 else "×".join(map(str, j))
                             for j in sorted(jumps))
        return undefined(f"the paths disagree on the jump ({listed}): their units do not "
                         "line up")
    size, start = [], []
    for i in range(len(dims)):
        # a field's edges are whole pixels: centre ∓ (r − 1)/2
        low = int(min(f.start[i] - half(f.size[i] - 1) for f, _ in aligned))
        high = int(max(f.start[i] + half(f.size[i] - 1) for f, _ in aligned))
        size.append(high - low + 1)
        start.append(half(low + high))
    size, start = tuple(size), tuple(start)
    for f, _ in aligned:        # one path sees all the others see (a residual's main path)
        if f.size == size and f.start == start:
            return f
    return Field(LOCAL, dims, size, aligned[0][0].jump, start)


def _put(values: tuple, i: int, value) -> tuple:
    return (*values[:i], value, *values[i + 1:])
