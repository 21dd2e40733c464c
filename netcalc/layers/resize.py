"""Resizing: upsampling, pixel (un)shuffle and padding layers. 0 MACs."""

from __future__ import annotations

import math
from typing import Any, ClassVar

from ..errors import ShapeError, SpecError
from ..formulas import iterator_strides
from .base import (Floats, IntList, Layer, Shape, SizeOrList, Strides, layer_type, made,
                   parse_int)
from .field import Field
from .registry import register, register_ranked

# F.interpolate's modes and the input ranks each accepts
_MODE_RANKS = {
    "nearest": (3, 4, 5), "nearest-exact": (3, 4, 5), "area": (3, 4, 5),
    "linear": (3,), "bilinear": (4,), "bicubic": (4,), "trilinear": (5,),
}


@register("upsample")
@layer_type
class Upsample(Layer):
    """Output size = size, or ⌊input · scale_factor⌋ per spatial dim (F.interpolate)."""

    size: SizeOrList | None = None
    scale_factor: Floats | None = None
    mode: str = "nearest"
    align_corners: bool | None = None
    recompute_scale_factor: bool | None = None

    family: ClassVar[str] = "resize"
    choices: ClassVar = {"mode": tuple(_MODE_RANKS)}
    layout: ClassVar[str] = "channels_last"

    def check_arguments(self) -> None:
        super().check_arguments()
        if (self.size is None) == (self.scale_factor is None):
            raise ShapeError("give exactly one of size and scale_factor", arg="size")
        if self.align_corners is not None and self.mode in ("nearest", "nearest-exact", "area"):
            raise ShapeError(f"align_corners only applies to the interpolating modes "
                             f"(linear, bilinear, bicubic, trilinear), not mode={self.mode!r}",
                             arg="align_corners")

    def output_shape(self, x: Shape) -> Shape:
        ranks = _MODE_RANKS[self.mode]
        self.expect_rank(x, ranks, "[N, C, ...spatial]")
        spatial = x[2:]
        if self.size is not None:
            out = _per_dim(self.size, len(spatial), "size")
        else:
            scales = _per_dim(self.scale_factor, len(spatial), "scale_factor")
            # F.interpolate: floor(float(input_size) * scale) in double precision
            exact = [float(i) * s for i, s in zip(spatial, scales)]
            if not all(math.isfinite(o) for o in exact):
                raise ShapeError(f"scale_factor={list(scales)} makes the output of {list(spatial)} "
                                 "too large to count", arg="scale_factor")
            out = tuple(math.floor(o) for o in exact)
        if any(o < 1 for o in out):
            raise ShapeError(f"output size {list(out)} from input {list(spatial)} must be at "
                             "least 1 in every dim", arg="size" if self.size else "scale_factor")
        return (*x[:2], *out)

    def receptive_field(self, x: Shape, y: Shape, field: Field) -> Field:
        return resized(field, x, y)


def resized(field: Field, x: Shape, y: Shape) -> Field:
    """Interpolation to the same size passes the field on; to another, output positions
    fall between input units and neighbours share inputs: not defined."""
    if x[2:] == y[2:]:
        return field
    return field.lost(f"resizing {'×'.join(map(str, x[2:]))} to {'×'.join(map(str, y[2:]))} "
                      "puts outputs between input units")


def _per_dim(value: Any, rank: int, name: str) -> tuple:
    if isinstance(value, tuple):
        if len(value) != rank:
            raise ShapeError(f"{name}={list(value)} needs one value per spatial dim ({rank})",
                             arg=name)
        return value
    return (value,) * rank


@layer_type
class _FixedModeUpsample(Layer):
    """UpsamplingNearest2d / UpsamplingBilinear2d: Upsample with the mode fixed."""

    size: SizeOrList | None = None
    scale_factor: Floats | None = None

    family: ClassVar[str] = "resize"
    layout: ClassVar[str] = "channels_last"
    mode: ClassVar[str] = "nearest"
    align_corners: ClassVar[bool | None] = None

    def as_upsample(self) -> Upsample:
        # another type's class: made before it is built (a spec naming only this one)
        return made(Upsample)(self.size, self.scale_factor, self.mode, self.align_corners)

    def check_arguments(self) -> None:
        super().check_arguments()
        self.as_upsample().check_arguments()

    def output_shape(self, x: Shape) -> Shape:
        self.expect_rank(x, (4,), "[N, C, H, W]")
        return self.as_upsample().output_shape(x)

    def receptive_field(self, x: Shape, y: Shape, field: Field) -> Field:
        return resized(field, x, y)


@register("upsamplingnearest2d")
class UpsamplingNearest2d(_FixedModeUpsample):
    pass


@register("upsamplingbilinear2d")
class UpsamplingBilinear2d(_FixedModeUpsample):
    mode, align_corners = "bilinear", True


@register("pixelshuffle")
@layer_type
class PixelShuffle(Layer):
    """[.., C·r², H, W] -> [.., C, H·r, W·r]"""

    upscale_factor: int

    family: ClassVar[str] = "resize"
    positive: ClassVar[tuple[str, ...]] = ("upscale_factor",)

    def output_shape(self, x: Shape) -> Shape:
        self.expect_min_rank(x, 3, "[N, C, H, W]")
        *lead, c, h, w = x
        r = self.upscale_factor
        if c % (r * r):
            raise ShapeError(f"the input's {c} channels are not divisible by upscale_factor² "
                             f"= {r * r}", arg="upscale_factor")
        return (*lead, c // (r * r), h * r, w * r)

    def receptive_field(self, x: Shape, y: Shape, field: Field) -> Field:
        """Each output pixel is one input unit's entry, r outputs to an input unit: not
        defined (r = 1 passes the field on)."""
        if self.upscale_factor == 1:
            return field
        return field.lost(f"pixel shuffle by {self.upscale_factor} puts outputs a fraction "
                          "of an input unit apart")


@register("pixelunshuffle")
@layer_type
class PixelUnshuffle(Layer):
    """[.., C, H·r, W·r] -> [.., C·r², H, W]"""

    downscale_factor: int

    family: ClassVar[str] = "resize"
    positive: ClassVar[tuple[str, ...]] = ("downscale_factor",)

    def output_shape(self, x: Shape) -> Shape:
        self.expect_min_rank(x, 3, "[N, C, H, W]")
        *lead, c, h, w = x
        r = self.downscale_factor
        if h % r or w % r:
            raise ShapeError(f"height {h} and width {w} must be divisible by "
                             f"downscale_factor {r}", arg="downscale_factor")
        return (*lead, c * r * r, h // r, w // r)

    def receptive_field(self, x: Shape, y: Shape, field: Field) -> Field:
        """r × r input units to one output position: the window K = S = r."""
        r = self.downscale_factor
        return field.window(x, (r, r), (r, r), (0, 0), (1, 1))


def _parse_pads(value: Any, rank: int) -> tuple[int, ...]:
    """An int pads every side; a list is (left, right, top, bottom, front, back)."""
    if isinstance(value, list):
        if len(value) != 2 * rank:
            raise SpecError(f"padding needs {2 * rank} values (two per padded dim, last dim "
                            f"first), got {len(value)}", arg="padding")
        return tuple(parse_int(v, "padding") for v in value)
    return (parse_int(value, "padding"),) * (2 * rank)


class _Pad(Layer):
    """Pads the last `rank` dims; torch's padding list starts at the last dim.

    Negative padding crops, as in torch.
    """

    family: ClassVar[str] = "pad"
    crops_first: ClassVar[bool] = False

    @classmethod
    def parse_args(cls, args, other_keys=()):
        args = dict(args)
        if "padding" in args:
            args["padding"] = list(_parse_pads(args["padding"], cls.rank))
        return super().parse_args(args, other_keys)

    def output_shape(self, x: Shape) -> Shape:
        self.expect_rank(x, (self.rank + 1, self.rank + 2), "")
        y = list(x)
        for k in range(self.rank):
            left, right = self.padding[2 * k], self.padding[2 * k + 1]
            dim = len(x) - 1 - k
            self.check_side(x[dim], left, right, k)
            # constant pads crop (negative padding) before they pad: what is left must not
            # be negative; the other modes only need a non-empty result
            cropped = x[dim] + min(left, 0) + min(right, 0) if self.crops_first else 0
            y[dim] = x[dim] + left + right
            if cropped < 0 or y[dim] < 1:
                raise ShapeError(f"padding ({left}, {right}) leaves dim {dim} of size {x[dim]} "
                                 f"with {min(cropped, y[dim])} elements", arg="padding")
        return tuple(y)

    def receptive_field(self, x: Shape, y: Shape, field: Field) -> Field:
        """P more units before the first: start_out = start_in − P·j_in (what they hold,
        zeros or copies, counts as positions outside the input, as a convolution's
        padding does; negative padding crops)."""
        for k in range(self.rank):
            field = field.sliced(len(x) - 1 - k, -self.padding[2 * k])
        return field

    def check_side(self, size: int, left: int, right: int, k: int) -> None:
        """Mode-specific limits for dim k (0 is the last dim)."""

    def output_strides(self, x: Shape, x_strides: Strides, y: Shape) -> Strides:
        if self.crops_first and all(p <= 0 for p in self.padding):
            # constant_pad_nd that only crops clones the cropped view: dense, in its order
            return iterator_strides(y, [(y, x_strides)])
        return super().output_strides(x, x_strides, y)


@layer_type
class _PadWithValue(_Pad):
    """Padding filled with a constant value (nn.ConstantPadNd)."""

    padding: IntList
    value: float          # required, as in torch

    crops_first = True


@layer_type
class _PadOnly(_Pad):
    """Padding whose fill comes from the input or is zero."""

    padding: IntList


class _ZeroPad(_PadOnly):
    crops_first = True


class _ReflectionPad(_PadOnly):
    saves = "input"            # its backward folds the gradient back onto x's positions

    def check_side(self, size: int, left: int, right: int, k: int) -> None:
        if left >= size or right >= size:
            raise ShapeError(f"reflection padding ({left}, {right}) must be smaller than the "
                             f"padded dim's size {size}", arg="padding")


class _ReplicationPad(_PadOnly):
    saves = "input"


class _CircularPad(_PadOnly):
    def check_side(self, size: int, left: int, right: int, k: int) -> None:
        if left > size or right > size:
            raise ShapeError(f"circular padding ({left}, {right}) must not exceed the padded "
                             f"dim's size {size}", arg="padding")
        # (torch also refuses some pads that crop one side and wrap the other, when its
        # internal copy would overlap itself: that depends on the memory layout, and
        # netcalc does not model it)


for _kind, _base in (("Zero", _ZeroPad), ("Constant", _PadWithValue),
                     ("Reflection", _ReflectionPad), ("Replication", _ReplicationPad),
                     ("Circular", _CircularPad)):
    for _rank in (1, 2, 3):
        _name = f"{_kind}Pad{_rank}d"
        # circular and 1-d pads write contiguous results; the others keep channels-last
        register_ranked(_base, _name, _rank, channels_last=_kind != "Circular" and _rank > 1)
