"""Build torch modules from netcalc layers."""

from __future__ import annotations

from ..layers.base import Layer, Shape
from ..layers.tensor import TensorOp
from . import import_torch

# netcalc's own modules, for layers torch.nn has no class for. `export` writes
# this same source into its files, so both build the same module.
OWN_MODULES = {
    "LearnedTensor": '''\
class LearnedTensor(nn.Module):
    """A tensor of parameters that forward returns as it is (a class token, a
    position embedding, a layer scale): netcalc's `parameter` layer."""

    def __init__(self, shape):
        super().__init__()
        self.shape = tuple(shape)
        self.weight = nn.Parameter(torch.empty(self.shape).normal_(std=0.02))

    def forward(self):
        return self.weight''',
}


def build_layer(layer: Layer, input_shapes: tuple[Shape, ...]):
    """The torch module equivalent to `layer` for inputs of these shapes."""
    torch = import_torch()
    if isinstance(layer, TensorOp):
        return _tensor_op_module(torch)(layer)
    x = input_shapes[0] if input_shapes else ()
    if layer.torch_class in OWN_MODULES:
        return own_module(torch, layer.torch_class)(**layer.arguments(x))
    return layer.torch_module(torch.nn, x)


_BUILT: dict[str, type] = {}


def own_module(torch, name: str) -> type:
    """The class OWN_MODULES[name] defines."""
    if name not in _BUILT:
        namespace = {"torch": torch, "nn": torch.nn}
        exec(OWN_MODULES[name], namespace)      # our own constant source, as export writes it
        _BUILT[name] = namespace[name]
    return _BUILT[name]


def _tensor_op_module(torch):
    """A module that runs a TensorOp's `torch_forward` (torch.cat, x + y, ...)."""
    if "TensorOpModule" not in _BUILT:
        class TensorOpModule(torch.nn.Module):
            def __init__(self, layer):
                super().__init__()
                self.layer = layer

            def forward(self, *xs):
                return self.layer.torch_forward(torch, *xs)

            def extra_repr(self) -> str:
                return repr(self.layer)

        _BUILT["TensorOpModule"] = TensorOpModule
    return _BUILT["TensorOpModule"]
