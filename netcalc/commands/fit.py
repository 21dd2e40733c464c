"""`netcalc fit`: the configuration of a spec's params that does the most within a
budget (fitting.py searches; render/fit.py writes)."""

from __future__ import annotations

import sys

import click

from ..command_line import SPEC_PATH, emit, named_input_option, output_option
from ..dtypes import MODEL_DTYPES
from ..errors import UsageError


@click.command()
@click.argument("spec", type=SPEC_PATH)
@click.option("--vary", "varied", multiple=True, required=True, metavar="NAME=VALUES",
              help="A top-level param (or batch) and the values to try: 16..256, 16..256:16 "
                   "(a step) or 16,32,64. Repeatable.")
@click.option("--max-params", default=None, metavar="N", help="Budget: parameters (5M, 1.5G).")
@click.option("--max-macs", default=None, metavar="N", help="Budget: MACs (1G, 600M).")
@click.option("--max-memory", default=None, metavar="SIZE",
              help="Budget: memory (24GiB, 16GB): inference, or a training step's with "
                   "--training.")
@click.option("--training", is_flag=True, help="--max-memory counts a training step's memory.")
@click.option("--maximize", default=None, metavar="WHAT",
              help="params, macs, memory or a varied name (default: the one varied name, "
                   "else params).")
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True,
              help="Batch size N (unless --vary batch=...).")
@click.option("--dtype", type=click.Choice(list(MODEL_DTYPES)), default="float32",
              show_default=True, help="Element type for the memory figures.")
@click.option("--optimizer", type=click.Choice(("sgd", "momentum", "adam", "adamw")),
              default="adam", show_default=True, help="The optimizer --training counts.")
@named_input_option
@click.option("--limit", type=click.IntRange(min=1), default=10_000, show_default=True,
              help="The most configurations an exhaustive search computes.")
@click.option("--top", type=click.IntRange(min=1), default=5, show_default=True,
              help="Configurations listed beside the best.")
@click.option("--format", "fmt", type=click.Choice(("text", "json")), default="text",
              show_default=True, help="Output format.")
@output_option
def fit(spec: str, varied: tuple[str, ...], max_params: str | None, max_macs: str | None,
        max_memory: str | None, training: bool, maximize: str | None, batch: int, dtype: str,
        optimizer: str, input_shapes: tuple[str, ...], limit: int, top: int, fmt: str,
        output: str | None) -> None:
    """Search SPEC's top-level params for the configuration that does the most within a
    budget: `netcalc fit net.yaml --vary width=16..256 --max-params 5M` gives the widest
    under 5 M parameters, each candidate computed exactly. One growing param is
    bisected; several are searched exhaustively."""
    from .. import fitting as search
    from ..render import fit as render_fit

    vary = {}
    for item in varied:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--vary {item}: write NAME=VALUES, like width=16..256")
        if name.strip() in vary:
            raise UsageError(f"--vary {name.strip()} is given twice")
        vary[name.strip()] = search.parse_values(text, name.strip())
    budget = search.Budget(
        max_params=max_params and search.parse_count(max_params, "--max-params"),
        max_macs=max_macs and search.parse_count(max_macs, "--max-macs"),
        max_memory=max_memory and search.parse_bytes(max_memory, "--max-memory"),
        training=training)
    if training and budget.max_memory is None:
        raise UsageError("--training counts a training step's memory: give --max-memory")
    if "batch" in vary and click.get_current_context().get_parameter_source("batch") \
            is not click.core.ParameterSource.DEFAULT:
        raise UsageError("--vary batch=... sets the batch: leave --batch out")
    progress = _progress_bar() if sys.stderr.isatty() else None
    try:
        result = search.fit(spec, vary, budget, maximize=maximize, batch=batch, dtype=dtype,
                            optimizer=optimizer, input=input_shapes, limit=limit,
                            progress=progress and progress.update)
    finally:
        if progress:
            progress.close()
    emit(render_fit.render_json(result) if fmt == "json"
         else render_fit.plain_text(result, top), output)


class _progress_bar:
    """rich's progress bar on standard error, shown once a search takes a while."""

    def __init__(self):
        self.bar = None

    def update(self, done: int, total: int) -> None:
        if self.bar is None:
            if done < 20:               # a bisection or a small grid: over in a blink
                return
            from rich.console import Console
            from rich.progress import Progress
            self.bar = Progress(transient=True, console=Console(stderr=True))
            self.bar.start()
            self.task = self.bar.add_task("fitting", total=total)
        self.bar.update(self.task, completed=done)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
