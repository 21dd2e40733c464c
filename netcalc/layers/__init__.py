"""Every layer type netcalc knows, registered by name (see registry.py)."""

from . import (activation, attention, conv, linear, matmul, norm, parameter,  # noqa: F401
               pointwise, pool, resize, tensor, transformer)  # (importing registers them)
from . import recurrent  # noqa: F401  (rnn, lstm, gru)
from .base import Layer, LayerNumbers, Merge, Shape
from .registry import REGISTRY, lookup, unknown_type

__all__ = ["REGISTRY", "Layer", "LayerNumbers", "Merge", "Shape", "lookup", "unknown_type"]
