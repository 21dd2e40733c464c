"""The command line: options -> core -> renderer, and the one error handler.

`main()` owns errors and exit codes (httpie's split): a NetcalcError prints
`file:line:col: error: ...` and exits 1 (2 for usage and missing tools); any
other exception is a netcalc bug, reported in one line unless --debug.
"""

from __future__ import annotations

import os
import sys

import click

from . import __version__
from .command_line import DIRECTORY_PATH, OUTPUT_PATH, SPEC_PATH, cli, run
from .dtypes import MODEL_DTYPES
from .i18n import LANGUAGES
from .errors import NetcalcError, SpecError, UsageError

FORMATS = ("table", "json", "markdown", "csv")
SUMMARY_SHOWABLE = ("rf",)     # summary --show: extra table and markdown columns

_kwargs_option = click.option("--kwargs", default=None, metavar="JSON",
                              help="For a torch module (file.py:ClassName): constructor "
                                   "arguments, as a JSON object.")
# options several commands take alike
_output_option = click.option("-o", "--output", type=OUTPUT_PATH, default=None,
                              help="Write to this file (atomically); '-' is standard output.")
_lang_option = click.option("--lang", type=click.Choice(sorted(LANGUAGES)), default=None,
                            help="Language of the words (default: from LANG, else en).")
_named_input_option = click.option(
    "--input", "input_shapes", multiple=True, metavar="SHAPE",
    help="Override the input shape: 3x224x224 (name=SHAPE for a named input).")
EXIT_INTERNAL = 3
# rich lays out about a thousand rows a second; longer tables are written directly
RICH_TABLE_ROWS = 5_000



@cli.command()
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
@_output_option
@_kwargs_option
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
    _, result = _load_and_analyze(spec, input_shapes, batch, dtype, depth, kwargs, letters=True,
                                  training=(optimizer, amp, checkpoint), kv_context=kv_context)
    if fmt == "table":
        from .render import table
        if output is None and sys.stdout.isatty() and len(result.rows) <= RICH_TABLE_ROWS:
            from rich.console import Console
            from .render.console import natural_width
            console = Console(highlight=False)
            # names and types fold to fit the terminal; too narrow even for the counts,
            # the table keeps its width and the terminal wraps its lines: nothing is cut
            if table.narrowest(result, shown) <= console.width:
                console.print(table.renderable(result, shown, console.width))
            else:
                target = table.renderable(result, shown)
                Console(highlight=False, width=natural_width(target)).print(target)
        else:
            _emit(table.plain_text(result, shown), output)
        return
    if fmt == "markdown":
        from .render.markdown import render as render_markdown
        _emit(render_markdown(result, shown), output)
        return
    if fmt == "json":
        from .render.json import render
    else:
        from .render.csv import render
    _emit(render(result), output)


@cli.command()
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
@_output_option
@_kwargs_option
def verify(spec: str, device: str, batch: int, input_shapes: tuple[str, ...], dtype: str,
           runs: int | None, fmt: str, output: str | None, kwargs: str | None) -> None:
    """Build SPEC in PyTorch, run it, and compare every layer's output shape,
    parameters and MACs with netcalc's. Exits 1 if any differ.

    Needs PyTorch (pip install 'netcalc-nn[torch]').
    """
    from .render import verify as render_verify
    from .torch_bridge.verify import verify as run_verify
    from .torch_bridge.verify import verify_model

    expanded, result = _load_and_analyze(spec, input_shapes, batch, dtype, kwargs=kwargs)
    if _is_captured(spec):       # the user's own model, run as it is
        checked = verify_model(spec, _json_kwargs(kwargs), result, device=device, runs=runs)
    else:
        checked = run_verify(expanded, result, device=device, runs=runs)
    _emit(render_verify.render_json(checked) if fmt == "json"
          else render_verify.plain_text(checked), output)
    if not checked.ok:
        return 1


@cli.command()
@click.argument("spec", type=SPEC_PATH)
@click.option("--to", "target", type=click.Choice(("torch", "yaml")), default="torch",
              show_default=True,
              help="What to write: a PyTorch module, or the spec in canonical flat form (every "
                   "layer in one list, with its torch arguments and inputs).")
@click.option("--input", "input_shapes", multiple=True, metavar="SHAPE",
              help="Override the input shape (channel counts follow from it).")
@_output_option
@_kwargs_option
def export(spec: str, target: str, input_shapes: tuple[str, ...], output: str | None,
           kwargs: str | None) -> None:
    """Write SPEC as a standalone PyTorch module (one class per kind of block,
    forward with every branch spelled out), or as a flat YAML spec. Needs no
    torch to write."""
    expanded, result = _load_and_analyze(spec, input_shapes, 1, "float32", kwargs=kwargs)
    if target == "yaml":
        from .torch_bridge.spec_yaml import spec_yaml
        text = spec_yaml(expanded, result, f"{spec} in flat form, by netcalc {__version__}",
                         flat=True)
    else:
        from .torch_bridge.export import export_torch
        text = export_torch(expanded, result)
    _emit(text, output)


@cli.command()
@click.argument("spec", type=SPEC_PATH)
@click.option("-o", "--output", type=OUTPUT_PATH, default=None,
              help="Write the picture to this file (atomically); its suffix sets the format.")
@click.option("--format", "fmt", type=click.Choice(("svg", "png", "pdf", "dot")), default=None,
              help="svg, png, pdf (drawn by Graphviz's dot) or dot (the DOT text, no Graphviz "
                   "needed). Default: from -o's suffix, else dot.")
@click.option("--rankdir", type=click.Choice(("TB", "LR", "BT", "RL")), default="TB",
              show_default=True, help="Direction the graph flows: top to bottom, left to right.")
@click.option("--depth", type=click.IntRange(min=1), default=None,
              help="Draw this many levels of blocks; deeper layers fold into one node each.")
@click.option("--show", default="", metavar="params,macs",
              help="What to write besides the shapes (on edges) and each layer's notation: "
                   "params, macs; no-shapes or no-args leaves those out; comma-separated.")
@click.option("--repeats", type=click.Choice(("all", "once")), default="all", show_default=True,
              help="once: draw a repeated block's first copy, marked ×N.")
@click.option("--title", default=None, help="The title above the graph (default: its name).")
@click.option("--input", "input_shapes", multiple=True, metavar="SHAPE",
              help="Override the input shape, as for summary.")
@_kwargs_option
def diagram(spec: str, output: str | None, fmt: str | None, rankdir: str, depth: int | None,
            show: str, repeats: str, title: str | None, input_shapes: tuple[str, ...],
            kwargs: str | None) -> None:
    """Draw SPEC's layer graph with Graphviz: one node per layer (or folded block),
    edges labelled with the shapes that flow along them."""
    from .render import dot

    asked = [part.strip() for part in show.split(",") if part.strip()]
    unknown = [part for part in asked if part.removeprefix("no-") not in dot.SHOWABLE]
    if unknown:
        raise UsageError(f"--show {','.join(unknown)}: choose from {', '.join(dot.SHOWABLE)} "
                         "(no-shapes, no-args leave the default ones out)")
    # the shapes and the notation are always drawn unless left out; params, macs add
    shown = tuple(part for part in (*dot.DEFAULT_SHOWN, *asked)
                  if not part.startswith("no-") and f"no-{part}" not in asked)
    if fmt is None:
        suffix = os.path.splitext(output)[1].lower().lstrip(".") if output else ""
        if suffix and suffix not in (*dot.IMAGE_FORMATS, "dot", "gv"):
            raise UsageError(f"-o {output}: netcalc draws .{', .'.join(dot.IMAGE_FORMATS)} "
                             "and .dot (or .gv); give one of those, or --format")
        fmt = "dot" if suffix in ("", "gv") else suffix
    _, result = _load_and_analyze(spec, input_shapes, 1, "float32", kwargs=kwargs)
    text = dot.render(result, dot.DiagramOptions(rankdir=rankdir, depth=depth, show=shown,
                                                 title=title, repeats=repeats))
    if fmt == "dot":
        _emit(text, output)
        return
    image = dot.to_image(text, fmt)
    if output:
        from .io import write_atomic
        write_atomic(output, image)
    else:
        sys.stdout.buffer.write(image)


@cli.command()
@click.argument("specs", type=SPEC_PATH, nargs=-1, required=True)
@click.option("-o", "--output", "directory", type=DIRECTORY_PATH, required=True,
              help="The directory for the pages (made if missing).")
@click.option("--depth", type=click.IntRange(min=1), default=None,
              help="Tables and diagrams show this many levels of blocks.")
@click.option("--repeats", type=click.Choice(("all", "once")), default="all", show_default=True,
              help="Diagrams: draw a repeated block's first copy only.")
def docs(specs: tuple[str, ...], directory: str, depth: int | None, repeats: str) -> None:
    """A markdown page per SPEC (its summary table, totals and SVG diagram) and an
    index.md listing every model, in DIRECTORY, ready for mkdocs."""
    from pathlib import Path

    from .analyze import analyze
    from .io import write_atomic
    from .render import dot, site
    from .spec import load_spec

    pages = []
    for spec in specs:          # everything is drawn before anything is written
        result = analyze(load_spec(spec), depth=depth)
        _print_warnings(result)
        svg = dot.to_image(dot.render(result, dot.DiagramOptions(depth=depth, repeats=repeats)),
                           "svg")
        pages.append((result, svg))
    target = Path(directory)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"cannot make {directory}: {error.strerror}") from None
    files = site.files(pages)
    for name, content in files.items():
        write_atomic(target / name, content)
    print(f"wrote {len(files)} files to {directory}: index.md and "
          f"{len(pages)} page{'s' if len(pages) != 1 else ''}", file=sys.stderr)


@cli.command("import")
@click.argument("target")
@click.option("--input", "input_shapes", multiple=True, metavar="SHAPE", required=True,
              help="The input shape without the batch dim: 3x224x224 (name=SHAPE for each input "
                   "of a model that takes several).")
@_kwargs_option
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
    from .analyze import analyze
    from .torch_bridge.fx_import import import_spec
    from .torch_bridge.spec_yaml import spec_yaml

    from .api import is_torch_target
    if not is_torch_target(target):
        raise UsageError(f"{target!r}: name the module as path/to/file.py:ClassName or "
                         "package.module:factory")
    from .errors import MissingToolError
    try:
        expanded = import_spec(target, input_shapes, _json_kwargs(kwargs), batch)
        how = "torch.fx"
    except MissingToolError:
        raise
    except NetcalcError as traced:
        # what torch.fx cannot trace, torch.export may capture: a spec for this batch
        from .torch_bridge.capture import capture, spec_or_blockers, to_spec
        expanded, _ = to_spec(capture(target, input_shapes, _json_kwargs(kwargs), batch))
        spec_or_blockers(expanded, traced)
        how, flat = f"torch.export, at batch {batch}", True
    result = analyze(expanded, batch=batch)
    _print_warnings(result)
    origin = f"imported from {target} by netcalc {__version__} ({how})"
    _emit(spec_yaml(expanded, result, origin, flat=flat), output)
    if output:
        print(f"wrote {output}: {len(result.layers)} layer"
              f"{'s' if len(result.layers) != 1 else ''}, "
              f"{result.totals.params:,} parameters, {result.totals.macs:,} MACs",
              file=sys.stderr)


@cli.command()
@click.argument("spec", type=SPEC_PATH)
@click.option("--layer", "names", multiple=True, metavar="NAME",
              help="Only this layer, or the layers of this block (repeatable).")
@_lang_option
@click.option("--format", "fmt", type=click.Choice(("text", "markdown", "json")), default="text",
              show_default=True, help="Output format.")
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True,
              help="Batch size N.")
@_named_input_option
@click.option("--kv-cache", "kv_context", type=click.IntRange(min=1), default=None,
              metavar="CONTEXT",
              help="Also work out the KV cache a decoder keeps per sequence at CONTEXT tokens.")
@click.option("--dtype", type=click.Choice(list(MODEL_DTYPES)), default="float32",
              show_default=True, help="Element type of the KV cache.")
@_output_option
def explain(spec: str, names: tuple[str, ...], lang: str | None, fmt: str, batch: int,
            input_shapes: tuple[str, ...], kv_context: int | None, dtype: str,
            output: str | None) -> None:
    """Work out each layer's numbers with the spec's own values: the output size's
    formula (where it rounds, and what that leaves uncovered), parameters, MACs."""
    from .i18n import language
    from .render import explain as render_explain
    from .working import explain_layers

    expanded, result = _load_and_analyze(spec, input_shapes, batch, dtype,
                                         kv_context=kv_context)
    workings = explain_layers(expanded, result, names)
    lang = language(lang)
    render = {"text": render_explain.plain_text, "markdown": render_explain.markdown,
              "json": render_explain.render_json}[fmt]
    _emit(render(workings, lang), output)


@cli.command()
@click.argument("spec", type=SPEC_PATH)
@click.argument("answers", type=SPEC_PATH)
@_lang_option
@click.option("--format", "fmt", type=click.Choice(("text", "json")), default="text",
              show_default=True, help="Output format (json for autograders).")
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True,
              help="Batch size N the answers are for.")
@_named_input_option
@click.option("--kv-cache", "kv_context", type=click.IntRange(min=1), default=None,
              metavar="CONTEXT", help="The context length a `total_kv_cache` answer is for.")
@click.option("--dtype", type=click.Choice(list(MODEL_DTYPES)), default="float32",
              show_default=True, help="Element type a `total_kv_cache` answer is for.")
def check(spec: str, answers: str, lang: str | None, fmt: str, batch: int,
          input_shapes: tuple[str, ...], kv_context: int | None, dtype: str) -> None:
    """Grade ANSWERS (a YAML file: `conv1: {output: [64, 55, 55], params: 23296}`,
    `total_params: ...`) against SPEC's numbers. Exit 0 when all are right."""
    from .grading import grade, read_answers
    from .i18n import language
    from .render import check as render_check

    expanded, result = _load_and_analyze(spec, input_shapes, batch, dtype,
                                         kv_context=kv_context)
    items = grade(expanded, result, read_answers(answers))
    lang = language(lang)
    _emit(render_check.render_json(items, lang) if fmt == "json"
          else render_check.plain_text(result.name, items, lang), None)
    if not all(item.correct for item in items):
        return 1


# -- the quick calculators ------------------------------------------------------------

def _calculator_options(command):
    """--explain, --lang, --batch, --format: what every calculator takes."""
    for declare in reversed([
        click.option("--explain", "show_working", is_flag=True,
                     help="Show the working: each formula with these numbers."),
        click.option("--lang", type=click.Choice(sorted(LANGUAGES)), default=None,
                     help="Language of the working's words (default: from LANG, else en)."),
        click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True,
                     help="Batch size N."),
        click.option("--format", "fmt", type=click.Choice(("text", "json")), default="text",
                     show_default=True, help="Output format."),
    ]):
        command = declare(command)
    return command


def _sizes(text: str | None, name: str):
    """'3' -> 3, '3x5' -> [3, 5], 'same' -> 'same' (per-dim values as the spec writes them)."""
    from .inputs import parse_shape

    if text is None or text in ("same", "valid"):
        return text
    try:
        sizes = parse_shape(text) if not text.strip().lstrip("-").isdigit() else (int(text),)
    except UsageError:
        raise UsageError(f"{name} {text!r}: write a number, or one per dim like 3x5") from None
    return sizes[0] if len(sizes) == 1 else list(sizes)


def _calculate(kind: str, input_shape: str, args: dict, show_working: bool, lang: str | None,
               batch: int, fmt: str) -> None:
    from .calc import layer_type, one_layer
    from .i18n import language
    from .inputs import parse_shape
    from .render import explain as render_explain

    shape = parse_shape(input_shape)
    type_name = layer_type(kind, shape)
    try:
        calculation = one_layer(type_name, {k: v for k, v in args.items() if v is not None},
                                shape, batch)
    except SpecError as error:        # no spec, no layer name: the message alone
        raise SpecError(error.message.removeprefix(f"layer '{type_name}' ({type_name}): ")) \
            from None
    for warning in calculation.warnings:
        print(f"warning: {warning.message}", file=sys.stderr)
    lang = language(lang)
    _emit(render_explain.calculation_json(calculation, lang, show_working) if fmt == "json"
          else render_explain.calculation_text(calculation, lang, show_working), None)


def _convolution_options(command):
    """The options conv and convtranspose share."""
    command = _calculator_options(command)
    for declare in reversed([
        click.option("--input", "input_shape", required=True, metavar="SHAPE",
                     help="The input without the batch: 3x224x224 (C×H×W; C×L and C×D×H×W too)."),
        click.option("--out", "out_channels", type=int, required=True,
                     help="Output channels (kernels)."),
        click.option("-k", "--kernel-size", "kernel_size", required=True,
                     help="Kernel size: 11, or 3x5."),
        click.option("-s", "--stride", default=None, help="Stride (1)."),
        click.option("-p", "--padding", default=None, help="Padding (0); conv: same, valid."),
        click.option("-d", "--dilation", default=None, help="Dilation (1)."),
        click.option("-g", "--groups", type=int, default=None, help="Groups (1)."),
        click.option("--no-bias", is_flag=True, help="No bias."),
    ]):
        command = declare(command)
    return command


def _convolution_args(out_channels, kernel_size, stride, padding, dilation, groups,
                      no_bias) -> dict:
    return {"out_channels": out_channels, "kernel_size": _sizes(kernel_size, "-k"),
            "stride": _sizes(stride, "-s"), "padding": _sizes(padding, "-p"),
            "dilation": _sizes(dilation, "-d"), "groups": groups,
            "bias": False if no_bias else None}


@cli.command()
@_convolution_options
def conv(input_shape, out_channels, kernel_size, stride, padding, dilation, groups, no_bias,
         show_working, lang, batch, fmt) -> None:
    """One convolution: output shape, parameters, MACs (no spec file).

    netcalc conv --input 3x224x224 --out 64 -k 11 -s 4 -p 2 --explain
    """
    _calculate("conv", input_shape, _convolution_args(
        out_channels, kernel_size, stride, padding, dilation, groups, no_bias),
        show_working, lang, batch, fmt)


@cli.command()
@click.option("--output-padding", default=None, help="Output padding (0).")
@_convolution_options
def convtranspose(output_padding, input_shape, out_channels, kernel_size, stride, padding,
                  dilation, groups, no_bias, show_working, lang, batch, fmt) -> None:
    """One transposed convolution: output shape, parameters, MACs (no spec file)."""
    args = _convolution_args(out_channels, kernel_size, stride, padding, dilation, groups,
                             no_bias)
    args["output_padding"] = _sizes(output_padding, "--output-padding")
    _calculate("convtranspose", input_shape, args, show_working, lang, batch, fmt)


@cli.command()
@click.option("--input", "input_shape", required=True, metavar="SHAPE",
              help="The input without the batch: 64x55x55.")
@click.option("-k", "--kernel-size", "kernel_size", required=True, help="Window size.")
@click.option("-s", "--stride", default=None, help="Stride (the window size).")
@click.option("-p", "--padding", default=None, help="Padding (0).")
@click.option("-d", "--dilation", default=None, help="Dilation (1; max pooling only).")
@click.option("--ceil", "ceil_mode", is_flag=True, help="ceil_mode: round up.")
@click.option("--avg", is_flag=True, help="Average pooling (default: max).")
@_calculator_options
def pool(input_shape, kernel_size, stride, padding, dilation, ceil_mode, avg, show_working,
         lang, batch, fmt) -> None:
    """One pooling layer: output shape (no spec file)."""
    if avg and dilation is not None:
        raise UsageError("-d: average pooling has no dilation")
    _calculate("avgpool" if avg else "maxpool", input_shape, {
        "kernel_size": _sizes(kernel_size, "-k"), "stride": _sizes(stride, "-s"),
        "padding": _sizes(padding, "-p"), "dilation": _sizes(dilation, "-d"),
        "ceil_mode": True if ceil_mode else None}, show_working, lang, batch, fmt)


@cli.command()
@click.option("--input", "input_shape", required=True, metavar="SHAPE",
              help="The features (and any leading dims) without the batch: 9216, or 197x768.")
@click.option("--out", "out_features", type=int, required=True, help="Output features.")
@click.option("--no-bias", is_flag=True, help="No bias.")
@_calculator_options
def linear(input_shape, out_features, no_bias, show_working, lang, batch, fmt) -> None:
    """One fully connected layer: output shape, parameters, MACs (no spec file)."""
    _calculate("linear", input_shape, {"out_features": out_features,
                                       "bias": False if no_bias else None},
               show_working, lang, batch, fmt)


@cli.command()
@click.argument("kind", type=click.Choice(("conv", "pool")))
@click.option("--input", "input_size", type=click.IntRange(min=1), required=True,
              help="The input size along one dim: 224.")
@click.option("--output", "output_size", type=click.IntRange(min=1), required=True,
              help="The output size wanted: 112.")
@click.option("-k", "--kernel-size", "kernel_size", type=click.IntRange(min=1), default=None)
@click.option("-s", "--stride", type=click.IntRange(min=1), default=None)
@click.option("-p", "--padding", type=click.IntRange(min=0), default=None)
@click.option("-d", "--dilation", type=click.IntRange(min=1), default=None)
@click.option("--ceil", "ceil_mode", is_flag=True, help="ceil_mode (pool).")
def solve(kind, input_size, output_size, kernel_size, stride, padding, dilation,
          ceil_mode) -> None:
    """Find the hyper-parameter left out: every value that turns INPUT into OUTPUT.

    netcalc solve conv --input 224 --output 112 -k 7 -s 2   ->   padding = 3
    """
    from .calc import solve as find

    known = {k: v for k, v in (("kernel_size", kernel_size), ("stride", stride),
                               ("padding", padding), ("dilation", dilation)) if v is not None}
    if kind == "conv":
        known["out_channels"] = 1
    elif ceil_mode:
        known["ceil_mode"] = True
    unknown, values, assumed = find("conv1d" if kind == "conv" else "maxpool1d", known,
                                    input_size, output_size)
    given = ", ".join(f"{k}={v}" for k, v in known.items()
                      if k not in ("out_channels", "ceil_mode"))
    unstated = f"{', '.join(f'{k} {v}' for k, v in assumed.items())} assumed" if assumed else ""
    if not values:
        raise NetcalcError(f"no {unknown} turns {input_size} into {output_size} with {given}"
                           + (f" ({unstated}: give -p or -d if they differ)" if unstated else ""))
    print(f"{unknown} = {_alternatives(values, input_size + 2)}"
          + (f"  ({unstated})" if unstated else ""))


def _alternatives(values: list[int], last_tried: int) -> str:
    """3 -> '3'; [2, 3] -> '2 or 3'; a run to the end of the search -> '7 or more'."""
    if values[-1] == last_tried:              # every larger one works too
        start = len(values) - 1
        while start and values[start - 1] == values[start] - 1:
            start -= 1
        return " or ".join([*map(str, values[:start]), f"{values[start]} or more"])
    return " or ".join(map(str, values))


@cli.command()
@click.argument("words", nargs=-1, metavar="WORD")
@click.option("--format", "fmt", type=click.Choice(("table", "json")), default="table",
              show_default=True, help="Output format.")
def layers(words: list[str], fmt: str) -> None:
    """The layer types a spec can use, with their arguments and defaults; with WORDs,
    those whose name, alias, family or an argument contains each (`netcalc layers
    attention`, `netcalc layers conv 2d`)."""
    from .layers.registry import catalog
    from .render import catalog as render_catalog

    entries = [entry for entry in catalog() if all(_mentions(entry, w) for w in words)]
    if not entries:
        raise UsageError(f"no layer type matches {' '.join(words)!r}: `netcalc layers` "
                         "lists them all")
    if fmt == "json":
        _emit(render_catalog.render_json(entries), None)
    else:
        _emit_rich(render_catalog.renderable(entries), None, max_width=120)


# -- helpers -------------------------------------------------------------------

def _mentions(entry: dict, word: str) -> bool:
    """A catalog entry's type, aliases, family or argument names contain `word`."""
    word = word.lower()
    return any(word in text.lower() for text in (entry["type"], entry["family"],
                                                 *entry["aliases"],
                                                 *(a["name"] for a in entry["arguments"])))


def _load_and_analyze(spec: str, input_shapes: tuple[str, ...], batch: int, dtype: str,
                      depth: int | None = None, kwargs: str | None = None,
                      letters: bool = False,
                      training: tuple[str, bool, tuple[str, ...]] = ("adam", False, ()),
                      kv_context: int | None = None):
    """The expanded spec and its Summary; warnings go to stderr.

    SPEC is a spec file (YAML or Python), or a torch module to import
    (`file.py:ClassName`, `package.module:factory`).
    """
    from .analyze import analyze
    from .api import load_values
    from .spec import load_spec

    if _is_captured(spec):              # the API captures `file.py:factory`
        source = spec
    else:                               # a file's path, or '-': never YAML text
        if kwargs is not None:
            raise UsageError("--kwargs is for a torch module given as file.py:ClassName")
        source = load_spec(spec)
    expanded, overrides = load_values(source, input_shapes, batch, _json_kwargs(kwargs),
                                      letters)
    result = analyze(expanded, batch=batch, dtype=dtype, input_shapes=overrides, depth=depth,
                     optimizer=training[0], amp=training[1], kv_context=kv_context,
                     checkpoint=training[2])
    _print_warnings(result)
    return expanded, result


def _print_warnings(result) -> None:
    for warning in result.warnings:
        print(f"{warning.loc}: warning: layer '{warning.layer}' ({warning.type}): "
                   f"{warning.message}", file=sys.stderr)


def _is_captured(spec: str) -> bool:
    """SPEC names a torch model (`file.py:factory`), not a spec file."""
    from .api import is_torch_target
    return ":" in spec and not os.path.exists(spec) and is_torch_target(spec)


def _json_kwargs(text: str | None) -> dict:
    if not text:
        return {}
    import json
    try:
        kwargs = json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(f"--kwargs is not JSON: {error.msg} (at character {error.pos})") \
            from None
    if not isinstance(kwargs, dict):
        raise UsageError('--kwargs must be a JSON object, like \'{"num_classes": 10}\'')
    return kwargs


def _emit(text: str, output: str | None) -> None:
    if output:
        from .io import write_atomic
        write_atomic(output, text)
    else:
        try:
            sys.stdout.write(text)
        except UnicodeEncodeError:
            # a standard output that cannot spell a layer's name (PYTHONIOENCODING=ascii,
            # a Latin-1 locale): UTF-8, as -o writes; the text is encoded whole first
            sys.stdout.flush()
            sys.stdout.buffer.write(text.encode("utf-8"))


def _emit_rich(target, output: str | None, max_width: int | None = None) -> None:
    """Rich output: straight to a terminal, else as plain text wide enough not to wrap."""
    if output is None and sys.stdout.isatty():
        from rich.console import Console
        Console(highlight=False).print(target)
        return
    from .render.console import to_text
    _emit(to_text(target, max_width), output)


class _Interrupts:
    """Ctrl-C noticed even where a library turns the KeyboardInterrupt into another
    error (torch's lazy imports during tracing do)."""

    seen = False

    @classmethod
    def handle(cls, signum, frame):
        cls.seen = True
        raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    import signal

    _Interrupts.seen = False
    if argv is None:      # the program itself, not a test calling main()
        signal.signal(signal.SIGINT, _Interrupts.handle)
        # One short run makes few reference cycles; looking for them as often as a
        # long-lived program must took ~2 ms of a ~60 ms summary.
        import gc
        gc.set_threshold(50_000, *gc.get_threshold()[1:])
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args     # accepted anywhere on the line, not only before the command
    args = [a for a in args if a != "--debug"]
    try:
        # a command's own verdict (verify: 1 when numbers differ) is its return value
        code = run(args)
        return code if isinstance(code, int) else 0
    except NetcalcError as error:
        if _Interrupts.seen:
            print("netcalc: interrupted", file=sys.stderr)
            return 130
        print(error, file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("netcalc: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        sys.stderr.close()     # `netcalc ... | head` closed the pipe: not an error
        return 0
    except Exception as bug:  # noqa: BLE001 - the one place that turns bugs into one line
        if _Interrupts.seen:
            print("netcalc: interrupted", file=sys.stderr)
            return 130
        if debug:
            raise
        print(f"netcalc: internal error: {type(bug).__name__}: {bug} "
              "(run again with --debug for the traceback, and please report it)",
              file=sys.stderr)
        return EXIT_INTERNAL
