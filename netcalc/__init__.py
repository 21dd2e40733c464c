"""netcalc: static analysis of neural network specs (shapes, parameters, MACs, memory)."""

__version__ = "0.1.0"


def __getattr__(name: str):
    # `from netcalc import Network` for Python specs, without importing the
    # spec machinery whenever netcalc is imported
    if name == "Network":
        from .spec.pyspec import Network
        return Network
    raise AttributeError(f"module 'netcalc' has no attribute '{name}'")
