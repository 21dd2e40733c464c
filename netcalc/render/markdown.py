"""`--format markdown`: a table to paste into docs (GitHub, mkdocs)."""

from __future__ import annotations

from ..results import Summary
from . import units
from .table import (causal_footer, degree_footer, kv_cache_footer, memory_footer,
                    params_footer)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render(summary: Summary, show: tuple[str, ...] = ()) -> str:
    """`show` may hold "rf": the receptive field's columns (`--show rf`)."""
    t = summary.totals
    rf = "rf" in show
    extra = units.RF_HEADERS if rf else ()
    lines = [
        f"### {_cell(summary.name)}",
        "",
        f"Batch {summary.batch}, {summary.dtype}.",
        "",
        "| " + " | ".join(("Layer", "Type", "Output shape", "Params", "MACs", *extra)) + " |",
        "|---|---|---|---:|---:|" + "---:|" * len(extra),
    ]
    for name, shape in summary.inputs.items():
        lines.append(f"| *{_cell(name)}* | input | {units.shape(shape)} | | |" + " |" * len(extra))
    for row in summary.rows:
        indent = "&nbsp;&nbsp;" * row.depth
        name = f"**{_cell(row.name)}**" if row.kind != "layer" else _cell(row.name)
        kind = _cell(row.type) + (f" ×{row.copies}" if row.kind == "repeat" else "")
        params = units.count(row.params) if row.params else "-"
        macs = units.count(row.macs) if row.macs else "-"
        cells = "".join(f" {_cell(c)} |" for c in units.rf_cells(row.receptive_field)) \
            if rf else ""
        lines.append(f"| {indent}{name} | {kind} | {units.shape(row.output_shape)} | "
                     f"{params} | {macs} |{cells}")
    lines += [
        "",
        f"- **Params:** {units.count_and_si(t.params)}; trainable "
        f"{units.count(t.trainable_params)}, non-trainable {units.count(t.non_trainable_params)}",
        *(f"  - {text}" for _, text in params_footer(summary)),
        f"- **Buffers:** {units.count(t.buffers)}",
        f"- **MACs:** {units.count_and_si(t.macs)}; FLOPs "
        f"{units.count_and_si(t.flops)} = 2 × MACs",
        *(f"  - {text}" for _, text in [*degree_footer(summary), *causal_footer(summary)]),
        *(f"- **{'Memory' if not label else label}:** {text}"
          for label, text in memory_footer(summary)),
        *(f"- **{'KV cache' if label else 'Generation'}:** {text}"
          for label, text in kv_cache_footer(summary)),
        "- **Output:** " + ", ".join(f"{_cell(name)} {units.shape(shape)}"
                                     for name, shape in summary.outputs.items()),
    ]
    if rf:
        notes = units.rf_notes([row.receptive_field for row in summary.rows])
        lines += [f"- **RF:** {units.RF_LEGEND}", *(f"  - {_cell(note)}" for note in notes)]
    lines.append("")
    return "\n".join(lines)
