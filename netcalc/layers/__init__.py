"""Every layer type netcalc knows, registered by name (see registry.py).

A type's module is imported when a spec first names the type (`lookup`);
`REGISTRY` here loads them all.
"""

from .base import Layer, LayerNumbers, Merge, Shape
from .registry import all_types, lookup, unknown_type

__all__ = ["REGISTRY", "Layer", "LayerNumbers", "Merge", "Shape", "all_types", "lookup",
           "unknown_type"]


def __getattr__(name: str):
    if name == "REGISTRY":         # every type: load every module
        return all_types()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
