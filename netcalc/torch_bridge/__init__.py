"""The only package that imports torch, and only when its functions run."""

from ..errors import MissingToolError


def import_torch():
    """torch, or a MissingToolError that says how to install it (exit 2)."""
    import warnings

    # torch warns at import when numpy is missing; netcalc never hands it arrays
    warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
    try:
        import torch
    except ImportError:
        raise MissingToolError(
            "this command needs PyTorch: in a netcalc checkout, pip install -c "
            "constraints.txt '.[torch]' (the pinned CPU build; PyPI's default torch is a "
            "CUDA build of several GB); for the published package, "
            "pip install 'netcalc-nn[torch]'") from None
    return torch


def first_line(error: BaseException) -> str:
    """The first line of an exception's message (torch's run on for pages)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def available_ram() -> int | None:
    """Bytes of memory free for a new allocation (Linux's MemAvailable), or None."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def countable_attention(torch):
    """A context in which attention runs where FlopCounterMode can count it.

    torch's fused inference path for nn.MultiheadAttention and
    nn.TransformerEncoderLayer, and its fused scaled-dot-product kernels on the
    CPU, are single ops FlopCounterMode has no formula for: they count 0. The
    math path computes the same thing with the matmuls it counts.
    """
    import contextlib

    from torch.nn.attention import SDPBackend, sdpa_kernel

    @contextlib.contextmanager
    def context():
        was = torch.backends.mha.get_fastpath_enabled()
        torch.backends.mha.set_fastpath_enabled(False)
        try:
            with sdpa_kernel(SDPBackend.MATH):
                yield
        finally:
            torch.backends.mha.set_fastpath_enabled(was)

    return context()
