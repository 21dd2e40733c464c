"""netcalc: static analysis of neural network specs (shapes, parameters, MACs, memory).

In Python (a notebook, a script): `netcalc.summary(spec_or_model, input=...)`,
`netcalc.explain`, `netcalc.check`, `netcalc.check_many` (a class), `netcalc.verify`
(netcalc/api.py); `netcalc.Network` writes a spec in Python; errors in a spec raise
`netcalc.SpecError`.
"""

__version__ = "0.1.0"

# what `netcalc.X` gives, each imported when first asked for: `import netcalc` stays
# instant, and the command line loads only what its command needs
_EXPORTS = {
    "summary": "api", "explain": "api", "check": "api", "check_many": "api", "verify": "api",
    "fit": "api",
    "Network": "spec.pyspec",
    "NetcalcError": "errors", "SpecError": "errors", "UsageError": "errors",
    "MissingToolError": "errors", "Summary": "results", "Fit": "fitting",
    "exercise": "exercises", "Variant": "exercises",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        from importlib import import_module
        return getattr(import_module(f"netcalc.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'netcalc' has no attribute '{name}'")
