"""Pooling: max/avg pool and adaptive max/avg pool, 1d/2d/3d.

Pooling counts no MACs in torch's convention (FlopCounterMode counts only
matrix products and convolutions).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..errors import ShapeError
from ..formulas import pool_out
from .base import DIMS_BY_RANK, Ints, Layer, OutputSize, Shape
from .registry import register



class _Pool(Layer):
    family: ClassVar[str] = "pool"

    def spatial(self, x: Shape) -> tuple[Shape, Shape]:
        """(leading dims, spatial dims); torch also takes inputs without the channel dim."""
        self.expect_rank(x, (self.rank + 1, self.rank + 2), DIMS_BY_RANK[self.rank])
        return x[: len(x) - self.rank], x[len(x) - self.rank:]


@dataclass(frozen=True)
class _WindowPool(_Pool):
    kernel_size: Ints
    stride: Ints | None = None      # torch: defaults to kernel_size
    padding: Ints = 0

    positive: ClassVar[tuple[str, ...]] = ("kernel_size", "stride")
    non_negative: ClassVar[tuple[str, ...]] = ("padding",)

    @property
    def strides(self) -> tuple[int, ...]:
        return self.kernel_size if self.stride is None else self.stride

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


@dataclass(frozen=True)
class MaxPoolNd(_WindowPool):
    dilation: Ints = 1
    return_indices: bool = False
    ceil_mode: bool = False

    positive: ClassVar[tuple[str, ...]] = ("kernel_size", "stride", "dilation")

    @property
    def dilations(self) -> tuple[int, ...]:
        return self.dilation

    def check_arguments(self) -> None:
        super().check_arguments()
        _reject_indices(self)


@dataclass(frozen=True)
class AvgPoolNd(_WindowPool):
    ceil_mode: bool = False
    count_include_pad: bool = True


@dataclass(frozen=True)
class AvgPoolWithDivisor(AvgPoolNd):
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


@dataclass(frozen=True)
class _AdaptivePool(_Pool):
    output_size: OutputSize

    def check_arguments(self) -> None:
        super().check_arguments()
        if self.rank == 1 and self.output_size[0] is None:
            raise ShapeError("output_size of 1-d adaptive pooling must be an integer",
                             arg="output_size")
        if any(o is not None and o < 1 for o in self.output_size):
            raise ShapeError(f"output_size={list(self.output_size)} must be at least 1",
                             arg="output_size")

    def output_shape(self, x: Shape) -> Shape:
        # output_size None keeps that input dim; bins may overlap when I % O != 0
        lead, spatial = self.spatial(x)
        return (*lead, *(i if o is None else o for i, o in zip(spatial, self.output_size)))


class AdaptiveAvgPoolNd(_AdaptivePool):
    pass


@dataclass(frozen=True)
class AdaptiveMaxPoolNd(_AdaptivePool):
    return_indices: bool = False

    def check_arguments(self) -> None:
        super().check_arguments()
        _reject_indices(self)


def _reject_indices(layer: Layer) -> None:
    if layer.return_indices:
        raise ShapeError("return_indices=true returns a tuple, which netcalc does not "
                         "model; leave it false", arg="return_indices")


@register("maxpool1d")
class MaxPool1d(MaxPoolNd):
    rank = 1


@register("maxpool2d")
class MaxPool2d(MaxPoolNd):
    rank, layout = 2, "channels_last"


@register("maxpool3d")
class MaxPool3d(MaxPoolNd):
    rank, layout = 3, "channels_last"


@register("avgpool1d")
class AvgPool1d(AvgPoolNd):
    rank, layout = 1, "channels_last"


@register("avgpool2d")
class AvgPool2d(AvgPoolWithDivisor):
    rank, layout = 2, "channels_last"


@register("avgpool3d")
class AvgPool3d(_AvgPool3dInputCheck):
    rank = 3


@register("adaptiveavgpool1d")
class AdaptiveAvgPool1d(AdaptiveAvgPoolNd):
    rank, layout = 1, "channels_last"


@register("adaptiveavgpool2d")
class AdaptiveAvgPool2d(AdaptiveAvgPoolNd):
    rank, layout = 2, "channels_last"


@register("adaptiveavgpool3d")
class AdaptiveAvgPool3d(AdaptiveAvgPoolNd):
    rank = 3


@register("adaptivemaxpool1d")
class AdaptiveMaxPool1d(AdaptiveMaxPoolNd):
    rank, layout = 1, "channels_last"


@register("adaptivemaxpool2d")
class AdaptiveMaxPool2d(AdaptiveMaxPoolNd):
    rank, layout = 2, "channels_last"


@register("adaptivemaxpool3d")
class AdaptiveMaxPool3d(AdaptiveMaxPoolNd):
    rank = 3
