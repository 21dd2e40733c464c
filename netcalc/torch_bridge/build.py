"""Build torch modules from netcalc layers."""

from __future__ import annotations

from ..layers.base import Layer, Shape
from ..layers.tensor import TensorOp
from . import import_torch


def build_layer(layer: Layer, input_shapes: tuple[Shape, ...]):
    """The torch module equivalent to `layer` for inputs of these shapes."""
    torch = import_torch()
    if isinstance(layer, TensorOp):
        return _tensor_op_module(torch)(layer)
    return layer.torch_module(torch.nn, input_shapes[0])


_TENSOR_OP_MODULE = None


def _tensor_op_module(torch):
    """A module that runs a TensorOp's `torch_forward` (torch.cat, x + y, ...)."""
    global _TENSOR_OP_MODULE
    if _TENSOR_OP_MODULE is None:
        class TensorOpModule(torch.nn.Module):
            def __init__(self, layer):
                super().__init__()
                self.layer = layer

            def forward(self, *xs):
                return self.layer.torch_forward(torch, *xs)

            def extra_repr(self) -> str:
                return repr(self.layer)

        _TENSOR_OP_MODULE = TensorOpModule
    return _TENSOR_OP_MODULE
