"""netcalc: static analysis of neural network specs (shapes, parameters, MACs, memory)."""

__version__ = "0.1.0"
