"""The default `summary` output: a rich table, one row per layer, and totals."""

from __future__ import annotations

from ..results import Summary
from . import units

FAMILY_STYLE = {
    "conv": "cyan", "linear": "magenta", "norm": "green", "activation": "yellow",
    "pool": "blue", "merge": "red", "block": "bold", "dropout": "dim", "reshape": "dim",
    "embedding": "magenta", "resize": "blue", "pad": "blue", "reduce": "blue",
}
_NONE = "-"


def renderable(summary: Summary):
    """A rich renderable: the layer table and the totals under it."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    table = Table(title=_title(summary), title_justify="left", title_style="bold",
                  header_style="bold", expand=False)
    table.add_column("Layer", no_wrap=True)
    table.add_column("Type", no_wrap=True)
    table.add_column("Output shape", no_wrap=True)
    table.add_column("Params", justify="right", no_wrap=True)
    table.add_column("MACs", justify="right", no_wrap=True)

    for name, shape in summary.inputs.items():
        table.add_row(Text(name, style="italic"), Text("input", style="dim"),
                      units.shape(shape), "", "")
    for row in summary.rows:
        indent = "  " * row.depth
        label = row.name + (" …" if row.collapsed else "")
        type_text = row.type + (f" ×{row.copies}" if row.kind == "repeat" else "")
        bold = "bold" if row.kind != "layer" else ""
        table.add_row(
            Text(indent + label, style=bold),
            Text(type_text, style=FAMILY_STYLE.get(row.family, "")),
            units.shape(row.output_shape),
            Text(units.count(row.params) if row.params else _NONE, style=bold),
            Text(units.count(row.macs) if row.macs else _NONE, style=bold),
        )
    return Group(table, _footer(summary))


def _title(summary: Summary) -> str:
    return f"{summary.name} ({summary.file}) · batch {summary.batch} · {summary.dtype}"


def _footer(summary: Summary):
    from rich.table import Table

    t = summary.totals
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    grid.add_row("Params", f"{units.count(t.params)} ({units.si(t.params)}): "
                           f"{units.count(t.trainable_params)} trainable, "
                           f"{units.count(t.non_trainable_params)} non-trainable; "
                           f"weights {units.count(t.weight_params)}, "
                           f"biases {units.count(t.bias_params)}")
    grid.add_row("Buffers", f"{units.count(t.buffers)} (running statistics; not parameters)")
    grid.add_row("MACs", f"{units.count(t.macs)} ({units.si(t.macs)})")
    grid.add_row("FLOPs", f"{units.count(t.flops)} ({units.si(t.flops)}) = 2 × MACs, "
                          "as torch's FlopCounterMode counts")
    grid.add_row("Memory", f"input {units.size(t.input_bytes)} + activations "
                           f"{units.size(t.activation_bytes)} + params "
                           f"{units.size(t.param_bytes)} + buffers {units.size(t.buffer_bytes)} "
                           f"= {units.size(t.total_bytes)}")
    outputs = ", ".join(f"{name} {units.shape(shape)}" for name, shape in summary.outputs.items())
    grid.add_row("Output", outputs)
    return grid

