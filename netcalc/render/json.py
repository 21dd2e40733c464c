"""`--format json`: the machine contract (see README, "JSON output")."""

from __future__ import annotations

import dataclasses
import json

from ..results import MACS_CONVENTION, Summary


def _plain(value):
    """Tuples -> lists, recursively, so JSON shows shapes as arrays."""
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def as_dict(summary: Summary) -> dict:
    return {
        "name": summary.name,
        "file": summary.file,
        "batch": summary.batch,
        "dtype": summary.dtype,
        "dtype_bytes": summary.dtype_bytes,
        "macs_convention": MACS_CONVENTION,
        "inputs": _plain(summary.inputs),
        "layers": [_plain(dataclasses.asdict(layer)) for layer in summary.layers],
        "blocks": [_plain(dataclasses.asdict(row)) for row in summary.rows if row.kind != "layer"],
        "totals": dataclasses.asdict(summary.totals),
        "outputs": _plain(summary.outputs),
    }


def render(summary: Summary) -> str:
    return json.dumps(as_dict(summary), indent=2, ensure_ascii=False) + "\n"
