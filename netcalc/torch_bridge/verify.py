"""`netcalc verify`: run the spec in torch and compare every layer's numbers.

The model is the one `build_model` makes; a forward pass on zeros under
FlopCounterMode, with a hook on every layer, measures each layer's output
shape and MACs, and its module's parameters are counted. On a GPU, timed
runs give latency and `max_memory_allocated` the peak memory.
"""

from __future__ import annotations

import re
import statistics
import time
import warnings

from ..errors import NetcalcError, UsageError, in_layer
from ..results import Summary
from ..verification import LayerCheck, Quantity, Verification
from ..spec.model import ExpandedSpec
from . import available_ram, countable_attention, first_line, flop_counter, import_torch
from .model import build_model

# The share of the free memory a forward pass may plan to use.
MEMORY_HEADROOM = 0.8

# torch's names of the dtypes it may have no kernel for, in its message for that:
# "avg_pool3d_out_frame" not implemented for 'Half' (CPU float16, torch 2.13)
_TORCH_DTYPE_NAMES = {"float16": "Half", "bfloat16": "BFloat16", "float64": "Double"}
_NO_KERNEL = re.compile(r"not implemented for '(\w+)'")


def verify(spec: ExpandedSpec, summary: Summary, device: str = "auto",
           runs: int | None = None) -> Verification:
    torch = import_torch()
    target = _device(torch, device)
    dtype = _torch_dtype(torch, summary.dtype)
    _check_memory(torch, target, summary)

    # no gradients: FlopCounterMode's module tracker cannot hook a parameter a
    # module returns as it is (a `parameter` layer's) under inference_mode
    model = build_model(spec, summary).eval().requires_grad_(False).to(device=target,
                                                                        dtype=dtype)
    inputs = [_zeros(torch, shape, summary.input_dtypes[name], target)
              for name, shape in summary.inputs.items()]
    shapes, counts = _measure(torch, model, spec, inputs, summary.dtype, target)

    root = type(model).__name__
    modules = model.layer_modules()
    seen: set[int] = set()
    checks = [_layer_check(result, modules[result.name], shapes, counts, root, seen)
              for result in summary.layers]
    return _verification(torch, summary, model, checks, sum(counts.get("Global", {}).values()),
                         target, runs, lambda: model(*inputs))


def _layer_check(result, module, shapes: dict, counts: dict, root: str,
                 seen: set[int]) -> LayerCheck:
    """A layer's numbers beside its module's: output shape, parameters (a tied weight
    counts where it is first held, as torch's `parameters()` counts it: `seen` holds
    those counted already), buffers, and FlopCounterMode's MACs under `root`."""
    params = [p for p in module.parameters() if id(p) not in seen]
    seen.update(id(p) for p in params)
    return LayerCheck(
        name=result.name, type=result.type,
        output_shape=Quantity(result.output_shape, shapes.get(result.name)),
        params=Quantity(result.params, sum(p.numel() for p in params)),
        buffers=Quantity(result.buffers, sum(b.numel() for b in module.buffers())),
        macs=Quantity(result.macs, sum(counts.get(f"{root}.{result.name}", {}).values()) // 2))


def _verification(torch, summary: Summary, model, checks: list, flops: int, where,
                  runs: int | None, forward) -> Verification:
    """netcalc's totals beside the model's own, the layers' checks, and `runs` timed
    calls of `forward` (default 10 on a GPU, 3 on the CPU)."""
    totals = summary.totals
    runs = (10 if where.type == "cuda" else 3) if runs is None else runs
    latency, peak = _time(torch, forward, where, runs)
    return Verification(
        name=summary.name, file=summary.file, device=_device_name(torch, where),
        torch_version=torch.__version__.split("+")[0], batch=summary.batch, dtype=summary.dtype,
        layers=tuple(checks),
        params=Quantity(totals.params, sum(p.numel() for p in model.parameters())),
        buffers=Quantity(totals.buffers, sum(b.numel() for b in model.buffers())),
        macs=Quantity(totals.macs, flops // 2),
        # inference's hold (parameters, buffers, the activations' peak): what
        # max_memory_allocated measures of a forward pass
        estimated_bytes=summary.memory.inference_bytes, latency_ms=latency, timed_runs=runs,
        peak_bytes=peak, failed_layers=sum(not check.ok for check in checks),
        estimate_to_peak=summary.memory.inference_bytes / peak if peak else None,
        warnings=summary.warnings)


def _device(torch, device: str):
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: torch sees no GPU here (use --device cpu or auto)")
    return torch.device(device)


def _device_name(torch, target) -> str:
    if target.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(target)})"
    return "cpu"


def _torch_dtype(torch, name: str):
    if name == "int8":
        raise UsageError("--dtype int8: torch runs quantized models through other modules; "
                         "verify with a floating-point dtype")
    return getattr(torch, name)


def _zeros(torch, shape, dtype: str, target):
    return torch.zeros(shape, dtype=getattr(torch, dtype), device=target)


def _check_memory(torch, target, summary: Summary) -> None:
    """Refuse a forward pass that would not fit, before allocating anything.

    netcalc's estimate (inputs, parameters, buffers and every activation) is an
    upper bound: the model frees each tensor after its last use.
    """
    needed = summary.totals.total_bytes
    if target.type == "cuda":
        free, _ = torch.cuda.mem_get_info(target)
        where = "free on the GPU"
    else:
        free = available_ram()
        where = "of available memory"
    if free is not None and needed > MEMORY_HEADROOM * free:
        from ..render.units import size
        raise UsageError(f"the forward pass at batch {summary.batch} may need up to "
                         f"{size(needed)} (inputs, parameters and every activation) and "
                         f"there is {size(free)} {where}: try a smaller --batch or --input")


def _measure(torch, model, spec: ExpandedSpec, inputs, dtype: str, target):
    """Each layer's output shape (by hook) and FlopCounterMode's per-module counts."""

    shapes: dict[str, tuple[int, ...]] = {}
    hooks = []
    for name, module in model.layer_modules().items():
        def record(module, args, output, name=name):
            first = output[0] if isinstance(output, (tuple, list)) else output
            shapes.setdefault(name, tuple(first.shape))
        hooks.append(module.register_forward_hook(record))
    try:
        with torch.inference_mode(), countable_attention(torch), \
                _countable_recurrence(torch, model), flop_counter(torch) as counter:
            _forward(torch, model, spec, inputs, dtype, target)
    finally:
        for hook in hooks:
            hook.remove()
    return shapes, counter.get_flop_counts()


def _countable_recurrence(torch, model):
    """Where the model holds an nn.RNN, nn.LSTM or nn.GRU: oneDNN's and cuDNN's fused
    recurrent kernels off, which FlopCounterMode counts as 0 (a CPU float32 LSTM takes
    oneDNN's); torch's own implementation runs the gate matmuls netcalc counts."""
    import contextlib

    if not any(isinstance(m, torch.nn.RNNBase) for m in model.modules()):
        return contextlib.nullcontext()

    @contextlib.contextmanager
    def context():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")     # flags() sets the deprecated allow_tf32 too
            with torch.backends.mkldnn.flags(enabled=False), \
                    torch.backends.cudnn.flags(enabled=False):
                yield

    return context()


def _forward(torch, model, spec: ExpandedSpec, inputs, dtype: str, target):
    """The forward pass; torch refusing a layer netcalc accepted is a finding, located.

    torch lacking a kernel for the dtype on this device (float16 3-d average
    pooling on the CPU) is not: like a missing tool, it is a usage error."""
    try:
        return model(*inputs)
    except (RuntimeError, ValueError, TypeError) as error:
        layer = _failing_layer(model, error)
        if layer is None:
            raise
        spec_layer = next(s for s in spec.layers if s.name == layer)
        no_kernel = _NO_KERNEL.search(str(error))
        if no_kernel and no_kernel.group(1) == _TORCH_DTYPE_NAMES.get(dtype):
            where = "the CPU" if target.type == "cpu" else "this GPU"
            elsewhere = " or on a GPU (--device cuda)" if target.type == "cpu" else ""
            raise UsageError(
                f"layer '{layer}' ({spec_layer.layer.type_name}): torch "
                f"{torch.__version__.split('+')[0]} cannot run it in {dtype} on {where} "
                f"({first_line(error)}): verify with --dtype float32{elsewhere}; the shapes, "
                "parameters and MACs do not depend on the dtype",
                spec_layer.loc, spec_layer.trace) from None
        raise in_layer(NetcalcError(f"torch refused it: {first_line(error)}"), layer,
                       spec_layer.layer.type_name, spec_layer.loc, spec_layer.trace) from None


def _failing_layer(model, error) -> str | None:
    """The layer whose module raised `error`, from the traceback's frames."""
    modules = {id(module): name for name, module in model.layer_modules().items()}
    traceback = error.__traceback__
    found = None
    while traceback is not None:
        owner = traceback.tb_frame.f_locals.get("self")
        if id(owner) in modules:
            found = modules[id(owner)]
        traceback = traceback.tb_next
    return found


def _time(torch, forward, target, runs: int) -> tuple[float | None, int | None]:
    """Median forward latency over `runs` after a warm-up; peak GPU memory."""
    if runs < 1:
        return None, None
    cuda = target.type == "cuda"
    with torch.inference_mode():
        forward()                      # warm-up: kernels chosen, caches filled
        if cuda:
            torch.cuda.synchronize(target)
            torch.cuda.reset_peak_memory_stats(target)
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            forward()
            if cuda:
                torch.cuda.synchronize(target)
            times.append((time.perf_counter() - start) * 1000)
    peak = torch.cuda.max_memory_allocated(target) if cuda else None
    return statistics.median(times), peak


def verify_model(target: str, kwargs: dict, summary: Summary, device: str = "auto",
                 runs: int | None = None) -> Verification:
    """`netcalc verify model.py:factory`: the user's own model, built for real (random
    weights) on the device and run once under FlopCounterMode; each layer named for a
    module (`layer1.0.conv1`) is checked against that module, and the totals and every
    output against the model's."""

    from .capture import forward_signature, output_name
    from .fx_import import load_module

    torch = import_torch()
    where = _device(torch, device)
    dtype = _torch_dtype(torch, summary.dtype)
    _check_memory(torch, where, summary)
    with torch.device(where):
        model = load_module(target, kwargs).to(dtype=dtype).eval()
    named = {name: _sample(torch, shape, summary.input_dtypes[name], where)
             for name, shape in summary.inputs.items()}
    if "use_cache" in forward_signature(model).parameters:
        named["use_cache"] = False
    modules = dict(model.named_modules())
    shapes: dict[str, tuple] = {}
    calls: dict[str, int] = {}
    hooks = []
    for result in summary.layers:
        if result.name in modules and result.name:
            def record(module, args, output, name=result.name):
                calls[name] = calls.get(name, 0) + 1
                first = output[0] if isinstance(output, (tuple, list)) else output
                if hasattr(first, "shape"):
                    shapes.setdefault(name, tuple(first.shape))
            hooks.append(modules[result.name].register_forward_hook(record))
    try:
        # grad mode on: under no_grad torch takes fused attention kernels FlopCounterMode
        # counts as 0 (countable_attention picks the math path); likewise oneDNN's fused
        # LSTM on the CPU
        # (mkldnn.flags warns about Intel GPUs' TF32; the model's own warnings are no
        # finding of verify's either)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with countable_attention(torch), torch.backends.mkldnn.flags(enabled=False), \
                    flop_counter(torch) as counter:
                returned = model(**named)
    except (RuntimeError, ValueError, TypeError) as error:
        from .capture import user_location
        no_kernel = _NO_KERNEL.search(str(error))
        if no_kernel and no_kernel.group(1) == _TORCH_DTYPE_NAMES.get(summary.dtype):
            # torch lacking a kernel for the dtype on this device is no finding about
            # netcalc's numbers: like a missing tool, a usage error
            device_name = "the CPU" if where.type == "cpu" else "this GPU"
            raise UsageError(
                f"torch {torch.__version__.split('+')[0]} cannot run {type(model).__name__} "
                f"in {summary.dtype} on {device_name} ({first_line(error)}): verify with "
                "--dtype float32; the shapes, parameters and MACs do not depend on the dtype",
                user_location(error)) from None
        raise NetcalcError(f"torch refused to run {type(model).__name__} on {where}: "
                           f"{first_line(error)}", user_location(error)) from None
    finally:
        for hook in hooks:
            hook.remove()
    counts = counter.get_flop_counts()
    root = type(model).__name__
    seen: set[int] = set()
    checks = []
    for result in summary.layers:
        module = modules.get(result.name) if result.name else None
        # a module called twice is two rows (`relu`, `relu_1`) but one count of torch's; one
        # never called has nothing of torch's to compare
        if module is None or calls.get(result.name) != 1:
            continue
        checks.append(_layer_check(result, module, shapes, counts, root, seen))
    from torch.utils._pytree import keystr, tree_flatten_with_path
    for path, value in tree_flatten_with_path(returned)[0]:
        if not hasattr(value, "shape"):
            continue
        key = output_name(keystr(path))
        checks.append(LayerCheck(
            name=f"output {key}", type="output",
            output_shape=Quantity(summary.outputs.get(key), tuple(value.shape)),
            params=Quantity(0, 0), buffers=Quantity(0, 0), macs=Quantity(0, 0)))
    return _verification(torch, summary, model, checks, counter.get_total_flops(), where,
                         runs, lambda: model(**named))


def _sample(torch, shape, dtype: str, where):
    """Zeros for images; token ids within every vocabulary (0..99)."""
    if dtype in ("int64", "int32"):
        return torch.randint(0, 100, shape, dtype=getattr(torch, dtype), device=where)
    return torch.zeros(shape, dtype=getattr(torch, dtype), device=where)
