"""The only package that imports torch, and only when its functions run."""

from ..errors import MissingToolError


def import_torch():
    """torch, or a MissingToolError that says how to install it (exit 2)."""
    try:
        import torch
    except ImportError:
        raise MissingToolError("this command needs PyTorch: pip install 'netcalc[torch]'") from None
    return torch
