"""Per-layer shapes, parameters, MACs and memory of a spec: `netcalc summary`."""

from __future__ import annotations

import sys

import click

from ..command_line import (SPEC_PATH, emit, kwargs_option, load_and_analyze, output_option)
from ..dtypes import MODEL_DTYPES
from ..errors import UsageError

FORMATS = ("table", "json", "markdown", "csv")
SUMMARY_SHOWABLE = ("rf",)     # summary --show: extra table and markdown columns
# rich lays out about a thousand rows a second; longer tables are written directly
RICH_TABLE_ROWS = 5_000


@click.command()
@click.argument("spec", type=SPEC_PATH)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
              help="Output format.")
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True,
              help="Batch size N (shapes in the spec leave it out).")
@click.option("--input", "input_shapes", multiple=True, metavar="SHAPE",
              help="Override the input shape: 3x224x224, or name=3x224x224 for a named input.")
@click.option("--dtype", type=click.Choice(list(MODEL_DTYPES)), default="float32",
              show_default=True, help="Element type for the memory figures.")
@click.option("--depth", type=click.IntRange(min=1), default=None,
              help="Table and markdown: show this many levels of blocks; deeper layers fold into "
                   "their block's row.")
@click.option("--show", default="", metavar="rf",
              help="Table and markdown: extra columns, comma-separated; rf: each layer's "
                   "receptive field, jump and start (JSON and CSV always carry them).")
@click.option("--optimizer", type=click.Choice(("sgd", "momentum", "adam", "adamw")),
              default="adam", show_default=True,
              help="Training memory: the optimizer whose state it holds.")
@click.option("--amp", is_flag=True,
              help="Training memory with mixed precision: float16/bfloat16 activations, float32 "
                   "master weights.")
@click.option("--checkpoint", multiple=True, metavar="BLOCK",
              help="Training memory with activation checkpointing of these blocks (a name or a "
                   "pattern, 'encoder.layers.*'; a repeat: each copy; repeatable): only their "
                   "inputs are kept for backward.")
@click.option("--kv-cache", "kv_context", type=click.IntRange(min=1), default=None,
              metavar="CONTEXT",
              help="Generation memory: the KV cache a decoder keeps per sequence at CONTEXT "
                   "tokens (2·layers·kv_heads·head_dim·CONTEXT·dtype bytes), for --batch and "
                   "--dtype.")
@output_option
@kwargs_option
def summary(spec: str, fmt: str, batch: int, input_shapes: tuple[str, ...], dtype: str,
            depth: int | None, show: str, optimizer: str, amp: bool,
            checkpoint: tuple[str, ...], kv_context: int | None, output: str | None,
            kwargs: str | None) -> None:
    """Per-layer output shapes, parameters and MACs of SPEC, with totals.

    SPEC is a YAML file ('-' reads standard input), a Python spec (model.py),
    or a torch module to trace, path/to/file.py:ClassName with --input (needs
    PyTorch).
    """
    shown = tuple(part.strip() for part in show.split(",") if part.strip())
    unknown = [part for part in shown if part not in SUMMARY_SHOWABLE]
    if unknown:
        raise UsageError(f"--show {','.join(unknown)}: choose from "
                         f"{', '.join(SUMMARY_SHOWABLE)}")
    # summary alone takes sizes as letters (3xHxW): it needs no number to write a formula
    _, result = load_and_analyze(spec, input_shapes, batch, dtype, depth, kwargs, letters=True,
                                 training=(optimizer, amp, checkpoint), kv_context=kv_context)
    if fmt == "table":
        from ..render import table
        if output is None and sys.stdout.isatty() and len(result.rows) <= RICH_TABLE_ROWS:
            from rich.console import Console
            from ..render.console import natural_width
            console = Console(highlight=False)
            # names and types fold to fit the terminal; too narrow even for the counts,
            # the table keeps its width and the terminal wraps its lines: nothing is cut
            if table.narrowest(result, shown) <= console.width:
                console.print(table.renderable(result, shown, console.width))
            else:
                target = table.renderable(result, shown)
                Console(highlight=False, width=natural_width(target)).print(target)
        else:
            emit(table.plain_text(result, shown), output)
        return
    if fmt == "markdown":
        from ..render.markdown import render as render_markdown
        emit(render_markdown(result, shown), output)
        return
    if fmt == "json":
        from ..render.json import chunks
        emit(chunks(result), output)       # written as made: a layer a line
        return
    from ..render.csv import render
    emit(render(result), output)
