"""`netcalc layers`: the layer types and their arguments."""

from __future__ import annotations

import json


def _argument(arg: dict) -> str:
    if arg["required"]:
        return arg["name"]
    default = arg["default"]
    shown = json.dumps(default) if not isinstance(default, str) else default
    return f"{arg['name']}={shown}"


def renderable(entries: list[dict]):
    from rich.table import Table

    table = Table(title="Layer types (arguments are torch's; name=default, bare names are "
                        "required)", title_justify="left", header_style="bold")
    table.add_column("Type", no_wrap=True)
    table.add_column("Family", no_wrap=True)
    table.add_column("Arguments")
    for entry in entries:
        name = entry["type"] + "".join(f" | {a}" for a in entry["aliases"])
        table.add_row(name, entry["family"], ", ".join(_argument(a) for a in entry["arguments"]))
    return table


def render_json(entries: list[dict]) -> str:
    return json.dumps(entries, indent=2) + "\n"
