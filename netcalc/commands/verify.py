"""`netcalc verify`: build the spec in PyTorch, run it, compare every number."""

from __future__ import annotations

import click

from ..command_line import (SPEC_PATH, emit, is_captured, json_kwargs, kwargs_option,
                            load_and_analyze, output_option)
from ..dtypes import MODEL_DTYPES


@click.command()
@click.argument("spec", type=SPEC_PATH)
@click.option("--device", type=click.Choice(("auto", "cpu", "cuda")), default="auto",
              show_default=True,
              help="Where torch runs the model; auto picks CUDA if torch sees a GPU.")
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True,
              help="Batch size N.")
@click.option("--input", "input_shapes", multiple=True, metavar="SHAPE",
              help="Override the input shape, as for summary.")
@click.option("--dtype", type=click.Choice([d for d in MODEL_DTYPES if d != "int8"]),
              default="float32", show_default=True, help="Element type of the model and inputs.")
@click.option("--runs", type=click.IntRange(min=0), default=None,
              help="Timed forward passes for the latency figure (default 10 on a GPU, 3 on the "
                   "CPU; 0 skips timing).")
@click.option("--format", "fmt", type=click.Choice(("table", "json")), default="table",
              show_default=True, help="Output format.")
@output_option
@kwargs_option
def verify(spec: str, device: str, batch: int, input_shapes: tuple[str, ...], dtype: str,
           runs: int | None, fmt: str, output: str | None, kwargs: str | None) -> None:
    """Build SPEC in PyTorch, run it, and compare every layer's output shape,
    parameters and MACs with netcalc's. Exits 1 if any differ.

    Needs PyTorch (pip install 'netcalc-nn[torch]').
    """
    from ..render import verify as render_verify
    from ..torch_bridge.verify import verify as run_verify
    from ..torch_bridge.verify import verify_model

    expanded, result = load_and_analyze(spec, input_shapes, batch, dtype, kwargs=kwargs)
    if is_captured(spec):       # the user's own model, run as it is
        checked = verify_model(spec, json_kwargs(kwargs), result, device=device, runs=runs)
    else:
        checked = run_verify(expanded, result, device=device, runs=runs)
    emit(render_verify.render_json(checked) if fmt == "json"
         else render_verify.plain_text(checked), output)
    if not checked.ok:
        return 1
