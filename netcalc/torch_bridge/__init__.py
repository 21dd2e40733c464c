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


def _grouped_mm_flops(a_shape, b_shape, *args, out_shape=None, **kwargs) -> int:
    """aten._grouped_mm: one matmul per group, 2·M·K·N in all. [T, K] rows each meeting one
    group's [K, N] (a mixture's experts: T = tokens·top_k) or batched [G, M, K]·[G, K, N]:
    the output's elements times K; [M, K] · [K, N] with K cut into groups: M·K·N."""
    if len(a_shape) == 2 and len(b_shape) == 2:
        return 2 * a_shape[0] * a_shape[1] * b_shape[1]
    elements = 1
    for size in out_shape:
        elements *= size
    return 2 * elements * a_shape[-1]


# Ops FlopCounterMode has no formula for (it counts them 0) whose matmuls netcalc counts,
# and says so: transformers' mixtures of experts run every expert in one grouped matmul,
# torch's or, on a CPU torch cannot run it on, transformers' own fallback op.
COUNTED_BY_NETCALC = {"aten._grouped_mm.default": _grouped_mm_flops,
                      "transformers.grouped_mm_fallback.default": _grouped_mm_flops}


def flop_counter(torch):
    """FlopCounterMode, with netcalc's formulas for the ops it has none for."""
    from torch.utils.flop_counter import FlopCounterMode

    formulas = {}
    for op, formula in COUNTED_BY_NETCALC.items():
        namespace, name, _ = op.split(".")
        try:            # a library's op exists once the library is imported
            formulas[getattr(getattr(torch.ops, namespace), name)] = formula
        except (AttributeError, RuntimeError):
            continue
    return FlopCounterMode(display=False, custom_mapping=formulas)
