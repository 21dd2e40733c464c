"""`--format csv`: one row per layer, exact integers."""

from __future__ import annotations

import csv
import io

from ..results import Summary
from .units import pixels

COLUMNS = ("name", "type", "depth", "inputs", "output_shape", "params", "trainable_params",
           "weight_params", "bias_params", "buffers", "macs", "flops", "param_bytes",
           "buffer_bytes", "activation_bytes", "rf_kind", "rf_size", "rf_jump", "rf_start")


def render(summary: Summary) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for layer in summary.layers:
        values = {
            "inputs": " ".join(layer.inputs),
            "output_shape": "x".join(str(d) for d in layer.output_shape),
        }
        rf = layer.receptive_field
        if rf is not None:
            values.update(rf_kind=rf.kind, rf_size="x".join(map(str, rf.size)),
                          rf_jump="x".join(map(str, rf.jump)),
                          rf_start="x".join(pixels(s) for s in rf.start))
        writer.writerow([values.get(c, getattr(layer, c, None)) for c in COLUMNS])
    return out.getvalue()
