"""An operation of a captured torch model that netcalc has no layer type for.

`netcalc summary model.py:factory` reads a model through torch.export
(torch_bridge/capture.py). Each operation becomes a layer of netcalc's own type
where one exists (torch_bridge/aten.py); the rest are kept as `TorchOp`s,
whose numbers are torch's own, recorded during the capture: the output shape
from the op's meta kernel, the MACs from FlopCounterMode, the parameters and
buffers from the tensors it reads. So the summary stays complete and exact, and
says which operations netcalc only read from torch. A spec file cannot name
this type: a spec's numbers come from netcalc's rules.
"""

from __future__ import annotations

from math import prod
from typing import ClassVar

from ..formulas import contiguous_strides
from .base import Layer, LayerNumbers, Saved, Shape, Strides, layer_type, made
from .field import Field


@layer_type
class TorchOp(Layer):
    """One ATen operation (`aten.cumsum.default`), with the numbers torch gave it."""

    op: str                                   # torch's name of the operation
    shape: tuple                              # its output's, as torch gave it
    op_macs: int = 0                          # FlopCounterMode's flops ÷ 2
    param_counts: tuple = ()                  # ((tensor name, elements), ...)
    buffer_counts: tuple = ()
    view: bool = False                        # returns a view of its first input
    integer_buffers: tuple = ()               # its int64 buffers (position ids), by name

    family: ClassVar[str] = "torch"
    arity: ClassVar[int] = 0

    @property
    def type_name(self) -> str:               # each op is its own type in the table
        return self.op

    @property
    def int64_buffers(self) -> tuple:         # a type's own are fixed; these are the model's
        return self.integer_buffers

    def notation(self) -> str:
        return self.op

    def arguments(self, x: Shape) -> dict:
        return {"op": self.op}

    def evaluate(self, inputs: tuple[Shape, ...],
                 strides: tuple[Strides, ...] | None = None) -> LayerNumbers:
        return LayerNumbers(tuple(self.shape), dict(self.param_counts),
                            dict(self.buffer_counts), self.op_macs,
                            0 if self.view else prod(self.shape),
                            contiguous_strides(tuple(self.shape)))

    def evaluate_field(self, inputs: tuple[Shape, ...], y: Shape,
                       fields: tuple[Field, ...]) -> Field:
        if not fields:
            return Field.of_input(tuple(self.shape)).lost(
                f"{self.op} reads no input of the model")
        return fields[0].lost(f"netcalc has no receptive-field rule for {self.op}")

    def saved_for_backward(self, xs: tuple[Shape, ...], y: Shape) -> list[Saved]:
        # an op with MACs (a matmul, attention) keeps its inputs; others, like
        # elementwise ops, most often keep one input: a rough figure either way
        if self.view:
            return []
        return [Saved("input", i) for i in range(len(xs) if self.op_macs else min(len(xs), 1))]


made(TorchOp)      # no spec names it (capture makes these directly): made at once
