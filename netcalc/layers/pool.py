"""Pooling: max/avg pool and adaptive max/avg pool, 1d/2d/3d.

Pooling counts no MACs in torch's convention (FlopCounterMode counts only
matrix products and convolutions).
"""

from __future__ import annotations

from math import prod
from typing import ClassVar

from ..errors import ShapeError
from ..formulas import pool_out
from .base import DIMS_BY_RANK, Ints, Layer, OutputSize, Saved, Shape, layer_type, per_dim, window
from .field import Field
from .registry import register_ranked
from ..working import Remark, Step, dim_names, window_steps


class _Pool(Layer):
    family: ClassVar[str] = "pool"
    saves: ClassVar[str] = "input"
    keeps_indices: ClassVar[bool] = False     # max pools: where each maximum was, int64

    def saved_for_backward(self, xs: tuple[Shape, ...], y: Shape) -> list[Saved]:
        if self.keeps_indices:
            return [Saved("input"), Saved("new", elements=prod(y), dtype="int64")]
        return super().saved_for_backward(xs, y)

    def spatial(self, x: Shape) -> tuple[Shape, Shape]:
        """(leading dims, spatial dims); torch also takes inputs without the channel dim."""
        self.expect_rank(x, (self.rank + 1, self.rank + 2), DIMS_BY_RANK[self.rank])
        return x[: len(x) - self.rank], x[len(x) - self.rank:]


@layer_type
class _WindowPool(_Pool):
    """A pool that slides a kernel_size window by stride over padded input."""

    kernel_size: Ints
    stride: Ints | None = None      # torch: defaults to kernel_size
    padding: Ints = 0

    positive: ClassVar[tuple[str, ...]] = ("kernel_size", "stride")
    non_negative: ClassVar[tuple[str, ...]] = ("padding",)

    @property
    def strides(self) -> tuple[int, ...]:
        return self.kernel_size if self.stride is None else self.stride

    def notation(self) -> str:
        """maxpool 3×3/2"""
        kind = self.type_name[:-2]
        stride = f"/{per_dim(self.strides)}" if any(s != 1 for s in self.strides) else ""
        return f"{kind} {window(self.kernel_size)}{stride}"

    @property
    def dilations(self) -> tuple[int, ...]:
        return (1,) * self.rank

    def output_shape(self, x: Shape) -> Shape:
        lead, spatial = self.spatial(x)
        out = (
            pool_out(i, k, s, p, d, self.ceil_mode)
            for i, k, s, p, d in zip(spatial, self.kernel_size, self.strides, self.padding,
                                     self.dilations)
        )
        return (*lead, *out)

    def receptive_field(self, x: Shape, y: Shape, field: Field) -> Field:
        """A convolution's window, per spatial dim (ceil_mode only adds a last window at
        the right edge: the first unit and the spacing stay):
        r_out = r_in + (K − 1)·D·j_in;  j_out = j_in·S;
        start_out = start_in + ((K − 1)·D/2 − P)·j_in
        """
        return field.window(x, self.kernel_size, self.strides, self.padding, self.dilations)

    def explain(self, xs: tuple[Shape, ...], y: Shape) -> list[Step]:
        _, spatial = self.spatial(xs[0])
        return window_steps(self.rank, spatial, self.kernel_size, self.strides, self.padding,
                            self.dilations, self.ceil_mode)


@layer_type
class MaxPoolNd(_WindowPool):
    """nn.MaxPool1d/2d/3d: the largest value in each (dilated) window."""

    dilation: Ints = 1
    return_indices: bool = False
    ceil_mode: bool = False

    keeps_indices: ClassVar[bool] = True

    positive: ClassVar[tuple[str, ...]] = ("kernel_size", "stride", "dilation")

    @property
    def dilations(self) -> tuple[int, ...]:
        return self.dilation

    def check_arguments(self) -> None:
        super().check_arguments()
        _reject_indices(self)


@layer_type
class AvgPoolNd(_WindowPool):
    """nn.AvgPool1d: the mean of each window."""

    ceil_mode: bool = False
    count_include_pad: bool = True


@layer_type
class AvgPoolWithDivisor(AvgPoolNd):
    """nn.AvgPool2d/3d: the mean of each window, or its sum over divisor_override."""

    divisor_override: int | None = None

    positive: ClassVar[tuple[str, ...]] = ("kernel_size", "stride", "divisor_override")


class _AvgPool3dInputCheck(AvgPoolWithDivisor):
    def output_shape(self, x: Shape) -> Shape:
        # torch's avg_pool3d (alone among the pools) wants the unpadded input >= kernel
        _, spatial = self.spatial(x)
        if any(i < k for i, k in zip(spatial, self.kernel_size)):
            raise ShapeError(f"input {list(spatial)} is smaller than the kernel "
                             f"{list(self.kernel_size)}", arg="kernel_size")
        return super().output_shape(x)


@layer_type
class _AdaptivePool(_Pool):
    """A pool whose windows are chosen to give output_size."""

    output_size: OutputSize

    def check_arguments(self) -> None:
        super().check_arguments()
        if self.rank == 1 and self.output_size[0] is None:
            raise ShapeError("output_size of 1-d adaptive pooling must be an integer",
                             arg="output_size")
        if any(o is not None and o < 1 for o in self.output_size):
            raise ShapeError(f"output_size={list(self.output_size)} must be at least 1",
                             arg="output_size")

    def notation(self) -> str:
        """adaptiveavgpool → 6×6"""
        sizes = "×".join("*" if o is None else str(o) for o in self.output_size)
        return f"{self.type_name[:-2]} → {sizes}"

    def output_shape(self, x: Shape) -> Shape:
        # output_size None keeps that input dim; bins may overlap when I % O != 0
        lead, spatial = self.spatial(x)
        return (*lead, *(i if o is None else o for i, o in zip(spatial, self.output_size)))

    def receptive_field(self, x: Shape, y: Shape, field: Field) -> Field:
        """O bins over I inputs: when O divides I, the window K = S = I/O (O = I passes the
        field on). Global pooling (O = 1 in every dim) sees the whole input; bins of
        unequal size and spacing (O does not divide I) have no one field (not defined)."""
        spatial, out = x[len(x) - self.rank:], y[len(y) - self.rank:]
        if all(o == 1 for o in out) and any(i > 1 for i in spatial):
            return field.mixed(range(len(x) - self.rank, len(x)), "global pooling")
        if any(i % o for i, o in zip(spatial, out)):
            return field.lost(f"adaptive pooling of {window(spatial)} into {window(out)} "
                              "makes bins of unequal size and spacing")
        bins = tuple(i // o for i, o in zip(spatial, out))
        return field.window(x, bins, bins, (0,) * self.rank, (1,) * self.rank)

    def explain(self, xs: tuple[Shape, ...], y: Shape) -> list[Step]:
        """Bin j of O covers ⌊j·I/O⌋ to ⌈(j + 1)·I/O⌉: I/O each when O divides I."""
        _, spatial = self.spatial(xs[0])
        steps = []
        for name, i, o in zip(dim_names(self.rank), spatial, self.output_size):
            o = i if o is None else o
            sizes = sorted({-(-(j + 1) * i // o) - j * i // o for j in range(o)})
            remark = Remark("adaptive_exact", {"input": i, "output": o, "size": i // o}) \
                if i % o == 0 else Remark("adaptive_uneven", {"input": i, "output": o,
                                                              "sizes": sizes})
            steps.append(Step(f"{name}_out", "output_size", f"{o}", o, (remark,)))
        return steps


class AdaptiveAvgPoolNd(_AdaptivePool):
    def saved_for_backward(self, xs: tuple[Shape, ...], y: Shape) -> list[Saved]:
        """To one value per channel torch takes a mean, which keeps nothing."""
        if all(o == 1 for o in y[len(y) - self.rank:]):
            return []
        return super().saved_for_backward(xs, y)


@layer_type
class AdaptiveMaxPoolNd(_AdaptivePool):
    """nn.AdaptiveMaxPool1d/2d/3d: the largest value of each adaptive window."""

    return_indices: bool = False

    keeps_indices: ClassVar[bool] = True

    def check_arguments(self) -> None:
        super().check_arguments()
        _reject_indices(self)


def _reject_indices(layer: Layer) -> None:
    if layer.return_indices:
        raise ShapeError("return_indices=true returns a tuple, which netcalc does not "
                         "model; leave it false", arg="return_indices")


# (base class for 1d, 2d, 3d; the ranks whose torch kernels keep channels-last layouts)
for _name, _bases, _channels_last in (
    ("MaxPool", (MaxPoolNd, MaxPoolNd, MaxPoolNd), (2, 3)),
    ("AvgPool", (AvgPoolNd, AvgPoolWithDivisor, _AvgPool3dInputCheck), (1, 2)),
    ("AdaptiveAvgPool", (AdaptiveAvgPoolNd,) * 3, (1, 2)),
    ("AdaptiveMaxPool", (AdaptiveMaxPoolNd,) * 3, (1, 2)),
):
    for _rank, _base in zip((1, 2, 3), _bases):
        register_ranked(_base, f"{_name}{_rank}d", _rank, channels_last=_rank in _channels_last)
