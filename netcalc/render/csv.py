"""`--format csv`: one row per layer, exact integers."""

from __future__ import annotations

import csv
import io

from ..results import Summary

COLUMNS = ("name", "type", "depth", "inputs", "output_shape", "params", "trainable_params",
           "weight_params", "bias_params", "buffers", "macs", "flops", "param_bytes",
           "buffer_bytes", "activation_bytes")


def render(summary: Summary) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for layer in summary.layers:
        values = {
            "inputs": " ".join(layer.inputs),
            "output_shape": "x".join(str(d) for d in layer.output_shape),
        }
        writer.writerow([values.get(c, getattr(layer, c, None)) for c in COLUMNS])
    return out.getvalue()
