"""Every layer type netcalc knows, registered by name (see registry.py)."""

from . import activation, conv, linear, norm, pool, resize, tensor  # noqa: F401  (registers)
from .base import Layer, LayerNumbers, Merge, Shape
from .registry import REGISTRY, lookup, unknown_type

__all__ = ["REGISTRY", "Layer", "LayerNumbers", "Merge", "Shape", "lookup", "unknown_type"]
