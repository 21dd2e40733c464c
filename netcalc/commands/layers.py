"""`netcalc layers`: the layer types a spec can use."""

from __future__ import annotations

import click

from ..command_line import emit, emit_rich
from ..errors import UsageError


@click.command()
@click.argument("words", nargs=-1, metavar="WORD")
@click.option("--format", "fmt", type=click.Choice(("table", "json")), default="table",
              show_default=True, help="Output format.")
def layers(words: list[str], fmt: str) -> None:
    """The layer types a spec can use, with their arguments and defaults; with WORDs,
    those whose name, alias, family or an argument contains each (`netcalc layers
    attention`, `netcalc layers conv 2d`)."""
    from ..layers.registry import catalog
    from ..render import catalog as render_catalog

    entries = [entry for entry in catalog() if all(_mentions(entry, w) for w in words)]
    if not entries:
        raise UsageError(f"no layer type matches {' '.join(words)!r}: `netcalc layers` "
                         "lists them all")
    if fmt == "json":
        emit(render_catalog.render_json(entries), None)
    else:
        emit_rich(render_catalog.renderable(entries), None, max_width=120)


def _mentions(entry: dict, word: str) -> bool:
    """A catalog entry's type, aliases, family or argument names contain `word`."""
    word = word.lower()
    return any(word in text.lower() for text in (entry["type"], entry["family"],
                                                 *entry["aliases"],
                                                 *(a["name"] for a in entry["arguments"])))
