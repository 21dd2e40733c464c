"""`--format markdown`: a table to paste into docs (GitHub, mkdocs)."""

from __future__ import annotations

from ..results import Summary
from . import units


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render(summary: Summary) -> str:
    t = summary.totals
    lines = [
        f"### {_cell(summary.name)}",
        "",
        f"Batch {summary.batch}, {summary.dtype}.",
        "",
        "| Layer | Type | Output shape | Params | MACs |",
        "|---|---|---|---:|---:|",
    ]
    for name, shape in summary.inputs.items():
        lines.append(f"| *{_cell(name)}* | input | {units.shape(shape)} | | |")
    for row in summary.rows:
        indent = "&nbsp;&nbsp;" * row.depth
        name = f"**{_cell(row.name)}**" if row.kind != "layer" else _cell(row.name)
        kind = _cell(row.type) + (f" ×{row.copies}" if row.kind == "repeat" else "")
        params = units.count(row.params) if row.params else "-"
        macs = units.count(row.macs) if row.macs else "-"
        lines.append(f"| {indent}{name} | {kind} | {units.shape(row.output_shape)} | "
                     f"{params} | {macs} |")
    lines += [
        "",
        f"- **Params:** {units.count_and_si(t.params)}; trainable "
        f"{units.count(t.trainable_params)}, non-trainable {units.count(t.non_trainable_params)}",
        f"- **Buffers:** {units.count(t.buffers)}",
        f"- **MACs:** {units.count_and_si(t.macs)}; FLOPs "
        f"{units.count_and_si(t.flops)} = 2 × MACs",
        f"- **Memory:** input {units.size(t.input_bytes)}, activations "
        f"{units.size(t.activation_bytes)}, params {units.size(t.param_bytes)}, buffers "
        f"{units.size(t.buffer_bytes)}; total {units.size(t.total_bytes)}",
        "- **Output:** " + ", ".join(f"{_cell(name)} {units.shape(shape)}"
                                     for name, shape in summary.outputs.items()),
        "",
    ]
    return "\n".join(lines)
