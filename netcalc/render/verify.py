"""`verify` output: each layer's numbers with ✓, or both values where they differ."""

from __future__ import annotations

import json

from ..verification import Quantity, Verification
from . import units
from .json import warning_dicts
from .table import box_table

HEADERS = ("Layer", "Type", "Output shape", "Params", "MACs", "")
RIGHT_ALIGNED = (False, False, False, True, True, False)
PASS, FAIL = "✓", "✗"


def _cell(quantity: Quantity, show) -> str:
    if quantity.ok:
        return show(quantity.netcalc)
    measured = "nothing" if quantity.torch is None else show(quantity.torch)
    return f"netcalc {show(quantity.netcalc)} ≠ torch {measured}"


def _mark(ok: bool) -> str:
    return PASS if ok else FAIL


def title(result: Verification) -> str:
    return (f"{result.name} ({result.file}) · batch {result.batch} · {result.dtype} · "
            f"torch {result.torch_version} on {result.device}")


def rows(result: Verification) -> list[tuple[str, ...]]:
    cells = []
    for check in result.layers:
        macs = _cell(check.macs, units.count)
        if not check.buffers.ok:
            macs += f" (buffers: {_cell(check.buffers, units.count)})"
        cells.append((check.name, check.type, _cell(check.output_shape, units.shape),
                      _cell(check.params, units.count), macs, _mark(check.ok)))
    return cells


def footer(result: Verification) -> list[tuple[str, str]]:
    lines = [
        ("Params", f"{_cell(result.params, units.count)} {_mark(result.params.ok)}"),
        ("Buffers", f"{_cell(result.buffers, units.count)} {_mark(result.buffers.ok)}"),
        ("MACs", f"{_cell(result.macs, units.count)} {_mark(result.macs.ok)} "
                 "(torch: FlopCounterMode flops / 2)"),
    ]
    if result.latency_ms is not None:
        lines.append(("Latency", f"{result.latency_ms:.2f} ms median forward over "
                                 f"{result.timed_runs} runs after a warm-up"))
    memory = (f"netcalc estimates {units.size(result.estimated_bytes)} (torch's peak is read "
              "on a GPU)")
    if result.peak_bytes is not None:
        memory = (f"torch peak {units.size(result.peak_bytes)} (max_memory_allocated); "
                  f"netcalc estimates {units.size(result.estimated_bytes)}"
                  + (f" ({result.estimate_to_peak:.2f}× the peak)"
                     if result.estimate_to_peak is not None else ""))
    lines.append(("Memory", memory))
    layers = f"{len(result.layers)} layer{'s' if len(result.layers) != 1 else ''}"
    verdict = (f"{PASS} all {layers} match torch" if result.ok else
               f"{FAIL} {result.failed_layers} of {layers} differ from torch"
               if result.failed_layers else f"{FAIL} the totals differ from torch")
    lines.append(("Result", verdict))
    return lines


def plain_text(result: Verification) -> str:
    return box_table(title(result), HEADERS, RIGHT_ALIGNED, rows(result), footer(result))


def _quantity(quantity: Quantity) -> dict:
    return {"netcalc": quantity.netcalc, "torch": quantity.torch, "ok": quantity.ok}


def as_dict(result: Verification) -> dict:
    return {
        "name": result.name, "file": result.file, "device": result.device,
        "torch_version": result.torch_version, "batch": result.batch, "dtype": result.dtype,
        "ok": result.ok, "failed_layers": result.failed_layers,
        "layers": [{"name": c.name, "type": c.type, "ok": c.ok,
                    "output_shape": _quantity(c.output_shape), "params": _quantity(c.params),
                    "buffers": _quantity(c.buffers), "macs": _quantity(c.macs)}
                   for c in result.layers],
        "totals": {"params": _quantity(result.params), "buffers": _quantity(result.buffers),
                   "macs": _quantity(result.macs)},
        "latency_ms": result.latency_ms, "timed_runs": result.timed_runs,
        "peak_bytes": result.peak_bytes, "estimated_bytes": result.estimated_bytes,
        "estimate_to_peak": result.estimate_to_peak,
        "warnings": warning_dicts(result.warnings),
    }


def render_json(result: Verification) -> str:
    return json.dumps(as_dict(result), ensure_ascii=False, indent=2) + "\n"
