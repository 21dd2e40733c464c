"""Normalization: batch, instance, layer, group and local response norm.

Shape-preserving and 0 MACs in torch's convention. Learned scale and shift
are parameters; running statistics are buffers, reported apart.
"""

from __future__ import annotations

from math import prod
from typing import ClassVar

from ..errors import ShapeError
from .base import Dims, Layer, Saved, Shape, layer_type
from .field import Field
from .registry import register
from ..working import Remark, Step, count_step, product


class _Norm(Layer):
    family: ClassVar[str] = "norm"
    saves: ClassVar[str] = "input"

    def statistics(self, x: Shape) -> int:
        """How many means (and as many inverse deviations) training keeps, in float32."""
        return 0

    def saved_for_backward(self, xs: tuple[Shape, ...], y: Shape) -> list[Saved]:
        """x, and each statistic's mean and 1/σ."""
        stats = self.statistics(xs[0])
        return [Saved("input"), *([Saved("new", elements=2 * stats, dtype="float32")]
                                  if stats else [])]

    def receptive_field(self, x: Shape, y: Shape, field: Field) -> Field:
        """Each output sees what its own input unit sees: statistics over positions
        (instance, group, layer norm) do not widen the field, as the textbook arithmetic
        has it (batch norm's, at inference, are constants)."""
        return field


class _RunningStatsNorm(_Norm):
    """Shared by batch and instance norm: C-sized weight/bias and running stats."""

    int64_buffers: ClassVar[tuple[str, ...]] = ("num_batches_tracked",)
    ranks: ClassVar[tuple[int, ...]] = ()
    dims: ClassVar[str] = ""            # the expected input, for messages

    def output_shape(self, x: Shape) -> Shape:
        self.expect_rank(x, self.ranks, self.dims)
        self.check_inferred("num_features", x[1], "channel")
        if not self.track_running_stats and self.values_per_statistic(x) < 2:
            # without running stats even inference normalizes with the input's own statistics
            raise ShapeError(f"without running stats each channel's statistics need more than "
                             f"1 value; the input {list(x)} has 1", arg="track_running_stats")
        return x

    def values_per_statistic(self, x: Shape) -> int:
        raise NotImplementedError

    def params(self, x: Shape) -> dict[str, int]:
        return {"weight": x[1], "bias": x[1]} if self.affine else {}

    def buffers(self, x: Shape) -> dict[str, int]:
        if not self.track_running_stats:
            return {}
        return {"running_mean": x[1], "running_var": x[1], "num_batches_tracked": 1}

    def inferred(self, x: Shape) -> dict:
        return {"num_features": x[1]}

    def usual_mistakes(self, xs: tuple[Shape, ...], y: Shape) -> list[tuple[str, str, int, dict]]:
        """The running mean and variance counted as parameters (4·C for 2·C), and the
        batch count num_batches_tracked with them (+ 1)."""
        if not self.track_running_stats:
            return []
        c, right = xs[0][1], sum(self.params(xs[0]).values())
        return [("params", "counted_running_stats", right + 2 * c, {"stats": 2 * c}),
                ("params", "counted_batch_count", right + 1, {})]

    def explain(self, xs: tuple[Shape, ...], y: Shape) -> list[Step]:
        """params = 2·C (a scale γ and a shift β per channel); buffers 2·C + 1 (the
        running mean and variance, and the count of batches seen)."""
        c = xs[0][1]
        steps = []
        if self.affine:
            steps.append(count_step("params", "2·C", f"2·{c}", 2 * c))
        if self.track_running_stats:
            steps.append(count_step("buffers", "2·C + 1", f"2·{c} + 1", 2 * c + 1,
                                    (Remark("buffers_not_params"),)))
        return steps


@layer_type
class BatchNormNd(_RunningStatsNorm):
    """nn.BatchNorm1d/2d/3d: per-channel statistics of the batch, running ones kept."""

    num_features: int | None = None
    eps: float = 1e-5
    momentum: float | None = 0.1
    affine: bool = True
    track_running_stats: bool = True

    def values_per_statistic(self, x: Shape) -> int:
        return x[0] * prod(x[2:])     # per channel, over the batch and space

    def statistics(self, x: Shape) -> int:
        return x[1]


@layer_type
class InstanceNormNd(_RunningStatsNorm):
    """nn.InstanceNorm1d/2d/3d: per-sample, per-channel statistics."""

    num_features: int | None = None
    eps: float = 1e-5
    momentum: float | None = 0.1
    affine: bool = False
    track_running_stats: bool = False

    def values_per_statistic(self, x: Shape) -> int:
        return prod(x[2:])            # per sample and channel, over space

    def statistics(self, x: Shape) -> int:
        return x[0] * x[1]


@register("batchnorm1d")
class BatchNorm1d(BatchNormNd):
    ranks, dims = (2, 3), "[N, C] or [N, C, L]"


@register("batchnorm2d")
class BatchNorm2d(BatchNormNd):
    ranks, dims, layout = (4,), "[N, C, H, W]", "channels_last"


@register("batchnorm3d")
class BatchNorm3d(BatchNormNd):
    ranks, dims, layout = (5,), "[N, C, D, H, W]", "channels_last"


@register("instancenorm1d")
class InstanceNorm1d(InstanceNormNd):
    ranks, dims = (3,), "[N, C, L]"


@register("instancenorm2d")
class InstanceNorm2d(InstanceNormNd):
    ranks, dims = (4,), "[N, C, H, W]"


@register("instancenorm3d")
class InstanceNorm3d(InstanceNormNd):
    ranks, dims = (5,), "[N, C, D, H, W]"


@register("layernorm")
@layer_type
class LayerNorm(_Norm):
    """Normalizes over the last dims, which must equal normalized_shape."""

    normalized_shape: Dims
    eps: float = 1e-5
    elementwise_affine: bool = True
    bias: bool = True

    positive: ClassVar[tuple[str, ...]] = ("normalized_shape",)

    def check_arguments(self) -> None:
        super().check_arguments()
        if not self.normalized_shape:
            raise ShapeError("normalized_shape must name at least one dim",
                             arg="normalized_shape")

    def output_shape(self, x: Shape) -> Shape:
        ns = self.normalized_shape
        if len(ns) > len(x) or tuple(x[len(x) - len(ns):]) != ns:
            raise ShapeError(f"normalized_shape={list(ns)} must equal the input's last "
                             f"{len(ns)} dim{'s' if len(ns) > 1 else ''}; the input is {list(x)}",
                             arg="normalized_shape")
        return x

    def statistics(self, x: Shape) -> int:
        return prod(x[:len(x) - len(self.normalized_shape)])

    def params(self, x: Shape) -> dict[str, int]:
        if not self.elementwise_affine:
            return {}
        size = prod(self.normalized_shape)
        return {"weight": size, "bias": size} if self.bias else {"weight": size}


@register("rmsnorm")
@layer_type
class RMSNorm(_Norm):
    """x / √(mean(x²) + eps) · γ over the last dims (Llama's norm): layer norm without
    the mean's subtraction and without a shift, so a scale γ alone."""

    normalized_shape: Dims
    eps: float | None = None           # None: torch.finfo(x.dtype).eps
    elementwise_affine: bool = True

    positive: ClassVar[tuple[str, ...]] = ("normalized_shape",)
    # torch's CPU kernel keeps a channels-last input's layout, else writes contiguously
    layout: ClassVar[str] = "channels_last"
    # the same dims, checked alike, as layer norm's
    output_shape = LayerNorm.output_shape
    statistics = LayerNorm.statistics

    def check_arguments(self) -> None:
        super().check_arguments()
        if not self.normalized_shape:
            raise ShapeError("normalized_shape must name at least one dim",
                             arg="normalized_shape")

    def params(self, x: Shape) -> dict[str, int]:
        return {"weight": prod(self.normalized_shape)} if self.elementwise_affine else {}

    def saved_for_backward(self, xs: tuple[Shape, ...], y: Shape) -> list[Saved]:
        """x, each row's 1/rms, and (for γ's gradient) x normalized: torch's composite
        rms_norm (the CPU's; its statistics and the normalized x are float32)."""
        (x,) = xs
        normalized = prod(x) if self.elementwise_affine else 0
        return [Saved("input"), Saved("new", elements=self.statistics(x) + normalized,
                                      dtype="float32")]

    def explain(self, xs: tuple[Shape, ...], y: Shape) -> list[Step]:
        """params = the normalized elements: one scale γ each (no shift β)."""
        if not self.elementwise_affine:
            return []
        ns = self.normalized_shape
        formula = "·".join(f"D{i + 1}" for i in range(len(ns))) if len(ns) > 1 else "D"
        return [count_step("params", formula, product(ns), prod(ns),
                           (Remark("rmsnorm_scale_only"),))]


@register("groupnorm")
@layer_type
class GroupNorm(_Norm):
    """nn.GroupNorm: statistics over groups of channels, per sample."""

    num_groups: int
    num_channels: int | None = None
    eps: float = 1e-5
    affine: bool = True

    positive: ClassVar[tuple[str, ...]] = ("num_groups",)
    layout: ClassVar[str] = "channels_last"

    def output_shape(self, x: Shape) -> Shape:
        self.expect_min_rank(x, 2, "[N, C, ...]")
        channels = self.check_inferred("num_channels", x[1], "channel")
        if channels % self.num_groups:
            raise ShapeError(f"num_groups={self.num_groups} does not divide the {channels} "
                             "channels", arg="num_groups")
        return x

    def params(self, x: Shape) -> dict[str, int]:
        return {"weight": x[1], "bias": x[1]} if self.affine else {}

    def statistics(self, x: Shape) -> int:
        return x[0] * self.num_groups

    def inferred(self, x: Shape) -> dict:
        return {"num_channels": x[1]}


@register("localresponsenorm")
@layer_type
class LocalResponseNorm(_Norm):
    """AlexNet's LRN: across `size` neighbouring channels; no parameters."""

    size: int
    alpha: float = 1e-4
    beta: float = 0.75
    k: float = 1.0

    positive: ClassVar[tuple[str, ...]] = ("size",)
    layout: ClassVar[str] = "keep"      # computed elementwise from the input

    def output_shape(self, x: Shape) -> Shape:
        self.expect_min_rank(x, 3, "[N, C, ...]")
        return x
