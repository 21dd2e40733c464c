"""Learned tensors: parameters a network reads directly rather than through a layer."""

from __future__ import annotations

from math import prod
from typing import ClassVar

from ..errors import ShapeError
from ..formulas import contiguous_strides
from .base import NO_INPUT, IntList, Layer, LayerNumbers, Shape, Strides, layer_type, window
from .field import NONE, Field
from .registry import register


@register("parameter", "learnedtensor")
@layer_type
class Parameter(Layer):
    """A tensor of parameters of the given shape: ViT's class token [1, 1, 768] and
    position embedding [1, 197, 768], ConvNeXt's layer scale [96, 1, 1]. It takes
    no input, and its shape is torch's whole (no batch dim is added): broadcasting
    `add`/`mul`, or `expand` with `batch`, meet the batch.
    """

    shape: IntList

    family: ClassVar[str] = "parameter"
    arity: ClassVar[int] = NO_INPUT
    torch_class: ClassVar[str] = "LearnedTensor"    # netcalc's own: torch_bridge/build.py

    def check_arguments(self) -> None:
        if any(size < 0 for size in self.shape):
            raise ShapeError(f"shape={list(self.shape)}: sizes must not be negative",
                             arg="shape")

    def notation(self) -> str:
        return f"parameter {window(self.shape)}"

    def evaluate(self, inputs: tuple[Shape, ...],
                 strides: tuple[Strides, ...] | None = None) -> LayerNumbers:
        # the tensor is the parameter itself: no activation memory of its own
        return LayerNumbers(self.shape, {"weight": prod(self.shape)}, {}, 0, 0,
                            contiguous_strides(self.shape))

    def evaluate_field(self, inputs: tuple[Shape, ...], y: Shape,
                       fields: tuple[Field, ...]) -> Field:
        """A learned tensor sees no input: merges ignore it."""
        return Field(NONE, note="a learned tensor: it sees no input")
