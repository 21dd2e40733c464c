"""Specs to and from PyTorch: `netcalc export` writes a module or a flat spec, `netcalc
import` traces one.
"""

from __future__ import annotations

import sys

import click

from .. import __version__
from ..command_line import (OUTPUT_PATH, SPEC_PATH, emit, json_kwargs, kwargs_option,
                            load_and_analyze, output_option, print_warnings)
from ..errors import NetcalcError, UsageError


@click.command()
@click.argument("spec", type=SPEC_PATH)
@click.option("--to", "target", type=click.Choice(("torch", "yaml")), default="torch",
              show_default=True,
              help="What to write: a PyTorch module, or the spec in canonical flat form (every "
                   "layer in one list, with its torch arguments and inputs).")
@click.option("--input", "input_shapes", multiple=True, metavar="SHAPE",
              help="Override the input shape (channel counts follow from it).")
@output_option
@kwargs_option
def export(spec: str, target: str, input_shapes: tuple[str, ...], output: str | None,
           kwargs: str | None) -> None:
    """Write SPEC as a standalone PyTorch module (one class per kind of block,
    forward with every branch spelled out), or as a flat YAML spec. Needs no
    torch to write."""
    expanded, result = load_and_analyze(spec, input_shapes, 1, "float32", kwargs=kwargs)
    if target == "yaml":
        from ..torch_bridge.spec_yaml import spec_yaml
        text = spec_yaml(expanded, result, f"{spec} in flat form, by netcalc {__version__}",
                         flat=True)
    else:
        from ..torch_bridge.export import export_torch
        text = export_torch(expanded, result, _variant(spec, input_shapes, expanded))
    emit(text, output)


def _variant(spec: str, input_shapes: tuple[str, ...], expanded):
    """The spec at other values of its top-level params, for export to find the layer
    arguments that follow them; None when it has none (or is not a YAML file)."""
    if not expanded.params or spec == "-":
        return None
    from ..analyze import analyze
    from ..api import load_values
    from ..spec import load_spec

    def at(params: dict):
        other, overrides = load_values(load_spec(spec, params), input_shapes, 1, {})
        return other, analyze(other, input_shapes=overrides)
    return at


@click.command("import")
@click.argument("target")
@click.option("--input", "input_shapes", multiple=True, metavar="SHAPE", required=True,
              help="The input shape without the batch dim: 3x224x224 (name=SHAPE for each input "
                   "of a model that takes several).")
@kwargs_option
@click.option("-o", "--output", type=OUTPUT_PATH, default=None,
              help="Write the spec to this file (atomically); '-' is standard output.")
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True,
              help="Batch size of the sample input the module runs on once (the spec itself works "
                   "at any batch).")
@click.option("--flat", is_flag=True,
              help="Write every layer in one list with its torch arguments and inputs, instead of "
                   "blocks.")
def import_(target: str, input_shapes: tuple[str, ...], kwargs: str | None, batch: int,
            output: str | None, flat: bool) -> None:
    """Trace the torch module TARGET with torch.fx and write it as a netcalc YAML spec.

    TARGET is path/to/file.py:ClassName or package.module:factory, called with
    --kwargs (none by default). Needs PyTorch.
    """
    from ..analyze import analyze
    from ..torch_bridge.fx_import import import_spec
    from ..torch_bridge.spec_yaml import spec_yaml

    from ..api import is_torch_target
    if not is_torch_target(target):
        raise UsageError(f"{target!r}: name the module as path/to/file.py:ClassName or "
                         "package.module:factory")
    from ..errors import MissingToolError
    try:
        expanded = import_spec(target, input_shapes, json_kwargs(kwargs), batch)
        how = "torch.fx"
    except MissingToolError:
        raise
    except NetcalcError as traced:
        # what torch.fx cannot trace, torch.export may capture: a spec for this batch
        from ..torch_bridge.capture import capture, spec_or_blockers, to_spec
        expanded, _ = to_spec(capture(target, input_shapes, json_kwargs(kwargs), batch))
        spec_or_blockers(expanded, traced)
        how, flat = f"torch.export, at batch {batch}", True
    result = analyze(expanded, batch=batch)
    print_warnings(result)
    origin = f"imported from {target} by netcalc {__version__} ({how})"
    emit(spec_yaml(expanded, result, origin, flat=flat), output)
    if output:
        print(f"wrote {output}: {len(result.layers)} layer"
              f"{'s' if len(result.layers) != 1 else ''}, "
              f"{result.totals.params:,} parameters, {result.totals.macs:,} MACs",
              file=sys.stderr)
