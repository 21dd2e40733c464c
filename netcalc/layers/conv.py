"""Convolutions: conv1d/2d/3d and convtranspose1d/2d/3d."""

from __future__ import annotations

from math import prod
from typing import ClassVar

from ..errors import ShapeError
from ..formulas import contiguous_strides, conv_out, conv_transpose_out, same_padding
from .base import DIMS_BY_RANK, Ints, Layer, Padding, Shape, Strides, layer_type, per_dim, window
from .field import Field
from .registry import register_ranked
from ..working import (Remark, Step, count_step, dim_names, kernel_symbols, out_symbols,
                       product, same_steps, transposed_steps, window_steps)


class _ConvBase(Layer):
    family: ClassVar[str] = "conv"
    saves: ClassVar[str] = "input"
    positive: ClassVar[tuple[str, ...]] = ("out_channels", "kernel_size", "stride", "dilation",
                                           "groups")
    choices: ClassVar = {"padding_mode": ("zeros", "reflect", "replicate", "circular")}

    def notation(self) -> str:
        """conv 11×11/4, 64 (stride after the slash; dilation, groups when not 1)."""
        name = "convT" if "Transpose" in type(self).__name__ else "conv"
        stride = f"/{per_dim(self.stride)}" if any(s != 1 for s in self.stride) else ""
        extras = "".join([f", dilation {per_dim(self.dilation)}"
                          if any(d != 1 for d in self.dilation) else "",
                          f", groups {self.groups}" if self.groups != 1 else ""])
        return f"{name} {window(self.kernel_size)}{stride}, {self.out_channels}{extras}"

    def input_channels(self, x: Shape) -> int:
        """Checks the rank, `in_channels` and `groups`; returns C_in."""
        self.expect_rank(x, (self.rank + 2,), DIMS_BY_RANK[self.rank])
        c_in = self.check_inferred("in_channels", x[1], "channel")
        for name, channels in (("in_channels", c_in), ("out_channels", self.out_channels)):
            if channels % self.groups:
                raise ShapeError(f"groups={self.groups} does not divide {name} {channels}",
                                 arg="groups")
        return c_in

    def inferred(self, x: Shape) -> dict[str, int]:
        return {"in_channels": x[1]}

    def params(self, x: Shape) -> dict[str, int]:
        # weight: C_out · C_in/g · ∏K (transposed: C_in · C_out/g · ∏K, the same count)
        weight = self.out_channels * (x[1] // self.groups) * prod(self.kernel_size)
        return {"weight": weight, "bias": self.out_channels} if self.bias else {"weight": weight}

    def usual_mistakes(self, xs: tuple[Shape, ...], y: Shape) -> list[tuple[str, str, int, dict]]:
        """A grouped conv's weights counted with all C_in input channels (a depthwise conv
        counted as a full one), and a bias counted where bias=False."""
        (x,) = xs
        slips = []
        if self.groups != 1:
            # C_in·∏K per output channel (or, transposed, C_out·∏K per input element)
            key = "depthwise_as_full" if self.groups == x[1] else "groups_not_divided"
            weight = sum(self.params(x).values()) * self.groups \
                - (self.out_channels * (self.groups - 1) if self.bias else 0)
            slips += [("params", key, weight, {"groups": self.groups}),
                      ("macs", key, self.macs(x, y) * self.groups, {"groups": self.groups})]
        if not self.bias:
            slips.append(("params", "bias_false_counted",
                          sum(self.params(x).values()) + self.out_channels,
                          {"bias": self.out_channels}))
        return slips

    def params_step(self, x: Shape) -> Step:
        """params = (K_h·K_w·C_in/g + 1)·C_out: one weight per kernel tap and input
        channel of the group, one bias, for each output channel."""
        per_group = "C_in/g" if self.groups != 1 else "C_in"
        channels = f"({x[1]}/{self.groups})" if self.groups != 1 else f"{x[1]}"
        taps = f"{product(self.kernel_size)}·{channels}"
        total = sum(self.params(x).values())
        if self.bias:
            return count_step("params", f"({kernel_symbols(self.rank)}·{per_group} + 1)·C_out",
                              f"({taps} + 1)·{self.out_channels}", total)
        return count_step("params", f"{kernel_symbols(self.rank)}·{per_group}·C_out",
                          f"{taps}·{self.out_channels}", total, (Remark("no_bias"),))


@layer_type
class ConvNd(_ConvBase):
    """nn.Conv1d/2d/3d."""

    out_channels: int
    kernel_size: Ints
    stride: Ints = 1
    padding: Padding = 0
    dilation: Ints = 1
    groups: int = 1
    bias: bool = True
    padding_mode: str = "zeros"
    in_channels: int | None = None

    def check_arguments(self) -> None:
        super().check_arguments()
        if self.padding == "same" and any(s != 1 for s in self.stride):
            raise ShapeError("padding='same' is not supported for strided convolutions "
                             f"(stride={list(self.stride)})", arg="padding")
        if not isinstance(self.padding, str) and any(p < 0 for p in self.padding):
            raise ShapeError(f"padding={list(self.padding)} must not be negative", arg="padding")

    def output_strides(self, x: Shape, x_strides: Strides, y: Shape) -> Strides:
        if self.padding_mode == "circular":
            return contiguous_strides(y)    # torch pads circularly first, into a new tensor
        return _layout(self, x, x_strides, y, super().output_strides)

    def check_padding_mode(self, x: Shape) -> None:
        """Reflect padding must be smaller than the input; circular may not wrap twice."""
        limits = {"reflect": ("smaller than", lambda p, i: p < i),
                  "circular": ("at most", lambda p, i: p <= i)}
        if self.padding_mode not in limits:
            return
        wording, ok = limits[self.padding_mode]
        for i, (left, right) in zip(x[2:], self.padding_pairs()):
            if not (ok(left, i) and ok(right, i)):
                raise ShapeError(f"padding_mode={self.padding_mode!r} needs padding {wording} "
                                 f"the input size {i}, got {max(left, right)}", arg="padding")

    def padding_pairs(self) -> tuple[tuple[int, int], ...]:
        """(left, right) padding per spatial dim; 'same' may be asymmetric."""
        if self.padding == "same":
            return tuple(same_padding(k, d) for k, d in zip(self.kernel_size, self.dilation))
        if self.padding == "valid":
            return ((0, 0),) * self.rank
        return tuple((p, p) for p in self.padding)

    def output_shape(self, x: Shape) -> Shape:
        self.input_channels(x)
        self.check_padding_mode(x)
        if self.padding == "same":
            return (x[0], self.out_channels, *x[2:])
        spatial = (
            # symmetric padding: conv_out's 2P; 'valid' is P = 0
            conv_out(i, k, s, left, d)
            for i, k, s, (left, _), d in zip(x[2:], self.kernel_size, self.stride,
                                             self.padding_pairs(), self.dilation)
        )
        return (x[0], self.out_channels, *spatial)

    def macs(self, x: Shape, y: Shape) -> int:
        # each output element: C_in/g · ∏K multiply-accumulates (bias adds are not counted)
        return prod(y) * (x[1] // self.groups) * prod(self.kernel_size)

    def receptive_field(self, x: Shape, y: Shape, field: Field) -> Field:
        """Per spatial dim, P the left padding (padding_mode's values count as positions
        outside the input, as zeros do):
        r_out = r_in + (K − 1)·D·j_in;  j_out = j_in·S;
        start_out = start_in + ((K − 1)·D/2 − P)·j_in
        """
        left = tuple(left for left, _ in self.padding_pairs())
        return field.window(x, self.kernel_size, self.stride, left, self.dilation)

    def explain(self, xs: tuple[Shape, ...], y: Shape) -> list[Step]:
        (x,) = xs
        if self.padding == "same":
            sizes = same_steps(self.rank, x[2:], self.kernel_size, self.dilation)
        else:
            sizes = window_steps(self.rank, x[2:], self.kernel_size, self.stride,
                                 [left for left, _ in self.padding_pairs()], self.dilation)
        per_group = "C_in/g" if self.groups != 1 else "C_in"
        batch = "N·" if y[0] != 1 else ""
        macs = count_step(
            "MACs", f"{batch}{out_symbols(self.rank)}·C_out · ({kernel_symbols(self.rank)}·"
                    f"{per_group})",
            f"{product([*y[:1] * (y[0] != 1), *y[2:], y[1]])} · "
            f"({product(self.kernel_size)}·{x[1] // self.groups})",
            self.macs(x, y), (Remark("bias_not_counted"),) if self.bias else ())
        return [*sizes, self.params_step(x), macs]


def _layout(layer, x: Shape, x_strides: Strides, y: Shape, by_type) -> Strides:
    """torch's CPU 3-d convolutions, plain and transposed, write a contiguous output for
    a batch of one, whatever the input's layout (torch 2.13, checked by the layer tests)."""
    if layer.rank == 3 and x[0] == 1:
        return contiguous_strides(y)
    return by_type(x, x_strides, y)


@layer_type
class ConvTransposeNd(_ConvBase):
    """nn.ConvTranspose1d/2d/3d."""

    out_channels: int
    kernel_size: Ints
    stride: Ints = 1
    padding: Ints = 0
    output_padding: Ints = 0
    groups: int = 1
    bias: bool = True
    dilation: Ints = 1
    padding_mode: str = "zeros"
    in_channels: int | None = None

    non_negative: ClassVar[tuple[str, ...]] = ("padding", "output_padding")
    choices: ClassVar = {"padding_mode": ("zeros",)}

    def output_strides(self, x: Shape, x_strides: Strides, y: Shape) -> Strides:
        return _layout(self, x, x_strides, y, super().output_strides)

    def output_shape(self, x: Shape) -> Shape:
        self.input_channels(x)
        spatial = (
            conv_transpose_out(i, k, s, p, d, op)
            for i, k, s, p, d, op in zip(x[2:], self.kernel_size, self.stride, self.padding,
                                         self.dilation, self.output_padding)
        )
        return (x[0], self.out_channels, *spatial)

    def macs(self, x: Shape, y: Shape) -> int:
        # the transpose of a conv: each INPUT element meets C_out/g · ∏K weights
        return prod(x) * (self.out_channels // self.groups) * prod(self.kernel_size)

    def usual_mistakes(self, xs: tuple[Shape, ...], y: Shape) -> list[tuple[str, str, int, dict]]:
        """The convolution's own slips, and the output size by the ordinary convolution's
        formula ⌊(I + 2P − D(K − 1) − 1) / S⌋ + 1 instead of the transposed one."""
        slips = super().usual_mistakes(xs, y)
        (x,) = xs
        try:
            as_conv = tuple(conv_out(i, k, s, p, d) for i, k, s, p, d in zip(
                x[2:], self.kernel_size, self.stride, self.padding, self.dilation))
        except ShapeError:            # the kernel outgrows the input: no such wrong size
            return slips
        return [*slips, ("output", "transposed_as_conv", (*y[:2], *as_conv), {})]

    def receptive_field(self, x: Shape, y: Shape, field: Field) -> Field:
        """With stride 1, the convolution padded D(K − 1) − P:
        r_out = r_in + (K − 1)·D·j_in;  start_out = start_in + (P − (K − 1)·D/2)·j_in.
        With a stride S > 1, outputs are 1/S of an input unit apart and neighbours see
        different numbers of inputs: no one field describes them (not defined).
        """
        if any(s != 1 for s in self.stride):
            return field.lost(f"a transposed convolution with stride {per_dim(self.stride)} "
                              "puts its outputs a fraction of an input unit apart, and "
                              "neighbouring outputs see different numbers of inputs")
        padding = tuple(d * (k - 1) - p
                        for k, p, d in zip(self.kernel_size, self.padding, self.dilation))
        return field.window(x, self.kernel_size, self.stride, padding, self.dilation)

    def explain(self, xs: tuple[Shape, ...], y: Shape) -> list[Step]:
        (x,) = xs
        sizes = transposed_steps(self.rank, x[2:], self.kernel_size, self.stride,
                                 self.padding, self.dilation, self.output_padding)
        per_group = "C_out/g" if self.groups != 1 else "C_out"
        batch = "N·" if x[0] != 1 else ""
        ins = "·".join(f"{d}_in" for d in dim_names(self.rank))
        macs = count_step(
            "MACs", f"{batch}C_in·{ins} · ({per_group}·{kernel_symbols(self.rank)})",
            f"{product([*x[:1] * (x[0] != 1), x[1], *x[2:]])} · "
            f"({self.out_channels // self.groups}·"
            f"{product(self.kernel_size)})", self.macs(x, y))
        return [*sizes, self.params_step(x), macs]


# torch's 2-d and 3-d kernels keep a channels-last input's layout; the 1-d ones do not
for _rank in (1, 2, 3):
    register_ranked(ConvNd, f"Conv{_rank}d", _rank, channels_last=_rank > 1)
    register_ranked(ConvTransposeNd, f"ConvTranspose{_rank}d", _rank, channels_last=_rank > 1)
