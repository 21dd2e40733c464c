"""Pictures: `netcalc diagram` (Graphviz). Pages: netcalc/commands/docs.py."""

from __future__ import annotations

import os
import sys

import click

from ..command_line import OUTPUT_PATH, SPEC_PATH, emit, kwargs_option, load_and_analyze
from ..errors import UsageError


@click.command()
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
@kwargs_option
def diagram(spec: str, output: str | None, fmt: str | None, rankdir: str, depth: int | None,
            show: str, repeats: str, title: str | None, input_shapes: tuple[str, ...],
            kwargs: str | None) -> None:
    """Draw SPEC's layer graph with Graphviz: one node per layer (or folded block),
    edges labelled with the shapes that flow along them."""
    from ..render import dot

    asked = [part.strip() for part in show.split(",") if part.strip()]
    unknown = [part for part in asked if part.removeprefix("no-") not in dot.SHOWABLE]
    if unknown:
        raise UsageError(f"--show {','.join(unknown)}: choose from {', '.join(dot.SHOWABLE)} "
                         "(no-shapes, no-args leave the default ones out)")
    # the shapes and the notation are always drawn unless left out; params, macs add
    shown = tuple(part for part in (*dot.DEFAULT_SHOWN, *asked)
                  if not part.startswith("no-") and f"no-{part}" not in asked)
    suffix = os.path.splitext(output)[1].lower().lstrip(".") if output else ""
    suffix_format = "dot" if suffix == "gv" else suffix
    if fmt is None:
        if suffix and suffix_format not in (*dot.IMAGE_FORMATS, "dot"):
            raise UsageError(f"-o {output}: netcalc draws .{', .'.join(dot.IMAGE_FORMATS)} "
                             "and .dot (or .gv); give one of those, or --format")
        fmt = suffix_format or "dot"
    elif suffix_format in (*dot.IMAGE_FORMATS, "dot") and suffix_format != fmt:
        # a PNG written into x.svg opens as a broken picture
        raise UsageError(f"-o {output} and --format {fmt} disagree: name the file "
                         f"*.{fmt}, or leave --format out (the suffix sets it)")
    _, result = load_and_analyze(spec, input_shapes, 1, "float32", kwargs=kwargs)
    text = dot.render(result, dot.DiagramOptions(rankdir=rankdir, depth=depth, show=shown,
                                                 title=title, repeats=repeats))
    if fmt == "dot":
        emit(text, output)
        return
    image = dot.to_image(text, fmt)
    if output:
        from ..io import write_atomic
        write_atomic(output, image)
    else:
        sys.stdout.buffer.write(image)
